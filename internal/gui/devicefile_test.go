package gui

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/testenv"
)

// A device file kept under another name than its ID's (restored from a backup as
// backup.keys): once logged in with it, "Change password" changes that file, and "Forget"
// removes it.
func TestDeviceFileUnderAnotherName(t *testing.T) {
	srv := testenv.NewServer(t)
	alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
	own := device.Path(alice.ConfigDir, alice.Device.DeviceID)
	renamed := filepath.Join(filepath.Dir(own), "backup.keys")
	if err := os.Rename(own, renamed); err != nil {
		t.Fatal(err)
	}
	app, err := New(Config{ConfigDir: alice.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	gui := serveHandlers(t, app)
	post := func(path string, form url.Values) {
		t.Helper()
		resp, err := http.PostForm(gui.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	post("/login", url.Values{"device": {alice.Device.DeviceID.String()}, "password": {string(alice.Password)}})
	if app.current() == nil {
		t.Fatalf("not logged in: %v", app.takeFlash())
	}
	post("/devices/password", url.Values{"old": {string(alice.Password)}, "password": {"a new password"}, "password2": {"a new password"}})
	f, err := device.Load(renamed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Unlock([]byte("a new password")); err != nil {
		t.Errorf("the device file does not open with the new password (%v): %v", err, app.takeFlash())
	}
	if _, err := os.Stat(own); err == nil {
		t.Errorf("a second device file was written at %s", own)
	}

	post("/devices/forget", nil)
	if _, err := os.Stat(renamed); err == nil {
		t.Errorf("the device file is still there after Forget: %v", app.takeFlash())
	}
}
