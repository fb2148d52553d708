package gui

import (
	"archive/zip"
	"cmp"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The file explorer: a folder of a workspace, and what a person does there. Uploads and
// downloads stream: an upload is spooled to a temporary file on this computer (never held in
// memory) then written into the workspace by the client library in one change; a download
// is read block by block into the response, a folder as a ZIP archive built as it goes.

func (a *App) fileRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /workspaces/{ws}/files", a.loggedIn(a.filesPage))
	mux.HandleFunc("GET /workspaces/{ws}/download", a.loggedIn(a.download))
	mux.HandleFunc("POST /workspaces/{ws}/upload", a.loggedIn(a.postUpload))
	mux.HandleFunc("POST /workspaces/{ws}/mkdir", a.loggedIn(a.postMkdir))
	mux.HandleFunc("POST /workspaces/{ws}/delete", a.loggedIn(a.postDelete))
	mux.HandleFunc("POST /workspaces/{ws}/move", a.loggedIn(a.postMove))
	mux.HandleFunc("POST /workspaces/{ws}/transfer", a.loggedIn(a.postTransfer))
	mux.HandleFunc("GET /workspaces/{ws}/history", a.loggedIn(a.historyPage))
	mux.HandleFunc("POST /workspaces/{ws}/restore", a.loggedIn(a.postRestore))
}

// parseAt reads a point in time given by a page: RFC 3339 (as versions are listed) or the
// browser's local date and time input ("2006-01-02T15:04", seconds optional); "" is now.
func parseAt(v string) (parsec.DateTime, error) {
	if v == "" {
		return 0, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return parsec.FromTime(t), nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return parsec.FromTime(t), nil
		}
	}
	return 0, parsec.Errorf(parsec.Invalid, "invalid date and time %q", v)
}

type versionRow struct {
	client.Version
	Author string
	At     string // RFC 3339, for the links
}

type historyData struct {
	Workspace client.WorkspaceInfo
	Path      string
	Name      string
	Versions  []versionRow
	Writable  bool
	Err       string
}

// historyPage lists the versions of a file or folder, newest first.
func (a *App) historyPage(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	p := folderPath(r.URL.Query().Get("path"))
	d := historyData{Workspace: info, Path: p, Name: path.Base(p), Writable: info.Writable() == nil}
	versions, err := ws.History(r.Context(), p)
	if err != nil {
		d.Err = errText(err)
	}
	author := s.c.Authors()
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		d.Versions = append(d.Versions, versionRow{Version: v, Author: author(v.Author), At: v.Timestamp.Time().UTC().Format(time.RFC3339Nano)})
	}
	a.page(w, r, "history", "History of “"+d.Name+"”", d, true)
}

// postRestore makes a file's content as it was at a time its current content; a folder's,
// everything it held then.
func (a *App) postRestore(w http.ResponseWriter, r *http.Request) {
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	p := folderPath(r.PostFormValue("path"))
	at, err := parseAt(r.PostFormValue("at"))
	if err != nil || at == 0 {
		a.say(true, "Choose the version to restore.")
		http.Redirect(w, r, filesURL(info.ID, path.Dir(p)), http.StatusSeeOther)
		return
	}
	name, when := "“"+path.Base(p)+"”", at.Time().Local().Format("2006-01-02 15:04:05")
	done := name + " restored as it was on " + when + " (a new version: the others stay in the history)."
	if r.PostFormValue("folder") != "" {
		if p == "/" {
			name = "The workspace"
		}
		done = name + " and everything it held restored as it was on " + when + " (new versions; what was added since is kept)."
	}
	a.change(w, r, ws, filesURL(info.ID, path.Dir(p)), done, func() error {
		return ws.Restore(r.Context(), p, at)
	})
}

type crumb struct {
	Name string
	Path string
}

type entryRow struct {
	client.Entry
	Author   string
	Conflict bool // a conflict copy made by sync
}

// conflictCopy recognizes the names sync gives conflict copies: "name (sync conflict N).ext".
var conflictCopy = regexp.MustCompile(` \(sync conflict \d+\)(\.[^.]*)?$`)

type filesData struct {
	Workspace  client.WorkspaceInfo
	Path       string
	Crumbs     []crumb
	Entries    []entryRow
	Writable   bool
	Restorable bool   // browsing the past of a workspace I may change
	ReadOnly   string // why nothing can be changed, when so
	Err        string
	At         string // browsing the workspace as it was then (RFC 3339), read-only
	AtLocal    string // the same for the date input
	Sort       string // name, size or updated
	Desc       bool
	Targets    []client.WorkspaceInfo // workspaces a copy may go to (writable ones)
}

// folderPath reads the path parameter: a workspace path, "/" by default.
func folderPath(v string) string { return path.Clean("/" + v) }

func (a *App) filesPage(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	p := folderPath(r.URL.Query().Get("path"))
	d := filesData{Workspace: info, Path: p, Crumbs: []crumb{{Name: info.Name, Path: "/"}}}
	at, err := parseAt(r.URL.Query().Get("at"))
	if err != nil {
		d.Err = errText(err)
	}
	switch werr := info.Writable(); {
	case at != 0:
		d.At, d.AtLocal = at.Time().UTC().Format(time.RFC3339Nano), at.Time().Local().Format("2006-01-02T15:04:05")
		d.ReadOnly = "You are looking at the workspace as it was on " + at.Time().Local().Format("2006-01-02 15:04:05") + ": read-only."
		if werr == nil {
			d.Restorable = true
			d.ReadOnly += " Restore brings a file or folder back as it was then, as a new version."
		}
	case werr != nil:
		d.ReadOnly = errText(werr)
	default:
		d.Writable = true
	}
	if p != "/" {
		acc := ""
		for _, n := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			acc += "/" + n
			d.Crumbs = append(d.Crumbs, crumb{Name: n, Path: acc})
		}
	}
	entries, err := ws.ListAt(r.Context(), p, at)
	if err != nil && at == 0 && !parsec.IsKind(err, parsec.NotFound) && !parsec.IsKind(err, parsec.Invalid) {
		// Offline: what the device has (the banner says the server is unreachable).
		if !parsec.IsKind(err, parsec.Unavailable) {
			d.Err = errText(err)
		}
		entries, err = ws.List(p)
	}
	if err != nil {
		d.Err = errText(err)
	}
	d.Sort, d.Desc = r.URL.Query().Get("sort"), r.URL.Query().Get("desc") == "1"
	sortEntries(entries, d.Sort, d.Desc)
	if d.Writable {
		all, _ := s.c.Workspaces(r.Context())
		for _, t := range all {
			if t.Writable() == nil {
				d.Targets = append(d.Targets, t)
			}
		}
	}
	// Folders first, then files, each in the order asked (by name by default).
	var folders, files []entryRow
	author := s.c.Authors()
	for _, e := range entries {
		row := entryRow{Entry: e, Author: author(e.Author), Conflict: !e.IsFolder && conflictCopy.MatchString(e.Name)}
		if e.IsFolder {
			folders = append(folders, row)
		} else {
			files = append(files, row)
		}
	}
	d.Entries = append(folders, files...)
	a.page(w, r, "files", info.Name, d, true)
}

// sortEntries orders a folder's entries by name (the default), size or last change.
func sortEntries(entries []client.Entry, by string, desc bool) {
	slices.SortStableFunc(entries, func(x, y client.Entry) int {
		var c int
		switch by {
		case "size":
			c = cmp.Compare(x.Size, y.Size)
		case "updated":
			c = cmp.Compare(x.Updated, y.Updated)
		}
		if c == 0 {
			c = strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
		}
		if desc {
			return -c
		}
		return c
	})
}

// filesURL is the explorer's address for a folder of a workspace.
func filesURL(ws parsec.VlobID, p string) string {
	return "/workspaces/" + ws.String() + "/files?path=" + url.QueryEscape(p)
}

// change runs one change of the workspace and tells the person how it went.
func (a *App) change(w http.ResponseWriter, r *http.Request, ws *client.Workspace, back string, done string, f func() error) {
	a.report(w, r, back, ws.Change(r.Context(), false, f), done)
}

// report ends an action: it tells the person how it went (the error, or done), tells the
// open pages that something changed, and goes back to the page at back.
func (a *App) report(w http.ResponseWriter, r *http.Request, back string, err error, done string) {
	if err != nil {
		a.say(true, errText(err))
	} else {
		a.say(false, done)
	}
	a.events.publish("changed")
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (a *App) postMkdir(w http.ResponseWriter, r *http.Request) {
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	dir := folderPath(r.PostFormValue("path"))
	name := strings.TrimSpace(r.PostFormValue("name"))
	a.change(w, r, ws, filesURL(info.ID, dir), "Folder “"+name+"” created.", func() error {
		if name == "" || strings.Contains(name, "/") {
			return parsec.Errorf(parsec.Invalid, "invalid folder name %q", name)
		}
		return ws.Mkdir(r.Context(), path.Join(dir, name), false)
	})
}

func (a *App) postDelete(w http.ResponseWriter, r *http.Request) {
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	p := folderPath(r.PostFormValue("path"))
	a.change(w, r, ws, filesURL(info.ID, path.Dir(p)), "“"+path.Base(p)+"” deleted. Nothing is erased: the history keeps it.", func() error {
		return ws.Remove(r.Context(), p, true)
	})
}

// postMove renames or moves an entry within the workspace.
func (a *App) postMove(w http.ResponseWriter, r *http.Request) {
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	from := folderPath(r.PostFormValue("path"))
	to := strings.TrimSpace(r.PostFormValue("to"))
	if !strings.HasPrefix(to, "/") {
		to = path.Join(path.Dir(from), to) // a new name in the same folder
	}
	back := filesURL(info.ID, path.Dir(from))
	target, err := ws.Move(r.Context(), from, to, false)
	a.report(w, r, back, err, "“"+path.Base(from)+"” is now "+target+".")
}

// postTransfer copies or moves an entry to a folder of another workspace (or this one).
func (a *App) postTransfer(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	src := folderPath(r.PostFormValue("path"))
	back := filesURL(info.ID, path.Dir(src))
	dstInfo, err := findWorkspace(r.Context(), s.c, r.PostFormValue("to"))
	var dst *client.Workspace
	if err == nil {
		dst, err = s.c.Workspace(r.Context(), dstInfo.ID)
	}
	if err != nil {
		a.report(w, r, back, err, "")
		return
	}
	folder := folderPath(r.PostFormValue("folder")) + "/"
	o := client.CopyOptions{Recursive: true}
	var res client.CopyResult
	verb := "copied"
	if r.PostFormValue("op") == "move" {
		verb = "moved"
		res, err = ws.MoveTo(r.Context(), src, dst, folder, o)
	} else {
		res, err = ws.Copy(r.Context(), src, dst, folder, o)
	}
	a.report(w, r, back, err, "“"+path.Base(src)+"” "+verb+" to “"+dstInfo.Name+"”: "+res.Path+".")
}

// postUpload receives files (a multipart form: "path", the folder, then the files, whose
// names may hold the relative path of a folder upload), spools them to a temporary folder,
// and writes them into the workspace in one change.
func (a *App) postUpload(w http.ResponseWriter, r *http.Request) {
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	dir := "/"
	tmp, err := os.MkdirTemp("", "parsec-upload-")
	if err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, filesURL(info.ID, dir), http.StatusSeeOther)
		return
	}
	defer os.RemoveAll(tmp)
	var sources []client.FileSource
	var total int64
	var single bool              // the page announced one file (count=1)
	var streamed *countingReader // that file, read as it is written into the workspace
	var policy string            // when a name is taken: "replace" (default), "keep" (both), "skip"
	var skipped []string
	err = func() error {
		mr, err := r.MultipartReader()
		if err != nil {
			return parsec.Errorf(parsec.Invalid, "not an upload: %v", err)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return parsec.Errorf(parsec.Invalid, "the upload was interrupted: %v", err)
			}
			switch part.FormName() {
			case "path":
				b, _ := io.ReadAll(io.LimitReader(part, 4096))
				dir = folderPath(string(b))
			case "count":
				b, _ := io.ReadAll(io.LimitReader(part, 32))
				single = strings.TrimSpace(string(b)) == "1"
			case "conflict":
				b, _ := io.ReadAll(io.LimitReader(part, 32))
				policy = string(b)
			case "files":
				rel, err := uploadName(part.Header.Get("Content-Disposition"))
				if err != nil {
					return err
				}
				if rel == "" {
					continue // an empty file input
				}
				dst, keep, err := uploadTarget(ws, path.Join(dir, rel), policy)
				if err != nil {
					return err
				}
				if !keep {
					skipped = append(skipped, rel)
					continue
				}
				rel = strings.TrimPrefix(strings.TrimPrefix(dst, dir), "/")
				if single && len(sources) == 0 {
					// One file, announced as such: straight from the request into the
					// workspace, without a copy on disk.
					streamed = &countingReader{r: part}
					sources = append(sources, client.FileSource{Path: path.Join(dir, rel), Open: streamed.once})
					return nil
				}
				local := filepath.Join(tmp, itoa(len(sources)))
				f, err := os.OpenFile(local, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
				if err != nil {
					return err
				}
				n, err := io.Copy(f, part)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return parsec.Errorf(parsec.Invalid, "the upload of %s was interrupted: %v", rel, err)
				}
				total += n
				sources = append(sources, client.FileSource{Path: path.Join(dir, rel), Open: func() (io.ReadCloser, error) { return os.Open(local) }})
			}
		}
	}()
	back := filesURL(info.ID, dir)
	if err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	if len(skipped) > 0 {
		a.say(false, "Skipped, their names being taken: "+strings.Join(skipped, ", ")+".")
	}
	if len(sources) == 0 {
		if len(skipped) == 0 {
			a.say(true, "Choose the files or the folder to upload.")
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	err = ws.SendFiles(r.Context(), sources, nil)
	if streamed != nil {
		total = streamed.n
	}
	a.report(w, r, back, err, itoa(len(sources))+" file(s) uploaded ("+parsec.FormatSize(total)+").")
}

// countingReader is an upload read once, straight from the request, counting its bytes.
type countingReader struct {
	r      io.Reader
	n      int64
	opened bool
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// once opens the upload the first time; a second time (the workspace got a new key during
// the upload, and the client starts over) it cannot be read again.
func (c *countingReader) once() (io.ReadCloser, error) {
	if c.opened {
		return nil, parsec.Errorf(parsec.Conflict, "the workspace got a new key during the upload: upload the file again")
	}
	c.opened = true
	return io.NopCloser(c), nil
}

// uploadTarget decides where an uploaded file goes when its name may be taken: the policy
// "skip" leaves a taken name alone (keep false), "keep" keeps both (a free name, see
// Workspace.FreeName), anything else replaces the file's content (a new version).
func uploadTarget(ws *client.Workspace, p, policy string) (dst string, keep bool, err error) {
	switch policy {
	case "skip":
		if _, err := ws.Stat(p); err == nil {
			return "", false, nil
		}
		return p, true, nil
	case "keep":
		dst, err := ws.FreeName(p)
		return dst, err == nil, err
	}
	return p, true, nil
}

// uploadName reads a file part's name, with the relative path a folder upload gives it
// (multipart.Part.FileName keeps only the last element), and refuses what would leave the
// folder.
func uploadName(disposition string) (string, error) {
	_, params, err := mime.ParseMediaType(disposition)
	if err != nil {
		return "", parsec.Errorf(parsec.Invalid, "malformed upload: %v", err)
	}
	name := strings.ReplaceAll(params["filename"], "\\", "/")
	if name == "" {
		return "", nil
	}
	clean := path.Clean("/" + name)
	if clean == "/" || slices.Contains(strings.Split(name, "/"), "..") {
		return "", parsec.Errorf(parsec.Invalid, "invalid file name %q: it would leave the folder", name)
	}
	return strings.TrimPrefix(clean, "/"), nil
}

// download sends a file, or a folder as a ZIP archive, streamed.
func (a *App) download(w http.ResponseWriter, r *http.Request) {
	info, ws, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	p := folderPath(r.URL.Query().Get("path"))
	if at, err := parseAt(r.URL.Query().Get("at")); err != nil || at != 0 {
		a.downloadAt(w, r, ws, p, at, err)
		return
	}
	if err := ws.Pull(r.Context()); err != nil && !parsec.IsKind(err, parsec.Unavailable) {
		a.say(true, errText(err))
		http.Redirect(w, r, filesURL(info.ID, path.Dir(p)), http.StatusSeeOther)
		return
	}
	e, err := ws.Stat(p)
	if err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, filesURL(info.ID, path.Dir(p)), http.StatusSeeOther)
		return
	}
	name := e.Name
	if p == "/" {
		name = info.Name
		if name == "" { // not readable (yet): the name the CLI gives it too
			name = "workspace " + parsec.ShortID(info.ID)
		}
	}
	if !e.IsFolder {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		w.Header().Set("Content-Length", itoa(int(e.Size)))
		sent := &countingWriter{w: w}
		err := ws.ReadFile(r.Context(), p, sent)
		switch {
		case err != nil && sent.n == 0: // nothing sent yet: a message on the folder's page
			for _, h := range []string{"Content-Type", "Content-Disposition", "Content-Length"} {
				w.Header().Del(h)
			}
			a.say(true, errText(err))
			http.Redirect(w, r, filesURL(info.ID, path.Dir(p)), http.StatusSeeOther)
		case err != nil:
			a.log.Warn("download failed", "path", p, "err", err)
			panic(http.ErrAbortHandler) // cut short: the browser reports a failed download
		}
		return
	}
	// The archive is written as the tree is walked, in flat memory whatever its size. An
	// error before any of it reached the browser is a message on the folder's page; after,
	// the response is cut short, and the browser reports a failed download.
	var zw *zip.Writer
	sent := &countingWriter{w: w}
	start := func() {
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".zip"}))
		zw = zip.NewWriter(sent)
	}
	// The files are read zipChunk at a time (their blocks travel together), each written
	// into the archive in turn, from this goroutine.
	var chunk []client.FileTarget
	flush := func() error {
		err := ws.ReadFiles(r.Context(), chunk, nil)
		chunk = chunk[:0]
		return err
	}
	err = ws.WalkEach(p, func(e client.Entry) error {
		if zw == nil {
			start()
		}
		rel := zipPath(name + "/" + strings.TrimPrefix(strings.TrimPrefix(e.Path, p), "/"))
		if e.IsFolder {
			_, err := zw.CreateHeader(&zip.FileHeader{Name: rel + "/", Method: zip.Store, Modified: e.Updated.Time()})
			return err
		}
		header := &zip.FileHeader{Name: rel, Method: zip.Deflate, Modified: e.Updated.Time()}
		chunk = append(chunk, client.FileTarget{Path: e.Path, ID: e.ID, Create: func() (io.WriteCloser, error) {
			fw, err := zw.CreateHeader(header)
			return nopWriteCloser{fw}, err
		}})
		if len(chunk) == zipChunk {
			return flush()
		}
		return nil
	})
	if err == nil && len(chunk) > 0 {
		err = flush()
	}
	switch {
	case err != nil && sent.n == 0:
		w.Header().Del("Content-Type")
		w.Header().Del("Content-Disposition")
		a.say(true, errText(err))
		http.Redirect(w, r, filesURL(info.ID, p), http.StatusSeeOther)
	case err != nil:
		a.log.Warn("download failed", "path", p, "err", err)
		panic(http.ErrAbortHandler) // no clean end: the archive is not whole
	default:
		if zw == nil { // an empty folder: an archive holding nothing
			start()
		}
		zw.Close()
	}
}

// zipChunk is how many files a ZIP of a folder reads at a time: what it holds in memory
// besides the archive's index, whatever the tree's size.
var zipChunk = 1024

// nopWriteCloser is a writer whose Close does nothing: a file's entry in an archive ends
// with the next entry.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// downloadAt sends a file as it was at a time. An error before the first byte is a plain
// page saying why; after it, the download ends broken and the browser says so.
func (a *App) downloadAt(w http.ResponseWriter, r *http.Request, ws *client.Workspace, p string, at parsec.DateTime, err error) {
	cw := &countingWriter{w: w}
	if err == nil {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
		err = ws.ReadFileAt(r.Context(), p, at, cw)
	}
	switch {
	case err != nil && cw.n == 0:
		w.Header().Del("Content-Disposition")
		http.Error(w, errText(err), http.StatusNotFound)
	case err != nil:
		a.log.Warn("download failed", "path", p, "err", err)
		panic(http.ErrAbortHandler) // cut short, not ended as if whole
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// zipPath is the name in a ZIP archive of an entry at path rel (names joined by "/"). A
// name may hold backslashes, which the ZIP format does not allow (its separator is "/") and
// which extractors on Windows take for separators, climbing out of the folder extracted
// into with a name like `..\x`: they become underscores.
func zipPath(rel string) string { return strings.ReplaceAll(rel, `\`, "_") }
