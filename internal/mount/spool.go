package mount

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The spool folder (Options.SpoolDir) holds one private folder per running mount,
// "parsec-mount-*", locked (flock) while the mount runs. A file closed while its content
// cannot be saved (the server is unreachable) keeps its spool there, beside a note (a
// leftover, "open-*.json") saying whose it is; the note lasts until the content is saved.
// A later mount of the same device takes over the notes of folders no mount holds
// (adopt): so what a mount could not send, because it ended or was killed first, is sent
// by the next one.

// leftover notes a spool kept for a later mount.
type leftover struct {
	Device    string `json:"device"`
	Workspace string `json:"workspace"`
	File      string `json:"file"`
	Since     []byte `json:"since"` // the client.ContentStamp the content was written from
	Path      string `json:"path"`  // where the file was, for messages
	Spool     string `json:"spool"` // the content
}

const (
	mountPrefix = "parsec-mount-"
	noteSuffix  = ".json"
)

// makeSpool makes and locks this mount's private folder in root. It is made under
// another name, then renamed once locked, so that adopt never sees it unlocked.
func makeSpool(root string) (dir string, lock *os.File, err error) {
	tmp, err := os.MkdirTemp(root, ".new-*") // 0700
	if err != nil {
		return "", nil, err
	}
	lock, ok, err := lockDir(tmp)
	if err != nil || !ok {
		os.Remove(tmp)
		return "", nil, fmt.Errorf("cannot lock %s: %v", tmp, err)
	}
	dir = filepath.Join(filepath.Dir(tmp), mountPrefix+strings.TrimPrefix(filepath.Base(tmp), ".new-"))
	if err := os.Rename(tmp, dir); err != nil {
		lock.Close()
		os.Remove(tmp)
		return "", nil, err
	}
	return dir, lock, nil
}

// lockDir locks folder dir for this process, without waiting: false when another holds it.
// Closing the file unlocks it.
func lockDir(dir string) (*os.File, bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}

// keep notes f's spool as kept for a later mount (once, until it is saved), its content
// durable on disk.
func (ws *workspace) keep(f *openFile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spool == nil {
		return nil
	}
	if f.note != "" {
		return f.spool.Sync()
	}
	p, _ := f.path()
	since, _ := f.since.MarshalBinary()
	b, err := json.Marshal(leftover{Device: ws.m.c.Device().DeviceID.String(), Workspace: ws.id.String(),
		File: f.id.String(), Since: since, Path: p, Spool: f.spool.Name()})
	if err != nil {
		return err
	}
	note := filepath.Join(ws.m.spool, filepath.Base(f.spool.Name())+noteSuffix)
	if err := writeAtomic(note, b); err != nil {
		return fmt.Errorf("what was written to %s is in %s, but cannot be noted for the next mount: %v", p, f.spool.Name(), err)
	}
	if err := f.spool.Sync(); err != nil {
		return err
	}
	f.note = note
	return nil
}

// writeAtomic writes a file whole or not at all (mode 0600).
func writeAtomic(name string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// adopt takes over what earlier mounts of this device kept for their workspaces mounted
// here: their content is saved by the syncers, as this mount's own closed files are.
// Folders of running mounts are left alone, and so are the notes of other devices and
// other workspaces.
func (m *Mount) adopt() {
	dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(m.spool), mountPrefix+"*"))
	for _, dir := range dirs {
		if dir == m.spool {
			continue
		}
		lock, ok, err := lockDir(dir)
		if err != nil || !ok {
			continue
		}
		m.adoptFrom(dir)
		lock.Close()
		os.Remove(dir) // once empty
	}
}

// adoptFrom adopts the notes of dir, an earlier mount's folder, and tells of spools without
// a note (a file open while its mount was killed).
func (m *Mount) adoptFrom(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	noted := map[string]bool{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), noteSuffix) {
			noted[strings.TrimSuffix(e.Name(), noteSuffix)] = true
		}
	}
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), noteSuffix):
			m.adoptNote(name)
		case strings.HasPrefix(e.Name(), ".tmp-"):
			os.Remove(name)
		case !noted[e.Name()] && !m.notedElsewhere(name):
			m.warn("%s holds what was written to a file while an earlier mount was stopped abruptly: it was never saved, see whether you need it", name)
		}
	}
}

// notedElsewhere reports whether a note of another folder (adopted, hence moved) names
// spool.
func (m *Mount) notedElsewhere(spool string) bool {
	notes, _ := filepath.Glob(filepath.Join(filepath.Dir(m.spool), mountPrefix+"*", filepath.Base(spool)+noteSuffix))
	return len(notes) > 0
}

// adoptNote takes over one note: moved into this mount's folder, its file pending in its
// workspace.
func (m *Mount) adoptNote(note string) {
	b, err := os.ReadFile(note)
	if err != nil {
		return
	}
	var l leftover
	if err := json.Unmarshal(b, &l); err != nil {
		m.warn("%s: unreadable (%v), left as it is", note, err)
		return
	}
	if l.Device != m.c.Device().DeviceID.String() {
		return
	}
	wsID, err1 := parsec.ParseVlobID(l.Workspace)
	fileID, err2 := parsec.ParseVlobID(l.File)
	var since client.ContentStamp
	if err := errors.Join(err1, err2, since.UnmarshalBinary(l.Since)); err != nil {
		m.warn("%s: unreadable (%v), left as it is", note, err)
		return
	}
	m.mu.Lock()
	ws := m.workspaces[wsID]
	m.mu.Unlock()
	if ws == nil || ws.past {
		if m.opts.Workspace.IsZero() {
			m.warn("what was written to %s (in %s) while the server was unreachable belongs to a workspace this user no longer has: left in %s", l.Path, parsec.ShortID(wsID), l.Spool)
		}
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.files[fileID] != nil {
		// Two earlier mounts kept this file: one at a time, the other by a later mount.
		m.notice("workspace %s: what was written to %s while the server was unreachable was kept twice, the second is sent by the next mount", ws.label(), l.Path)
		return
	}
	spool, err := os.OpenFile(l.Spool, os.O_RDWR, 0)
	if err != nil {
		m.warn("workspace %s: what was written to %s while the server was unreachable is lost: %v", ws.label(), l.Path, err)
		os.Remove(note)
		return
	}
	moved := filepath.Join(m.spool, filepath.Base(note))
	if err := os.Rename(note, moved); err != nil {
		spool.Close()
		return
	}
	ws.files[fileID] = &openFile{ws: ws, id: fileID, path: ws.pathOf(fileID), spool: spool, dirty: true, since: since, note: moved, pending: true}
	m.notice("workspace %s: sending what was written to %s while the server was unreachable (kept by an earlier mount)", ws.label(), l.Path)
	ws.kickSync()
}
