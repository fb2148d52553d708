package gui

// Members who mean harm, and odd moments: what another member names or writes, and a
// logout in the middle of a page, must not turn the GUI against the person using it.

import (
	"archive/zip"
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

// TestWorkspaceNamedAfterAnotherWorkspacesID: mallory shares with alice a workspace she
// named with the ID of alice's "Secret". The GUI's URLs and forms carry IDs, and a name
// matched first: alice's upload to her workspace's page, and her copy to "Secret", landed
// in mallory's workspace. Now an ID is only ever an ID.
func TestWorkspaceNamedAfterAnotherWorkspacesID(t *testing.T) {
	_, ac, gui := aliceApp(t, testenv.NewServer(t))
	mine, err := ac.CreateWorkspace(t.Context(), "Secret")
	if err != nil {
		t.Fatal(err)
	}
	// Mallory, a member, names a workspace after Alice's workspace's ID and shares it.
	mallory := testenv.Join(t, ac, "mallory@example.com", "Mallory", parsec.ProfileStandard)
	mc := mallory.Open(t)
	trap, err := mc.CreateWorkspace(t.Context(), mine.String())
	if err != nil {
		t.Fatal(err)
	}
	share(t, mc, trap, ac, parsec.RoleContributor)

	// Alice uploads into her workspace, by the URL the page gives it.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("path", "/")
	fw, _ := mw.CreateFormFile("files", "payroll.txt")
	fw.Write([]byte("confidential"))
	mw.Close()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Post(gui.URL+"/workspaces/"+mine.String()+"/upload", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	t.Logf("upload: %s -> %s", resp.Status, resp.Header.Get("Location"))

	ws, err := ac.Workspace(t.Context(), mine)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Stat("/payroll.txt"); err != nil {
		t.Errorf("the upload to /workspaces/%s did not land in that workspace: %v", mine, err)
	}
	tw, err := ac.Workspace(t.Context(), trap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Stat("/payroll.txt"); err == nil {
		t.Errorf("the upload to /workspaces/%s landed in Mallory's workspace %s named after that ID", mine, trap)
	}
	if !strings.Contains(resp.Header.Get("Location"), mine.String()) {
		t.Errorf("redirected to %s", resp.Header.Get("Location"))
	}

	// A copy to "Secret" from the file menu (its <option value> is the ID) goes astray too.
	other, err := ac.CreateWorkspace(t.Context(), "Other")
	if err != nil {
		t.Fatal(err)
	}
	ow, err := ac.Workspace(t.Context(), other)
	if err != nil {
		t.Fatal(err)
	}
	err = ow.WriteFiles(t.Context(), []client.FileSource{{Path: "/contract.txt", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("confidential")), nil
	}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = noFollow.PostForm(gui.URL+"/workspaces/"+other.String()+"/transfer",
		url.Values{"path": {"/contract.txt"}, "to": {mine.String()}, "folder": {"/"}, "op": {"copy"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := ws.Stat("/contract.txt"); err != nil {
		t.Errorf("the copy to workspace %s did not land there: %v", mine, err)
	}
	if _, err := tw.Stat("/contract.txt"); err == nil {
		t.Errorf("the copy to workspace %s landed in Mallory's workspace named after that ID", mine)
	}
}

// TestLogoutDuringRequest: a page asked for while another tab logs out passed loggedIn's
// check, then found the session gone and crashed (a dropped connection, a blank page). Now
// the handler keeps the session it was checked with: the person gets a page.
func TestLogoutDuringRequest(t *testing.T) {
	srv := testenv.NewServer(t)
	// The next certificate poll (loggedIn's refresh) waits until the other tab logged out.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var armed atomic.Bool
	srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdCertificateGet && armed.Load() {
			once.Do(func() { close(entered); <-release })
		}
		return reply
	}
	app, _, gui := aliceApp(t, srv)
	armed.Store(true)
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(gui.URL + "/workspaces")
		if err != nil {
			done <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	<-entered
	app.logout() // what POST /logout does, from another tab
	close(release)
	res := <-done
	if res.err != nil {
		t.Errorf("GET /workspaces while logging out: %v (the handler panicked)", res.err)
	} else {
		t.Logf("GET /workspaces while logging out: %d", res.status)
	}
}

// TestZipOfBackslashNames: a file another member named with backslashes ("..\..\evil.bat",
// a valid Parsec name) went into a folder's ZIP under that name, which extractors on
// Windows read as folders above the one extracted into. Now every entry name is local and
// without backslashes (Go's own check of archives agrees).
func TestZipOfBackslashNames(t *testing.T) {
	_, ws, base := serveWorkspace(t, "Docs")
	const evil = `..\..\..\evil.bat`
	err := ws.WriteFiles(t.Context(), []client.FileSource{{Path: "/tree/" + evil, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("echo pwned")), nil
	}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/download?path=/tree")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		// archive/zip's own rule (GODEBUG=zipinsecurepath=0): non-local or backslashes.
		if !filepath.IsLocal(f.Name) || strings.Contains(f.Name, `\`) {
			t.Errorf("the ZIP holds the insecure entry name %q", f.Name)
		}
	}
	t.Setenv("GODEBUG", "zipinsecurepath=0")
	if _, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw))); err != nil {
		t.Errorf("Go's archive/zip refuses the GUI's ZIP: %v", err)
	}
}

// TestZipOfUnnamedWorkspace: a workspace whose name cannot be read (never named, a name
// that does not decrypt or is invalid) was downloaded as ".zip", its entries absolute paths
// ("/etc/cron.d/payload"). Now it is named "workspace <ID>", like the CLI's download.
func TestZipOfUnnamedWorkspace(t *testing.T) {
	srv := testenv.NewServer(t)
	// Mallory's device sends realm_create and the key, but its realm_rename never arrives.
	var dropRename atomic.Bool
	inner := srv.HTTP.Config.Handler
	srv.HTTP.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dropRename.Load() && r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if req, err := protocol.DecodeRequest(body); err == nil && req.Cmd == protocol.CmdRealmRename {
				http.Error(w, "gone", http.StatusServiceUnavailable)
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
	_, ac, gui := aliceApp(t, srv)
	mallory := testenv.Join(t, ac, "mallory@example.com", "Mallory", parsec.ProfileStandard)
	mc := mallory.Open(t)
	dropRename.Store(true)
	if _, err := mc.CreateWorkspace(t.Context(), "Anything"); err == nil {
		t.Fatal("the workspace was named: the test's server did not drop realm_rename")
	}
	dropRename.Store(false)
	all, err := mc.Workspaces(t.Context())
	if err != nil || len(all) != 1 {
		t.Fatalf("%v %v", all, err)
	}
	id := all[0].ID
	mws, err := mc.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	err = mws.WriteFiles(t.Context(), []client.FileSource{{Path: "/etc/cron.d/payload", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("* * * * * root evil\n")), nil
	}}}, nil)
	if err == nil {
		err = mws.Push(t.Context())
	}
	if err != nil {
		t.Fatal(err)
	}
	share(t, mc, id, ac, parsec.RoleReader)
	// "Download the workspace (ZIP)", as the files page of that workspace offers it.
	resp, err := http.Get(gui.URL + "/workspaces/" + id.String() + "/download?path=/")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("%s, Content-Disposition %q", resp.Status, resp.Header.Get("Content-Disposition"))
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("not a ZIP: %v", err)
	}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "/") {
			t.Errorf("the ZIP holds the absolute entry %q", f.Name)
		}
	}
}

// share gives to's user a role in workspace id, shared from client from, and has to poll the
// certificates that tell it.
func share(t *testing.T, from *client.Client, id parsec.VlobID, to *client.Client, role parsec.RealmRole) {
	t.Helper()
	if err := from.ShareWorkspace(t.Context(), id, to.Device().UserID, role); err != nil {
		t.Fatal(err)
	}
	if _, err := to.PollCertificates(t.Context()); err != nil {
		t.Fatal(err)
	}
}
