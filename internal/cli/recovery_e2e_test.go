package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A recovery file: exported (the passphrase alone on stdout), every device of the computer
// removed, then imported in a fresh configuration directory, where the new device reads the
// workspace; a wrong passphrase and a damaged file change nothing; the recovery device is
// shown as such; the new device's password can be changed.
func TestRecoveryFile(t *testing.T) {
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice")
	w.as(alice, "workspace", "create", "Docs").ok()
	plan := filepath.Join(t.TempDir(), "plan.txt")
	os.WriteFile(plan, []byte("the plan"), 0o644)
	w.as(alice, "cp", plan, "Docs:/").ok()

	file := filepath.Join(t.TempDir(), "alice.recovery")
	p := w.as(alice, "device", "export-recovery", file)
	out := p.ok()
	if !regexp.MustCompile(`^([A-Z2-7]{4}-){12}[A-Z2-7]{4}\n$`).MatchString(out) {
		t.Fatalf("stdout is not the passphrase alone:\n%s", p)
	}
	passphrase := strings.TrimSpace(out)
	for _, advice := range []string{"Keep the file and this passphrase offline", "ask an Administrator to revoke your user"} {
		if !strings.Contains(p.stderr.String(), advice) {
			t.Errorf("the export does not say %q:\n%s", advice, p)
		}
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("recovery file: %v, %v", info, err)
	}
	w.as(alice, "device", "export-recovery", file).wantFailure(exitError, `already exists`)
	wantLines(t, w.as(alice, "user", "show", "alice@example.com").ok(), `^device: \S+\trecovery\tjoined .*\t\(recovery device\)$`)

	// Every device of this computer is gone.
	w.parsec("", "device", "remove", "-d", alice.device, "--yes", "--config-dir", alice.dir).ok()
	if out := w.parsec("", "device", "list", "--config-dir", alice.dir).ok(); out != "" {
		t.Fatalf("devices left: %q", out)
	}

	// A new computer. A wrong passphrase, then a damaged file: refused, nothing created.
	fresh := w.newAccount("a brand new password")
	wrong := strings.Replace(passphrase, passphrase[:4], "AAAA", 1)
	if wrong == passphrase {
		wrong = strings.Replace(passphrase, passphrase[:4], "BBBB", 1)
	}
	w.parsec(wrong+"\n"+fresh.password+"\n", "device", "import-recovery", file, "--config-dir", fresh.dir, "--password-stdin").
		wantFailure(exitDenied, `wrong passphrase for the recovery file`)
	w.parsec("my pass@phrase\n"+fresh.password+"\n", "device", "import-recovery", file, "--config-dir", fresh.dir, "--password-stdin").
		wantFailure(exitUsage, `which is not one of its letters`)
	damaged := filepath.Join(t.TempDir(), "damaged.recovery")
	raw, _ := os.ReadFile(file)
	os.WriteFile(damaged, raw[:len(raw)/2], 0o600)
	w.parsec(passphrase+"\n"+fresh.password+"\n", "device", "import-recovery", damaged, "--config-dir", fresh.dir, "--password-stdin").
		wantFailure(exitUsage, `damaged or not a device file`)
	if entries, _ := os.ReadDir(fresh.dir); len(entries) != 0 {
		t.Fatalf("a refused import left %d entries in the configuration directory", len(entries))
	}

	// The right passphrase: a new ordinary device, which reads the workspace.
	out = w.parsec(strings.ToLower(passphrase)+"\n"+fresh.password+"\n", "device", "import-recovery", file, "--label", "new laptop",
		"--config-dir", fresh.dir, "--password-stdin").ok()
	if !strings.Contains(out, "Alice <alice@example.com> @ new laptop") {
		t.Fatalf("import printed %q", out)
	}
	if got := w.as(fresh, "cat", "Docs:/plan.txt").ok(); got != "the plan" {
		t.Errorf("the recovered device reads %q", got)
	}
	// The recovery file stays as it was.
	if again, _ := os.ReadFile(file); string(again) != string(raw) {
		t.Error("the import changed the recovery file")
	}

	// Its password changes: the old one no longer opens it.
	w.parsec(fresh.password+"\nanother password\n", "device", "change-password", "--config-dir", fresh.dir, "--password-stdin").ok()
	w.as(fresh, "ls", "Docs:/").wantFailure(exitDenied, `wrong password`)
	fresh.password = "another password"
	if got := w.as(fresh, "cat", "Docs:/plan.txt").ok(); got != "the plan" {
		t.Errorf("after the password change, the device reads %q", got)
	}
}
