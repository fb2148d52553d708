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

// Shared recovery, 2 of 3, through the binary: alice chooses bob, carol and dave; dave is
// revoked; alice loses her device; bob invites her back, and bob then carol greet her with
// the code exchange, each sending a share; her new device reads her workspace.
func TestSharedRecovery(t *testing.T) {
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice")
	bob := w.join(alice, "bob@example.com", "Bob", "member")
	carol := w.join(alice, "carol@example.com", "Carol", "member")
	dave := w.join(alice, "dave@example.com", "Dave", "member")
	w.as(alice, "workspace", "create", "Docs").ok()
	plan := filepath.Join(t.TempDir(), "plan.txt")
	os.WriteFile(plan, []byte("the plan"), 0o644)
	w.as(alice, "cp", plan, "Docs:/").ok()

	w.as(alice, "shared-recovery", "create", "--recipient", "bob@example.com", "--threshold", "2").
		wantFailure(exitUsage, `threshold must be between 1 and the number of shares \(1\)`)
	w.as(alice, "shared-recovery", "create", "--recipient", "nobody@example.com").
		wantFailure(exitNotFound, `no user with email nobody@example.com`)
	w.as(alice, "shared-recovery", "create", "--recipient", "bob@example.com=0").
		wantFailure(exitUsage, `between 1 and 255`)
	out := w.as(alice, "shared-recovery", "create", "--recipient", "bob@example.com", "--recipient", "carol@example.com",
		"--recipient", "dave@example.com", "--threshold", "2").ok()
	wantLines(t, out, `^Bob <bob@example.com>\t1$`, `^Dave <dave@example.com>\t1$`)
	w.as(alice, "shared-recovery", "create", "--recipient", "bob@example.com").
		wantFailure(exitError, `already have a shared recovery`)
	wantLines(t, w.as(bob, "shared-recovery", "list").ok(), `^You hold shares of the shared recovery of Alice <alice@example.com>\.$`)
	wantLines(t, w.as(alice, "user", "show", "alice@example.com").ok(), `^device: \S+\tshared recovery\tjoined .*\t\(recovery device\)$`)

	w.as(alice, "user", "revoke", "dave@example.com", "--yes").ok()
	wantLines(t, w.as(alice, "shared-recovery", "list").ok(),
		`^Your shared recovery \(set up on .*\): 2 of 2 shares needed\.$`, `^  Dave <dave@example.com>\t1 share\(s\)\trevoked$`)

	// Alice loses her device. Dave, revoked, can do nothing; bob, a recipient, invites her
	// back, and carol, another, sees the invitation.
	w.parsec("", "device", "remove", "-d", alice.device, "--yes", "--config-dir", alice.dir).ok()
	w.as(dave, "invite", "shared-recovery", "alice@example.com").wantFailure(exitRevoked, `revoked`)
	token, url := invitation(t, w.as(bob, "invite", "shared-recovery", "alice@example.com").ok())
	wantLines(t, w.as(carol, "invite", "list").ok(), `^`+token+`\tpending\tshared recovery \(Alice <alice@example.com>\)$`)

	fresh := w.newAccount("alice's new password")
	c := w.claim(fresh, url, "--device-label", "new laptop")
	c.expect(c.stderr, `^2 share\(s\) needed for recovery\. Recipients:$`)
	g := w.greet(bob, token)
	c.expect(c.stdout, `^Invitation greeter: Bob <bob@example.com>$`)
	readCodes(g, c)
	g.expect(g.stdout, `^1 share\(s\) sent to Alice <alice@example.com>\.$`)
	g.wantExit(exitOK)
	c.expect(c.stdout, `^Received 1 share\(s\) from Bob <bob@example.com>: 1 of 2\.$`)
	g = w.greet(carol, token)
	c.expect(c.stdout, `^Invitation greeter: Carol <carol@example.com>$`)
	readCodes(g, c)
	g.wantExit(exitOK)
	c.expect(c.stdout, `^Received 1 share\(s\) from Carol <carol@example.com>: 2 of 2\.$`)
	c.expect(c.stdout, `^[0-9a-f]{7} - Acme: Alice <alice@example.com> @ new laptop$`)
	c.wantExit(exitOK)
	if got := w.as(fresh, "cat", "Docs:/plan.txt").ok(); got != "the plan" {
		t.Errorf("the recovered device reads %q", got)
	}
	wantLines(t, w.as(bob, "invite", "list").ok(), `^`+token+`\tfinished\tshared recovery`)

	// The setup is deleted (after confirmation); the recipients hold nothing any more.
	w.parsec(fresh.password+"\nno\n", "shared-recovery", "delete", "--config-dir", fresh.dir, "--password-stdin").
		wantFailure(exitCancelled, `nothing deleted`)
	w.as(fresh, "shared-recovery", "delete", "--yes").ok()
	wantLines(t, w.as(fresh, "shared-recovery", "list").ok(), `^You have no shared recovery\.$`)
	if out := w.as(bob, "shared-recovery", "list").ok(); strings.Contains(out, "Alice") {
		t.Errorf("bob still holds shares:\n%s", out)
	}
	w.as(bob, "invite", "shared-recovery", "alice@example.com").wantFailure(exitNotFound, `no shared recovery in force`)
}
