package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/server/serve"
)

// End-to-end invitations: a real server process, and the greeter and the claimer as two real
// `parsec` processes run at the same time, driven through pipes the way two people at two
// terminals would drive them: each reads the code the other side prints and types it in.

// TestInviteUser: Alice invites Bob by email; Bob claims with the link from the email while
// Alice greets and chooses his profile at the prompt; Bob's new device then works.
func TestInviteUser(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice Liddell")

	p := w.as(alice, "invite", "user", "bob@example.com", "--send-email", "-d", alice.device)
	token, url := invitation(t, p.ok())
	if !strings.Contains(p.stderr.String(), "The invitation email was sent.") {
		t.Errorf("invite user --send-email does not say the email was sent:\n%s", p)
	}

	email := readEmail(t, filepath.Join(w.dataDir, "emails"))
	if email.to != "bob@example.com" || email.subject != "[Parsec] Alice Liddell invited you to Acme" {
		t.Errorf("email to %q, subject %q; want to bob@example.com, from Alice to Acme", email.to, email.subject)
	}
	for _, want := range []string{"Alice Liddell", `"Acme"`, url} {
		if !strings.Contains(email.text, want) {
			t.Errorf("the email does not mention %q:\n%s", want, email.text)
		}
	}
	link := regexp.MustCompile(`http://\S+/redirect/\S+`).FindString(email.text)
	if link != url {
		t.Fatalf("link in the email = %q, want the CLI's %q", link, url)
	}

	bob := w.newAccount("bob-password")
	g := w.greet(alice, token)
	c := w.claim(bob, link, "--device-label", "bobpc", "--name", "Bob")
	c.expect(c.stdout, `^Invitation greeter: Alice Liddell <alice@example.com>$`)
	readCodes(g, c)
	g.expect(g.stdout, `^New user: Bob <bob@example.com>$`)
	g.expect(g.stdout, `^New device label: bobpc$`)
	g.send("member")
	g.expect(g.stdout, `^User [0-9a-f]{32} created: Bob <bob@example.com>, Member, with device bobpc\.$`)
	c.expect(c.stdout, `^[0-9a-f]{7} - Acme: Bob <bob@example.com> @ bobpc$`)
	g.wantExit(exitOK)
	c.wantExit(exitOK)

	users := w.as(bob, "user", "list").ok()
	wantLines(t, users,
		`^[0-9a-f]{32}\tAlice Liddell\talice@example.com\tAdministrator\tactive$`,
		`^[0-9a-f]{32}\tBob\tbob@example.com\tMember\tactive$`)
	wantLines(t, w.as(alice, "invite", "list").ok(), `^`+token+`\tfinished\tuser \(email=bob@example.com\)$`)
	// Cancelling it now is an invitation already used: exit code 5, as for a claim (it was 1).
	w.as(alice, "invite", "cancel", token).
		wantFailure(exitRevoked, `(?m)^error: invitation [0-9a-f]{32} is already finished$`)

	// The link is used up; Bob is a Member, so he may not invite anyone; and he is a member
	// now, so inviting him again is refused.
	w.claim(w.newAccount("eve-password"), link, "--device-label", "evepc", "--name", "Eve").
		wantFailure(exitRevoked, `(?m)^error: this invitation has already been used or was cancelled$`)
	w.as(bob, "invite", "user", "carol@example.com").
		wantFailure(exitDenied, `(?m)^error: only an Administrator can invite users$`)
	w.as(alice, "invite", "user", "bob@example.com").
		wantFailure(exitError, `(?m)^error: bob@example\.com is already a member of organization Acme$`)
}

// TestInviteDevice: Alice adds a second device; it sees exactly what the first one sees.
func TestInviteDevice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice Liddell")
	token, url := invitation(t, w.as(alice, "invite", "device").ok())

	phone := w.newAccount("phone-password")
	g := w.greet(alice, token)
	c := w.claim(phone, url, "--device-label", "phone")
	c.expect(c.stdout, `^Invitation greeter: Alice Liddell <alice@example.com>$`)
	readCodes(g, c)
	g.expect(g.stdout, `^New device label: phone$`)
	g.expect(g.stdout, `^Device [0-9a-f]{7} \(phone\) created\.$`)
	g.wantExit(exitOK)
	c.wantExit(exitOK)

	first := w.as(alice, "user", "list").ok()
	if diff := cmp.Diff(first, w.as(phone, "user", "list").ok()); diff != "" {
		t.Errorf("user list: the new device differs from the first one (-first +new):\n%s", diff)
	}
	devices := w.parsec("", "device", "list", "--config-dir", phone.dir).ok()
	wantLines(t, devices, `^[0-9a-f]{7} - Acme: Alice Liddell <alice@example.com> @ phone$`)
	wantLines(t, w.as(alice, "invite", "list").ok(), `^`+token+`\tfinished\tdevice$`)
}

// TestInviteWrongCode: when either person picks a code that is not the one the other reads
// to them, both sides stop and warn of an interception; nothing is created, the invitation
// stays pending, and a new exchange with the right codes succeeds.
func TestInviteWrongCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		email string
		// pickWrong runs the exchange up to the wrong choice.
		pickWrong func(g, c *proc)
		// What each side then says, before the interception warning.
		greeterSays, claimerSays string
	}{
		{
			name:  "claimer picks none of them",
			email: "bob@example.com",
			pickWrong: func(g, c *proc) {
				g.expect(g.stdout, `^Code to provide to claimer: \S+$`)
				c.expect(c.stderr, `^  5\. None of them$`)
				c.send("5")
			},
			greeterSays: "the claimer rejected the code",
			claimerSays: "wrong code",
		},
		{
			name:  "greeter picks a decoy",
			email: "carol@example.com",
			pickWrong: func(g, c *proc) {
				code := g.expect(g.stdout, `^Code to provide to claimer: (\S+)$`)[1]
				c.send(code)
				code = c.expect(c.stdout, `^Code to provide to greeter: (\S+)$`)[1]
				g.send(decoy(g, code))
			},
			greeterSays: "wrong code",
			claimerSays: "the greeter rejected the code",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			alice := w.bootstrap("alice@example.com", "Alice Liddell")
			token, url := invitation(t, w.as(alice, "invite", "user", tc.email).ok())

			claimer := w.newAccount("claimer-password")
			g := w.greet(alice, token, "--profile", "member")
			c := w.claim(claimer, url, "--device-label", "pc", "--name", "Claimer")
			tc.pickWrong(g, c)
			const warning = ": someone may be intercepting the exchange"
			g.wantFailure(exitCancelled, "error: "+tc.greeterSays+warning)
			c.wantFailure(exitCancelled, "error: "+tc.claimerSays+warning)

			if users := w.as(alice, "user", "list").ok(); strings.Count(users, "\n") != 1 {
				t.Errorf("a user was created after a wrong code:\n%s", users)
			}
			if devices := w.parsec("", "device", "list", "--config-dir", claimer.dir).ok(); devices != "" {
				t.Errorf("the claimer saved a device after a wrong code:\n%s", devices)
			}
			wantLines(t, w.as(alice, "invite", "list").ok(), `^`+token+`\tpending\tuser \(email=`+regexp.QuoteMeta(tc.email)+`\)$`)

			g = w.greet(alice, token, "--profile", "member")
			c = w.claim(claimer, url, "--device-label", "pc", "--name", "Claimer")
			readCodes(g, c)
			g.wantExit(exitOK)
			c.wantExit(exitOK)
			wantLines(t, w.as(claimer, "user", "list").ok(), `\tClaimer\t`+regexp.QuoteMeta(tc.email)+`\tMember\tactive$`)
			wantLines(t, w.as(alice, "invite", "list").ok(), `^`+token+`\tfinished\t`)
		})
	}
}

// TestInviteInterrupted: Ctrl-C at the greeter's code prompt cancels the attempt cleanly: the
// claimer learns that the greeter cancelled, and the invitation stays pending.
func TestInviteInterrupted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice Liddell")
	token, url := invitation(t, w.as(alice, "invite", "user", "bob@example.com").ok())

	g := w.greet(alice, token)
	c := w.claim(w.newAccount("bob-password"), url, "--device-label", "pc", "--name", "Bob")
	code := g.expect(g.stdout, `^Code to provide to claimer: (\S+)$`)[1]
	c.send(code)
	g.expect(g.stderr, `^  5\. None of them$`)
	g.cmd.Process.Signal(os.Interrupt)
	g.wantFailure(exitCancelled, `(?m)^error: exchange cancelled$`)
	c.wantFailure(exitCancelled, `(?m)error: the greeter cancelled the exchange$`)
	wantLines(t, w.as(alice, "invite", "list").ok(), `^`+token+`\tpending\t`)
}

// TestInviteCancelled: a cancelled invitation can be neither claimed nor greeted.
func TestInviteCancelled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice Liddell")
	token, url := invitation(t, w.as(alice, "invite", "user", "bob@example.com").ok())

	p := w.as(alice, "invite", "cancel", token)
	p.ok()
	wantLines(t, p.stderr.String(), `^Invitation `+token+` cancelled\.$`)
	wantLines(t, w.as(alice, "invite", "list").ok(), `^`+token+`\tcancelled\tuser \(email=bob@example.com\)$`)

	w.claim(w.newAccount("bob-password"), url, "--device-label", "pc", "--name", "Bob").
		wantFailure(exitRevoked, `(?m)^error: this invitation has already been used or was cancelled$`)
	w.as(alice, "invite", "greet", token).wantFailure(exitRevoked, `(?mi)^error: invitation `+token+` is cancelled$`)
	w.as(alice, "invite", "cancel", token).wantFailure(exitRevoked, `(?m)^error: invitation `+token+` is already cancelled$`)

	// Inviting the same email again gives a new invitation.
	again, _ := invitation(t, w.as(alice, "invite", "user", "bob@example.com").ok())
	if again == token {
		t.Errorf("inviting again after a cancel gave the cancelled token")
	}
}

// TestInviteEmailNotSent: when the mail server cannot be reached, the invitation is created
// all the same and the CLI says to pass the link on by hand.
func TestInviteEmailNotSent(t *testing.T) {
	t.Parallel()
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, "--email-host", "127.0.0.1", "--email-port", fmt.Sprint(closed))
	alice := w.bootstrap("alice@example.com", "Alice Liddell")

	p := w.as(alice, "invite", "user", "bob@example.com", "--send-email")
	token, _ := invitation(t, p.ok())
	wantLines(t, p.stderr.String(), `^The invitation email was NOT sent: the server could not send it\. Pass the URL on by hand\.$`)
	wantLines(t, w.as(alice, "invite", "list").ok(), `^`+token+`\tpending\tuser \(email=bob@example.com\)$`)
}

// TestInviteExternal: a user greeted as External sees the other users by ID only. The
// claimer answers the device label and name prompts on stdin instead of using flags.
func TestInviteExternal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice Liddell")
	token, url := invitation(t, w.as(alice, "invite", "user", "ext@example.com").ok())

	ext := w.newAccount("ext-password")
	g := w.greet(alice, token, "--profile", "external")
	c := w.claim(ext, url)
	readCodes(g, c)
	c.send("pc")  // Device label:
	c.send("Ext") // Your name:
	g.expect(g.stdout, `, External, with device pc\.$`)
	g.wantExit(exitOK)
	c.wantExit(exitOK)

	aliceID := regexp.MustCompile(`(?m)^([0-9a-f]{32})\tAlice Liddell\t`).FindStringSubmatch(w.as(alice, "user", "list").ok())
	if aliceID == nil {
		t.Fatal("alice's user list does not show alice")
	}
	users := w.as(ext, "user", "list").ok()
	wantLines(t, users, `^`+aliceID[1]+`\t`+aliceID[1]+`\t`+aliceID[1]+`@redacted\.invalid\tAdministrator\tactive$`)
	for _, secret := range []string{"alice@example.com", "Alice Liddell"} {
		if strings.Contains(users, secret) {
			t.Errorf("an External user sees %q:\n%s", secret, users)
		}
	}
}

// A world is one test's server process and the accounts that use it.
type world struct {
	t       *testing.T
	ctx     context.Context // the test's deadline: every process is stopped at it
	url     string          // the server's URL
	dataDir string          // the server's data directory
	server  *proc           // the server process
}

// newWorld starts `parsec server run --dev`, with extra flags, on a port the system picks,
// and waits for the banner that gives its URL (printed once it serves). The server is
// stopped with SIGINT when the test ends, and must then exit cleanly.
func newWorld(t *testing.T, serverFlags ...string) *world {
	return newWorldFor(t, 60*time.Second, serverFlags...)
}

// newWorldFor is newWorld with another deadline (browser tests take longer).
func newWorldFor(t *testing.T, deadline time.Duration, serverFlags ...string) *world {
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	t.Cleanup(cancel)
	w := &world{t: t, ctx: ctx, dataDir: t.TempDir()}
	args := append([]string{"server", "run", "--dev", "--addr", "127.0.0.1:0", "--data-dir", w.dataDir}, serverFlags...)
	srv := w.start("", args...)
	w.server = srv
	w.url = srv.expect(srv.stderr, `^  URL: +(https?://\S+)$`)[1]
	t.Cleanup(func() {
		// The test's context is done by now: exec has sent the server SIGINT (cmd.Cancel).
		// A second one could arrive after it stopped listening for signals, and kill it.
		if code := srv.wait(); code != exitOK {
			t.Errorf("the server exited with code %d:\n%s", code, srv)
		}
	})
	return w
}

// An account is one person's configuration directory, holding one device.
type account struct {
	dir      string
	password string
	device   string // short ID, known after bootstrap
}

func (w *world) newAccount(password string) account {
	return account{dir: w.t.TempDir(), password: password}
}

// bootstrap creates organization Acme (with createFlags, those of org create) and
// bootstraps it: the person becomes its first Administrator, with device "laptop".
func (w *world) bootstrap(email, name string, createFlags ...string) account {
	args := append([]string{"org", "create", "Acme", "--addr", w.url, "--admin-token", serve.DevAdminToken}, createFlags...)
	out := w.parsec("", args...).ok()
	a := w.newAccount("correct horse")
	out = w.parsec(a.password+"\n", "org", "bootstrap", strings.TrimSpace(out), "--email", email, "--name", name,
		"--device-label", "laptop", "--config-dir", a.dir, "--password-stdin").ok()
	a.device = strings.Fields(out)[0]
	return a
}

// invitation returns the token and URL that `invite user` or `invite device` printed.
func invitation(t *testing.T, out string) (token, url string) {
	t.Helper()
	m := regexp.MustCompile(`^Invitation token: ([0-9a-f]{32})\nInvitation URL: (https?://\S+)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no invitation token and URL in:\n%s", out)
	}
	return m[1], m[2]
}

// parsec runs a command to its end, with stdin.
func (w *world) parsec(stdin string, args ...string) *proc {
	p := w.start(stdin, args...)
	p.stdin.Close()
	p.wait()
	return p
}

// as runs a command with a's device: its configuration directory, its password on stdin.
func (w *world) as(a account, args ...string) *proc {
	return w.parsec(a.password+"\n", append(args, "--config-dir", a.dir, "--password-stdin")...)
}

// greet starts `invite greet` with a's device; it answers prompts through send.
func (w *world) greet(a account, token string, flags ...string) *proc {
	args := append([]string{"invite", "greet", token, "--config-dir", a.dir, "--password-stdin"}, flags...)
	return w.start(a.password+"\n", args...)
}

// claim starts `invite claim`, saving the new device in a's directory under a's password.
func (w *world) claim(a account, url string, flags ...string) *proc {
	args := append([]string{"invite", "claim", url, "--config-dir", a.dir, "--password-stdin"}, flags...)
	return w.start(a.password+"\n", args...)
}

// readCodes has each person read their code to the other, who types it in: the greeter's
// first, then the claimer's.
func readCodes(g, c *proc) {
	code := g.expect(g.stdout, `^Code to provide to claimer: (\S+)$`)[1]
	c.send(code)
	code = c.expect(c.stdout, `^Code to provide to greeter: (\S+)$`)[1]
	g.send(code)
}

// decoy returns one of the codes the greeter is offered that is not the claimer's code.
func decoy(g *proc, claimerCode string) string {
	g.expect(g.stderr, `^Select code provided by claimer:$`)
	for range 4 {
		if code := g.expect(g.stderr, `^  \d\. (\S+)$`)[1]; code != claimerCode {
			return code
		}
	}
	g.w.t.Fatalf("the greeter was offered only the claimer's code:\n%s", g)
	return ""
}

// wantLines fails unless every pattern matches a line of out.
func wantLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
			t.Errorf("no line matches %q in:\n%s", p, out)
		}
	}
}

type email struct{ to, subject, text string }

// readEmail reads the only .eml file in dir: its recipient, subject and decoded text part.
func readEmail(t *testing.T, dir string) email {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("want one email in %s, found %d", dir, len(files))
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatalf("reading %s: %v", files[0], err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 {
		t.Fatalf("To %q: %v", msg.Header.Get("To"), err)
	}
	e := email{to: to[0].Address}
	if e.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject: %v", err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := parts.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("no text/plain part in %s: %v", files[0], err)
		}
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/plain") {
			text, err := io.ReadAll(part)
			if err != nil {
				t.Fatal(err)
			}
			e.text = string(text)
			return e
		}
	}
}

// A proc is a running parsec process. The test writes its stdin line by line (send) and
// waits for lines of its output (expect).
type proc struct {
	w              *world
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *output
	done           chan struct{} // closed once the process exited and its output is read
}

// start starts parsec with args; stdin is written first, and stdin stays open for send.
// The process is interrupted (SIGINT) when the test's deadline passes or the test ends.
func (w *world) start(stdin string, args ...string) *proc {
	w.t.Helper()
	cmd := exec.CommandContext(w.ctx, "parsec", args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = childEnv()
	p := &proc{w: w, cmd: cmd, stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		w.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("start parsec %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		cmd.Wait()
		p.stdout.close()
		p.stderr.close()
		close(p.done)
	}()
	w.t.Cleanup(func() { p.stdin.Close(); <-p.done })
	io.WriteString(p.stdin, stdin)
	return p
}

// childEnv is the environment of the processes: this one's. Built with -race, each process
// would sleep 1 s as it exits (to flush late reports) and these tests run dozens: unless
// GORACE is set, they sleep 10 ms instead.
func childEnv() []string {
	if _, ok := os.LookupEnv("GORACE"); ok {
		return nil
	}
	return append(os.Environ(), "GORACE=atexit_sleep_ms=10")
}

// send types one line on the process's stdin.
func (p *proc) send(line string) {
	p.w.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.w.t.Fatalf("cannot send %q: %v\n%s", line, err, p)
	}
}

// expect waits for the next line of out (stdout or stderr) that matches pattern, and returns
// its submatches. It fails the test when the process ends or the test's deadline passes
// first.
func (p *proc) expect(out *output, pattern string) []string {
	p.w.t.Helper()
	re := regexp.MustCompile(pattern)
	for {
		line, err := out.next(p.w.ctx)
		if err != nil {
			p.w.t.Fatalf("waiting for a line matching %q: %v\n%s", pattern, err, p)
		}
		if m := re.FindStringSubmatch(line); m != nil {
			return m
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// wantExit fails the test unless the process exits with code.
func (p *proc) wantExit(code int) {
	p.w.t.Helper()
	if got := p.wait(); got != code {
		p.w.t.Fatalf("exit code %d, want %d\n%s", got, code, p)
	}
}

// wantFailure fails the test unless the process exits with code and its stderr matches
// pattern.
func (p *proc) wantFailure(code int, pattern string) {
	p.w.t.Helper()
	p.wantExit(code)
	if !regexp.MustCompile(pattern).MatchString(p.stderr.String()) {
		p.w.t.Errorf("stderr does not match %q\n%s", pattern, p)
	}
}

// ok fails the test unless the process exits with code 0, and returns its stdout.
func (p *proc) ok() string {
	p.w.t.Helper()
	p.wantExit(exitOK)
	return p.stdout.String()
}

func (p *proc) String() string {
	return fmt.Sprintf("$ parsec %s\n--- stdout:\n%s--- stderr:\n%s", strings.Join(p.cmd.Args[1:], " "), p.stdout, p.stderr)
}

// An output collects what a process writes on one stream, and hands its lines one by one to
// the test, waiting for the next one when needed.
type output struct {
	mu      sync.Mutex
	data    []byte
	read    int           // bytes of data already handed out by next
	closed  bool          // the process ended
	changed chan struct{} // closed and replaced at every write and at the end
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(b []byte) (int, error) {
	o.update(func() { o.data = append(o.data, b...) })
	return len(b), nil
}

func (o *output) close() { o.update(func() { o.closed = true }) }

func (o *output) update(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f()
	close(o.changed)
	o.changed = make(chan struct{})
}

// next returns the next whole line (the last one may lack its newline once the process
// ended), waiting for it until ctx is done.
func (o *output) next(ctx context.Context) (string, error) {
	for {
		o.mu.Lock()
		rest := o.data[o.read:]
		i := bytes.IndexByte(rest, '\n')
		switch {
		case i >= 0:
			o.read += i + 1
			o.mu.Unlock()
			return string(rest[:i]), nil
		case o.closed && len(rest) > 0:
			o.read += len(rest)
			o.mu.Unlock()
			return string(rest), nil
		case o.closed:
			o.mu.Unlock()
			return "", io.EOF
		}
		changed := o.changed
		o.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.data)
}
