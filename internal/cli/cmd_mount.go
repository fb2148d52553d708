package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/bench"
	"github.com/parsec-go/parsec/internal/mount"
	"github.com/parsec-go/parsec/internal/parsec"
)

const mountHelp = `The folder shows the workspace's files and folders as ordinary ones: programs create, read,
write (at any offset), truncate, rename, move and remove them, and make and remove folders.
A file's new content becomes a new version when it is closed or fsynced (not at every
write); it is saved on this device at once and sent to the server in the background, which
also brings the others' changes (they show within about a second of the server announcing
them). Concurrent edits of one file keep both versions, as "parsec workspace sync" does.

Readers, and everyone in an archived workspace, get a read-only folder: writes fail with
"read-only file system" (EROFS), and files show without write permission; a workspace
archived, unarchived or whose role changes while mounted follows (and says so). Making,
renaming or removing anything at the top of "parsec mount DIR" fails with "permission
denied" (EACCES): workspaces are made and renamed with the workspace commands, and a
workspace renamed (here or on another device) shows under its new name.

Blocks read are kept on this device, encrypted as the server stores them and checked again
when used, up to --cache-size (the least recently used go first): a file read once reads
again without the server.

What needs the server: mounting (the workspaces' keys are fetched then, and kept in memory
only), reading content not read before (opening a file whose blocks are not kept, or writing
into an existing file, which first fetches its content), and sending what changed. Once
mounted, everything else works offline: listing folders, sizes and dates, reading what was
read before, making, renaming and removing files and folders, and writing files: a file
closed while the server is unreachable keeps what was written in a private file on this
device (readable only by you, in the configuration directory's mount-spool folder) and is
saved, then sent, when the server is back. At unmount, whatever is still kept is listed:
changes saved on this device are sent by the next "parsec workspace sync" or mount; the
content of files closed offline by the next mount of this device (either command). While a
file is open for writing, its content is in such a private file too, removed once it is
saved and closed.

With --at, the folder shows the workspaces as they were at that time, read-only: each is read
whole from the server's history when first shown.

It runs until interrupted (Ctrl-C, SIGTERM) or unmounted from outside
("fusermount3 -u DIR"); then it sends what is left and says whether anything stays on this
device for a later sync. Needs FUSE 3 (the fuse3 package on Debian and Ubuntu).`

func (a *app) mountCmd() *cobra.Command {
	var df deviceFlags
	var mf mountFlags
	cmd := &cobra.Command{
		Use:   "mount DIR [--at TIME] -d DEVICE",
		Short: "Show every workspace as a folder of DIR (FUSE), until interrupted",
		Long: `Mount every workspace of the device as a folder of DIR (an existing, empty folder), named
after the workspace ("name (short ID)" when two have the same name).

` + mountHelp,
		Args: exactArgs(1, "the folder to mount on"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runMount(cmd, &df, "", args[0], mf)
		},
	}
	a.addDeviceFlags(cmd, &df)
	addMountFlags(cmd, &mf)
	return cmd
}

func (a *app) workspaceMountCmd() *cobra.Command {
	var df deviceFlags
	var mf mountFlags
	cmd := &cobra.Command{
		Use:   "mount WS DIR [--at TIME] -d DEVICE",
		Short: "Show one workspace as the folder DIR (FUSE), until interrupted",
		Long: `Mount workspace WS on DIR (an existing, empty folder).

` + mountHelp,
		Args: exactArgs(2, "the workspace and the folder to mount on"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runMount(cmd, &df, args[0], args[1], mf)
		},
	}
	a.addDeviceFlags(cmd, &df)
	addMountFlags(cmd, &mf)
	return cmd
}

// mountFlags are the flags of both mount commands.
type mountFlags struct {
	cache bench.Size
	at    string
}

func addMountFlags(cmd *cobra.Command, f *mountFlags) {
	f.cache = 1 << 30
	cmd.Flags().Var(&f.cache, "cache-size", "how much of the blocks read to keep on this device, encrypted (0: none)")
	cmd.Flags().StringVar(&f.at, "at", "", "show the workspaces as they were then, read-only: "+atHelp)
}

// runMount mounts one workspace (ref) or all (ref empty) on dir, until interrupted or
// unmounted from outside, then sends what is left.
func (a *app) runMount(cmd *cobra.Command, df *deviceFlags, ref, dir string, mf mountFlags) error {
	var at parsec.DateTime
	if mf.at != "" {
		t, err := parseAt(mf.at)
		if err != nil {
			return err
		}
		at = t
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return parsec.Errorf(parsec.NotFound, "%s: no such folder", dir)
	}
	c, err := a.openPolled(cmd, df)
	if err != nil {
		return err
	}
	defer c.Close()
	if mf.cache > 0 {
		c.EnableBlockCache(int64(mf.cache))
	}
	ctx := cmd.Context()
	opts := mount.Options{At: at,
		Warn:   func(msg string) { a.say("warning: %s", msg) },
		Notice: func(msg string) { a.say("%s", capitalize(msg)) },
	}
	what := "every workspace"
	if ref != "" {
		w, err := c.FindWorkspace(ctx, ref)
		if err != nil {
			return err
		}
		opts.Workspace, what = w.ID, "workspace "+wsName(w)
	}
	opts.SpoolDir = filepath.Join(a.configDir, "mount-spool")
	if err := os.MkdirAll(opts.SpoolDir, 0o700); err != nil {
		return err
	}
	m, err := mount.New(ctx, c, dir, opts)
	if err != nil {
		return err
	}
	a.say("Mounted %s at %s. Press Ctrl-C (or run \"fusermount3 -u %s\") to unmount.", what, dir, dir)
	unmounted := make(chan struct{})
	go func() { m.Wait(); close(unmounted) }()
	for done := false; !done; {
		sig, stop := interruptible(ctx)
		select {
		case <-unmounted:
			done = true
		case <-sig.Done():
			if err := m.Unmount(); err != nil {
				a.say("Cannot unmount %s (%v): close the files and folders programs have open in it, then interrupt again.", dir, err)
				break
			}
			<-unmounted
			done = true
		}
		stop()
	}
	a.say("Unmounted %s; sending what is left…", dir)
	kept, err := m.Finish(context.WithoutCancel(ctx))
	if len(kept) > 0 {
		a.say("Kept on this device, to send later:\n  %s", strings.Join(kept, "\n  "))
	} else if err == nil {
		a.say("Everything written was sent.")
	}
	if err != nil {
		return fmt.Errorf("unmounting %s: %w", dir, err)
	}
	return nil
}

// capitalize starts a sentence with a capital letter.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
