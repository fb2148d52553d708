package client

import (
	"context"
	"slices"

	"github.com/parsec-go/parsec/internal/parsec"
)

// SyncEvent is one step of SyncAll or Follow, for an interface to show.
type SyncEvent struct {
	// Workspace is the workspace synced; zero for the steps that concern no single
	// workspace (the owner's maintenance, listing the workspaces), which only fail.
	Workspace WorkspaceInfo
	NewKey    bool  // the workspace got a new key during this step: those who left cannot read what is written from now on
	Changed   bool  // Follow: a member changed the workspace's content (not only a certificate)
	Err       error // nil: the workspace is in sync
}

// SyncAll synchronizes workspaces, the ones given or all of this user's: first, as owner,
// this device does what it owes them (MaintainWorkspaces: remove revoked members, give a
// new key to those someone left), then each workspace is synced (Workspace.Sync), and
// report hears of each step as it ends. A failed step does not stop the others, unless
// its error stops every batch (parsec.StopsBatch); the error returned is the first one,
// with the number of failures when there are several.
func (c *Client) SyncAll(ctx context.Context, ids []parsec.VlobID, report func(SyncEvent)) error {
	before, err := c.Workspaces(ctx)
	if err != nil {
		return err
	}
	var errs []error
	if err := c.MaintainWorkspaces(ctx); err != nil {
		report(SyncEvent{Err: parsec.Wrap(err, "workspace maintenance failed")})
		errs = append(errs, err)
	}
	todo, err := c.workspacesAmong(ctx, ids)
	if err != nil {
		return err
	}
	for _, w := range todo {
		ev := SyncEvent{Workspace: w, Err: c.syncOne(ctx, w.ID)}
		if i := slices.IndexFunc(before, func(b WorkspaceInfo) bool { return b.ID == w.ID }); i >= 0 && w.KeyIndex > before[i].KeyIndex {
			ev.NewKey = true
		}
		report(ev)
		if ev.Err != nil {
			errs = append(errs, ev.Err)
			if parsec.StopsBatch(ev.Err) {
				return ev.Err
			}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return parsec.Wrap(errs[0], "%d error(s) during the sync, the first", len(errs))
}

// Follow keeps workspaces in sync, the ones given or all of this user's (including those
// shared with the user meanwhile), as the server announces changes (see Watch), until ctx
// is done: at each change, the owner's maintenance, then a sync of the workspaces it
// concerns; report hears of each step. It returns nil when ctx is done, or the error that
// made the server refuse this device for good.
func (c *Client) Follow(ctx context.Context, ids []parsec.VlobID, report func(SyncEvent)) error {
	err := c.Watch(ctx, func(ch Change) {
		if ch.IsNews() {
			return // nothing to sync
		}
		if err := c.MaintainWorkspaces(ctx); err != nil && ctx.Err() == nil {
			report(SyncEvent{Err: parsec.Wrap(err, "workspace maintenance failed")})
		}
		list, err := c.workspacesAmong(ctx, ids)
		if err != nil {
			if ctx.Err() == nil {
				report(SyncEvent{Err: parsec.Wrap(err, "cannot list the workspaces")})
			}
			return
		}
		for _, w := range list {
			if ch.Realm != (parsec.VlobID{}) && ch.Realm != w.ID {
				continue
			}
			err := c.syncOne(ctx, w.ID)
			if ctx.Err() != nil {
				return
			}
			report(SyncEvent{Workspace: w, Changed: ch.Vlob != (parsec.VlobID{}), Err: err})
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// workspacesAmong lists this user's workspaces, only those of ids when some are given.
func (c *Client) workspacesAmong(ctx context.Context, ids []parsec.VlobID) ([]WorkspaceInfo, error) {
	all, err := c.Workspaces(ctx)
	if err != nil || len(ids) == 0 {
		return all, err
	}
	var out []WorkspaceInfo
	for _, id := range ids {
		i := slices.IndexFunc(all, func(w WorkspaceInfo) bool { return w.ID == id })
		if i < 0 {
			return nil, parsec.Errorf(parsec.NotFound, "workspace %s not found", parsec.ShortID(id))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// syncOne opens a workspace and syncs it.
func (c *Client) syncOne(ctx context.Context, id parsec.VlobID) error {
	ws, err := c.Workspace(ctx, id)
	if err != nil {
		return err
	}
	return ws.Sync(ctx)
}
