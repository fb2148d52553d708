package gui

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Recovery files and the care of this computer's device: the GUI's side of parsec device
// export-recovery, import-recovery, change-password and remove.

func (a *App) recoveryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /devices/recovery", a.loggedIn(a.postRecovery))
	mux.HandleFunc("GET /devices/recovery", a.loggedIn(a.recoveryPage))
	mux.HandleFunc("GET /devices/recovery/file", a.loggedIn(a.recoveryDownload))
	mux.HandleFunc("POST /devices/recovery/done", a.loggedIn(a.postRecoveryDone))
	mux.HandleFunc("POST /devices/password", a.loggedIn(a.postChangePassword))
	mux.HandleFunc("POST /devices/forget", a.loggedIn(a.postForget))
	mux.HandleFunc("POST /recover", a.postRecover)
}

// recoveryFile is a recovery file made for the person to download, with its passphrase.
type recoveryFile struct {
	Name       string // the file name offered
	Data       []byte
	Passphrase string
	DeviceID   parsec.DeviceID
}

// postRecovery creates a recovery device and its file.
func (a *App) postRecovery(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	rf, err := s.c.ExportRecovery(r.Context(), "recovery")
	if err != nil {
		a.report(w, r, "/devices", err, "")
		return
	}
	name := strings.ToLower(string(s.dev.OrganizationID) + "-" + strings.ReplaceAll(s.dev.HumanHandle.Email, "@", "-at-") + ".recovery")
	a.mu.Lock()
	s.recovery = &recoveryFile{Name: name, Data: rf.Data, Passphrase: rf.Passphrase, DeviceID: rf.DeviceID}
	a.mu.Unlock()
	a.events.publish("changed")
	http.Redirect(w, r, "/devices/recovery", http.StatusSeeOther)
}

func (a *App) pendingRecovery(r *http.Request) *recoveryFile {
	s := a.session(r)
	a.mu.Lock()
	defer a.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.recovery
}

func (a *App) recoveryPage(w http.ResponseWriter, r *http.Request) {
	f := a.pendingRecovery(r)
	if f == nil {
		http.Redirect(w, r, "/devices", http.StatusSeeOther)
		return
	}
	a.page(w, r, "recovery", "Your recovery file", f, false)
}

func (a *App) recoveryDownload(w http.ResponseWriter, r *http.Request) {
	f := a.pendingRecovery(r)
	if f == nil {
		http.Error(w, "No recovery file is waiting to be saved: create one from My devices.", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	w.Write(f.Data)
}

// postRecoveryDone forgets the file and its passphrase: the GUI never shows them again.
func (a *App) postRecoveryDone(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	a.mu.Lock()
	s.recovery = nil
	a.mu.Unlock()
	a.say(false, "The recovery file and its passphrase are no longer kept by the GUI. Keep them offline and apart.")
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}

// postChangePassword changes the password of this computer's copy of the current device.
func (a *App) postChangePassword(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	err := func() error {
		pw, err := newPassword(r)
		if err != nil {
			return err
		}
		file, err := device.Load(s.file)
		if err != nil {
			return err
		}
		local, err := file.Unlock([]byte(r.PostFormValue("old")))
		if err != nil {
			if parsec.IsKind(err, parsec.BadAuth) {
				return parsec.Errorf(parsec.BadAuth, "the current password is wrong: nothing changed")
			}
			return err
		}
		return device.Save(file.Path, local, pw, file.Header.CreatedOn)
	}()
	a.report(w, r, "/devices", err, "Password changed: it protects this device on this computer from now on.")
}

// postForget deletes the current device from this computer, after logging out. It stays
// valid elsewhere.
func (a *App) postForget(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	id, line := s.dev.DeviceID, s.dev.HumanHandle.String()+" @ "+s.dev.DeviceLabel
	a.logout()
	err := errors.Join(os.Remove(s.file), client.RemoveDeviceData(a.cfg.ConfigDir, id))
	a.report(w, r, "/", err, "Device "+line+" removed from this computer. It is not revoked: a copy of it elsewhere still works.")
}

// postRecover creates a new device on this computer from a recovery file, its passphrase
// and a new password, then logs in with it.
func (a *App) postRecover(w http.ResponseWriter, r *http.Request) {
	err := func() error {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return parsec.Errorf(parsec.Invalid, "choose the recovery file")
		}
		upload, header, err := r.FormFile("file")
		if err != nil {
			return parsec.Errorf(parsec.Invalid, "choose the recovery file")
		}
		defer upload.Close()
		data, err := io.ReadAll(io.LimitReader(upload, 1<<20+1))
		if err != nil {
			return err
		}
		f, err := device.LoadBytes(header.Filename, data)
		if err != nil {
			return err
		}
		if !f.IsRecovery() {
			return parsec.Errorf(parsec.Invalid, "%s is not a recovery file but a device file protected by a password", header.Filename)
		}
		key, err := crypto.ParseRecoveryPassphrase(r.PostFormValue("passphrase"))
		if err != nil {
			return err
		}
		pw, err := newPassword(r)
		if err != nil {
			return err
		}
		label := strings.TrimSpace(r.PostFormValue("label"))
		if label == "" {
			label, _ = os.Hostname()
		}
		local, err := client.ImportRecovery(r.Context(), a.cfg.ConfigDir, f, key, label, pw, client.Options{HTTPClient: a.cfg.HTTPClient})
		if err != nil {
			return err
		}
		return a.start(local)
	}()
	if err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, "/#recover-h", http.StatusSeeOther)
		return
	}
	a.say(false, "Welcome back: this computer has a new device of yours, protected by the password you chose. The recovery file stays valid: keep it offline.")
	http.Redirect(w, r, "/organization", http.StatusSeeOther)
}
