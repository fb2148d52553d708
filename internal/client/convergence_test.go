package client_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/testenv"
)

// TestSyncConverges: three devices (alice's, bob's laptop and bob's phone) share a workspace
// and change it offline at random (files written, folders made, entries renamed, moved,
// removed, copied), then sync in a random order, for a few rounds; then all sync until
// nothing changes. Each seed replays the same run: the steps are drawn from it, and so are
// the IDs of what each device creates, which set the order entries merge in.
//
// Once quiet, the devices must agree (the same tree: paths, IDs, contents), no entry may
// be named twice, by a folder that is not its parent, or strand itself in a loop of
// folders, and no change may be lost without a word: each content written in the last
// round, and still there on its device when that round's changes end, must be somewhere in
// the final tree (the file, a copy, or a conflict copy). Within that round every change of
// another device is concurrent with it (none had synced yet), and the rules give way to a
// change not sent, or received, before a removal; a removal that came after the write on
// its own device took it out of what is checked.
//
// PARSEC_SYNC_SEEDS runs other seeds: "500" for 1 to 500, "7,42", or "100-199". With
// PARSEC_SYNC_MINIMIZE set, a seed that fails is cut down to the fewest steps that still
// fail the same way, which are logged.
func TestSyncConverges(t *testing.T) {
	seeds := syncSeeds(t, os.Getenv("PARSEC_SYNC_SEEDS"))
	p := newPeople(t)
	phone := testenv.AddDevice(t, p.bc, "phone")
	users := []*testenv.User{p.alice, p.bob, phone}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := newSyncRun(t, users, seed, 0)
			err := r.generate()
			r.close()
			if err == nil {
				return
			}
			steps := r.steps
			if os.Getenv("PARSEC_SYNC_MINIMIZE") != "" {
				steps = minimizeSteps(t, users, seed, steps, err)
			}
			t.Fatalf("seed %d: %v\nsteps:\n%s", seed, err, formatSteps(steps))
		})
	}
}

// syncSeeds reads the seeds to run from spec; the default ones run in a few seconds.
func syncSeeds(t *testing.T, spec string) []uint64 {
	if spec == "" {
		return []uint64{1, 2, 3, 4, 5, 6}
	}
	if _, err := strconv.ParseUint(spec, 10, 64); err == nil {
		spec = "1-" + spec
	}
	var seeds []uint64
	for part := range strings.SplitSeq(spec, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(from, 10, 64)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseUint(to, 10, 64)
		}
		if err1 != nil || err2 != nil || b < a {
			t.Fatalf("PARSEC_SYNC_SEEDS: malformed %q", part)
		}
		for s := a; s <= b; s++ {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// syncRounds is how many rounds of changes and syncs a run makes, the last one ending
// with everyone syncing until quiet.
const syncRounds = 4

var syncDeviceNames = []string{"alice", "bob", "phone"}

// A syncStep is one thing a device does: a change, made offline, or a sync.
type syncStep struct {
	dev      int
	op       string // write, mkdir, move (a rename too), remove, copy, sync; round starts a round
	from, to string // to: for move and copy
	content  string // for write
	refused  error  // the change was refused (a name taken, a folder moved into itself)
}

func (s syncStep) String() string {
	var out string
	switch s.op {
	case "round":
		return "-- " + s.from
	case "move", "copy":
		out = fmt.Sprintf("%s %s %s %s", syncDeviceNames[s.dev], s.op, s.from, s.to)
	case "write":
		out = fmt.Sprintf("%s write %s %q", syncDeviceNames[s.dev], s.from, s.content)
	default:
		out = strings.TrimSpace(fmt.Sprintf("%s %s %s", syncDeviceNames[s.dev], s.op, s.from))
	}
	if s.refused != nil {
		out += " (refused: " + s.refused.Error() + ")"
	}
	return out
}

func formatSteps(steps []syncStep) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "  %v\n", s)
	}
	return b.String()
}

// An idSource draws a device's IDs from a seed; the first one may be set.
type idSource struct {
	mu    sync.Mutex
	rng   *rand.Rand
	first *parsec.VlobID
}

func (s *idSource) next() parsec.VlobID {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := s.first; id != nil {
		s.first = nil
		return *id
	}
	var id parsec.VlobID
	binary.BigEndian.PutUint64(id[:8], s.rng.Uint64())
	binary.BigEndian.PutUint64(id[8:], s.rng.Uint64())
	id[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80
	return id
}

// A syncRun is one run of a seed: its devices, and the steps done so far.
type syncRun struct {
	t       *testing.T
	seed    uint64
	clients []*client.Client
	devices []*syncDevice
	steps   []syncStep
	written []syncStep // the contents written since the last round started
}

type syncDevice struct {
	name string
	w    *client.Workspace
	mu   sync.Mutex
	warn []string
}

// newSyncRun opens a client per user's device, each drawing IDs from the seed, and a new
// workspace of alice's that bob may write, with a few folders to start from. A run tried
// again (try) has another workspace ID, drawn so that it sorts as the first one did.
func newSyncRun(t *testing.T, users []*testenv.User, seed uint64, try uint64) *syncRun {
	ctx := t.Context()
	r := &syncRun{t: t, seed: seed}
	for i, u := range users {
		d := &syncDevice{name: syncDeviceNames[i]}
		ids := &idSource{rng: rand.New(rand.NewPCG(seed, uint64(i)+1))}
		if i == 0 {
			ids.first = &parsec.VlobID{}
			binary.BigEndian.PutUint64(ids.first[:8], ids.rng.Uint64())
			binary.BigEndian.PutUint64(ids.first[8:], try)
		}
		c, err := client.Open(ctx, u.ConfigDir, u.Device, client.Options{
			NewID: ids.next,
			Warn: func(msg string) {
				d.mu.Lock()
				defer d.mu.Unlock()
				d.warn = append(d.warn, msg)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		poll(t, c)
		r.clients = append(r.clients, c)
		r.devices = append(r.devices, d)
	}
	id, err := r.clients[0].CreateWorkspace(ctx, fmt.Sprint("Seed ", seed))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.clients[0].ShareWorkspace(ctx, id, users[1].Device.UserID, parsec.RoleContributor); err != nil {
		t.Fatal(err)
	}
	for i, c := range r.clients {
		poll(t, c)
		if r.devices[i].w, err = c.Workspace(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	write(t, r.devices[0].w, map[string][]byte{"/p/a": []byte("first a"), "/p/q/b": []byte("first b"), "/r/c.txt": []byte("first c")})
	if err := r.devices[0].w.Mkdir(ctx, "/r/s", false); err != nil {
		t.Fatal(err)
	}
	for _, d := range r.devices {
		syncWS(t, d.w)
	}
	return r
}

func (r *syncRun) close() {
	for _, c := range r.clients {
		c.Close()
	}
}

// generate draws the steps of the run from its seed, doing each as it is drawn (what a
// change works on is what its device has then), then ends the run (see finish).
func (r *syncRun) generate() error {
	rng := rand.New(rand.NewPCG(r.seed, 0))
	for round := 1; round <= syncRounds; round++ {
		if err := r.do(syncStep{op: "round", from: fmt.Sprint("round ", round)}); err != nil {
			return err
		}
		for dev := range r.devices {
			for range 1 + rng.IntN(4) {
				step, err := r.draw(rng, dev, round)
				if err == nil {
					err = r.do(step)
				}
				if err != nil {
					return err
				}
			}
		}
		if round == syncRounds {
			break
		}
		for _, dev := range rng.Perm(len(r.devices)) {
			if rng.IntN(4) > 0 {
				if err := r.do(syncStep{dev: dev, op: "sync"}); err != nil {
					return err
				}
			}
		}
	}
	return r.finish()
}

// replay does steps, then ends the run.
func (r *syncRun) replay(steps []syncStep) error {
	for _, s := range steps {
		s.refused = nil
		if err := r.do(s); err != nil {
			return err
		}
	}
	return r.finish()
}

var syncNames = []string{"a", "b", "c.txt", "d.txt"}

// draw draws a change for device dev, on what it has.
func (r *syncRun) draw(rng *rand.Rand, dev, round int) (syncStep, error) {
	d := r.devices[dev]
	entries, err := d.w.Walk("/")
	if err != nil {
		return syncStep{}, fmt.Errorf("%s's walk: %w", d.name, err)
	}
	folders, files := []string{"/"}, []string{}
	for _, e := range entries {
		if e.IsFolder {
			folders = append(folders, e.Path)
		} else {
			files = append(files, e.Path)
		}
	}
	all := append(folders[1:len(folders):len(folders)], files...)
	slices.Sort(all)
	pick := func(from []string) string { return from[rng.IntN(len(from))] }
	name := pick(syncNames)
	s := syncStep{dev: dev}
	switch op := rng.IntN(100); {
	case op < 30 || len(all) == 0:
		s.op, s.from = "write", path.Join(pick(folders), name)
		if len(files) > 0 && rng.IntN(2) == 0 {
			s.from = pick(files)
		}
		s.content = fmt.Sprintf("content %d by %s in round %d", len(r.steps), d.name, round)
	case op < 42:
		s.op, s.from = "mkdir", path.Join(pick(folders), name)
	case op < 54:
		s.op, s.from = "move", pick(all)
		s.to = path.Join(path.Dir(s.from), name)
	case op < 74:
		s.op, s.from = "move", pick(all)
		others := slices.DeleteFunc(slices.Clone(folders), func(f string) bool { return f == path.Dir(s.from) })
		if len(others) == 0 {
			others = folders
		}
		s.to = path.Join(pick(others), path.Base(s.from))
	case op < 88:
		s.op, s.from = "remove", pick(all)
	default:
		s.op, s.from, s.to = "copy", pick(all), path.Join(pick(folders), name)
	}
	return s, nil
}

// do does a step; a change the workspace refuses is noted in the step, and the run goes on.
func (r *syncRun) do(s syncStep) error {
	ctx := r.t.Context()
	var err error
	var d *syncDevice
	if s.op != "round" {
		d = r.devices[s.dev]
	}
	switch s.op {
	case "round":
		r.written = nil
	case "sync":
		if err := d.w.Sync(ctx); err != nil {
			return fmt.Errorf("%s's sync: %w", d.name, err)
		}
	case "write":
		err = d.w.WriteFiles(ctx, []client.FileSource{source(s.from, []byte(s.content))}, nil)
		if err == nil {
			r.written = append(r.written, s)
		}
	case "mkdir":
		err = d.w.Mkdir(ctx, s.from, false)
	case "move":
		err = d.w.Rename(ctx, s.from, s.to)
	case "remove":
		err = d.w.Remove(ctx, s.from, true)
	case "copy":
		err = d.w.CopyWithin(ctx, s.from, s.to)
	}
	switch k := parsec.KindOf(err); {
	case err == nil:
	case k == parsec.Exists || k == parsec.Invalid || k == parsec.NotFound:
		s.refused = err
	default:
		return fmt.Errorf("%v: %w", s, err)
	}
	r.steps = append(r.steps, s)
	return nil
}

// finish notes which contents written in the last round are still on their devices, has
// every device sync until quiet, and checks the outcome (see TestSyncConverges).
func (r *syncRun) finish() error {
	mustStay := map[string]string{} // content → who wrote it
	for _, s := range r.written {
		d := r.devices[s.dev]
		have, err := r.contents(d)
		if err != nil {
			return err
		}
		if have[s.content] {
			mustStay[s.content] = d.name
		}
	}
	if err := r.syncUntilQuiet(); err != nil {
		return err
	}
	return r.check(mustStay)
}

// syncUntilQuiet syncs every device, in an order drawn from the seed, until a whole pass
// in which none had anything to send and none received anything.
func (r *syncRun) syncUntilQuiet() error {
	rng := rand.New(rand.NewPCG(r.seed, 99))
	for pass := 0; ; pass++ {
		if pass == 10 {
			return fmt.Errorf("the devices still send or receive changes after %d passes", pass)
		}
		quiet := true
		for _, i := range rng.Perm(len(r.devices)) {
			d := r.devices[i]
			before, err := r.versions(d)
			if err != nil {
				return err
			}
			pending := d.w.NeedSync()
			if err := d.w.Sync(r.t.Context()); err != nil {
				return fmt.Errorf("%s's sync, pass %d of the last: %w", d.name, pass+1, err)
			}
			after, err := r.versions(d)
			if err != nil {
				return err
			}
			if pending || !slices.Equal(before, after) {
				quiet = false
			}
		}
		if quiet {
			return nil
		}
	}
}

// versions lists what d has, with the versions synced.
func (r *syncRun) versions(d *syncDevice) ([]string, error) {
	entries, err := d.w.Walk("/")
	if err != nil {
		return nil, fmt.Errorf("%s's walk: %w", d.name, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s %s v%d %v", e.Path, parsec.ShortID(e.ID), e.Version, e.NeedSync))
	}
	return out, nil
}

// minimizeSteps cuts steps, which failed with err, down to the fewest that still fail the
// same way (the same error, IDs and names aside), each try in a new workspace.
func minimizeSteps(t *testing.T, users []*testenv.User, seed uint64, steps []syncStep, err error) []syncStep {
	same := func(a, b error) bool { return syncErrorShape(a) == syncErrorShape(b) }
	tries := uint64(0)
	fails := func(try []syncStep) bool {
		tries++
		r := newSyncRun(t, users, seed, tries)
		defer r.close()
		got := r.replay(try)
		return got != nil && same(got, err)
	}
	if !fails(steps) {
		t.Logf("seed %d: its steps replayed do not fail the same way", seed)
		return steps
	}
	for chunk := len(steps) / 2; chunk >= 1; {
		cut := false
		for i := 0; i+chunk <= len(steps); {
			try := slices.Concat(steps[:i], steps[i+chunk:])
			if fails(try) {
				steps, cut = try, true
				continue
			}
			i += chunk
		}
		if !cut {
			chunk /= 2
		}
	}
	return steps
}

var (
	syncShapeIDs   = regexp.MustCompile(`\b[0-9a-f]{7}\b`)
	syncShapeNames = regexp.MustCompile(`"[^"]*"|/[^ ,]*|alice|bob|phone`)
)

// syncErrorShape is what a failure says, its IDs, names and paths aside.
func syncErrorShape(err error) string {
	return syncShapeNames.ReplaceAllString(syncShapeIDs.ReplaceAllString(err.Error(), "ID"), "X")
}

// contents returns the contents of d's files.
func (r *syncRun) contents(d *syncDevice) (map[string]bool, error) {
	tree, err := r.tree(d)
	out := map[string]bool{}
	for _, f := range tree {
		if !f.Folder {
			out[f.Content] = true
		}
	}
	return out, err
}

// A syncItem is an entry of a device's tree, as the devices must agree on it.
type syncItem struct {
	Path    string
	ID      parsec.VlobID
	Folder  bool
	Content string
}

func (r *syncRun) tree(d *syncDevice) ([]syncItem, error) {
	entries, err := d.w.Walk("/")
	if err != nil {
		return nil, fmt.Errorf("%s's walk: %w", d.name, err)
	}
	var out []syncItem
	for _, e := range entries {
		it := syncItem{Path: e.Path, ID: e.ID, Folder: e.IsFolder}
		if !e.IsFolder {
			var b bytes.Buffer
			if err := d.w.ReadFile(r.t.Context(), e.Path, &b); err != nil {
				return nil, fmt.Errorf("%s reads %s: %w", d.name, e.Path, err)
			}
			it.Content = b.String()
		}
		out = append(out, it)
	}
	return out, nil
}

// check checks the devices once quiet: see TestSyncConverges.
func (r *syncRun) check(mustStay map[string]string) error {
	first, err := r.tree(r.devices[0])
	if err != nil {
		return err
	}
	for _, d := range r.devices[1:] {
		tree, err := r.tree(d)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(first, tree); diff != "" {
			return fmt.Errorf("%s and %s differ (-%s +%s):\n%s", r.devices[0].name, d.name, r.devices[0].name, d.name, diff)
		}
	}
	for _, d := range r.devices {
		if d.w.NeedSync() {
			return fmt.Errorf("%s still has changes to send", d.name)
		}
		if err := r.checkNaming(d); err != nil {
			return err
		}
		if len(d.warn) > 0 {
			return fmt.Errorf("%s was warned: %s", d.name, strings.Join(d.warn, "; "))
		}
	}
	have, _ := r.contents(r.devices[0])
	var lost []string
	for content, who := range mustStay {
		if !have[content] {
			lost = append(lost, fmt.Sprintf("%q (%s)", content, who))
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		return fmt.Errorf("contents written in the last round are lost: %s", strings.Join(lost, ", "))
	}
	return nil
}

// checkNaming checks that each entry d holds is named by one folder at most, the one it
// says is its parent, and that no folder strands itself and what it holds in a loop: held
// entries each named by their parent, up a chain of folders that never reaches the root.
func (r *syncRun) checkNaming(d *syncDevice) error {
	held, err := d.w.HeldEntries(r.t.Context())
	if err != nil {
		return fmt.Errorf("%s's entries: %w", d.name, err)
	}
	root := d.w.ID()
	namedBy := map[parsec.VlobID]parsec.VlobID{}
	reachable := map[parsec.VlobID]bool{root: true}
	for todo := []parsec.VlobID{root}; len(todo) > 0; {
		f := todo[0]
		todo = todo[1:]
		for _, name := range slices.Sorted(maps.Keys(held[f].Children)) {
			id := held[f].Children[name]
			if other, twice := namedBy[id]; twice {
				return fmt.Errorf("%s: entry %s is named in folders %s and %s", d.name, parsec.ShortID(id), parsec.ShortID(other), parsec.ShortID(f))
			}
			namedBy[id] = f
			h, ok := held[id]
			if !ok {
				return fmt.Errorf("%s: folder %s names %q (%s), which is not here", d.name, parsec.ShortID(f), name, parsec.ShortID(id))
			}
			if h.Parent != f {
				return fmt.Errorf("%s: folder %s names %q (%s), whose parent is %s", d.name, parsec.ShortID(f), name, parsec.ShortID(id), parsec.ShortID(h.Parent))
			}
			reachable[id] = true
			if h.Folder {
				todo = append(todo, id)
			}
		}
	}
	names := func(parent, id parsec.VlobID) bool {
		return slices.Contains(slices.Collect(maps.Values(held[parent].Children)), id)
	}
	for id := range held {
		seen := map[parsec.VlobID]bool{}
		for cur := id; !reachable[cur]; cur = held[cur].Parent {
			if seen[cur] {
				return fmt.Errorf("%s: entry %s is in a loop of folders, each named by the next, out of the root's reach", d.name, parsec.ShortID(id))
			}
			seen[cur] = true
			if !names(held[cur].Parent, cur) {
				break // removed: its folder no longer names it
			}
		}
	}
	return nil
}
