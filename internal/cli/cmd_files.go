package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
// change at path p (see change).
func (a *app) changePath(cmd *cobra.Command, df *deviceFlags, arg string, noSync bool, f func(ctx context.Context, ws *client.Workspace, p string) error) error {
	loc, err := wsLocation(cmd, arg)
	if err != nil {
		return err
	}
	return a.onWorkspace(cmd, df, loc.ws, func(ctx context.Context, c *client.Client, info client.WorkspaceInfo, ws *client.Workspace) error {
		return a.change(ctx, c, info, ws, noSync, func() error { return f(ctx, ws, loc.path) })
	})
}

// checkWritable refuses a change the workspace does not allow, before any work.
func checkWritable(w client.WorkspaceInfo) error {
	if !w.Role.CanWrite() {
		return parsec.Errorf(parsec.Permission, "you are a %s of workspace %s: you cannot change it", w.Role.Label(), wsName(w))
	}
	if w.ReadOnly() {
		return parsec.Errorf(parsec.Permission, "workspace %s is archived: it is read-only (an owner can unarchive it)", wsName(w))
	}
	return nil
}

// change runs a write command: receive the workspace's changes, apply f (which saves its
// change on this device), send. With noSync, f only: the change stays on this device until
// the next sync or write.
func (a *app) change(ctx context.Context, c *client.Client, w client.WorkspaceInfo, ws *client.Workspace, noSync bool, f func() error) error {
	if err := checkWritable(w); err != nil {
		return err
	}
	if !noSync {
		// An owner's device first does what it owes: a new key after someone left, so
		// that what is written now is not readable by them.
		if err := c.MaintainWorkspaces(ctx); err != nil {
			a.say("warning: workspace maintenance failed (the next sync retries): %v", err)
		}
		if err := ws.Pull(ctx); err != nil {
			return err
		}
	}
	if err := f(); err != nil {
		return err
	}
	if noSync {
		a.say("Saved on this device only: the next sync or write sends it.")
		return nil
	}
	if err := ws.Push(ctx); err != nil {
		return parsec.Errorf(parsec.KindOf(err), "saved on this device but not sent: %v (the next sync or write sends it)", err)
	}
	return nil
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
				var entries []client.Entry
				var err error
				if t != 0 {
					entries, err = ws.At(t).List(ctx, loc.path)
				} else if err = ws.Pull(ctx); err == nil {
					entries, err = ws.List(loc.path)
				}
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
				var err error
				if t != 0 {
					err = ws.At(t).ReadFile(ctx, loc.path, out)
				} else if err = ws.Pull(ctx); err == nil {
					err = ws.ReadFile(ctx, loc.path, out)
				}
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
				return a.change(ctx, c, info, ws, noSync, func() error {
					dst := to.path
					if into, err := isFolder(ws, dst, to.dir); err != nil {
						return err
					} else if into {
						dst = path.Join(dst, path.Base(from.path))
					}
					return ws.Rename(ctx, from.path, dst)
				})
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	addNoSync(cmd, &noSync)
	return cmd
}

// isFolder reports whether a workspace path is an existing folder, false when nothing is
// there. With mustBe (the path was written with a trailing slash), it must be a folder.
func isFolder(ws *client.Workspace, p string, mustBe bool) (bool, error) {
	e, err := ws.Stat(p)
	switch {
	case err == nil && e.IsFolder:
		return true, nil
	case err == nil && mustBe:
		return false, parsec.Errorf(parsec.Invalid, "%s is a file, not a folder", p)
	case err == nil:
		return false, nil
	case parsec.KindOf(err) == parsec.NotFound && !mustBe:
		return false, nil
	}
	return false, err
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
				if err := ws.Pull(ctx); err != nil {
					return err
				}
				versions, err := ws.History(ctx, loc.path)
				if err != nil {
					return err
				}
				authors := map[parsec.DeviceID]string{}
				for _, u := range c.Users() {
					for _, d := range u.Devices {
						authors[d.ID] = u.Handle.String() + " @ " + d.Label
					}
				}
				author := func(d parsec.DeviceID) string {
					if s, ok := authors[d]; ok {
						return s
					}
					return "device " + d.String()
				}
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
		Use:   "restore WORKSPACE:/FILE --at TIME -d DEVICE",
		Short: "Bring back a file's content as it was at a time (as a new version)",
		Long: `Make the content a file had at a time its current content. This is a new version: the
versions in between stay in the history. A file removed since is created again at its path.`,
		Args: exactArgs(1, "a workspace path WORKSPACE:/file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := wsLocation(cmd, args[0])
			if err != nil {
				return err
			}
			if at == "" {
				return usageError{fmt.Errorf("--at is required: the time to restore the file from (see parsec history)")}
			}
			t, err := parseAt(at)
			if err != nil {
				return err
			}
			return a.onWorkspace(cmd, &df, loc.ws, func(ctx context.Context, c *client.Client, info client.WorkspaceInfo, ws *client.Workspace) error {
				if err := a.change(ctx, c, info, ws, noSync, func() error { return ws.Restore(ctx, loc.path, t) }); err != nil {
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
	var recursive, noSync bool
	cmd := &cobra.Command{
		Use:   "cp [-r] SRC DST -d DEVICE",
		Short: "Copy files and folders into, out of, within and between workspaces",
		Long: `Copy a file, or with -r a folder tree: from this computer into a workspace, from a workspace
to this computer, within a workspace (nothing is uploaded: contents are shared), or from one
workspace to another. Workspace paths are written WORKSPACE:/path; anything else is a local
path (write ./a:b for a local file whose name has a colon).

When DST is an existing folder (or ends with "/"), SRC is copied into it under its name;
otherwise DST is the copy's name. Existing files are replaced (in a workspace, as a new
version), except by a copy within one workspace, which must not replace anything. A folder tree travels in one batch: contents are encrypted and uploaded in parallel,
then every file appears at once. A progress bar is shown when stderr is a terminal.`,
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
				return a.upload(ctx, c, src.path, dst, recursive, noSync)
			case dst.ws == "":
				return a.download(ctx, c, src, dst, recursive)
			}
			return a.copyBetween(ctx, c, src, dst, recursive, noSync)
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "copy folders and everything in them")
	addNoSync(cmd, &noSync)
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

// emptyFolders returns the folders of a tree (paths relative to its top, "." for the top
// itself) in which nothing is copied: they must be created on their own.
func emptyFolders(folders, files []string) []string {
	used := map[string]bool{}
	for _, p := range append(files, folders...) {
		if p != "." {
			used[path.Dir(p)] = true
		}
	}
	var out []string
	for _, f := range folders {
		if !used[f] {
			out = append(out, f)
		}
	}
	return out
}

// destination returns where a copy of an entry named name goes: into dst when it is an
// existing folder or ends with "/", else dst itself. A folder cannot replace a file.
func destination(ws *client.Workspace, dst location, name string, srcIsFolder bool) (string, error) {
	e, err := ws.Stat(dst.path)
	switch {
	case err == nil && e.IsFolder:
		return path.Join(dst.path, name), nil
	case err == nil && srcIsFolder:
		return "", parsec.Errorf(parsec.Exists, "%s exists and is a file", dst)
	case err == nil && dst.dir:
		return "", parsec.Errorf(parsec.Invalid, "%s is a file, not a folder", dst)
	case err == nil:
		return dst.path, nil
	case parsec.KindOf(err) != parsec.NotFound:
		return "", err
	case dst.dir:
		return path.Join(dst.path, name), nil
	}
	return dst.path, nil
}

// upload copies a local file or tree into a workspace, every file in one batch.
func (a *app) upload(ctx context.Context, c *client.Client, local string, dst location, recursive, noSync bool) error {
	fi, err := os.Stat(local)
	if err != nil {
		if os.IsNotExist(err) {
			return parsec.Errorf(parsec.NotFound, "%s: no such file or folder", local)
		}
		return err
	}
	if fi.IsDir() && !recursive {
		return parsec.Errorf(parsec.Invalid, "%s is a folder: use -r to copy it and everything in it", local)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return parsec.Errorf(parsec.Invalid, "%s is not a regular file", local)
	}
	abs, err := filepath.Abs(local)
	if err != nil {
		return err
	}
	name := filepath.Base(abs)

	// The local tree: files (relative path → local path), folders with nothing to copy.
	var files, folders, localPaths []string
	var total int64
	if !fi.IsDir() {
		files, localPaths, total = []string{"."}, []string{local}, fi.Size()
	} else {
		root := strings.TrimSuffix(local, string(filepath.Separator)) + string(filepath.Separator) // follows a symbolic link to a folder
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			switch {
			case d.IsDir():
				folders = append(folders, rel)
			case d.Type().IsRegular():
				info, err := d.Info()
				if err != nil {
					return err
				}
				files, localPaths = append(files, rel), append(localPaths, p)
				total += info.Size()
			default:
				a.say("warning: skipping %s: not a regular file or folder", p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	info, ws, err := findForCopy(ctx, c, dst)
	if err != nil {
		return err
	}
	var target string
	err = a.change(ctx, c, info, ws, noSync, func() error {
		if target, err = destination(ws, dst, name, fi.IsDir()); err != nil {
			return err
		}
		sources := make([]client.FileSource, len(files))
		for i, rel := range files {
			p := localPaths[i]
			sources[i] = client.FileSource{Path: path.Join(target, rel), Open: func() (io.ReadCloser, error) { return os.Open(p) }}
		}
		if len(sources) > 0 {
			bar := a.progressBar("Uploading", total)
			err := ws.WriteFiles(ctx, sources, bar.callback())
			bar.finish()
			if err != nil {
				return err
			}
		}
		for _, f := range emptyFolders(folders, files) {
			if err := ws.Mkdir(ctx, path.Join(target, f), true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.say("Copied %d file(s), %s, to %s.", len(files), humanBytes(total), location{ws: dst.ws, path: target})
	return nil
}

// tree is a workspace folder tree to copy: paths relative to its top ("." for a single
// file or the top folder).
type tree struct {
	top     client.Entry
	name    string   // the top's name
	files   []string // relative paths
	paths   []string // the files' workspace paths
	folders []string
	total   int64
}

// walkTree lists what a workspace path holds, for a copy.
func walkTree(info client.WorkspaceInfo, ws *client.Workspace, src location, recursive bool) (tree, error) {
	top, err := ws.Stat(src.path)
	if err != nil {
		return tree{}, err
	}
	t := tree{top: top, name: top.Name}
	if src.path == "/" {
		t.name = info.Name
	}
	if !top.IsFolder {
		t.files, t.paths, t.total = []string{"."}, []string{top.Path}, int64(top.Size)
		return t, nil
	}
	if !recursive {
		return t, parsec.Errorf(parsec.Invalid, "%s is a folder: use -r to copy it and everything in it", src)
	}
	entries, err := ws.Walk(src.path)
	if err != nil {
		return t, err
	}
	t.folders = []string{"."}
	for _, e := range entries {
		rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, top.Path), "/")
		if e.IsFolder {
			t.folders = append(t.folders, rel)
		} else {
			t.files, t.paths = append(t.files, rel), append(t.paths, e.Path)
			t.total += int64(e.Size)
		}
	}
	return t, nil
}

// download copies a file or tree of a workspace to this computer, every file in one batch.
func (a *app) download(ctx context.Context, c *client.Client, src, dst location, recursive bool) error {
	info, ws, err := findForCopy(ctx, c, src)
	if err != nil {
		return err
	}
	if err := ws.Pull(ctx); err != nil {
		return err
	}
	t, err := walkTree(info, ws, src, recursive)
	if err != nil {
		return err
	}
	target := dst.path
	fi, err := os.Stat(target)
	switch {
	case err == nil && fi.IsDir():
		target = filepath.Join(target, t.name)
	case err == nil && t.top.IsFolder:
		return parsec.Errorf(parsec.Exists, "%s exists and is not a folder", dst.path)
	case err != nil && !os.IsNotExist(err):
		return err
	case err != nil && dst.dir:
		return parsec.Errorf(parsec.NotFound, "%s: no such folder", dst.path)
	}
	for _, f := range t.folders {
		if err := os.MkdirAll(filepath.Join(target, filepath.FromSlash(f)), 0o755); err != nil {
			return err
		}
	}
	targets := make([]client.FileTarget, len(t.files))
	for i, rel := range t.files {
		p := filepath.Join(target, filepath.FromSlash(rel))
		targets[i] = client.FileTarget{Path: t.paths[i], Create: func() (io.WriteCloser, error) { return os.Create(p) }}
	}
	bar := a.progressBar("Downloading", t.total)
	err = ws.ReadFiles(ctx, targets, bar.callback())
	bar.finish()
	if err != nil {
		return err
	}
	a.say("Copied %d file(s), %s, to %s.", len(t.files), humanBytes(t.total), target)
	return nil
}

// copyBetween copies within a workspace (contents shared, nothing uploaded), or from one
// workspace to another (streamed: read, decrypted and re-encrypted on the way).
func (a *app) copyBetween(ctx context.Context, c *client.Client, src, dst location, recursive, noSync bool) error {
	srcInfo, srcWS, err := findForCopy(ctx, c, src)
	if err != nil {
		return err
	}
	dstInfo, dstWS, err := findForCopy(ctx, c, dst)
	if err != nil {
		return err
	}
	if srcInfo.ID == dstInfo.ID {
		var target string
		err := a.change(ctx, c, dstInfo, dstWS, noSync, func() error {
			t, err := walkTree(srcInfo, srcWS, src, recursive)
			if err != nil {
				return err
			}
			if target, err = destination(dstWS, dst, t.name, t.top.IsFolder); err != nil {
				return err
			}
			return dstWS.CopyWithin(ctx, src.path, target)
		})
		if err != nil {
			return err
		}
		a.say("Copied %s to %s.", src, location{ws: dst.ws, path: target})
		return nil
	}

	if err := srcWS.Pull(ctx); err != nil {
		return err
	}
	t, err := walkTree(srcInfo, srcWS, src, recursive)
	if err != nil {
		return err
	}
	var target string
	err = a.change(ctx, c, dstInfo, dstWS, noSync, func() error {
		if target, err = destination(dstWS, dst, t.name, t.top.IsFolder); err != nil {
			return err
		}
		dsts := make([]string, len(t.files))
		for i, rel := range t.files {
			dsts[i] = path.Join(target, rel)
		}
		if len(dsts) > 0 {
			st := newStream(ctx, srcWS, t.paths, dsts)
			bar := a.progressBar("Copying", t.total)
			err := dstWS.WriteFiles(ctx, st.sources, bar.callback())
			bar.finish()
			st.close()
			if err != nil {
				return err
			}
		}
		for _, f := range emptyFolders(t.folders, t.files) {
			if err := dstWS.Mkdir(ctx, path.Join(target, f), true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.say("Copied %d file(s), %s, to %s.", len(t.files), humanBytes(t.total), location{ws: dst.ws, path: target})
	return nil
}

// A stream pipes files of one workspace into WriteFiles of another: the files are read in
// one batch (one ReadFiles, started at the first Open), in the order WriteFiles opens them,
// each through its own pipe. When WriteFiles opens files again (it starts over when the
// workspace's key changed meanwhile), each file is read on its own from then on.
type stream struct {
	sources []client.FileSource

	ctx     context.Context
	src     *client.Workspace
	from    []string
	readers []*io.PipeReader
	writers []*io.PipeWriter
	start   sync.Once
	workers sync.WaitGroup

	mu      sync.Mutex
	opened  []bool
	retried bool
}

func newStream(ctx context.Context, src *client.Workspace, from, to []string) *stream {
	s := &stream{ctx: ctx, src: src, from: from, opened: make([]bool, len(from))}
	for i := range from {
		r, w := io.Pipe()
		s.readers, s.writers = append(s.readers, r), append(s.writers, w)
		s.sources = append(s.sources, client.FileSource{Path: to[i], Open: func() (io.ReadCloser, error) { return s.open(i), nil }})
	}
	return s
}

func (s *stream) open(i int) io.ReadCloser {
	s.mu.Lock()
	if s.opened[i] {
		s.retried = true
	}
	s.opened[i] = true
	retried := s.retried
	s.mu.Unlock()
	if retried {
		r, w := io.Pipe()
		s.workers.Go(func() { w.CloseWithError(s.src.ReadFile(s.ctx, s.from[i], w)) })
		return r
	}
	s.start.Do(func() { s.workers.Go(s.readAll) })
	return s.readers[i]
}

// readAll reads every file, in order, into its pipe.
func (s *stream) readAll() {
	targets := make([]client.FileTarget, len(s.from))
	for i, w := range s.writers {
		targets[i] = client.FileTarget{Path: s.from[i], Create: func() (io.WriteCloser, error) { return w, nil }}
	}
	err := s.src.ReadFiles(s.ctx, targets, nil)
	if err == nil {
		err = io.ErrUnexpectedEOF // for a pipe that was not written to, if any
	}
	for _, w := range s.writers {
		w.CloseWithError(err) // no effect on the pipes already closed
	}
}

// close ends the reads WriteFiles left unfinished, and waits for them.
func (s *stream) close() {
	for _, r := range s.readers {
		r.Close()
	}
	s.workers.Wait()
}

// A progressBar draws a transfer's progress on stderr, when stderr is a terminal; it is nil
// otherwise, and then does nothing. Its callback may be called from several goroutines.
type progressBar struct {
	w     io.Writer
	label string
	total int64
	start time.Time
	done  atomic.Int64

	mu    sync.Mutex
	drawn time.Time
}

func (a *app) progressBar(label string, total int64) *progressBar {
	if !a.stderrIsTerminal() {
		return nil
	}
	return &progressBar{w: a.stderr, label: label, total: total, start: time.Now()}
}

func (p *progressBar) callback() func(int64) {
	if p == nil {
		return nil
	}
	return func(n int64) {
		done := p.done.Add(n)
		p.mu.Lock()
		defer p.mu.Unlock()
		if now := time.Now(); now.Sub(p.drawn) >= 100*time.Millisecond {
			p.drawn = now
			p.draw(done)
		}
	}
}

func (p *progressBar) draw(done int64) {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(1, float64(done)/float64(p.total))
	}
	filled := int(frac * width)
	rate := int64(float64(done) / max(time.Since(p.start).Seconds(), 0.001))
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%%  %s / %s  %s/s\x1b[K", p.label,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), int(frac*100), humanBytes(done), humanBytes(p.total), humanBytes(rate))
}

// finish draws the last state and ends the line.
func (p *progressBar) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(p.done.Load())
	fmt.Fprintln(p.w)
}

// humanBytes renders a size: 512 B, 1.5 KiB, 3.0 MiB…
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(1024), 0
	for m := n / 1024; m >= 1024; m /= 1024 {
		div *= 1024
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
