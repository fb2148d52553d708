package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/server/serve"
)

// join invites email and runs greet and claim with the real codes; the new user gets profile.
func (w *world) join(admin account, email, name, profile string) account {
	w.t.Helper()
	token, url := invitation(w.t, w.as(admin, "invite", "user", email).ok())
	a := w.newAccount(name + "-password")
	g := w.greet(admin, token, "--profile", profile)
	c := w.claim(a, url, "--device-label", "pc", "--name", name)
	readCodes(g, c)
	g.wantExit(exitOK)
	c.wantExit(exitOK)
	return a
}

// The people-management commands of the CLI, against a real server process, with users who
// all joined through real invitations: what each profile may do, batch profile changes that
// skip External users, revocation with confirmation, and the directory afterwards.
func TestManagingPeople(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice")
	bob := w.join(alice, "bob@example.com", "Bob", "member")
	mallory := w.join(alice, "mallory@example.com", "Mallory", "external")

	// Filters.
	out := w.as(alice, "user", "list", "--profile", "member").ok()
	wantLines(t, out, `\tBob\tbob@example.com\tMember\tactive$`)
	if strings.Contains(out, "alice@") || strings.Contains(out, "mallory@") {
		t.Errorf("--profile member lists others:\n%s", out)
	}
	out = w.as(alice, "user", "list", "--search", "MALL").ok()
	wantLines(t, out, `\tMallory\tmallory@example.com\tExternal\tactive$`)
	if strings.Count(out, "\n") != 1 {
		t.Errorf("--search MALL lists %d users:\n%s", strings.Count(out, "\n"), out)
	}
	w.as(alice, "user", "list", "--profile", "boss").wantFailure(exitUsage, `invalid profile "boss"`)
	w.as(alice, "user", "list", "--status", "asleep").wantFailure(exitUsage, `invalid status "asleep"`)

	// An External user sees IDs, never other people's names or emails.
	out = w.as(mallory, "user", "list").ok()
	for _, secret := range []string{"alice@example.com", "Alice", "bob@example.com", "Bob"} {
		if strings.Contains(out, secret) {
			t.Errorf("mallory sees %q:\n%s", secret, out)
		}
	}

	// A Member is refused by the server.
	w.as(bob, "invite", "user", "eve@example.com").wantFailure(exitDenied, `only an Administrator can invite users`)
	p := w.parsec(bob.password+"\n", "user", "revoke", "mallory@example.com", "--yes", "--config-dir", bob.dir, "--password-stdin")
	p.wantExit(exitError)
	wantLines(t, p.stdout.String(), `^mallory@example.com: not revoked: only an Administrator can revoke users$`)
	w.as(bob, "user", "update-profile", "alice@example.com", "--profile", "member").wantFailure(exitDenied, `only an Administrator can change profiles`)
	// Even when the batch holds only an External user (who would be skipped).
	w.as(bob, "user", "update-profile", "mallory@example.com", "--profile", "member").wantFailure(exitDenied, `only an Administrator can change profiles`)

	// A batch naming bob and mallory: bob changes, mallory is skipped with a warning.
	p = w.as(alice, "user", "update-profile", "bob@example.com", "mallory@example.com", "--profile", "admin")
	out = p.ok()
	wantLines(t, out, `^bob@example.com: now Administrator$`, `^mallory@example.com: skipped \(External\)$`)
	if !regexp.MustCompile(`mallory@example.com is External: their profile will not be affected`).MatchString(p.stderr.String()) {
		t.Errorf("no warning about the External user:\n%s", p)
	}
	wantLines(t, w.as(alice, "user", "update-profile", "bob@example.com", "--profile", "admin").ok(), `^bob@example.com: already Administrator$`)
	// Promoted, bob can invite; demoted, he cannot any more.
	w.as(bob, "invite", "user", "eve@example.com").ok()
	wantLines(t, w.as(alice, "user", "update-profile", "bob@example.com", "--profile", "member").ok(), `^bob@example.com: now Member$`)
	w.as(bob, "invite", "user", "frank@example.com").wantFailure(exitDenied, `only an Administrator`)
	w.as(alice, "user", "update-profile", "bob@example.com", "--profile", "external").wantFailure(exitUsage, `External cannot be chosen`)
	w.as(alice, "user", "update-profile", "bob@example.com").wantFailure(exitUsage, `--profile is required`)
	w.as(alice, "user", "update-profile", "nobody@example.com", "--profile", "admin").wantFailure(exitError, `not changed`)

	// Revocation asks for confirmation; "n" changes nothing.
	p = w.parsec(alice.password+"\nn\n", "user", "revoke", "bob@example.com", "--config-dir", alice.dir, "--password-stdin")
	p.wantFailure(exitCancelled, `nothing changed`)
	w.as(bob, "user", "list").ok()
	p = w.parsec(alice.password+"\ny\n", "user", "revoke", "bob@example.com", "--config-dir", alice.dir, "--password-stdin")
	wantLines(t, p.ok(), `^bob@example.com: revoked$`)
	w.as(bob, "user", "list").wantFailure(exitRevoked, `this user has been revoked from organization Acme`)
	w.as(bob, "invite", "device").wantFailure(exitRevoked, `has been revoked`)
	wantLines(t, w.as(alice, "user", "revoke", "bob@example.com", "--yes").ok(), `^bob@example.com: already revoked$`)
	p = w.as(alice, "user", "revoke", "alice@example.com", "--yes")
	p.wantExit(exitError)
	wantLines(t, p.stdout.String(), `^alice@example.com: not revoked: you cannot revoke yourself$`)

	// The directory keeps bob, revoked, with when and by whom.
	wantLines(t, w.as(alice, "user", "list", "--status", "revoked").ok(), `\tBob\tbob@example.com\tMember\trevoked$`)
	out = w.as(alice, "user", "show", "bob@example.com").ok()
	wantLines(t, out, `^status: revoked$`, `^revoked: \S+ by Alice$`, `^device: [0-9a-f]{7}\tpc\tjoined \S+$`)

	// Frozen by the server administrator: Administrators see it.
	w.parsec("", "server", "user", "freeze", "mallory@example.com", "--org", "Acme", "--addr", w.url, "--admin-token", serve.DevAdminToken).ok()
	wantLines(t, w.as(alice, "user", "list", "--status", "frozen").ok(), `\tMallory\tmallory@example.com\tExternal\tfrozen$`)

	// Bob's email can join again, as a new user.
	bob2 := w.join(alice, "bob@example.com", "Bob", "member")
	out = w.as(bob2, "user", "list", "--search", "bob@").ok()
	wantLines(t, out, `\tBob\tbob@example.com\tMember\tactive$`, `\tBob\tbob@example.com\tMember\trevoked$`)
}
