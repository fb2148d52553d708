package cli

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

func (a *app) workspaceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "workspace",
		Aliases: []string{"ws"},
		Short:   "Encrypted workspaces: create, list, share, archive, sync",
		Long: `Workspaces hold the files people share. Everything in them — names, folders, file contents —
is encrypted on the devices with keys the server never sees; each member has a role:

  owner        everything, including renaming, archiving and sharing with any role
  manager      shares with and removes readers and contributors
  contributor  reads and writes files
  reader       reads files

External users can only be readers or contributors, and cannot create workspaces. When someone
leaves a workspace or is revoked, an owner's device gives the workspace a new key, so that they
cannot read anything written afterwards (at once when the owner removes them, otherwise at the
owner's next sync or write).

WS, in every command, is a workspace's whole ID, its name, or a prefix of its ID (at least 4
characters), looked up in that order.
Files are handled by "parsec ls", "cp", "cat", "mkdir", "mv", "rm", "history" and "restore".`,
	}
	cmd.AddCommand(a.workspaceCreateCmd(), a.workspaceListCmd(), a.workspaceRenameCmd(),
		a.workspaceShareCmd(), a.workspaceUnshareCmd(), a.workspaceUsersCmd(),
		a.workspaceArchiveCmd(), a.workspaceUnarchiveCmd(), a.workspaceSyncCmd(), a.workspaceSelfPromoteCmd(),
		a.workspaceMountCmd())
	return cmd
}

// openPolled opens the selected device and brings its certificates up to date.
func (a *app) openPolled(cmd *cobra.Command, df *deviceFlags) (*client.Client, error) {
	c, err := a.open(cmd, df)
	if err != nil {
		return nil, err
	}
	if err := a.poll(cmd, c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// withWorkspace opens the selected device, finds the workspace ref names (a name or an
// ID prefix) and runs f with it.
func (a *app) withWorkspace(cmd *cobra.Command, df *deviceFlags, ref string, f func(ctx context.Context, c *client.Client, w client.WorkspaceInfo) error) error {
	c, err := a.openPolled(cmd, df)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	w, err := c.FindWorkspace(ctx, ref)
	if err != nil {
		return err
	}
	return f(ctx, c, w)
}

// wsName is how messages name a workspace: "Docs", or its short ID when its name cannot be
// read.
func wsName(w client.WorkspaceInfo) string {
	if w.Name == "" {
		return "workspace " + parsec.ShortID(w.ID)
	}
	return strconv.Quote(w.Name)
}

// archivingLabel is "" for an available workspace, else " [archived]" or
// " [deletion planned: DATE]".
func archivingLabel(w client.WorkspaceInfo) string {
	switch w.Archiving {
	case certif.ArchivingArchived:
		return " [archived]"
	case certif.ArchivingDeletionPlanned:
		return " [deletion planned: " + w.DeletionDate.String() + "]"
	}
	return ""
}

func (a *app) workspaceCreateCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "create NAME -d DEVICE",
		Short: "Create a workspace; you are its owner (not for External users)",
		Long: `Create a workspace and print its ID. You are its only member, as owner, until you share it.
Its name is encrypted: the server never sees it.`,
		Args: exactArgs(1, "the workspace name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.openPolled(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			id, err := c.CreateWorkspace(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			a.say("Workspace %q created.", strings.TrimSpace(args[0]))
			a.out("%s", id)
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	return cmd
}

// workspaceJSON is a workspace as `workspace list --json` prints it.
type workspaceJSON struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Role           string `json:"role"`
	Archiving      string `json:"archiving"`
	DeletionDate   string `json:"deletion_date,omitempty"`
	KeyIndex       uint64 `json:"key_index"`
	CanSelfPromote bool   `json:"can_self_promote"`
}

func (a *app) workspaceListCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "list -d DEVICE",
		Short: "List your workspaces and your role in each",
		Long: `List the workspaces you are a member of, one per line: <id> - <name>: <role>, followed by
" [archived]" or " [deletion planned: DATE]" when the workspace is read-only.

--json adds each workspace's key index (it grows each time the workspace gets a new key) and
whether you may promote yourself to owner (no active owner left).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.openPolled(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			all, err := c.Workspaces(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				out := []workspaceJSON{}
				for _, w := range all {
					j := workspaceJSON{ID: w.ID.String(), Name: w.Name, Role: w.Role.Label(), Archiving: strings.ToLower(w.Archiving),
						KeyIndex: w.KeyIndex, CanSelfPromote: w.CanSelfPromote}
					if !w.DeletionDate.IsZero() {
						j.DeletionDate = w.DeletionDate.String()
					}
					out = append(out, j)
				}
				return a.printJSON(out)
			}
			if len(all) == 0 {
				a.say("No workspaces found.")
				return nil
			}
			a.say("Found %d workspace(s):", len(all))
			for _, w := range all {
				name := w.Name
				if name == "" {
					name = "(name not readable yet)"
				}
				a.out("%s - %s: %s%s", w.ID, name, w.Role.Label(), archivingLabel(w))
			}
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

func (a *app) workspaceRenameCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "rename WS NAME -d DEVICE",
		Short: "Rename a workspace (owners)",
		Args:  exactArgs(2, "the workspace and its new name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withWorkspace(cmd, &df, args[0], func(ctx context.Context, c *client.Client, w client.WorkspaceInfo) error {
				if err := c.RenameWorkspace(ctx, w.ID, args[1]); err != nil {
					return err
				}
				a.say("Workspace %s renamed to %q.", wsName(w), strings.TrimSpace(args[1]))
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	return cmd
}

func (a *app) workspaceShareCmd() *cobra.Command {
	var df deviceFlags
	var roleFlag string
	cmd := &cobra.Command{
		Use:   "share WS EMAIL --role owner|manager|contributor|reader -d DEVICE",
		Short: "Give a user a role in a workspace, or change it",
		Long: `Share a workspace with a user of the organization, or change their role. Owners grant any
role; managers only reader or contributor, to users who are not managers or owners; External
users can only be readers or contributors; nobody changes their own role. Granting the role a
user already has changes nothing.`,
		Args: exactArgs(2, "the workspace and the user's email"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if roleFlag == "" {
				return usageError{fmt.Errorf("--role is required: owner, manager, contributor or reader")}
			}
			role, err := parsec.ParseRole(roleFlag)
			if err != nil {
				return err
			}
			return a.withWorkspace(cmd, &df, args[0], func(ctx context.Context, c *client.Client, w client.WorkspaceInfo) error {
				u, err := c.FindUser(args[1])
				if err != nil {
					return err
				}
				err = c.ShareWorkspace(ctx, w.ID, u.ID, role)
				switch {
				case parsec.IsKind(err, parsec.Exists):
					a.say("%s is already %s of workspace %s.", u.Handle.Email, role.Label(), wsName(w))
				case err != nil:
					return err
				default:
					a.say("Workspace %s shared with %s as %s.", wsName(w), u.Handle.Email, role.Label())
				}
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringVar(&roleFlag, "role", "", "the role: owner, manager, contributor or reader")
	return cmd
}

func (a *app) workspaceUnshareCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "unshare WS EMAIL -d DEVICE",
		Short: "Remove a user from a workspace; the workspace then gets a new key",
		Long: `Remove a user's role in a workspace (owners remove anybody, managers readers and
contributors). When you are an owner, the workspace gets a new key at once, so that the removed
user cannot read anything written from now on; when you are a manager, an owner's device does
it at its next sync.`,
		Args: exactArgs(2, "the workspace and the user's email"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withWorkspace(cmd, &df, args[0], func(ctx context.Context, c *client.Client, w client.WorkspaceInfo) error {
				u, err := c.FindUser(args[1])
				if err != nil {
					return err
				}
				key, rotated, err := c.UnshareWorkspace(ctx, w.ID, u.ID)
				if parsec.IsKind(err, parsec.Exists) {
					a.say("%s is not a member of workspace %s.", u.Handle.Email, wsName(w))
					return nil
				}
				if err != nil {
					return err
				}
				a.say("%s removed from workspace %s.", u.Handle.Email, wsName(w))
				if rotated {
					a.say("The workspace has a new key (key %d): %s cannot read anything written from now on.", key, u.Handle.Email)
				} else {
					a.say("An owner's device will give the workspace a new key at its next sync.")
				}
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	return cmd
}

// memberJSON is a member as `workspace users --json` prints it.
type memberJSON struct {
	UserID  string `json:"user_id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Profile string `json:"profile"`
	Role    string `json:"role"`
	Status  string `json:"status"`
}

func (a *app) workspaceUsersCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "users WS -d DEVICE",
		Short: "List a workspace's members and their roles",
		Long: `List a workspace's members, one per line, tab-separated: user ID, name, email, profile, role
in the workspace and status (a revoked member stays listed until an owner's device removes
them, at its next sync).`,
		Args: exactArgs(1, "the workspace"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withWorkspace(cmd, &df, args[0], func(ctx context.Context, c *client.Client, w client.WorkspaceInfo) error {
				members, err := c.WorkspaceMembers(w.ID)
				if err != nil {
					return err
				}
				slices.SortFunc(members, func(x, y client.WorkspaceMember) int {
					return cmp.Or(y.Role.Rank()-x.Role.Rank(), strings.Compare(x.User.Handle.Label, y.User.Handle.Label))
				})
				if a.json {
					out := []memberJSON{}
					for _, m := range members {
						out = append(out, memberJSON{UserID: m.User.ID.String(), Name: m.User.Handle.Label, Email: m.User.Handle.Email,
							Profile: m.User.Profile.Label(), Role: m.Role.Label(), Status: m.User.Status()})
					}
					return a.printJSON(out)
				}
				a.say("Workspace %s is shared with %d user(s):", wsName(w), len(members))
				for _, m := range members {
					a.out("%s\t%s\t%s\t%s\t%s\t%s", m.User.ID, m.User.Handle.Label, m.User.Handle.Email, m.User.Profile.Label(), m.Role.Label(), m.User.Status())
				}
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

func (a *app) workspaceArchiveCmd() *cobra.Command {
	var df deviceFlags
	var deleteIn string
	cmd := &cobra.Command{
		Use:   "archive WS [--delete-in DURATION] -d DEVICE",
		Short: "Archive a workspace: read-only for everybody (owners)",
		Long: `Archive a workspace: everybody can still read it, nobody can change it, until an owner runs
"parsec workspace unarchive". With --delete-in (e.g. 30d, 720h), the workspace is also planned
for deletion after that time, which must be at least the organization's minimum; until then it
can be made available again.`,
		Args: exactArgs(1, "the workspace"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if deleteIn == "" {
				return a.setArchiving(cmd, &df, args[0], certif.ArchivingArchived)
			}
			d, err := parseDuration(deleteIn)
			if err != nil {
				return err
			}
			return a.withWorkspace(cmd, &df, args[0], func(ctx context.Context, c *client.Client, w client.WorkspaceInfo) error {
				// Counted from the archiving, as the server counts the organization's
				// minimum: --delete-in 30d is accepted where the minimum is 30 days.
				deletion, err := c.PlanWorkspaceDeletion(ctx, w.ID, d)
				if err != nil {
					return err
				}
				a.say("Workspace %s is archived and will be deleted after %s.", wsName(w), deletion)
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringVar(&deleteIn, "delete-in", "", "also plan the workspace's deletion after this time (e.g. 30d, 720h; at most 36500d)")
	return cmd
}

func (a *app) workspaceUnarchiveCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "unarchive WS -d DEVICE",
		Short: "Make an archived workspace (or one planned for deletion) available again (owners)",
		Args:  exactArgs(1, "the workspace"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.setArchiving(cmd, &df, args[0], certif.ArchivingAvailable)
		},
	}
	a.addDeviceFlags(cmd, &df)
	return cmd
}

func (a *app) setArchiving(cmd *cobra.Command, df *deviceFlags, ref, configuration string) error {
	return a.withWorkspace(cmd, df, ref, func(ctx context.Context, c *client.Client, w client.WorkspaceInfo) error {
		err := c.ArchiveWorkspace(ctx, w.ID, configuration, 0)
		if parsec.IsKind(err, parsec.Exists) {
			a.say("Workspace %s is already %s.", wsName(w), strings.ToLower(configuration))
			return nil
		}
		if err != nil {
			return err
		}
		if configuration == certif.ArchivingAvailable {
			a.say("Workspace %s is available again.", wsName(w))
		} else {
			a.say("Workspace %s is archived: it is read-only for everybody.", wsName(w))
		}
		return nil
	})
}

// parseDuration accepts Go durations (720h) and days (30d), up to maxDays days.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 && n <= maxDays {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 && d <= maxDays*24*time.Hour {
		return d, nil
	}
	return 0, parsec.Errorf(parsec.Invalid, "invalid duration %q: want e.g. 30d or 720h, at most %dd", s, maxDays)
}

// maxDays bounds a duration in days: a hundred years (more days than that made the
// duration wrap around, and a deletion planned for 585 years away came in 30 days).
const maxDays = 36500

func (a *app) workspaceSyncCmd() *cobra.Command {
	var df deviceFlags
	var watch bool
	cmd := &cobra.Command{
		Use:   "sync [WS] -d DEVICE",
		Short: "Synchronize one workspace, or all: send local changes, receive the others'",
		Long: `Synchronize a workspace, or all your workspaces: receive the changes others made, merge them
with the changes saved on this device (concurrent edits of one file keep both versions: yours
is renamed "name (sync conflict N).ext"), then send the result.

First, as owner, your device does what it owes your workspaces: it removes revoked members and
gives a new key to every workspace someone left since its last key.

With --watch, it then keeps listening to the server's events and synchronizes again each
time a member changes something, until interrupted (Ctrl-C).`,
		Args: rangeArgs(0, 1, "at most one workspace"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.openPolled(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			var ids []parsec.VlobID
			if len(args) == 1 {
				w, err := c.FindWorkspace(ctx, args[0])
				if err != nil {
					return err
				}
				ids = []parsec.VlobID{w.ID}
			}
			synced := 0
			err = c.SyncAll(ctx, ids, func(ev client.SyncEvent) {
				if !ev.Workspace.ID.IsZero() {
					synced++
				}
				a.sayed(ev, true)
			})
			if synced == 0 && err == nil {
				a.say("No workspaces to sync.")
			}
			if !watch || err != nil {
				return err
			}
			ctx, stop := interruptible(ctx)
			defer stop()
			a.say("Watching for changes (Ctrl-C to stop)…")
			return c.Follow(ctx, ids, func(ev client.SyncEvent) { a.sayed(ev, ev.Changed) })
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&watch, "watch", false, "keep synchronizing as the server announces changes, until interrupted")
	return cmd
}

// sayed tells what a sync step did; a success is told only with ok.
func (a *app) sayed(ev client.SyncEvent, ok bool) {
	switch {
	case ev.Workspace.ID.IsZero():
		a.say("%v", ev.Err)
	case ev.NewKey:
		a.say("Workspace %s has a new key (key %d): members who left cannot read what is written from now on.", wsName(ev.Workspace), ev.Workspace.KeyIndex)
	}
	switch {
	case ev.Workspace.ID.IsZero():
	case ev.Err != nil:
		a.say("Workspace %s not synced: %v", wsName(ev.Workspace), ev.Err)
	case ok:
		a.say("Workspace %s synced.", wsName(ev.Workspace))
	}
}

func (a *app) workspaceSelfPromoteCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "self-promote WS -d DEVICE",
		Short: "Become owner of a workspace that has no active owner left",
		Long: `Become owner of a workspace whose owners all left or were revoked. Only the member with the
highest remaining role may do it, and not an External user.`,
		Args: exactArgs(1, "the workspace"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withWorkspace(cmd, &df, args[0], func(ctx context.Context, c *client.Client, w client.WorkspaceInfo) error {
				if w.Role == parsec.RoleOwner {
					a.say("You are already owner of workspace %s.", wsName(w))
					return nil
				}
				if err := c.SelfPromote(ctx, w.ID); err != nil {
					return err
				}
				a.say("You are now owner of workspace %s.", wsName(w))
				return nil
			})
		},
	}
	a.addDeviceFlags(cmd, &df)
	return cmd
}
