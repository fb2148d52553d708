package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The file commands: ls, cat, history (read), mkdir, cp, mv, rm, restore (write). A
// workspace path is written WORKSPACE:/path, WORKSPACE being a workspace's name or a prefix
// of its ID; for cp, anything else is a local path (write ./a:b for a local path with a
// colon). Read commands first receive the workspace's changes; write commands receive them,
// make the change (saved on this device first), then send it, unless --no-sync.

func (a *app) fileCmds() []*cobra.Command {
	return []*cobra.Command{a.lsCmd(), a.catCmd(), a.mkdirCmd(), a.cpCmd(), a.mvCmd(), a.rmCmd(), a.historyCmd(), a.restoreCmd()}
}

// A location is where a file command reads or writes: a path in a workspace, or a local
// path.
type location struct {
	ws   string // the workspace's name or ID prefix; "" for a local path
	path string // the cleaned workspace path ("/", "/a/b"), or the local path as given
	dir  bool   // written with a trailing slash: a folder
}

// parseLocation reads WORKSPACE:/path (WORKSPACE: alone is the root folder); anything
// else, including a path with a slash before its first colon (./a:b), is local.
func parseLocation(s string) location {
	if i := strings.IndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], "/") {
		p := s[i+1:]
		return location{ws: s[:i], path: path.Clean("/" + p), dir: strings.HasSuffix(p, "/")}
	}
	return location{path: s, dir: strings.HasSuffix(s, "/")}
}

// wsPath is the workspace path as the client takes it: with a trailing "/" when it was
// written as a folder.
func (l location) wsPath() string {
	if l.dir && l.path != "/" {
		return l.path + "/"
	}
	return l.path
}

func (l location) String() string {
	if l.ws == "" {
		return l.path
	}
	return l.ws + ":" + l.path
}

// wsLocation parses an argument that must be a workspace path.
func wsLocation(cmd *cobra.Command, arg string) (location, error) {
	l := parseLocation(arg)
	if l.ws == "" {
		return l, usageError{fmt.Errorf("%s expects a workspace path WORKSPACE:/path, not %q", cmd.CommandPath(), arg)}
	}
	return l, nil
}

// openWorkspace finds a workspace by name or ID prefix and opens it.
func openWorkspace(ctx context.Context, c *client.Client, ref string) (client.WorkspaceInfo, *client.Workspace, error) {
	info, err := c.FindWorkspace(ctx, ref)
	if err != nil {
		return info, nil, err
	}
	ws, err := c.Workspace(ctx, info.ID)
	return info, ws, err
}

// onWorkspace opens the selected device and the workspace ref names (a name or an ID
// prefix), and runs f with them.
func (a *app) onWorkspace(cmd *cobra.Command, df *deviceFlags, ref string, f func(ctx context.Context, c *client.Client, info client.WorkspaceInfo, ws *client.Workspace) error) error {
	c, err := a.openPolled(cmd, df)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	info, ws, err := openWorkspace(ctx, c, ref)
	if err != nil {
		return err
	}
	return f(ctx, c, info, ws)
}

// changePath runs a write command on one workspace path, the argument arg: f makes the
// change at path p, as one change of the workspace (client.Workspace.Change).
func (a *app) changePath(cmd *cobra.Command, df *deviceFlags, arg string, noSync bool, f func(ctx context.Context, ws *client.Workspace, p string) error) error {
	loc, err := wsLocation(cmd, arg)
	if err != nil {
		return err
	}
	return a.onWorkspace(cmd, df, loc.ws, func(ctx context.Context, c *client.Client, info client.WorkspaceInfo, ws *client.Workspace) error {
		return a.changed(noSync, ws.Change(ctx, noSync, func() error { return f(ctx, ws, loc.path) }))
	})
}

// changed reports how a change went: with noSync, that it stays on this device.
func (a *app) changed(noSync bool, err error) error {
	if err == nil && noSync {
		a.say("Saved on this device only: the next sync or write sends it.")
	}
	return err
}

// parseAt reads a --at time: RFC 3339 (as history prints it), or local time written
// "YYYY-MM-DD HH:MM:SS", both with optional fractional seconds.
func parseAt(s string) (parsec.DateTime, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return parsec.FromTime(t), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return parsec.FromTime(t), nil
		}
	}
	return 0, parsec.Errorf(parsec.Invalid, `invalid --at %q: want RFC 3339 (2026-01-02T15:04:05.123456Z, as "parsec history" prints it) or local time ("2026-01-02 15:04:05")`, s)
}

// parseOptionalAt is parseAt for an optional --at: 0 (now) when it is not given.
func parseOptionalAt(s string) (parsec.DateTime, error) {
	if s == "" {
		return 0, nil
	}
	return parseAt(s)
}

const atHelp = `the time to look back to: RFC 3339 (2026-01-02T15:04:05.123456Z, as "parsec history" prints it) or local time ("2026-01-02 15:04:05")`

// entryJSON is a file or folder as `ls --json` prints it.
type entryJSON struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Type     string `json:"type"`
	Size     uint64 `json:"size"`
	Created  string `json:"created"`
	Updated  string `json:"updated"`
	Version  uint64 `json:"version"`
	NeedSync bool   `json:"need_sync"`
}

func kindOf(e client.Entry) string {
	if e.IsFolder {
		return "folder"
	}
	return "file"
}

// wsLocationAt reads a workspace path argument and an optional --at time (0: now), in
// that order, as ls and cat take them.
func wsLocationAt(cmd *cobra.Command, arg, at string) (location, parsec.DateTime, error) {
	loc, err := wsLocation(cmd, arg)
	if err != nil {
		return location{}, 0, err
	}
	t, err := parseOptionalAt(at)
	return loc, t, err
}

func (a *app) lsCmd() *cobra.Command {
	var df deviceFlags
	var at string
	var long bool
	cmd := &cobra.Command{
		Use:   "ls WORKSPACE:/PATH [--at TIME] [--long] -d DEVICE",
		Short: "List a folder of a workspace, now or as it was",
		Long: `List a folder of a workspace (WORKSPACE:/path; WORKSPACE: alone is its root), one name per line,
folders with a trailing "/". The workspace's changes are received first.

--long prints, tab-separated: file or folder, size in bytes ("-" for a folder), time of the last
change, version (v0: never sent; a "*" after it: changes saved on this device and not sent
yet), and the name. --at lists the folder as it was at that time, from the history the server
keeps.`,
		Args: exactArgs(1, "a workspace path WORKSPACE:/path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, t, err := wsLocationAt(cmd, args[0], at)
			if err != nil {
				return err
			}
			return a.onWorkspace(cmd, &df, loc.ws, func(ctx context.Context, c *client.Client, _ client.WorkspaceInfo, ws *client.Workspace) error {
				entries, err := ws.ListAt(ctx, loc.path, t)
				if err != nil {
					return err
				}
				switch {
				case a.json:
					out := []entryJSON{}
					for _, e := range entries {
						out = append(out, entryJSON{Name: e.Name, Path: e.Path, Type: kindOf(e), Size: e.Size, Created: e.Created.String(),
							Updated: e.Updated.String(), Version: e.Version, NeedSync: e.NeedSync})
					}
					return a.printJSON(out)
				case long:
					for _, e := range entries {
						size, name, pending := fmt.Sprint(e.Size), e.Name, ""
						if e.IsFolder {
							size, name = "-", name+"/"
						}
						if e.NeedSync {
							pending = "*"
						}
						a.out("%s\t%s\t%s\tv%d%s\t%s", kindOf(e), size, e.Updated, e.Version, pending, name)
					}
				default:
					for _, e := range entries {
						if e.IsFolder {
							a.out("%s/", e.Name)
						} else {
							a.out("%s", e.Name)
						}
					}
				}
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringVar(&at, "at", "", atHelp)
	cmd.Flags().BoolVarP(&long, "long", "l", false, "print type, size, time of the last change and version")
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

func (a *app) catCmd() *cobra.Command {
	var df deviceFlags
	var at string
	cmd := &cobra.Command{
		Use:   "cat WORKSPACE:/FILE [--at TIME] -d DEVICE",
		Short: "Print a file of a workspace, now or as it was",
		Long: `Print a file of a workspace on stdout. Every block is checked against the digest in the file's
signed manifest: content the server altered is refused. --at prints the file as it was at
that time.`,
		Args: exactArgs(1, "a workspace path WORKSPACE:/file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, t, err := wsLocationAt(cmd, args[0], at)
			if err != nil {
				return err
			}
			return a.onWorkspace(cmd, &df, loc.ws, func(ctx context.Context, c *client.Client, _ client.WorkspaceInfo, ws *client.Workspace) error {
				out := bufio.NewWriterSize(a.stdout, 256<<10)
				err := ws.ReadFileAt(ctx, loc.path, t, out)
				if ferr := out.Flush(); err == nil {
					err = ferr
				}
				return err
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringVar(&at, "at", "", atHelp)
	return cmd
}

func addNoSync(cmd *cobra.Command, noSync *bool) {
	cmd.Flags().BoolVar(noSync, "no-sync", false, "keep the change on this device (file contents are still uploaded): the next sync or write sends it")
}

func (a *app) mkdirCmd() *cobra.Command {
	var df deviceFlags
	var parents, noSync bool
	cmd := &cobra.Command{
		Use:   "mkdir [-p] WORKSPACE:/PATH -d DEVICE",
		Short: "Create a folder in a workspace",
		Long:  `Create a folder in a workspace. With -p, create the missing folders above it too, and an existing folder is not an error.`,
		Args:  exactArgs(1, "a workspace path WORKSPACE:/path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.changePath(cmd, &df, args[0], noSync, func(ctx context.Context, ws *client.Workspace, p string) error {
				return ws.Mkdir(ctx, p, parents)
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "create the missing folders above too; no error if the folder exists")
	addNoSync(cmd, &noSync)
	return cmd
}

func (a *app) mvCmd() *cobra.Command {
	var df deviceFlags
	var noSync bool
	cmd := &cobra.Command{
		Use:   "mv WORKSPACE:/FROM WORKSPACE:/TO -d DEVICE",
		Short: "Move or rename a file or folder within a workspace",
		Long: `Move or rename a file or folder within a workspace. When TO is an existing folder (or ends
with "/"), the entry moves into it under its name; otherwise TO must not exist. Between two
workspaces, use cp then rm.`,
		Args: exactArgs(2, "two workspace paths"),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := wsLocation(cmd, args[0])
			if err != nil {
				return err
			}
			to, err := wsLocation(cmd, args[1])
			if err != nil {
				return err
			}
			return a.onWorkspace(cmd, &df, from.ws, func(ctx context.Context, c *client.Client, info client.WorkspaceInfo, ws *client.Workspace) error {
				if to.ws != from.ws {
					other, err := c.FindWorkspace(ctx, to.ws)
					if err != nil {
						return err
					}
					if other.ID != info.ID {
						return parsec.Errorf(parsec.Invalid, "mv works within one workspace: to move %s to another workspace, use cp then rm", from)
					}
				}
				_, err := ws.Move(ctx, from.path, to.wsPath(), noSync)
				return a.changed(noSync, err)
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	addNoSync(cmd, &noSync)
	return cmd
}

func (a *app) rmCmd() *cobra.Command {
	var df deviceFlags
	var recursive, noSync bool
	cmd := &cobra.Command{
		Use:   "rm [-r] WORKSPACE:/PATH -d DEVICE",
		Short: "Remove a file or folder from a workspace (its history stays)",
		Long: `Remove a file, an empty folder, or with -r a folder and everything in it. Nothing is erased:
"parsec ls --at" and "parsec cat --at" still show what was removed.`,
		Args: exactArgs(1, "a workspace path WORKSPACE:/path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.changePath(cmd, &df, args[0], noSync, func(ctx context.Context, ws *client.Workspace, p string) error {
				return ws.Remove(ctx, p, recursive)
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "remove a folder and everything in it")
	addNoSync(cmd, &noSync)
	return cmd
}

// versionJSON is a version as `history --json` prints it.
type versionJSON struct {
	Version      uint64 `json:"version"`
	Timestamp    string `json:"timestamp"`
	Type         string `json:"type"`
	Size         uint64 `json:"size"`
	AuthorDevice string `json:"author_device"`
	Author       string `json:"author"`
}

func (a *app) historyCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "history WORKSPACE:/PATH -d DEVICE",
		Short: "List every version of a file or folder, with author and time",
		Long: `List every version of a file or folder, oldest first, tab-separated: version, time, size in
bytes ("folder" for a folder), and author (user and device). Each version is checked like any
data read from the server. Give a version's time to --at of ls, cat or restore to see or get
it back.`,
		Args: exactArgs(1, "a workspace path WORKSPACE:/path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := wsLocation(cmd, args[0])
			if err != nil {
				return err
			}
			return a.onWorkspace(cmd, &df, loc.ws, func(ctx context.Context, c *client.Client, _ client.WorkspaceInfo, ws *client.Workspace) error {
				versions, err := ws.History(ctx, loc.path)
				if err != nil {
					return err
				}
				author := c.Authors()
				if a.json {
					out := []versionJSON{}
					for _, v := range versions {
						j := versionJSON{Version: v.Version, Timestamp: v.Timestamp.String(), Type: "file", Size: v.Size, AuthorDevice: v.Author.String(), Author: author(v.Author)}
						if v.IsFolder {
							j.Type = "folder"
						}
						out = append(out, j)
					}
					return a.printJSON(out)
				}
				a.say("%d version(s) of %s:", len(versions), loc)
				for _, v := range versions {
					size := fmt.Sprint(v.Size)
					if v.IsFolder {
						size = "folder"
					}
					a.out("v%d\t%s\t%s\t%s", v.Version, v.Timestamp, size, author(v.Author))
				}
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

func (a *app) restoreCmd() *cobra.Command {
	var df deviceFlags
	var at string
	var noSync bool
	cmd := &cobra.Command{
		Use:   "restore WORKSPACE:/PATH --at TIME -d DEVICE",
		Short: "Bring back a file or folder as it was at a time (as new versions)",
		Long: `Make the content a file had at a time its current content. This is a new version: the
versions in between stay in the history. A file removed since is created again at its path.

A folder is restored with everything it held then: each of its files gets its content of
then, files and folders removed since come back, and what was added since is kept. It is
saved on this device 32,768 files at a time: a restore stopped midway keeps what it
restored; run it again to finish.`,
		Args: exactArgs(1, "a workspace path WORKSPACE:/PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := wsLocation(cmd, args[0])
			if err != nil {
				return err
			}
			if at == "" {
				return usageError{fmt.Errorf("--at is required: the time to restore from (see parsec history)")}
			}
			t, err := parseAt(at)
			if err != nil {
				return err
			}
			return a.onWorkspace(cmd, &df, loc.ws, func(ctx context.Context, c *client.Client, info client.WorkspaceInfo, ws *client.Workspace) error {
				err := ws.Change(ctx, noSync, func() error { return ws.Restore(ctx, loc.path, t) })
				if err := a.changed(noSync, err); err != nil {
					return err
				}
				a.say("%s restored as it was at %s.", loc, t)
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringVar(&at, "at", "", atHelp)
	addNoSync(cmd, &noSync)
	return cmd
}

func (a *app) cpCmd() *cobra.Command {
	var df deviceFlags
	var o client.CopyOptions
	cmd := &cobra.Command{
		Use:   "cp [-r] SRC DST -d DEVICE",
		Short: "Copy files and folders into, out of, within and between workspaces",
		Long: `Copy a file, or with -r a folder tree: from this computer into a workspace, from a workspace
to this computer, within a workspace (nothing is uploaded: contents are shared), or from one
workspace to another. Workspace paths are written WORKSPACE:/path; anything else is a local
path (write ./a:b for a local file whose name has a colon).

When DST is an existing folder (or ends with "/"), SRC is copied into it under its name;
otherwise DST is the copy's name. Existing files are replaced (in a workspace, as a new
version), except by a copy within one workspace, which must not replace anything. A folder
tree travels in one batch: contents are encrypted and uploaded in parallel, and the new
files are sent as they go, 2,000 at a time while the next ones upload, the rest (folders,
replaced files) at the end (with --no-sync, or when the server stops taking them, they are
saved on this device instead). A copy stopped midway keeps what it sent or saved: run it
again to finish; a copy within one workspace is taken back instead. A file copied to this
computer goes to its disk as it is written, without a name (a new file, on Linux) or
beside its name, and only its last 40 MiB stay in memory; it takes its name once complete,
so that a copy that fails leaves no partial file, and the file it was to replace as it
was. The files of a tree are written on every processor at once. A progress bar is shown
when stderr is a terminal.`,
		Args: exactArgs(2, "SRC and DST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := parseLocation(args[0]), parseLocation(args[1])
			if src.ws == "" && dst.ws == "" {
				return usageError{fmt.Errorf("neither %q nor %q is a workspace path WORKSPACE:/path: to copy local files, use your system's cp", args[0], args[1])}
			}
			c, err := a.openPolled(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			switch {
			case src.ws == "":
				return a.upload(ctx, c, src.path, dst, o)
			case dst.ws == "":
				return a.download(ctx, c, src, dst, o)
			}
			return a.copyBetween(ctx, c, src, dst, o)
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVarP(&o.Recursive, "recursive", "r", false, "copy folders and everything in them")
	addNoSync(cmd, &o.NoSync)
	return cmd
}

// findForCopy opens a workspace named in a cp argument; an unknown one reminds how local
// paths with a colon are written.
func findForCopy(ctx context.Context, c *client.Client, l location) (client.WorkspaceInfo, *client.Workspace, error) {
	info, ws, err := openWorkspace(ctx, c, l.ws)
	if parsec.KindOf(err) == parsec.NotFound && info.ID.IsZero() {
		return info, nil, parsec.Errorf(parsec.NotFound, "%v (a local path with a colon is written ./%s)", err, l.ws+":"+strings.TrimPrefix(l.path, "/"))
	}
	return info, ws, err
}

// upload copies a local file or tree into a workspace, every file in one batch.
func (a *app) upload(ctx context.Context, c *client.Client, local string, dst location, o client.CopyOptions) error {
	_, ws, err := findForCopy(ctx, c, dst)
	if err != nil {
		return err
	}
	bar := a.progressBar("Uploading", &o)
	res, err := ws.Upload(ctx, local, dst.wsPath(), o)
	bar.finish()
	return a.copied(o, res, dst.ws, err)
}

// download copies a file or tree of a workspace to this computer, every file in one batch.
func (a *app) download(ctx context.Context, c *client.Client, src, dst location, o client.CopyOptions) error {
	_, ws, err := findForCopy(ctx, c, src)
	if err != nil {
		return err
	}
	bar := a.progressBar("Downloading", &o)
	res, err := ws.Download(ctx, src.path, dst.path, o)
	bar.finish()
	return a.copied(o, res, "", err)
}

// copyBetween copies within a workspace or from one workspace to another.
func (a *app) copyBetween(ctx context.Context, c *client.Client, src, dst location, o client.CopyOptions) error {
	srcInfo, srcWS, err := findForCopy(ctx, c, src)
	if err != nil {
		return err
	}
	dstInfo, dstWS, err := findForCopy(ctx, c, dst)
	if err != nil {
		return err
	}
	if srcInfo.ID == dstInfo.ID {
		res, err := srcWS.Copy(ctx, src.path, dstWS, dst.wsPath(), o)
		if err := a.changed(o.NoSync, err); err != nil {
			return err
		}
		a.say("Copied %s to %s.", src, location{ws: dst.ws, path: res.Path})
		return nil
	}
	bar := a.progressBar("Copying", &o)
	res, err := srcWS.Copy(ctx, src.path, dstWS, dst.wsPath(), o)
	bar.finish()
	return a.copied(o, res, dst.ws, err)
}

// copied reports a copy's outcome; ws names the destination workspace ("" for a local one).
func (a *app) copied(o client.CopyOptions, res client.CopyResult, ws string, err error) error {
	if err := a.changed(o.NoSync && ws != "", err); err != nil {
		return err
	}
	to := res.Path
	if ws != "" {
		to = location{ws: ws, path: res.Path}.String()
	}
	a.say("Copied %d file(s), %s, to %s.", res.Files, parsec.FormatSize(res.Bytes), to)
	return nil
}

// A progressBar draws a transfer's progress on stderr, when stderr is a terminal; it is nil
// otherwise, and then does nothing. Its update may be called from several goroutines.
type progressBar struct {
	w     io.Writer
	label string
	start time.Time

	mu          sync.Mutex
	done, total int64
	drawn       time.Time
}

// progressBar makes a bar that the copy o configures reports to.
func (a *app) progressBar(label string, o *client.CopyOptions) *progressBar {
	if !a.stderrIsTerminal() {
		return nil
	}
	p := &progressBar{w: a.stderr, label: label, start: time.Now()}
	o.Progress = p.update
	return p
}

func (p *progressBar) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = max(p.done, done), total
	if now := time.Now(); now.Sub(p.drawn) >= 100*time.Millisecond {
		p.drawn = now
		p.draw()
	}
}

func (p *progressBar) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(1, float64(p.done)/float64(p.total))
	}
	filled := int(frac * width)
	rate := int64(float64(p.done) / max(time.Since(p.start).Seconds(), 0.001))
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%%  %s / %s  %s/s\x1b[K", p.label,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), int(frac*100), parsec.FormatSize(p.done), parsec.FormatSize(p.total), parsec.FormatSize(rate))
}

// finish draws the last state and ends the line, if anything was drawn.
func (p *progressBar) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn.IsZero() {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
}
