package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parsec-go/parsec/internal/server/serve"
)

// The graphical client end to end: a real server process, each person's `parsec gui`
// process, and each person's page in a real Chromium, driven the way a person would use it:
// clicking the labels the seeds name, reading the code on one screen and clicking it on the
// other. Every step is saved as a screenshot ($PARSEC_SCREENSHOTS, when set, keeps them:
// docs/screenshots holds the ones the README shows).

// chromiumPath finds Chromium, or skips the test (fails it in CI) without one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("PARSEC_CHROMIUM"); path != "" {
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("PARSEC_TEST_DISALLOW_SKIP") != "" {
		t.Fatal("no Chromium found (apt install chromium, or set PARSEC_CHROMIUM)")
	}
	t.Skip("no Chromium found (apt install chromium, or set PARSEC_CHROMIUM)")
	return ""
}

// browser starts a headless Chromium of its own (its own profile), with extra options if
// any, and returns its first tab.
func (w *world) browser(extra ...chromedp.ExecAllocatorOption) context.Context {
	w.t.Helper()
	profile, err := os.MkdirTemp("", "parsec-chromium-")
	if err != nil {
		w.t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(w.t)), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(profile))
	opts = append(opts, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(w.ctx, opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	w.t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		// Chromium's helpers may still be writing their last files: give them a moment.
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first run starts the browser, which lives as long as tab: no deadline on it.
	if err := chromedp.Run(tab); err != nil {
		w.t.Fatalf("starting Chromium: %v", err)
	}
	return tab
}

// A person using the GUI: their `parsec gui` process and their browser tab.
type person struct {
	w    *world
	t    *testing.T
	name string
	acc  account
	proc *proc
	tab  context.Context
	shot int
	// launch is the address the GUI printed, with its one-time secret.
	launch string

	mu      sync.Mutex
	dialogs []page.DialogType // the browser's dialogs so far, all accepted
}

// asked reports whether the browser asked the person something of the kind.
func (p *person) asked(kind page.DialogType) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.dialogs, kind)
}

// gui starts a's `parsec gui` with args and opens the address it prints in a new tab.
func (w *world) gui(a account, name string, args ...string) *person {
	w.t.Helper()
	tab := w.browser()
	p := w.start("", append([]string{"gui", "--no-browser", "--config-dir", a.dir}, args...)...)
	url := p.expect(p.stdout, `^GUI: (http://\S+)$`)[1]
	pe := &person{w: w, t: w.t, name: name, acc: a, proc: p, tab: tab, launch: url}
	// Confirmations (data-confirm, leaving an exchange) are accepted, as a person who means
	// it would; their kinds are noted.
	chromedp.ListenTarget(tab, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			pe.mu.Lock()
			pe.dialogs = append(pe.dialogs, d.Type)
			pe.mu.Unlock()
			go chromedp.Run(tab, page.HandleJavaScriptDialog(true))
		}
	})
	peopleMu.Lock()
	people[w] = append(people[w], pe)
	peopleMu.Unlock()
	pe.run(chromedp.Navigate(url))
	return pe
}

// people are the persons of each world, for the diagnostics of a failure.
var (
	peopleMu sync.Mutex
	people   = map[*world][]*person{}
)

// everyone describes what every person's page shows, when a step fails.
func (p *person) everyone() string {
	var b strings.Builder
	peopleMu.Lock()
	all := people[p.w]
	peopleMu.Unlock()
	for _, o := range all {
		var body string
		ctx, cancel := context.WithTimeout(o.tab, 3*time.Second)
		chromedp.Run(ctx, chromedp.Text("main", &body, chromedp.ByQuery))
		cancel()
		fmt.Fprintf(&b, "=== %s's page:\n%s\n=== %s's GUI process:\n%s\n", o.name, body, o.name, o.proc)
	}
	return b.String()
}

// run runs browser actions, failing the test with what the page shows when one fails.
func (p *person) run(actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, 45*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var text string
		chromedp.Run(p.tab, chromedp.Text("body", &text, chromedp.ByQuery))
		p.t.Fatalf("%s's browser: %v\npage:\n%s\nGUI process:\n%s", p.name, err, text, p.proc)
	}
}

// see waits until the page shows text (in the element sel), and returns the element's text.
// The page may be loading or redrawing itself meanwhile: it asks again until the deadline.
func (p *person) see(sel, text string) string {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for {
		ctx, cancel := context.WithTimeout(p.tab, 5*time.Second)
		err := chromedp.Run(ctx, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Text(sel, &got, chromedp.ByQuery))
		cancel()
		if err == nil && strings.Contains(got, text) {
			return got
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s's page never showed %q in %s (%v; it shows %q)\n%s", p.name, text, sel, err, got, p.everyone())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// click clicks the element sel. A live page may redraw itself just then: the click is tried
// again on the new element.
func (p *person) click(sel string) {
	p.t.Helper()
	p.retry("click "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Click(sel, chromedp.ByQuery))
}

// press focuses the element sel and presses key, tried again like click.
func (p *person) press(sel, key string) {
	p.t.Helper()
	p.retry(fmt.Sprintf("press %q on %s", key, sel), chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Focus(sel, chromedp.ByQuery), chromedp.KeyEvent(key))
}

// retry runs actions until they succeed: the live page may replace an element between
// finding it and using it.
func (p *person) retry(what string, actions ...chromedp.Action) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(p.tab, 5*time.Second)
		err := chromedp.Run(ctx, actions...)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s cannot %s: %v\n%s", p.name, what, err, p.everyone())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fill types into the field sel, replacing what it holds, again if the page redraws itself
// meanwhile.
func (p *person) fill(sel, text string) {
	p.t.Helper()
	var got string
	p.retry("fill "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).value = ""`, sel), nil), chromedp.SendKeys(sel, text, chromedp.ByQuery),
		chromedp.Value(sel, &got, chromedp.ByQuery), chromedp.ActionFunc(func(context.Context) error {
			if got != text {
				return fmt.Errorf("the field holds %q (the page redrew itself meanwhile)", got)
			}
			return nil
		}))
}

// choose picks an option of the select sel by its value, as the keyboard or the mouse would.
func (p *person) choose(sel, value string) {
	p.t.Helper()
	var ok bool
	js := fmt.Sprintf(`(function(){var s=document.querySelector(%q); s.value=%q; s.dispatchEvent(new Event("change",{bubbles:true})); return s.value===%q})()`, sel, value, value)
	p.run(chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Evaluate(js, &ok))
	if !ok {
		p.t.Fatalf("%s has no option %q", sel, value)
	}
}

// screenshot saves the page, named after the step.
func (p *person) screenshot(step string) {
	p.t.Helper()
	var png []byte
	p.run(chromedp.FullScreenshot(&png, 100))
	if len(png) < 1000 {
		p.t.Fatalf("screenshot of %s is empty", step)
	}
	dir := os.Getenv("PARSEC_SCREENSHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	}
	p.shot++
	name := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(step), "-")
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// attr reads an attribute of the element sel.
func (p *person) attr(sel, name string) string {
	p.t.Helper()
	var v string
	var ok bool
	p.run(chromedp.AttributeValue(sel, name, &v, &ok, chromedp.ByQuery))
	if !ok {
		p.t.Fatalf("%s has no attribute %s", sel, name)
	}
	return v
}

// createOrganization has the person bootstrap Acme from the link the server administrator
// gives, entered by hand.
func (p *person) createOrganization(link, name, email string) {
	p.t.Helper()
	p.see("h1", "Welcome to Parsec")
	p.fill("#url", link)
	p.click("#link-h + form button")
	p.see("h1", "Create the organization Acme")
	p.fill("#name", name)
	p.fill("#email", email)
	p.fill("#label", "laptop")
	p.fill("#password", p.acc.password)
	p.fill("#password2", p.acc.password)
	p.screenshot("create-organization")
	p.click("form.form button[type=submit]")
	p.see(".messages", "you are its first Administrator")
}

// The seeds' flows, end to end: create the organization, invite a user, greet them with the
// token exchange while they join, choose their profile; then the user list.
func TestGUIInviteAndGreet(t *testing.T) {
	t.Parallel()
	w := newWorldFor(t, 3*time.Minute)
	link := strings.TrimSpace(w.parsec("", "org", "create", "Acme", "--addr", w.url, "--admin-token", serve.DevAdminToken).ok())

	alice := w.gui(w.newAccount("correct horse battery"), "Alice")
	alice.screenshot("home")
	alice.createOrganization(link, "Alice Liddell", "alice@example.com")
	alice.see(".facts", "Administrators")
	alice.screenshot("my-organization")

	// Invite Bob: the yellow button appears at the top.
	alice.click(`a[href="/users"]`)
	alice.see("h1", "Manage my organization")
	alice.click(`a.button[href="/invitations"]`)
	alice.fill("#emails", "bob@example.com")
	alice.click("#invite-h + form button")
	alice.see(".outcomes", "bob@example.com: invitation sent by email")
	alice.see("#pending", "1 invitation waiting")
	alice.screenshot("invitation-sent")
	bobLink := alice.attr(`button[data-copy]`, "data-copy")
	alice.click("#pending")
	alice.see("h1", "Invitations")

	// Bob opens the link in his GUI (as the link handler would), and starts.
	bob := w.gui(w.newAccount("bob's long password"), "Bob", bobLink)
	bob.see("h1", "Join the organization Acme")
	bob.click("main form button")
	bob.see(".flow", "Waiting for an Administrator to greet you")
	bob.screenshot("join-waiting")
	// Alice's list of invitations, open from the yellow button, shows at once that Bob waits.
	alice.see("table", "waiting for you to greet them")
	alice.screenshot("guest-waiting")

	// Alice greets; each reads their code to the other, who clicks it among four.
	alice.clickGreet()
	hostCode := alice.see(".sas", "")
	alice.screenshot("greet-host-code")
	bob.see(".codes legend", "Which code does Alice Liddell <alice@example.com> read to you?")
	bob.screenshot("join-pick-host-code")
	bob.click(`button.code[value="` + hostCode + `"]`)
	guestCode := bob.see(".sas", "")
	alice.see(".codes legend", "Which code")
	alice.screenshot("greet-pick-guest-code")
	alice.click(`button.code[value="` + guestCode + `"]`)

	// Bob gives his details; Alice checks them and chooses his profile.
	bob.see("main h1", "Join Acme")
	bob.run(chromedp.WaitVisible("#password", chromedp.ByQuery))
	bob.fill("#name", "Bob Morane")
	bob.fill("#label", "bobpc")
	bob.fill("#password", bob.acc.password)
	bob.fill("#password2", bob.acc.password)
	bob.screenshot("join-details")
	bob.click(`form.form button[type=submit]`)
	alice.run(chromedp.WaitVisible("#profile", chromedp.ByQuery))
	alice.see("form.form", "Check who is joining")
	if name := alice.attr("#name", "value"); name != "Bob Morane" {
		t.Errorf("Alice checks the name %q, want Bob Morane", name)
	}
	alice.choose("#profile", "STANDARD")
	alice.screenshot("greet-check-and-profile")
	alice.click(`form.form button[type=submit]`)
	alice.see(".flow", "Bob Morane (bob@example.com) joined the organization as Member.")
	bob.see(".flow", "You have joined the organization Acme.")
	bob.see(".flow", "Create a recovery file now")
	bob.screenshot("join-done")
	bob.click(".flow form button")
	bob.see(".who", "Bob Morane · Member · bobpc")

	// Alice sees Bob in the list; no invitation waits any more.
	alice.click(".flow form button")
	alice.click(`a[href="/users"]`)
	alice.see("table.users", "Bob Morane")
	alice.see("table.users", "bob@example.com")
	if alice.count(`#pending`) != 0 {
		t.Error("the yellow button is still shown after the guest joined")
	}
	alice.screenshot("manage-my-organization")
	if alice.asked(page.DialogTypeBeforeunload) || bob.asked(page.DialogTypeBeforeunload) {
		t.Error("the browser asked to confirm leaving an exchange that went on or was over")
	}

	// The CLI sees what the GUI did: the devices are the same files.
	wantLines(t, w.as(account{dir: alice.acc.dir, password: alice.acc.password}, "user", "list").ok(),
		`^[0-9a-f]{32}\tBob Morane\tbob@example.com\tMember\tactive$`)
}

// openInvitations goes to the Invitations page through Manage my organization.
func (p *person) openInvitations() {
	p.t.Helper()
	p.click(`a[href="/users"]`)
	p.click(`a.button[href="/invitations"]`)
	p.see("h1", "Invitations")
}

// invite invites emails (comma-separated) from the Invitations page, and returns the link of
// the first pending invitation.
func (p *person) invite(emails string) string {
	p.t.Helper()
	p.openInvitations()
	p.fill("#emails", emails)
	p.click("#invite-h + form button")
	p.see(".outcomes", "")
	return p.attr(`button[data-copy]`, "data-copy")
}

// startJoining has a guest who opened an invitation link start the exchange and wait.
func (p *person) startJoining() {
	p.t.Helper()
	p.see("h1", "Join the organization Acme")
	p.click("main form button")
	p.see(".flow", "Waiting for an Administrator to greet you")
}

// clickGreet has the host click Greet once their list shows the guest waiting: the list
// is refreshed live when the guest starts, and a click while it is replaced is lost.
func (p *person) clickGreet() {
	p.t.Helper()
	p.see("table", "waiting for you to greet them")
	p.click(`form[action$="/greet"] button`)
}

// greet has the host greet the pending invitation and read their code, which the guest
// clicks among four; it returns the guest's code, once shown.
func (p *person) greet(guest *person) string {
	p.t.Helper()
	p.clickGreet()
	hostCode := p.see(".sas", "")
	guest.click(`button.code[value="` + hostCode + `"]`)
	return guest.see(".sas", "")
}

// exchangeCodes runs both halves of the token exchange, each side clicking the right code.
func (p *person) exchangeCodes(guest *person) {
	p.t.Helper()
	guestCode := p.greet(guest)
	p.click(`button.code[value="` + guestCode + `"]`)
}

// login logs in with the account's only device.
func (p *person) login(password string) {
	p.t.Helper()
	p.see("h1", "Welcome to Parsec")
	p.fill("#login-password", password)
	p.click("form.login button")
}

// Manage my organization: log in (a wrong password first), search and filter, revoke a user
// from the row's menu, change profiles with an External user in the selection; the revoked
// person's own GUI logs them out; a Member's and an External's views.
func TestGUIManagePeople(t *testing.T) {
	t.Parallel()
	w, aliceAcc, bobAcc, carolAcc, xenaAcc := acme(t, 4*time.Minute)

	alice := w.gui(aliceAcc, "Alice")
	alice.login("not the password")
	alice.see(".messages", "Wrong password: the device is still locked.")
	alice.screenshot("login-wrong-password")
	alice.login(aliceAcc.password)
	alice.see(".who", "Alice Liddell · Administrator · laptop")
	alice.click(`a[href="/users"]`)
	alice.see("table.users caption", "4 of 4 users")

	// Search, and the profile filter.
	alice.fill("#search", "car")
	alice.click(".filters button")
	alice.see("table.users caption", "1 of 4 users")
	alice.see("table.users", "Carol")
	alice.fill("#search", " ")
	alice.click(`.filters input[value="OUTSIDER"]`)
	alice.click(".filters button")
	alice.see("table.users caption", "1 of 4 users")
	alice.see("table.users", "Xena")
	alice.run(chromedp.Navigate(strings.Split(alice.location(), "/users")[0] + "/users"))
	alice.see("table.users caption", "4 of 4 users")

	// A user's details: profile, status, devices with their join dates.
	alice.click(`table.users a[href^="/users/"]:not([href$="x"])`)
	alice.see("h1", "Alice Liddell")
	alice.see("table", "laptop")
	alice.run(chromedp.NavigateBack())
	alice.see("table.users caption", "4 of 4 users")

	// Carol's own GUI, logged in, will learn she was revoked.
	carol := w.gui(carolAcc, "Carol")
	carol.login(carolAcc.password)
	carol.see(".who", "Carol · Member")

	// Revoke Carol from her row's menu: a confirmation names her and says it is final.
	carolRow := "table.users tbody tr:nth-child(3)" // Alice (oneself first), Bob, Carol, Xena
	alice.see(carolRow, "Carol")
	alice.click(carolRow + " details.menu summary")
	alice.screenshot("user-menu")
	alice.click(carolRow + " .menu-items button.danger")
	alice.see("h1", "Revoke this user")
	alice.see("form.confirm", "Revoke Carol?")
	alice.see("form.confirm", "This cannot be undone")
	alice.screenshot("revoke-confirm")
	alice.click("form.confirm button.danger")
	alice.see(".messages", "Revoked: Carol.")
	alice.see("table.users", "Revoked")
	alice.screenshot("revoked")
	// Carol's page, left open, learns it from the server's events, and her GUI logs her out.
	carol.see(".messages", "This user has been revoked from organization Acme")
	carol.see(".messages", "You have been logged out.")
	carol.see("h1", "Welcome to Parsec")

	// Change profiles: Bob and Xena selected; Xena is External, so she is skipped.
	alice.click(`input[name=user][aria-label="Select Bob"]`)
	alice.click(`input[name=user][aria-label="Select Xena"]`)
	alice.click(`.actions button[value=profile]`)
	alice.see("h1", "Change profiles")
	alice.see(".warning", "External users cannot have their profile changed: the profile of Xena will not be affected.")
	if offered := alice.count(`input[name=profile]`); offered != 2 {
		t.Errorf("%d profiles offered, want Administrator and Member only", offered)
	}
	alice.screenshot("change-profiles")
	alice.click(`input[name=profile][value=ADMIN]`)
	alice.click("form.confirm button[type=submit]")
	alice.see(".messages", "Now Administrator: Bob.")
	alice.see(".messages", "External users keep their profile: Xena.")
	alice.screenshot("profiles-changed")
	// Bob alone, from his row's menu: his current profile cannot be chosen again. Bob and
	// Xena to Administrator again: Bob is reported unchanged.
	bobRow := "table.users tbody tr:nth-child(2)"
	alice.see(bobRow, "Bob")
	alice.click(bobRow + " details.menu summary")
	alice.click(bobRow + ` .menu-items button[formaction$="do=profile"]`)
	alice.see("h1", "Change profile")
	alice.see("form.confirm", "Administrator (current)")
	var current bool
	alice.run(chromedp.Evaluate(`document.querySelector("input[name=profile][value=ADMIN]").disabled`, &current))
	if !current {
		t.Error("Bob's current profile can be chosen again")
	}
	alice.click("form.confirm a.button")
	alice.click(`input[name=user][aria-label="Select Bob"]`)
	alice.click(`input[name=user][aria-label="Select Xena"]`)
	alice.click(`.actions button[value=profile]`)
	alice.see("h1", "Change profiles")
	alice.see("form.confirm", "Change the profile of Bob, Xena.")
	alice.click(`input[name=profile][value=ADMIN]`)
	alice.run(chromedp.Poll(`document.querySelector("input[name=profile][value=ADMIN]").checked`, nil, chromedp.WithPollingTimeout(5*time.Second)))
	alice.click("form.confirm button[type=submit]")
	alice.see(".messages", "Already Administrator, unchanged: Bob.")
	wantLines(t, w.as(aliceAcc, "user", "list").ok(),
		`^[0-9a-f]{32}\tBob\tbob@example\.com\tAdministrator\tactive$`,
		`^[0-9a-f]{32}\tCarol\tcarol@example\.com\tMember\trevoked$`,
		`^[0-9a-f]{32}\tXena\txena@example\.com\tExternal\tactive$`)

	// A Member sees the users but cannot act; an External user does not see the page at all.
	w.as(aliceAcc, "user", "update-profile", "bob@example.com", "--profile", "member").ok()
	bob := w.gui(bobAcc, "Bob")
	bob.login(bobAcc.password)
	bob.click(`a[href="/users"]`)
	bob.see("table.users", "Xena")
	if n := bob.count(`.actions, details.menu, input[name=user], a.button[href="/invitations"]`); n != 0 {
		t.Errorf("a Member is offered %d controls to manage users", n)
	}
	bob.screenshot("member-view")
	// Made Administrator meanwhile, Bob's open page follows without a reload.
	w.as(aliceAcc, "user", "update-profile", "bob@example.com", "--profile", "admin").ok()
	bob.see(".who", "Bob · Administrator")
	bob.see(".actions", "Change profiles")
	xena := w.gui(xenaAcc, "Xena")
	xena.login(xenaAcc.password)
	xena.see(".who", "Xena · External")
	if xena.count(`a[href="/users"]`) != 0 {
		t.Error("an External user is offered Manage my organization")
	}
	xena.run(chromedp.Navigate(strings.Split(xena.location(), "/organization")[0] + "/users"))
	xena.see("h1", "Not allowed")
	xena.screenshot("external-view")
	// Nor does any other page of hers name anyone else.
	base := strings.Split(xena.location(), "/users")[0]
	for _, page := range []string{"/organization", "/devices", "/invitations", "/workspaces", "/users/x"} {
		xena.run(chromedp.Navigate(base + page))
		body := xena.see("body", "Xena")
		for _, other := range []string{"Alice", "alice@", "Bob", "bob@", "Carol", "carol@"} {
			if strings.Contains(body, other) {
				t.Errorf("an External user's page %s shows %q", page, other)
			}
		}
	}

	// The server stops: a banner says so on the page left open, without a click, and the
	// pages go on with what the device knows.
	alice.click(`a[href="/users"]`)
	alice.see("table.users", "Xena")
	w.server.cmd.Process.Signal(os.Interrupt)
	if code := w.server.wait(); code != exitOK {
		t.Errorf("the server exited with code %d", code)
	}
	alice.see(".banner", "The server cannot be reached")
	alice.see("table.users", "Xena")
	alice.click(`a[href="/organization"]`)
	alice.see(".banner", "Showing what this device already knows.")
	alice.see(".facts", "unknown until the server can be reached")
	if n := alice.count("main .alert"); n != 0 {
		t.Errorf("the page repeats the banner in %d alerts", n)
	}
	alice.screenshot("server-unreachable")
}

// drop drops a local folder on the element sel, as if dragged from the desktop. Chromium's
// DevTools protocol cannot drag real files (puppeteer/puppeteer#7330), so the browser reads
// the folder through a file input, and the drop event carries the same folder as the
// entries (webkitGetAsEntry) a real drop gives, read in batches like the browser's.
func (p *person) drop(sel, local string) {
	p.t.Helper()
	p.run(chromedp.Evaluate(`(() => { const i = document.createElement("input"); i.type = "file"; i.webkitdirectory = true; i.id = "desktop"; i.setAttribute("aria-hidden", "true"); document.body.append(i); })()`, nil))
	p.run(chromedp.SetUploadFiles("#desktop", []string{local}, chromedp.ByQuery))
	p.run(chromedp.Poll(`document.getElementById("desktop").files.length > 0`, nil)) // a folder is read in the background
	js := `(() => {
		const dir = (fullPath) => ({ isFile: false, isDirectory: true, fullPath, children: new Map() });
		const root = dir("/" + document.getElementById("desktop").files[0].webkitRelativePath.split("/")[0]);
		for (const f of document.getElementById("desktop").files) {
			const names = f.webkitRelativePath.split("/");
			let cur = root;
			for (const n of names.slice(1, -1)) {
				if (!cur.children.has(n)) { cur.children.set(n, dir(cur.fullPath + "/" + n)); }
				cur = cur.children.get(n);
			}
			cur.children.set(names.at(-1), { isFile: true, isDirectory: false, fullPath: "/" + f.webkitRelativePath, file: (ok) => setTimeout(() => ok(f)) });
		}
		const reader = (d) => { let done = false; return { readEntries: (ok) => setTimeout(() => { ok(done ? [] : [...d.children.values()]); done = true; }) }; };
		const withReaders = (e) => { if (e.isDirectory) { e.createReader = () => reader(e); e.children.forEach(withReaders); } return e; };
		const item = { kind: "file", webkitGetAsEntry: () => withReaders(root) };
		const ev = new Event("drop", { bubbles: true, cancelable: true });
		ev.dataTransfer = { items: [item], files: [] };
		document.querySelector(` + fmt.Sprintf("%q", sel) + `).dispatchEvent(ev);
		document.getElementById("desktop").remove();
	})()`
	p.run(chromedp.Evaluate(js, nil))
}

// count counts the elements sel finds on the page.
func (p *person) count(sel string) int {
	p.t.Helper()
	var n int
	p.run(chromedp.Evaluate(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n))
	return n
}

// newWorkspace creates a workspace from the Workspaces page, which then opens it.
func (p *person) newWorkspace(name string) {
	p.t.Helper()
	p.fill("#ws-name", name)
	p.click(`form[action="/workspaces"] button`)
	p.see(".messages", "Workspace “"+name+"” created: you are its owner.")
}

// acme is an organization of four: Alice (Administrator), Bob and Carol (Members), and
// Xena (External).
func acme(t *testing.T, d time.Duration) (w *world, alice, bob, carol, xena account) {
	w = newWorldFor(t, d)
	alice = w.bootstrap("alice@example.com", "Alice Liddell")
	bob = w.join(alice, "bob@example.com", "Bob", "member")
	carol = w.join(alice, "carol@example.com", "Carol", "member")
	xena = w.join(alice, "xena@example.com", "Xena", "external")
	return w, alice, bob, carol, xena
}

// location is the page's address.
func (p *person) location() string {
	p.t.Helper()
	var loc string
	p.run(chromedp.Location(&loc))
	return loc
}

// A wrong code stops both sides with the interception warning and creates nothing; the
// invitation stays pending, and a new exchange then succeeds. Then a device: added from
// My devices, claimed on a second computer.
func TestGUIWrongCodeAndDevice(t *testing.T) {
	t.Parallel()
	w := newWorldFor(t, 4*time.Minute)
	aliceAcc := w.bootstrap("alice@example.com", "Alice Liddell")
	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	daveLink := alice.invite("dave@example.com")
	alice.see(".outcomes", "dave@example.com: invitation sent by email")

	// Dave does not see Alice's code among his four: "None of these".
	dave := w.gui(w.newAccount("dave's password"), "Dave", daveLink)
	dave.startJoining()
	// The page of the invitation just made follows live, and keeps its outcome.
	alice.see("table", "waiting for you to greet them")
	alice.see(".outcomes", "dave@example.com: invitation sent by email")
	alice.screenshot("invite-outcome-guest-waiting")
	alice.clickGreet()
	alice.see(".sas", "")
	dave.see(".codes legend", "Which code")
	dave.click("button.none")
	dave.see(".flow .alert", "someone may be intercepting the exchange")
	alice.see(".flow .alert", "someone may be intercepting the exchange")
	alice.screenshot("wrong-code-warning")
	alice.click(".flow form button")
	alice.openInvitations()
	alice.see("table", "dave@example.com")
	alice.see("#pending", "1 invitation waiting")
	wantLines(t, w.as(aliceAcc, "user", "list").ok(), `^[0-9a-f]{32}\tAlice Liddell\t`)
	if out := w.as(aliceAcc, "user", "list").ok(); strings.Contains(out, "dave@") {
		t.Errorf("the failed exchange created Dave:\n%s", out)
	}

	// Alice picks a wrong code on her side: the same warning on both sides.
	dave.click(".flow form button")
	dave.see("h1", "Welcome to Parsec")
	dave.fill("#url", daveLink)
	dave.click("#link-h + form button")
	dave.startJoining()
	guestCode := alice.greet(dave)
	var wrong string
	alice.see(".codes legend", "Which code")
	alice.run(chromedp.Evaluate(fmt.Sprintf(`[...document.querySelectorAll("button.code")].map(b => b.value).find(v => v !== %q)`, guestCode), &wrong))
	alice.click(`button.code[value="` + wrong + `"]`)
	alice.see(".flow .alert", "someone may be intercepting the exchange")
	dave.see(".flow .alert", "")
	dave.screenshot("join-failed")

	// My devices: add a device, claimed on a second computer of Alice's.
	alice.click(".flow form button")
	alice.click(`a[href="/devices"]`)
	alice.see("table", "laptop")
	alice.click(`form[action="/devices/add"] button`)
	alice.see(".flow", "Waiting for your new device")
	alice.run(chromedp.WaitVisible("img.qr", chromedp.ByQuery))
	alice.screenshot("add-device")
	deviceLink := alice.attr(".flow input.link-copy", "value")
	second := w.gui(w.newAccount(aliceAcc.password), "Alice's desktop", deviceLink)
	second.see("h1", "Join the organization Acme")
	second.click("main form button")
	second.see(".flow", "Waiting for an Administrator to greet you")
	hostCode := alice.see(".sas", "")
	second.click(`button.code[value="` + hostCode + `"]`)
	alice.click(`button.code[value="` + second.see(".sas", "") + `"]`)
	second.run(chromedp.WaitVisible("#password", chromedp.ByQuery))
	second.fill("#label", "desktop")
	second.fill("#password", aliceAcc.password)
	second.fill("#password2", aliceAcc.password)
	second.click(`form.form button[type=submit]`)
	alice.run(chromedp.WaitVisible("#label", chromedp.ByQuery))
	alice.click(`form.form button[type=submit]`)
	alice.see(".flow", "The device “desktop” was added")
	second.see(".flow", "This computer is now a device of yours in Acme.")
	second.click(".flow form button")
	second.see(".who", "Alice Liddell · Administrator · desktop")
	alice.click(".flow form button")
	alice.click(`a[href="/devices"]`)
	alice.see("table", "desktop")
	alice.screenshot("my-devices")
}

// `parsec gui --dev`, the README's first command: a development server in the same process,
// and an organization created from the home page, without any other command.
func TestGUIDev(t *testing.T) {
	t.Parallel()
	w := &world{t: t}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	w.ctx = ctx
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	acc := w.newAccount("first admin password")
	p := w.gui(acc, "Newcomer", "--dev", "--dev-addr", fmt.Sprintf("127.0.0.1:%d", port), "--dev-data-dir", t.TempDir())
	p.see("h1", "Welcome to Parsec")
	p.see("#dev-h", "Create an organization (development server)")
	p.fill("#org", "Acme")
	p.click("#dev-h + form button")
	p.see("h1", "Create the organization Acme")
	p.fill("#name", "Ada Lovelace")
	p.fill("#email", "ada@example.com")
	p.fill("#password", "short")
	p.fill("#password2", "short")
	p.click("form.form button[type=submit]")
	var tooShort bool
	p.run(chromedp.Evaluate(`document.querySelector("#password").validity.tooShort`, &tooShort))
	if !tooShort {
		t.Error("the browser does not say a 5-character password is too short")
	}
	p.see("h1", "Create the organization Acme")
	p.fill("#password", acc.password)
	p.fill("#password2", acc.password+"!")
	p.click("form.form button[type=submit]")
	p.see(".messages", "The two passwords differ.")
	p.fill("#password", acc.password)
	p.fill("#password2", acc.password)
	p.click("form.form button[type=submit]")
	p.see(".messages", "Organization Acme created: you are its first Administrator.")
	p.see(".facts", "Administrators")
	// Log out forgets the device; the home page lists it, and logging in comes back.
	p.click(".who form button")
	p.see(".messages", "Logged out")
	p.see("form.login", "Acme — Ada Lovelace <ada@example.com>")
	p.login(acc.password)
	p.see(".who", "Ada Lovelace · Administrator")
	// A link that is no Parsec link, entered by hand, is refused with a clear message.
	p.click(".who form button")
	p.fill("#url", "https://example.com/nothing")
	p.click("#link-h + form button")
	p.see(".messages", "This is not a Parsec link")
}

// An exchange closed midway: the host cancels (confirmed), nothing is created, the guest
// learns it at their next step; then the invitation is cancelled, and its link is refused.
func TestGUIExchangeCancelled(t *testing.T) {
	t.Parallel()
	w := newWorldFor(t, 3*time.Minute)
	aliceAcc := w.bootstrap("alice@example.com", "Alice Liddell")
	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	erinLink := alice.invite("erin@example.com, alice@example.com")
	alice.see(".outcomes", "erin@example.com: invitation sent by email")
	alice.see(".outcomes", "alice@example.com: already a member of the organization: no invitation")
	alice.screenshot("invite-outcomes")
	alice.click(`form[action$="/resend"] button`)
	alice.see(".messages", "Invitation sent again to erin@example.com.")
	if again := alice.attr(`button[data-copy]`, "data-copy"); again != erinLink {
		t.Errorf("sending again changed the link: %s, was %s", again, erinLink)
	}

	erin := w.gui(w.newAccount("erin's password"), "Erin", erinLink)
	erin.startJoining()
	alice.clickGreet()
	hostCode := alice.see(".sas", "")
	erin.see(".codes legend", "Which code")

	// Alice closes the exchange midway (she confirms).
	alice.click(`form[data-confirm] button.secondary`)
	alice.see(".flow .alert", "The exchange was cancelled: nothing was created, and the invitation is still pending.")
	alice.screenshot("greet-cancelled")
	erin.click(`button.code[value="` + hostCode + `"]`)
	erin.see(".flow .alert", "cancelled the exchange")
	erin.screenshot("join-host-cancelled")

	// Erin opens the link again; Alice greets, then leaves the exchange for another page
	// (the browser asks, she confirms): the exchange is cancelled on both sides too.
	alice.click(".flow form button")
	erin.click(".flow form button")
	erin.see("h1", "Welcome to Parsec")
	erin.fill("#url", erinLink)
	erin.click("#link-h + form button")
	erin.startJoining()
	alice.openInvitations()
	alice.clickGreet()
	hostCode = alice.see(".sas", "")
	erin.see(".codes legend", "Which code")
	alice.click(`nav a[href="/users"]`)
	alice.see("h1", "Manage my organization")
	if !alice.asked(page.DialogTypeBeforeunload) {
		t.Error("leaving the exchange for another page was not confirmed")
	}
	erin.click(`button.code[value="` + hostCode + `"]`)
	erin.see(".flow .alert", "cancelled the exchange")

	// Alice cancels the invitation (confirmed); its link no longer opens.
	alice.openInvitations()
	alice.click(`form[action$="/cancel"] button`)
	alice.see(".messages", "Invitation cancelled: its link no longer works.")
	alice.see("table", "No pending invitations.")
	erin.click(".flow form button")
	erin.see("h1", "Welcome to Parsec")
	erin.fill("#url", erinLink)
	erin.click("#link-h + form button")
	erin.see("h1", "Join the organization Acme")
	erin.click("main form button")
	erin.see(".flow .alert", "This invitation has already been used or was cancelled.")
	erin.screenshot("join-link-cancelled")
}

// aliceAndBob is an organization of two, Alice (Administrator) and Bob (Member), and
// Alice's browser on the GUI, not logged in yet.
func aliceAndBob(t *testing.T) (*world, account, *person) {
	t.Helper()
	w := newWorldFor(t, 3*time.Minute)
	aliceAcc := w.bootstrap("alice@example.com", "Alice Liddell")
	w.join(aliceAcc, "bob@example.com", "Bob", "member")
	return w, aliceAcc, w.gui(aliceAcc, "Alice")
}

// A live page is not redrawn under an open menu, nor over a form holding what the person
// typed; what changed meanwhile shows once the menu closes (without another change to wake
// it), or with the form's answer.
func TestGUILiveAfterMenu(t *testing.T) {
	t.Parallel()
	w, aliceAcc, alice := aliceAndBob(t)
	alice.login(aliceAcc.password)
	alice.click(`a[href="/users"]`)
	menu := "table.users tbody tr:nth-child(2) details.menu"
	alice.click(menu + " summary")
	w.join(aliceAcc, "carol@example.com", "Carol", "member")
	time.Sleep(2 * time.Second) // the change's event reaches the page meanwhile
	var state string
	alice.run(chromedp.Evaluate(`document.querySelector("`+menu+`").open + " " + document.querySelector("table.users").textContent.includes("Carol")`, &state))
	if state != "true false" {
		t.Fatalf("with the menu open, the page says (menu open, Carol listed) = %s; want it left as it was", state)
	}
	alice.run(chromedp.KeyEvent(kb.Escape))
	alice.see("table.users", "Carol")

	// What she typed in a form stays, even once she clicked away from it, until she sends it.
	alice.click(`a[href="/workspaces"]`)
	alice.fill("#ws-name", "Draft")
	alice.run(chromedp.Evaluate(`document.activeElement.blur()`, nil))
	w.as(aliceAcc, "workspace", "create", "Later").ok()
	time.Sleep(2 * time.Second)
	alice.run(chromedp.Evaluate(`document.getElementById("ws-name").value + " " + document.querySelector("table.workspaces").textContent.includes("Later")`, &state))
	if state != "Draft false" {
		t.Fatalf("after another change, the form she was filling says (its value, Later listed) = %s; want it left as it was", state)
	}
	alice.click(`form[action="/workspaces"] button`)
	alice.see(".messages", "Workspace “Draft” created: you are its owner.")
	alice.click(`nav.crumbs a[href="/workspaces"]`)
	alice.see("table.workspaces", "Draft")
	alice.see("table.workspaces", "Later")
}

// The keyboard alone: log in with Enter, open a row's menu with Enter and close it with
// Escape; and a narrow window (a phone's width) scrolls down, never sideways.
func TestGUIKeyboardAndNarrow(t *testing.T) {
	t.Parallel()
	_, aliceAcc, alice := aliceAndBob(t)
	alice.see("h1", "Welcome to Parsec")
	alice.run(chromedp.Focus("#login-password", chromedp.ByQuery), chromedp.SendKeys("#login-password", aliceAcc.password+"\r", chromedp.ByQuery))
	alice.see(".who", "Alice Liddell · Administrator")
	alice.click(`a[href="/users"]`)
	menu := "table.users tbody tr:nth-child(2) details.menu"
	alice.press(menu+" summary", "\r")
	var open bool
	alice.run(chromedp.Evaluate(`document.querySelector("table.users tbody tr:nth-child(2) details.menu").open`, &open))
	if !open {
		t.Error("Enter on the row's … does not open its menu")
	}
	alice.run(chromedp.KeyEvent(kb.Escape))
	alice.run(chromedp.Evaluate(`document.querySelector("table.users tbody tr:nth-child(2) details.menu").open`, &open))
	if open {
		t.Error("Escape does not close the row's menu")
	}

	// A narrow window: nothing wider than the screen.
	alice.run(chromedp.EmulateViewport(390, 844))
	for _, page := range []string{"/users", "/organization", "/invitations", "/devices"} {
		alice.run(chromedp.Navigate(strings.Split(alice.location(), "/users")[0] + page))
		alice.see("h1", "")
		var wide bool
		alice.run(chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &wide))
		if wide {
			t.Errorf("%s scrolls sideways in a 390-pixel window", page)
		}
		if page == "/users" {
			// The column headers are hidden: each cell says what it holds.
			var label string
			alice.run(chromedp.Evaluate(`getComputedStyle(document.querySelector("table.users td[data-label=Email]"), "::before").content`, &label))
			if label != `"Email: "` {
				t.Errorf("a user's email in a narrow window is labelled %s, want \"Email: \"", label)
			}
		}
		alice.screenshot("narrow" + page)
		alice.run(chromedp.Navigate(strings.Split(alice.location(), page)[0] + "/users"))
	}
}

// The server's refusals are messages in the page: a user the server administrator freezes
// learns it on the page left open and is logged out, and so is everyone when the organization
// expires; an Administrator finds the frozen user with the status filter.
func TestGUIFrozenAndExpired(t *testing.T) {
	t.Parallel()
	w := newWorldFor(t, 3*time.Minute)
	aliceAcc := w.bootstrap("alice@example.com", "Alice Liddell")
	bobAcc := w.join(aliceAcc, "bob@example.com", "Bob", "member")
	bob := w.gui(bobAcc, "Bob")
	bob.login(bobAcc.password)
	bob.see(".who", "Bob · Member")

	w.parsec("", "server", "user", "freeze", "bob@example.com", "--org", "Acme", "--addr", w.url, "--admin-token", serve.DevAdminToken).ok()
	bob.see(".messages", "This user is frozen in organization Acme by the server administrator.")
	bob.see(".messages", "You have been logged out.")
	bob.see("h1", "Welcome to Parsec")
	bob.screenshot("frozen")
	bob.login(bobAcc.password)
	bob.see(".messages", "This user is frozen in organization Acme")
	bob.see("h1", "Welcome to Parsec")

	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	alice.click(`a[href="/users"]`)
	alice.click(`.filters input[value="frozen"]`)
	alice.click(".filters button")
	alice.see("table.users caption", "1 of 2 users")
	alice.see("table.users", "Bob")
	alice.see("table.users .status-frozen", "Frozen")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch, w.url+"/administration/organizations/Acme", strings.NewReader(`{"is_expired": true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+serve.DevAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("expiring the organization: %s", resp.Status)
	}
	alice.click(`a[href="/organization"]`)
	alice.see(".messages", "Organization Acme has expired: contact the server administrator.")
	alice.see(".messages", "You have been logged out.")
	alice.see("h1", "Welcome to Parsec")
	alice.screenshot("organization-expired")
}

// The local web app's protections, in a real browser: a page of another origin that posts to
// the GUI is refused and changes nothing; another browser without the secret, or with the
// secret already used, is refused; a host name that resolves to the loopback address (DNS
// rebinding) is refused.
func TestGUISecurityInTheBrowser(t *testing.T) {
	t.Parallel()
	w := newWorldFor(t, 2*time.Minute)
	aliceAcc := w.bootstrap("alice@example.com", "Alice Liddell")
	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	alice.see(".who", "Alice Liddell · Administrator")
	gui, err := url.Parse(alice.launch)
	if err != nil {
		t.Fatal(err)
	}

	// Another site (another port of the same address: same site, another origin) makes
	// Alice's browser post "Log out" to the GUI: refused.
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, `<!doctype html><form method="post" action="http://%s/logout"></form><script>document.forms[0].submit()</script>`, gui.Host)
	}))
	t.Cleanup(evil.Close)
	alice.run(chromedp.Navigate(evil.URL))
	alice.see("body", "cross-origin request detected")
	alice.run(chromedp.Navigate("http://" + gui.Host + "/organization"))
	alice.see(".who", "Alice Liddell · Administrator")

	// Another browser: without the secret, then with the secret Alice's browser used.
	mallory := &person{w: w, t: t, name: "Mallory", proc: alice.proc,
		tab: w.browser(chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"))}
	mallory.run(chromedp.Navigate("http://" + gui.Host + "/organization"))
	mallory.see("main", "Open the address that “parsec gui” printed: this browser has not been let in.")
	mallory.run(chromedp.Navigate(alice.launch))
	mallory.see("main", "This link has already been used or is wrong.")
	mallory.screenshot("refused-without-the-secret")

	// DNS rebinding: a name of Mallory's that resolves to the GUI's address.
	mallory.run(chromedp.Navigate("http://rebind.test:" + gui.Port() + "/"))
	mallory.see("body", "refused: this address is not the one the Parsec GUI listens on")
}

// An organization at its user limit: the host approves, the server refuses, and both sides
// say why; nothing is created and the invitation stays pending.
func TestGUIUserLimit(t *testing.T) {
	t.Parallel()
	w := newWorldFor(t, 3*time.Minute)
	aliceAcc := w.bootstrap("alice@example.com", "Alice Liddell", "--active-users-limit", "1")
	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	alice.see(".facts", "1 active users")
	frank := w.gui(w.newAccount("frank's password"), "Frank", alice.invite("frank@example.com"))
	frank.startJoining()
	alice.exchangeCodes(frank)
	frank.run(chromedp.WaitVisible("#password", chromedp.ByQuery))
	frank.fill("#name", "Frank")
	frank.fill("#password", frank.acc.password)
	frank.fill("#password2", frank.acc.password)
	frank.click(`form.form button[type=submit]`)
	alice.choose("#profile", "STANDARD")
	alice.click(`form.form button[type=submit]`)
	alice.see(".flow .alert", "limit")
	alice.screenshot("greet-user-limit")
	frank.see(".flow .alert", "could not create your user")
	frank.see(".flow .alert", "limit")
	frank.screenshot("join-user-limit")
	if out := w.as(aliceAcc, "user", "list").ok(); strings.Contains(out, "frank@") {
		t.Errorf("Frank was created beyond the limit:\n%s", out)
	}
}

// Workspaces and files: create a workspace, share it (the forbidden roles disabled with their
// reason), upload files (one larger than a block), see them live in a reader's browser, who
// cannot change anything, download them byte-identical, then folders, rename and delete.
func TestGUIWorkspacesAndFiles(t *testing.T) {
	t.Parallel()
	w, aliceAcc, bobAcc, carolAcc, _ := acme(t, 4*time.Minute)

	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	alice.click(`a[href="/workspaces"]`)
	alice.see("table.workspaces", "No workspace yet.")
	alice.newWorkspace("Docs")
	alice.see("table.files", "This folder is empty.")
	filesURL := alice.location()

	// Sharing: Xena, External, may be at most Contributor; Bob becomes Reader.
	alice.run(chromedp.Navigate(strings.Replace(filesURL, "/files", "/sharing", 1)))
	alice.see("h1", "Share “Docs”")
	alice.see(".warning", "shared with nobody else")
	var disabled []string
	alice.run(chromedp.Evaluate(`[...document.querySelectorAll("tr")].filter(r => r.textContent.includes("Xena")).flatMap(r => [...r.querySelectorAll("option[disabled]")].map(o => o.textContent))`, &disabled))
	if len(disabled) != 2 || !strings.Contains(strings.Join(disabled, "|"), "External users can be at most Contributor") {
		t.Errorf("Xena's disabled roles: %q, want Manager and Owner with the External reason", disabled)
	}
	alice.screenshot("sharing")
	// Each role: Bob Reader, Xena Contributor, Carol Manager, then Owner, then Manager again.
	give := func(p *person, email, role, says string) {
		t.Helper()
		var sel string
		p.run(chromedp.Evaluate(`[...document.querySelectorAll("tr")].find(r => r.textContent.includes("`+email+`")).querySelector("select").id`, &sel))
		p.choose("#"+sel, role)
		p.click(`#` + sel + ` + button`)
		p.see(".messages", says)
	}
	give(alice, "bob@example.com", "READER", "Bob is now Reader of “Docs”.")
	give(alice, "xena@example.com", "CONTRIBUTOR", "Xena is now Contributor of “Docs”.")
	give(alice, "carol@example.com", "MANAGER", "Carol is now Manager of “Docs”.")
	give(alice, "carol@example.com", "OWNER", "Carol is now Owner of “Docs”.")
	give(alice, "carol@example.com", "MANAGER", "Carol is now Manager of “Docs”.")

	// Carol, a manager, is offered Reader and Contributor for others, nothing for herself or
	// for the owner; she removes Xena, and is told the workspace gets a new key.
	carol := w.gui(carolAcc, "Carol")
	carol.login(carolAcc.password)
	carol.click(`a[href="/workspaces"]`)
	carol.click(`table.workspaces a[href$="/sharing"]`)
	carol.see("h1", "Share “Docs”")
	offered := func(email string) string {
		var allowed []string
		carol.run(chromedp.Evaluate(`[...[...document.querySelectorAll("tr")].find(r => r.textContent.includes("`+email+`")).querySelectorAll("option:not([disabled])")].map(o => o.value)`, &allowed))
		return strings.Join(allowed, " ")
	}
	// (The value "" is "not shared".)
	if got := offered("bob@example.com"); got != " READER CONTRIBUTOR" {
		t.Errorf("Carol, a manager, may choose %q for Bob, want not shared, Reader or Contributor", got)
	}
	carol.see(`table.sharing tr:has(.tag)`, "You cannot change your own role.")
	carol.see(`table.sharing tbody tr:first-child`, "Only an owner can give or change the Manager and Owner roles.")
	if n := carol.count(`table.sharing tr:has(.tag) select, table.sharing tbody tr:first-child select`); n != 0 {
		t.Errorf("Carol is offered %d role selectors she cannot use", n)
	}
	carol.screenshot("sharing-as-manager")
	give(carol, "xena@example.com", "", "Xena no longer has access. An owner's device will give the workspace a new key at its next sync.")
	// Alice, the owner, removes Carol: the new key is made at once.
	alice.run(chromedp.Reload())
	give(alice, "carol@example.com", "", "Carol no longer has access. The workspace has a new key")

	// Upload a small file and one larger than a block.
	dir := t.TempDir()
	small, big := filepath.Join(dir, "notes.txt"), filepath.Join(dir, "big.bin")
	if err := os.WriteFile(small, []byte("hello from Alice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bigData := make([]byte, 1536<<10+123)
	for i := range bigData {
		bigData[i] = byte(i * 7 % 251)
	}
	if err := os.WriteFile(big, bigData, 0o644); err != nil {
		t.Fatal(err)
	}
	alice.run(chromedp.Navigate(filesURL))
	alice.run(chromedp.SetUploadFiles("#files", []string{small, big}, chromedp.ByQuery))
	alice.click(`form[data-upload] button[type=submit]`)
	alice.see(".messages", "2 file(s) uploaded (1.5 MiB).")
	alice.see("table.files", "big.bin")
	alice.screenshot("files")

	// The same name again: keep both, then skip.
	alice.click(`input[name=conflict][value=keep]`)
	alice.run(chromedp.SetUploadFiles("#files", []string{small}, chromedp.ByQuery))
	alice.click(`form[data-upload] button[type=submit]`)
	alice.see(".messages", "1 file(s) uploaded")
	alice.see("table.files", "notes (copy 1).txt")
	alice.click(`input[name=conflict][value=skip]`)
	alice.run(chromedp.SetUploadFiles("#files", []string{small}, chromedp.ByQuery))
	alice.click(`form[data-upload] button[type=submit]`)
	alice.see(".messages", "Skipped, their names being taken: notes.txt.")

	// A tree through the folder picker, then another dropped on the folder: each file lands
	// under its path in the folder chosen.
	picked, dropped := t.TempDir(), t.TempDir()
	writeTree(t, picked, map[string][]byte{"site/index.html": []byte("<h1>hi</h1>"), "site/css/main.css": []byte("body{}"), "site/img/deep/logo.svg": []byte("<svg/>")})
	alice.run(chromedp.SetUploadFiles("#folder", []string{filepath.Join(picked, "site")}, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("folder").files.length === 3`, nil))
	alice.click(`form[data-upload] button[type=submit]`)
	alice.see(".messages", "3 file(s) uploaded")
	writeTree(t, dropped, map[string][]byte{"photos/2026/a.jpg": []byte("jpeg a"), "photos/2026/b.jpg": []byte("jpeg b"), "photos/readme.txt": []byte("from a drop")})
	alice.see("table.files", "site/")
	alice.run(chromedp.Reload()) // no message left: the next one is the drop's
	alice.see("table.files", "site/")
	alice.drop("table.files", filepath.Join(dropped, "photos"))
	alice.see(".messages", "3 file(s) uploaded") // after the page went to the upload's result
	alice.see("table.files", "photos/")
	// The folder comes back as a ZIP archive holding the tree.
	var zipped string
	alice.run(chromedp.Evaluate(`(async () => {
		const b = new Uint8Array(await (await fetch(location.pathname.replace("/files", "/download") + "?path=/site")).arrayBuffer());
		let s = ""; b.forEach(c => s += String.fromCharCode(c)); return btoa(s);
	})()`, &zipped, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	raw, _ := base64.StdEncoding.DecodeString(zipped)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("the folder download is not a ZIP archive: %v", err)
	}
	inZip := map[string]string{}
	for _, f := range zr.File {
		if rc, err := f.Open(); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			inZip[f.Name] = string(b)
		}
	}
	if inZip["site/img/deep/logo.svg"] != "<svg/>" || inZip["site/index.html"] != "<h1>hi</h1>" || inZip["site/css/main.css"] != "body{}" {
		t.Errorf("the ZIP of /site holds %q", inZip)
	}
	for f, want := range map[string]string{"Docs:/site/img/deep/logo.svg": "<svg/>", "Docs:/site/css/main.css": "body{}", "Docs:/photos/2026/b.jpg": "jpeg b", "Docs:/photos/readme.txt": "from a drop"} {
		if got := w.as(aliceAcc, "cat", f).ok(); got != want {
			t.Errorf("%s reads %q, want %q", f, got, want)
		}
	}

	// Bob, a reader, sees them; no write action is offered to him.
	bob := w.gui(bobAcc, "Bob")
	bob.login(bobAcc.password)
	bob.click(`a[href="/workspaces"]`)
	bob.see("table.workspaces", "Reader")
	bob.click(`table.workspaces a[href$="/files"]`)
	bob.see("table.files", "notes.txt")
	bob.see(".warning", `You are a reader of workspace "Docs": you cannot change it.`)
	if n := bob.count(`form[data-upload], #newfolder, details.menu`); n != 0 {
		t.Errorf("a reader is offered %d write controls", n)
	}
	bob.screenshot("reader-view")

	// Alice adds a file: Bob's open folder shows it without a reload.
	later := filepath.Join(dir, "later.txt")
	os.WriteFile(later, []byte("later"), 0o644)
	alice.run(chromedp.SetUploadFiles("#files", []string{later}, chromedp.ByQuery))
	alice.click(`form[data-upload] button[type=submit]`)
	alice.see(".messages", "1 file(s) uploaded")
	bob.see("table.files", "later.txt")

	// Bob downloads the big file: byte for byte what Alice uploaded.
	var sum string
	bob.run(chromedp.Evaluate(`(async () => {
		const a = [...document.querySelectorAll("table.files a")].find(a => a.textContent === "big.bin");
		const buf = await (await fetch(a.href)).arrayBuffer();
		const h = await crypto.subtle.digest("SHA-256", buf);
		return [...new Uint8Array(h)].map(b => b.toString(16).padStart(2, "0")).join("");
	})()`, &sum, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if want := fmt.Sprintf("%x", sha256.Sum256(bigData)); sum != want {
		t.Errorf("the downloaded big.bin has SHA-256 %s, want %s", sum, want)
	}

	// Alice: a folder, a rename, a delete (confirmed).
	alice.fill("#newfolder", "reports")
	alice.click(`form[action$="/mkdir"] button`)
	alice.see(".messages", "Folder “reports” created.")
	notesRow := `table.files tbody tr:has(a[href$="notes.txt"])`
	alice.click(notesRow + " details.menu summary")
	alice.fill(notesRow+` input[name=to]`, "/reports/q1.txt")
	alice.click(notesRow + ` form.stack button`)
	alice.see(".messages", "is now /reports/q1.txt.")
	laterRow := `table.files tbody tr:has(a[href$="later.txt"])`
	alice.click(laterRow + " details.menu summary")
	alice.click(laterRow + ` button.danger`)
	alice.see(".messages", "Nothing is erased: the history keeps it.")
	alice.click(`table.files a.folder[href$="reports"]`)
	alice.see("table.files", "q1.txt")
	alice.screenshot("folder")
	out := w.as(aliceAcc, "cat", "Docs:/reports/q1.txt").ok()
	if out != "hello from Alice\n" {
		t.Errorf("the CLI reads %q from the moved file", out)
	}

	// Sorting by size, largest first; then big.bin moved to another workspace.
	w.as(aliceAcc, "workspace", "create", "Archive").ok()
	alice.click(`a.crumbs-root, nav.crumbs li:nth-child(2) a`)
	alice.click(`table.files th:nth-child(2) a`)
	alice.see(`table.files th[aria-sort="ascending"]`, "Size")
	alice.click(`table.files th:nth-child(2) a`)
	alice.see(`table.files th[aria-sort="descending"]`, "Size")
	var first string
	alice.run(chromedp.Evaluate(`document.querySelector("table.files tbody tr:not(:has(a.folder)) td a").textContent`, &first))
	if first != "big.bin" {
		t.Errorf("sorted by size, largest first, the first file is %q", first)
	}
	bigRow := `table.files tbody tr:has(a[href$="big.bin"])`
	alice.click(bigRow + " details.menu summary")
	var archiveID string
	alice.run(chromedp.Evaluate(`[...document.querySelector('`+bigRow+` select[name=to]').options].find(o => o.textContent === "Archive").value`, &archiveID))
	alice.choose(bigRow+` select[name=to]`, archiveID)
	alice.click(bigRow + ` button[value=move]`)
	alice.see(".messages", "“big.bin” moved to “Archive”: /big.bin.")
	if out := w.as(aliceAcc, "ls", "Archive:/").ok(); out != "big.bin\n" {
		t.Errorf("Archive holds %q", out)
	}
	if out := w.as(aliceAcc, "ls", "Docs:/").ok(); strings.Contains(out, "big.bin") {
		t.Errorf("big.bin is still in Docs:\n%s", out)
	}
}

// History: a file's versions with their authors, one restored as a new version; the
// workspace as it was at a past date, read-only.
func TestGUIHistory(t *testing.T) {
	t.Parallel()
	w := newWorldFor(t, 3*time.Minute)
	aliceAcc := w.bootstrap("alice@example.com", "Alice Liddell")
	w.as(aliceAcc, "workspace", "create", "Docs").ok()
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.txt")
	os.WriteFile(plan, []byte("first plan"), 0o644)
	w.as(aliceAcc, "cp", plan, "Docs:/").ok()
	os.WriteFile(plan, []byte("second plan, longer"), 0o644)
	w.as(aliceAcc, "cp", plan, "Docs:/").ok()
	os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("extra"), 0o644)
	w.as(aliceAcc, "cp", filepath.Join(dir, "extra.txt"), "Docs:/").ok()

	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	alice.click(`a[href="/workspaces"]`)
	alice.click(`table.workspaces a[href$="/files"]`)
	alice.click(`table.files tr:has(a[href$="plan.txt"]) a[href*="/history"]`)
	alice.see("h1", "History of “plan.txt”")
	alice.see("table.history", "v2")
	alice.see("table.history", "Alice Liddell <alice@example.com> @ laptop")
	alice.screenshot("history")
	firstAt := alice.attr(`table.history tbody tr:nth-child(2) input[name=at]`, "value")

	// Restore v1: a new version, v3, with v1's content.
	alice.click(`table.history tbody tr:nth-child(2) form button`)
	alice.see(".messages", "restored as it was on")
	if out := w.as(aliceAcc, "cat", "Docs:/plan.txt").ok(); out != "first plan" {
		t.Errorf("after the restore, plan.txt reads %q", out)
	}
	alice.click(`table.files tr:has(a[href$="plan.txt"]) a[href*="/history"]`)
	alice.see("table.history", "v3")

	// The workspace at v1's date: plan.txt, not extra.txt, and nothing to change.
	alice.run(chromedp.Navigate(strings.Split(alice.location(), "/history")[0] + "/files?path=/&at=" + url.QueryEscape(firstAt)))
	alice.see(".warning", "You are looking at the workspace as it was on")
	alice.see("table.files", "plan.txt")
	var rows int
	alice.run(chromedp.Evaluate(`[...document.querySelectorAll("table.files a")].filter(a => a.textContent.includes("extra.txt")).length + document.querySelectorAll("form[data-upload], details.menu").length`, &rows))
	if rows != 0 {
		t.Errorf("the past shows extra.txt or write controls (%d)", rows)
	}
	alice.screenshot("workspace-in-the-past")
	var old string
	alice.run(chromedp.Evaluate(`(async () => (await (await fetch([...document.querySelectorAll("table.files a")].find(a => a.textContent === "plan.txt").href)).text()))()`, &old,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if old != "first plan" {
		t.Errorf("plan.txt downloaded from the past reads %q", old)
	}

	// A folder deleted, found again in the past and restored with what it held.
	writeTree(t, dir, map[string][]byte{"reports/q1.txt": []byte("first quarter"), "reports/2026/q2.txt": []byte("second quarter")})
	w.as(aliceAcc, "cp", "-r", filepath.Join(dir, "reports"), "Docs:/").ok()
	time.Sleep(1100 * time.Millisecond) // the date chosen below has whole seconds
	before := time.Now().Truncate(time.Second)
	alice.click(`form[method=get] a.button`) // back to now
	reportsRow := `table.files tbody tr:has(a.folder[href*="reports"])`
	alice.click(reportsRow + " details.menu summary")
	alice.click(reportsRow + ` button.danger`)
	alice.see(".messages", "Nothing is erased: the history keeps it.")
	var gone bool
	alice.run(chromedp.Evaluate(`!document.querySelector('a.folder[href$="reports"]')`, &gone))
	if !gone {
		t.Error("the deleted folder is still listed")
	}
	alice.run(chromedp.Evaluate(`document.getElementById("at").value = "`+before.Format("2006-01-02T15:04:05")+`"`, nil))
	alice.click(`form[method=get] button[type=submit]`)
	alice.see(".warning", "Restore brings a file or folder back as it was then")
	alice.see("table.files", "reports/")
	alice.screenshot("restore-from-the-past")
	alice.click(reportsRow + ` form[action$="/restore"] button`)
	alice.see(".messages", "“reports” and everything it held restored as it was on")
	alice.see("table.files", "reports/")
	if out := w.as(aliceAcc, "cat", "Docs:/reports/2026/q2.txt").ok(); out != "second quarter" {
		t.Errorf("the restored folder's file reads %q", out)
	}

	// Offline: the folder is still browsed from what the device has; writes are refused
	// with a message saying why.
	w.server.cmd.Process.Signal(os.Interrupt)
	if code := w.server.wait(); code != exitOK {
		t.Errorf("the server exited with code %d", code)
	}
	alice.click(`table.files a.folder[href$="reports"]`)
	alice.see(".banner", "The server cannot be reached")
	alice.see("table.files", "q1.txt")
	alice.fill("#newfolder", "drafts")
	alice.click(`form[action$="/mkdir"] button`)
	alice.see(".messages", "Nothing was changed: cannot reach the server")
	alice.see(".banner", "Showing what this device already knows.")
	if alice.count(`a.folder[href$="drafts"]`) != 0 {
		t.Error("a folder was created while the server could not be reached")
	}
	alice.screenshot("offline-explorer")
}

// The workspaces list: create (a same name pointed out), and, live in a member's list,
// sharing, renaming, archiving, unarchiving and planning the deletion; a workspace whose
// owner was revoked offers its manager to claim it; an External user cannot create one.
func TestGUIWorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	w, aliceAcc, bobAcc, carolAcc, xenaAcc := acme(t, 3*time.Minute)

	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	alice.click(`a[href="/workspaces"]`)
	alice.newWorkspace("Projects")
	alice.click(`nav.crumbs a[href="/workspaces"]`)
	alice.fill("#ws-name", "projects")
	alice.click(`form[action="/workspaces"] button`)
	alice.see(".messages", "Another workspace of yours has the same name: rename one to tell them apart.")

	bob := w.gui(bobAcc, "Bob")
	bob.login(bobAcc.password)
	bob.click(`a[href="/workspaces"]`)
	bob.see("table.workspaces", "No workspace yet.")

	// Shared with Bob, then renamed, archived, unarchived, deletion planned: his open list
	// follows without a reload.
	w.as(aliceAcc, "workspace", "share", "Projects", "bob@example.com", "--role", "contributor").ok()
	bob.see("table.workspaces", "Projects")
	bob.see("table.workspaces", "Contributor")
	alice.click(`nav.crumbs a[href="/workspaces"]`)
	projects := fmt.Sprintf(`table.workspaces tbody tr:nth-child(%d)`, 1+alice.rowIndex("table.workspaces tbody tr", "Projects"))
	alice.click(projects + " details.menu summary")
	alice.fill(projects+` input[name=name]`, "Projects 2026")
	alice.click(projects + ` form[action$="/rename"] button`)
	alice.see(".messages", "Workspace renamed “Projects 2026”.")
	bob.see("table.workspaces", "Projects 2026")
	notes := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notes, []byte("kick-off"), 0o644)
	w.as(aliceAcc, "cp", notes, "Projects 2026:/").ok()
	bob.see("table.workspaces tbody tr:first-child", "Alice Liddell <alice@example.com> @ laptop") // the last change, live

	projects = fmt.Sprintf(`table.workspaces tbody tr:nth-child(%d)`, 1+alice.rowIndex("table.workspaces tbody tr", "Projects 2026"))
	alice.click(projects + " details.menu summary")
	alice.click(projects + ` form[action$="/archiving"]:has(input[value=archived]) button`)
	alice.see(".messages", "Workspace “Projects 2026” is archived: read-only for everybody.")
	bob.see("table.workspaces", "Archived (read-only)")
	bob.click(`table.workspaces a[href$="/files"]`)
	bob.see(".warning", "archived")
	if n := bob.count(`form[data-upload], #newfolder, details.menu`); n != 0 {
		t.Errorf("an archived workspace offers %d write controls", n)
	}
	bob.screenshot("archived-workspace")
	bob.click(`nav.crumbs a[href="/workspaces"]`)

	alice.click(projects + " details.menu summary")
	alice.click(projects + ` form[action$="/archiving"]:has(input[value=available]) button`)
	alice.see(".messages", "Workspace “Projects 2026” is available again.")
	bob.see("table.workspaces", "Available")
	alice.click(projects + " details.menu summary")
	alice.run(chromedp.Evaluate(`(() => { const d = document.querySelector('`+projects+` input[name=day]'); d.removeAttribute("min"); d.value = new Date().toISOString().slice(0, 10); })()`, nil))
	alice.click(projects + ` form[action$="/archiving"]:has(input[value=deletion]) button`)
	alice.see(".messages", "The deletion cannot be planned before "+time.Now().Add(30*24*time.Hour).Format("2006-01-02")+" (the organization's minimum archiving period).")
	alice.click(projects + " details.menu summary")
	alice.click(projects + ` form[action$="/archiving"]:has(input[value=deletion]) button`)
	alice.see(".messages", "Workspace “Projects 2026” is archived and will be deleted after "+time.Now().Add(30*24*time.Hour).Format("2006-01-02"))
	alice.see("table.workspaces", "Deletion planned: "+time.Now().Add(30*24*time.Hour).Format("2006-01-02"))
	bob.see("table.workspaces", "Deletion planned")
	alice.screenshot("workspaces")

	// Carol's workspace, managed by Bob: Carol is revoked, and Bob may claim it.
	w.as(carolAcc, "workspace", "create", "Orphan").ok()
	w.as(carolAcc, "workspace", "share", "Orphan", "bob@example.com", "--role", "manager").ok()
	w.as(aliceAcc, "user", "revoke", "carol@example.com", "--yes").ok()
	bob.see("table.workspaces", "Orphan")
	orphan := fmt.Sprintf(`table.workspaces tbody tr:nth-child(%d)`, 1+bob.rowIndex("table.workspaces tbody tr", "Orphan"))
	bob.see(orphan, "Claim ownership")
	bob.screenshot("claim-ownership")
	bob.click(orphan + ` form[action$="/claim"] button`)
	bob.see(".messages", "You are now owner of “Orphan”.")
	bob.see(orphan, "Owner")

	// An External user is not offered to create a workspace.
	xena := w.gui(xenaAcc, "Xena")
	xena.login(xenaAcc.password)
	xena.click(`a[href="/workspaces"]`)
	xena.see("table.workspaces", "Ask a colleague to share one with you.")
	if n := xena.count(`#ws-name`); n != 0 {
		t.Error("an External user is offered New workspace")
	}
}

// rowIndex is the position (from 0) of the first of the elements sel whose text holds text,
// once the page shows one.
func (p *person) rowIndex(sel, text string) int {
	p.t.Helper()
	i := -1
	p.retry(fmt.Sprintf("find %s showing %q", sel, text), chromedp.Evaluate(fmt.Sprintf(`[...document.querySelectorAll(%q)].findIndex(r => r.textContent.includes(%q))`, sel, text), &i),
		chromedp.ActionFunc(func(context.Context) error {
			if i < 0 {
				return fmt.Errorf("none yet")
			}
			return nil
		}))
	return i
}

// Never locked out, in the GUI: a recovery file made from My devices (downloaded, its
// passphrase shown until saved), the device's password changed, the device forgotten on
// this computer, then the account recovered on another computer from the file (a wrong
// passphrase first), where the workspace opens.
func TestGUIRecovery(t *testing.T) {
	t.Parallel()
	w := newWorldFor(t, 3*time.Minute)
	aliceAcc := w.bootstrap("alice@example.com", "Alice Liddell")
	w.as(aliceAcc, "workspace", "create", "Docs").ok()
	plan := filepath.Join(t.TempDir(), "plan.txt")
	os.WriteFile(plan, []byte("the plan"), 0o644)
	w.as(aliceAcc, "cp", plan, "Docs:/").ok()

	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	alice.click(`a[href="/devices"]`)
	alice.click(`form[action="/devices/recovery"] button`)
	alice.see("h1", "Your recovery file")
	passphrase := alice.see("code.passphrase", "-")
	if !regexp.MustCompile(`^([A-Z2-7]{4}-){12}[A-Z2-7]{4}$`).MatchString(passphrase) {
		t.Fatalf("the page shows the passphrase %q", passphrase)
	}
	var encoded string
	alice.run(chromedp.Evaluate(`(async () => {
		const b = new Uint8Array(await (await fetch("/devices/recovery/file")).arrayBuffer());
		let s = ""; b.forEach(c => s += String.fromCharCode(c)); return btoa(s);
	})()`, &encoded, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(raw) < 100 {
		t.Fatalf("the recovery file downloaded: %d bytes, %v", len(raw), err)
	}
	file := filepath.Join(t.TempDir(), "alice.recovery")
	os.WriteFile(file, raw, 0o600)
	alice.screenshot("recovery-file")
	alice.click(`form[action="/devices/recovery/done"] button`)
	alice.see(".messages", "no longer kept by the GUI")
	alice.see("table", "recovery device")
	if alice.count(`a[href="/devices/recovery/file"]`) != 0 {
		t.Error("the file is still offered after it was saved")
	}

	// The password changes: the CLI needs the new one.
	alice.fill("#old-password", "not it")
	alice.fill("#password", "a new password")
	alice.fill("#password2", "a new password")
	alice.click(`form[action="/devices/password"] button`)
	alice.see(".messages", "The current password is wrong: nothing changed.")
	alice.fill("#old-password", aliceAcc.password)
	alice.fill("#password", "a new password")
	alice.fill("#password2", "a new password")
	alice.click(`form[action="/devices/password"] button`)
	alice.see(".messages", "Password changed")
	aliceAcc.password = "a new password"
	if out := w.as(aliceAcc, "ls", "Docs:/").ok(); out != "plan.txt\n" {
		t.Errorf("with the new password, ls prints %q", out)
	}
	alice.screenshot("my-devices-security")

	// Forgotten on this computer.
	alice.click(`form[action="/devices/forget"] button`)
	alice.see(".messages", "removed from this computer")
	alice.see("section", "No device is stored on this computer yet.")

	// Another computer: the recovery file and its passphrase.
	other := w.gui(w.newAccount("recovered password"), "Alice again")
	other.see("h1", "Welcome to Parsec")
	recover := func(phrase string) {
		other.run(chromedp.SetUploadFiles("#recover-file", []string{file}, chromedp.ByQuery))
		other.fill("#recover-passphrase", phrase)
		other.fill("#recover-label", "new laptop")
		other.fill("#password", "recovered password")
		other.fill("#password2", "recovered password")
		other.click(`form[action="/recover"] button`)
	}
	recover(strings.Replace(passphrase, passphrase[:4], map[bool]string{true: "BBBB", false: "AAAA"}[strings.HasPrefix(passphrase, "AAAA")], 1))
	other.see(".messages", "Wrong passphrase for the recovery file")
	other.screenshot("recover-wrong-passphrase")
	recover(strings.ToLower(passphrase))
	other.see(".messages", "Welcome back")
	other.see(".who", "Alice Liddell · Administrator · new laptop")
	other.click(`a[href="/workspaces"]`)
	other.click(`table.workspaces a[href$="/files"]`)
	other.see("table.files", "plan.txt")
}

// Shared recovery in the GUI: Alice sets up 2 of 2 with Bob and Carol on My devices (a
// threshold above the shares first, refused in the page); inviting Carol, who has no setup,
// is refused in the page too. Alice loses her computer; Bob, a recipient, invites her to
// recover and greets her in his GUI, Carol greets her with the CLI; the new device logs in,
// reads the workspace, and deletes the setup.
func TestGUISharedRecovery(t *testing.T) {
	t.Parallel()
	w, aliceAcc, bobAcc, carolAcc, _ := acme(t, 4*time.Minute)
	w.as(aliceAcc, "workspace", "create", "Docs").ok()
	plan := filepath.Join(t.TempDir(), "plan.txt")
	os.WriteFile(plan, []byte("the plan"), 0o644)
	w.as(aliceAcc, "cp", plan, "Docs:/").ok()

	alice := w.gui(aliceAcc, "Alice")
	alice.login(aliceAcc.password)
	alice.click(`a[href="/devices"]`)
	alice.see("#shared", "colleagues you choose can bring you back together")
	check := func(name string) {
		alice.click(fmt.Sprintf(`form[data-shares] tr:nth-child(%d) input[name=recipient]`, 1+alice.rowIndex("form[data-shares] tbody tr", name)))
	}
	check("Bob")
	check("Carol")
	alice.see("#shares-total", "2 shares among 2 recipients; the threshold can be 1 to 2 (empty: 2).")
	alice.fill("#threshold", "3")
	alice.click(`form[data-shares] button[type=submit]`)
	alice.see("#shared-error", "The threshold (3) is above the number of shares (2): nobody could ever recover your account.")
	alice.screenshot("shared-recovery-threshold-too-high")
	if alice.count(`form[data-shares] input[name=recipient]:checked`) != 2 {
		t.Error("the refused form lost the recipients chosen")
	}
	alice.fill("#threshold", "2")
	alice.click(`form[data-shares] button[type=submit]`)
	alice.see(".messages", "Shared recovery set up: 2 of the 2 shares bring you back if you lose every device.")
	alice.see("#shared", "It can be used: the recipients who are not revoked hold 2 shares, 2 needed.")
	alice.see("#shared table.recipients", "Carol")
	alice.screenshot("shared-recovery")

	// An Administrator may invite anybody to recover; the server refuses Carol, who has no
	// setup, and the page says so.
	alice.click(`a[href="/users"]`)
	carolRow := fmt.Sprintf("table.users tbody tr:nth-child(%d)", 1+alice.rowIndex("table.users tbody tr", "carol@example.com"))
	alice.click(carolRow + " details.menu summary")
	alice.click(carolRow + ` .menu-items button[formaction$="/invite-recovery"]`)
	alice.see(".messages", "No invitation to recover Carol: The user has no shared recovery in force.")
	alice.screenshot("invite-to-recover-refused")

	// Alice's computer is lost (its device forgotten).
	alice.click(`a[href="/devices"]`)
	alice.click(`form[action="/devices/forget"] button`)
	alice.see("h1", "Welcome to Parsec")

	// Bob holds a share: he invites her to recover, and passes the link on.
	bob := w.gui(bobAcc, "Bob")
	bob.login(bobAcc.password)
	bob.click(`a[href="/devices"]`)
	bob.see("ul.held", "Alice Liddell alice@example.com: you hold 1 of 2 shares, 2 needed.")
	bob.screenshot("shares-held")
	bob.click(`ul.held form[action$="/invite-recovery"] button`)
	bob.see(".outcomes", "Alice Liddell: invitation to recover their account created")
	bob.see("table", "shared recovery: to recover their account")
	bob.screenshot("invite-to-recover")
	link := bob.attr(`.outcomes button[data-copy]`, "data-copy")
	if !strings.Contains(link, "claim_shamir_recovery") {
		t.Errorf("the link to pass on is %q", link)
	}
	token := strings.Split(bob.attr(`form[action$="/greet"]`, "action"), "/")[2]

	// On a new computer, Alice opens the link: 2 shares needed, from Bob and Carol.
	again := w.gui(w.newAccount("alice's new password"), "Alice again", link)
	again.see("h1", "Recover your account in Acme")
	again.click("main form button")
	again.see(".flow", "Waiting for a recipient to greet you")
	again.see(".recovery-progress h2", "2 shares needed, 0 received")
	again.see(".recovery-progress table", "Bob <bob@example.com>")
	again.screenshot("recover-waiting")

	// Bob greets her from his invitations: codes both ways, then his share goes.
	bob.clickGreet()
	hostCode := bob.see(".sas", "")
	again.see(".codes legend", "Which code does Bob <bob@example.com> read to you?")
	again.click(`button.code[value="` + hostCode + `"]`)
	claimerCode := again.see(".sas", "")
	bob.click(`button.code[value="` + claimerCode + `"]`)
	bob.see(".flow", "1 share sent to Alice Liddell.")
	bob.screenshot("greet-shares-sent")
	again.see(".recovery-progress", "Received 1 share from Bob <bob@example.com>: 1 of 2.")
	again.see(".flow", "Waiting for a recipient to greet you")
	again.see(".recovery-progress table", "shares received")
	again.screenshot("recover-one-of-two")

	// Carol greets her with the CLI.
	g := w.greet(carolAcc, token)
	again.click(`button.code[value="` + g.expect(g.stdout, `^Code to provide to claimer: (\S+)$`)[1] + `"]`)
	g.send(again.see(".sas", ""))
	g.expect(g.stdout, `^1 share\(s\) sent to Alice Liddell <alice@example.com>\.$`)
	g.wantExit(exitOK)

	// Enough shares: the new device's name and password, then she is in.
	again.see(".recovery-progress", "Received 1 share from Carol <carol@example.com>: 2 of 2.")
	again.run(chromedp.WaitVisible("#password", chromedp.ByQuery))
	again.fill("#label", "new laptop")
	again.fill("#password", again.acc.password)
	again.fill("#password2", "another password")
	again.click(`form.form button[type=submit]`)
	again.see(".flow .alert", "The two passwords differ.")
	again.fill("#password", again.acc.password)
	again.fill("#password2", again.acc.password)
	again.screenshot("recover-details")
	again.click(`form.form button[type=submit]`)
	again.see(".flow", "Welcome back: this computer is now a device of yours in Acme")
	again.screenshot("recover-done")
	again.click(".flow form button")
	again.see(".who", "Alice Liddell · Administrator · new laptop")
	if got := w.as(again.acc, "cat", "Docs:/plan.txt").ok(); got != "the plan" {
		t.Errorf("the recovered device reads %q", got)
	}

	// The setup is still in force. Carol is revoked: her share is lost, and the page warns
	// that the setup can no longer be used; Alice deletes it (after the confirmation).
	again.click(`a[href="/devices"]`)
	again.see("#shared", "It can be used")
	w.as(again.acc, "user", "revoke", "carol@example.com", "--yes").ok()
	again.click(`a[href="/devices"]`)
	again.see("#shared .alert", "It can no longer be used: revoked recipients hold too many shares (the others hold 1 share, 2 needed).")
	again.see("#shared table.recipients", "Revoked")
	again.screenshot("shared-recovery-unusable")
	again.click(`form[action="/devices/shared-recovery/delete"] button`)
	again.see(".messages", "Shared recovery deleted")
	again.see("#shared", "Set up shared recovery")
	if out := w.as(bobAcc, "shared-recovery", "list").ok(); strings.Contains(out, "Alice") {
		t.Errorf("Bob still holds shares of the deleted setup:\n%s", out)
	}
}
