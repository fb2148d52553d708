package cli

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// Acknowledged means kept: the server is killed (SIGKILL, no goodbye) at random moments
// while several clients upload, and restarted on the same data; a client is killed in the
// middle of its own upload too. Every upload that exited 0 is then there, byte for byte,
// the server's database passes SQLite's integrity check, and so does the killed client's
// local cache, whose device goes on working.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	w := &world{t: t, ctx: ctx, dataDir: t.TempDir()}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	w.url = "http://" + addr
	var server *proc
	start := func() {
		t.Helper()
		server = w.start("", "server", "run", "--dev", "--addr", addr, "--data-dir", w.dataDir)
		server.expect(server.stderr, `^  URL: +(http://\S+)$`)
	}
	start()
	defer func() {
		server.cmd.Process.Signal(os.Interrupt)
		if code := server.wait(); code != exitOK {
			t.Errorf("the server exited with code %d at the end:\n%s", code, server)
		}
	}()
	alice := w.bootstrap("alice@example.com", "Alice")
	w.as(alice, "workspace", "create", "Docs").ok()

	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	acknowledged := map[string][]byte{} // workspace path → content, for every cp that exited 0
	var mu sync.Mutex
	n := 0
	for round := range 5 {
		var wg sync.WaitGroup
		for range 3 {
			n++
			name := fmt.Sprintf("f%02d.bin", n)
			data := make([]byte, 2<<20+rng.IntN(8<<20))
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			local := filepath.Join(dir, name)
			os.WriteFile(local, data, 0o644)
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := w.parsec(alice.password+"\n", "cp", local, "Docs:/", "--config-dir", alice.dir, "--password-stdin")
				if p.wait() == exitOK {
					mu.Lock()
					acknowledged["/"+name] = data
					mu.Unlock()
				}
			}()
		}
		// From very early to late: some uploads are cut, others acknowledged, whatever the
		// machine's speed.
		time.Sleep([]time.Duration{10, 100, 400, 1500, 4000}[round] * time.Millisecond)
		server.cmd.Process.Kill()
		server.wait()
		wg.Wait()
		t.Logf("round %d: server killed; %d upload(s) acknowledged so far", round, len(acknowledged))
		start()
	}

	// A client killed in the middle of its own upload: its device goes on.
	big := filepath.Join(dir, "killed.bin")
	os.WriteFile(big, make([]byte, 24<<20), 0o644)
	victim := w.start(alice.password+"\n", "cp", big, "Docs:/", "--config-dir", alice.dir, "--password-stdin")
	time.Sleep(300 * time.Millisecond)
	victim.cmd.Process.Kill()
	victim.wait()

	// Everything acknowledged is there, byte for byte (cat checks every block against its
	// signed manifest); the sync sends what was kept on the device.
	w.as(alice, "workspace", "sync", "Docs").ok()
	if len(acknowledged) == 0 || len(acknowledged) == n {
		t.Fatalf("%d of %d uploads acknowledged: the kills should come both before and after some acknowledgments", len(acknowledged), n)
	}
	for p, data := range acknowledged {
		if got := w.as(alice, "cat", "Docs:"+p).ok(); got != string(data) {
			t.Errorf("%s: %d bytes read back, want the %d acknowledged", p, len(got), len(data))
		}
	}
	t.Logf("%d uploads acknowledged out of %d, all there", len(acknowledged), n)

	for _, db := range []string{filepath.Join(w.dataDir, "metadata.db"), mustGlob(t, filepath.Join(alice.dir, "data", "*", "local.db"))} {
		conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		var result string
		if err := conn.QueryRow("PRAGMA integrity_check").Scan(&result); err != nil || result != "ok" {
			t.Errorf("%s: integrity check %q, %v", db, result, err)
		}
		conn.Close()
	}
	if resp, err := http.Get(w.url + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the restarted server's health: %v, %v", resp, err)
	}
}

func mustGlob(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) != 1 {
		t.Fatalf("%s: %v, %v", pattern, m, err)
	}
	return m[0]
}
