package gui

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// serveApp serves a GUI on a loopback port for the test and returns it with its launch URL.
func serveApp(t *testing.T) (*App, string) {
	t.Helper()
	app, err := New(Config{ConfigDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { app.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return app, app.URL(ln)
}

// noRedirect is a client that shows redirects instead of following them.
func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The local web app lets in only the browser that opened its one-time address.
func TestSecretCookieHostOrigin(t *testing.T) {
	_, launch := serveApp(t)
	u, _ := url.Parse(launch)
	root := "http://" + u.Host + "/"

	// Without the secret: refused, with a page that says what to do.
	resp, body := get(t, noRedirect(nil), root, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Open the address that “parsec gui” printed") {
		t.Errorf("no secret: %d %q", resp.StatusCode, body)
	}
	// A wrong secret is refused too.
	if resp, _ := get(t, noRedirect(nil), root+"?secret=00", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("wrong secret: %d", resp.StatusCode)
	}

	// The secret is exchanged for a cookie, once.
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)
	resp, _ = get(t, c, launch, nil)
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "secret") {
		t.Fatalf("secret: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %s", cookie, want)
		}
	}
	if resp, _ := get(t, noRedirect(nil), launch, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the secret worked twice: %d", resp.StatusCode)
	}
	resp, body = get(t, c, root, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Welcome to Parsec") {
		t.Fatalf("with the cookie: %d", resp.StatusCode)
	}

	// Every page carries a strict policy, and no inline script or handler.
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=`).MatchString(body) {
		t.Errorf("inline script in the page:\n%s", body)
	}

	// DNS rebinding: another name for this address is refused, even with the cookie.
	if resp, _ := get(t, c, root, map[string]string{"Host": "evil.example:" + u.Port()}); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: %d", resp.StatusCode)
	}
	// localhost is the same place.
	if resp, _ := get(t, c, "http://localhost:"+u.Port()+"/", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("localhost without its own cookie: %d, want the cookie asked for", resp.StatusCode)
	}
	// The style sheet needs no cookie (the refusal page uses it), but the right Host.
	if resp, _ := get(t, noRedirect(nil), root+"static/app.css", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the style sheet without the cookie: %d", resp.StatusCode)
	}
	if resp, _ := get(t, noRedirect(nil), root+"static/app.css", map[string]string{"Host": "evil.example:" + u.Port()}); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("the style sheet for a foreign Host: %d", resp.StatusCode)
	}

	// A state-changing request from another origin is refused, even with the cookie.
	for _, path := range []string{"logout", "devices/shared-recovery", "devices/shared-recovery/delete", "users/x/invite-recovery"} {
		req, _ := http.NewRequest(http.MethodPost, root+path, strings.NewReader(""))
		req.Header.Set("Origin", "http://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST /%s: %d", path, resp.StatusCode)
		}
	}
	// The same request from the GUI's own page goes through.
	req, _ := http.NewRequest(http.MethodPost, root+"logout", strings.NewReader(""))
	req.Header.Set("Origin", strings.TrimSuffix(root, "/"))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin POST: %d", resp.StatusCode)
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		if ln, err := Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := Listen(addr)
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		ln.Close()
	}
}

// A malformed link given at launch is refused at once.
func TestNewRefusesABadLink(t *testing.T) {
	if _, err := New(Config{ConfigDir: t.TempDir(), Link: "https://example.com/nothing"}); err == nil {
		t.Error("a link that is no Parsec link was accepted")
	}
}

func TestNewPassword(t *testing.T) {
	tests := []struct {
		p1, p2 string
		ok     bool
	}{
		{"long enough", "long enough", true},
		{"short", "short", false},
		{"long enough", "long enough!", false},
		{"", "", false},
	}
	for _, tc := range tests {
		_, err := newPasswordOf(url.Values{"password": {tc.p1}, "password2": {tc.p2}})
		if (err == nil) != tc.ok {
			t.Errorf("newPasswordOf(%q, %q) = %v, want ok %v", tc.p1, tc.p2, err, tc.ok)
		}
	}
}

// An uploaded file's name may carry a folder's relative path, never a way out of it.
func TestUploadName(t *testing.T) {
	tests := []struct {
		filename, want string
		ok             bool
	}{
		{"notes.txt", "notes.txt", true},
		{"notes..txt", "notes..txt", true},
		{"tree/sub/a.txt", "tree/sub/a.txt", true},
		{`tree\sub\a.txt`, "tree/sub/a.txt", true},
		{"", "", true}, // an empty file input: nothing to upload
		{"../escape.txt", "", false},
		{"tree/../../escape.txt", "", false},
		{"/", "", false},
	}
	for _, tc := range tests {
		got, err := uploadName(`form-data; name="files"; filename="` + strings.ReplaceAll(tc.filename, `\`, `\\`) + `"`)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("uploadName(%q) = %q, %v; want %q (ok %v)", tc.filename, got, err, tc.want, tc.ok)
		}
	}
	if _, err := uploadName("garbage;;"); err == nil {
		t.Error("a malformed Content-Disposition was accepted")
	}
}
