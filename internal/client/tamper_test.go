package client_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

// lie makes the server rewrite the ok replies to one command with edit.
func lie[Rep any](t *testing.T, srv *testenv.Server, cmd string, edit func(rep *Rep)) {
	t.Helper()
	var mu sync.Mutex
	srv.Lie = func(c string, reply []byte) []byte {
		if c != cmd {
			return reply
		}
		mu.Lock()
		defer mu.Unlock()
		return rewriteReply(reply, edit)
	}
}

func wantTampered(t *testing.T, err error, words string) {
	t.Helper()
	if parsec.KindOf(err) != parsec.Tampered || !strings.Contains(err.Error(), words) {
		t.Fatalf("got %v; want a tampering error saying %q", err, words)
	}
}

// openBundle reads the realm's keys with a user's own key, the way an attacker holding that
// user's device could. The realm's keys are all rotated by alice.
func openBundle(t *testing.T, p *people, c *client.Client, u *testenv.User, realm parsec.VlobID, index uint64) manifest.OpenedBundle {
	t.Helper()
	var certs protocol.CertificateGetRep
	if err := c.Call(t.Context(), protocol.CmdCertificateGet, protocol.CertificateGetReq{}, &certs); err != nil {
		t.Fatal(err)
	}
	var canaries [][]byte
	var rot *certif.RealmKeyRotationCertificate
	for _, raw := range certs.Realms[realm] {
		cert, err := certif.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if kr, ok := cert.(*certif.RealmKeyRotationCertificate); ok && kr.KeyIndex <= index {
			canaries = append(canaries, kr.KeyCanary)
			rot = kr
		}
	}
	var rep protocol.RealmGetKeysBundleRep
	if err := c.Call(t.Context(), protocol.CmdRealmGetKeysBundle, protocol.RealmGetKeysBundleReq{RealmID: realm, KeyIndex: index}, &rep); err != nil {
		t.Fatal(err)
	}
	priv, err := u.Device.UserKey()
	if err != nil {
		t.Fatal(err)
	}
	bk, err := manifest.OpenKeysBundleAccess(rep.KeysBundleAccess, priv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := manifest.OpenKeysBundle(rep.KeysBundle, bk, manifest.BundleExpected{RealmID: realm, KeyIndex: index, Author: rot.Author, Timestamp: rot.Timestamp},
		signingKey(t, p.alice).VerifyKey(), canaries)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signingKey(t *testing.T, u *testenv.User) crypto.SigningKey {
	t.Helper()
	k, err := u.Device.Signer()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTamperedOlderVersion(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": []byte("v1")})
	syncWS(t, aw)
	// Keep the server's answer for version 1.
	var old protocol.VlobReadRep
	lie(t, p.srv, protocol.CmdVlobReadBatch, func(rep *protocol.VlobReadRep) {
		for _, it := range rep.Items {
			if it.Version == 1 && len(it.Blob) > 0 && old.Items == nil {
				old = *rep
			}
		}
	})
	syncWS(t, bw)
	write(t, aw, map[string][]byte{"/f": []byte("v2")})
	syncWS(t, aw)
	// Now the server lists version 2 but serves version 1 again.
	lie(t, p.srv, protocol.CmdVlobReadBatch, func(rep *protocol.VlobReadRep) {
		for i, it := range rep.Items {
			for _, o := range old.Items {
				if o.VlobID == it.VlobID {
					rep.Items[i] = o
				}
			}
		}
	})
	wantTampered(t, bw.Sync(t.Context()), "older than the version")
}

func TestTamperedBlock(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": bytes.Repeat([]byte("data"), 1000)})
	syncWS(t, aw)
	syncWS(t, bw)
	lie(t, p.srv, protocol.CmdBlockRead, func(rep *protocol.BlockReadRep) {
		rep.Blocks[0].Data[len(rep.Blocks[0].Data)/2] ^= 1
	})
	var b bytes.Buffer
	err := bw.ReadFile(t.Context(), "/f", &b)
	wantTampered(t, err, "block")
	if b.Len() != 0 {
		t.Errorf("%d bytes of a tampered block were written out", b.Len())
	}
}

// Files written before block digests were of the encrypted block carry the SHA-256 of each
// block's cleartext: they still read, and a block that does not match that digest is
// tampering. bob uploads a block (XChaCha20-Poly1305, the only cipher then) and writes a
// file naming it that way, as an earlier build did.
func TestBlockOfAnEarlierManifest(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, bw, map[string][]byte{"/old": []byte("x"), "/forged": []byte("x")})
	syncWS(t, bw)
	key, err := openBundle(t, p, p.bc, p.bob, id, 1).Key(1)
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("written by an earlier build "), 100)
	block := parsec.NewBlockID()
	err = p.bc.Call(t.Context(), protocol.CmdBlockCreate, protocol.BlockCreateReq{RealmID: id, KeyIndex: 1,
		Blocks: []protocol.BlockData{{BlockID: block, Data: key.Derive(crypto.PurposeBlock, block).Encrypt(content, block[:])}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, digest := range map[string]crypto.Digest{"/old": crypto.Sum(content), "/forged": crypto.Sum([]byte("other"))} {
		h := stat(t, bw, name)
		bobWrites(t, p, id, &manifest.FileManifest{
			Header: manifest.Header{ID: h.ID, Parent: id, Created: h.Created},
			Size:   uint64(len(content)), BlockSize: manifest.DefaultBlockSize,
			Blocks: []manifest.BlockAccess{{ID: block, Size: uint64(len(content)), Digest: digest}},
		}, h.Version+1)
	}
	syncWS(t, aw)
	if got := read(t, aw, "/old"); !bytes.Equal(got, content) {
		t.Errorf("/old reads %q", got)
	}
	var b bytes.Buffer
	wantTampered(t, aw.ReadFile(t.Context(), "/forged", &b), "digest mismatch")
}

func TestTamperedManifestSignedByReader(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": []byte("genuine")})
	syncWS(t, aw)
	syncWS(t, bw)
	st, err := bw.Stat("/f")
	if err != nil {
		t.Fatal(err)
	}
	// mallory, a READER who holds the key, forges version 2 of the file; the server
	// serves it as if she had written it.
	bundle := openBundle(t, p, p.mc, p.mallory, id, 1)
	key, err := bundle.Key(1)
	if err != nil {
		t.Fatal(err)
	}
	ts := parsec.SystemClock{}.Now()
	forged := &manifest.FileManifest{
		Header:    manifest.Header{Author: p.mallory.Device.DeviceID, Timestamp: ts, ID: st.ID, Parent: id, Version: 2, Created: st.Created, Updated: ts},
		BlockSize: manifest.DefaultBlockSize,
	}
	blob := manifest.Seal(forged, signingKey(t, p.mallory), key)
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		switch cmd {
		case protocol.CmdVlobPollChanges:
			out, _ := protocol.OK(protocol.VlobPollChangesRep{CurrentCheckpoint: 1000, Changes: []protocol.VlobVersion{{VlobID: st.ID, Version: 2}}})
			return out
		case protocol.CmdVlobReadBatch:
			out, _ := protocol.OK(protocol.VlobReadRep{Items: []protocol.VlobItem{{
				VlobID: st.ID, KeyIndex: 1, Author: p.mallory.Device.DeviceID, Version: 2, Timestamp: ts, Blob: blob,
			}}})
			return out
		}
		return reply
	}
	wantTampered(t, bw.Pull(t.Context()), "could not write")
	if got := string(read(t, bw, "/f")); got != "genuine" {
		t.Errorf("after the refused forgery the file reads %q", got)
	}
}

func TestTamperedKeysBundleCanary(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": []byte("x")})
	syncWS(t, aw)
	// The server (with a copy of alice's device) serves bob a bundle whose key is not the
	// one the rotation certificate's canary was made with.
	genuine := openBundle(t, p, p.bc, p.bob, id, 1)
	bobKey, err := p.bob.Device.UserKey()
	if err != nil {
		t.Fatal(err)
	}
	blob, bk := manifest.SealKeysBundle(manifest.KeysBundle{
		Author: genuine.Author, Timestamp: genuine.Timestamp, RealmID: id, Keys: []crypto.RealmKey{crypto.GenerateRealmKey()},
	}, signingKey(t, p.alice))
	access, err := manifest.SealKeysBundleAccess(bk, bobKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	lie(t, p.srv, protocol.CmdRealmGetKeysBundle, func(rep *protocol.RealmGetKeysBundleRep) {
		rep.KeysBundle, rep.KeysBundleAccess = blob, access
	})
	fresh := p.bob.Open(t) // a new session: no keys in memory
	poll(t, fresh)
	w, err := fresh.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	wantTampered(t, w.Sync(t.Context()), "canary")
}

// A download of a tree reads a chunk of files while it walks the next: a tampered block in
// a later chunk stops it with the tampering error, whatever the walk was doing.
func TestTamperedBlockInALaterChunk(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	files := map[string]string{}
	for i := range 12 {
		files[fmt.Sprintf("d%d/f%d.txt", i%3, i)] = strings.Repeat(fmt.Sprint(i), 100+i)
	}
	if _, err := bw.Upload(ctx, localTree(t, files), "/", client.CopyOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	client.SetDownloadChunk(t, 2)
	// Atomic: the next chunk's read, cancelled, may still be served once Download returns.
	var reads atomic.Int32
	lie(t, p.srv, protocol.CmdBlockRead, func(rep *protocol.BlockReadRep) {
		if reads.Add(1) == 3 {
			rep.Blocks[0].Data[len(rep.Blocks[0].Data)/2] ^= 1
		}
	})
	_, err := aw.Download(ctx, "/reports", t.TempDir(), client.CopyOptions{Recursive: true})
	wantTampered(t, err, "block")
	if n := reads.Load(); n < 3 {
		t.Errorf("%d block reads, want the download stopped at the third", n)
	}
}

// TestWorkspaceNameThatIsNotAName: an owner's device that means harm names the workspace
// "..", "." or a path (the server cannot tell: the name is encrypted). Another member's
// device does not take it as a name: the workspace is listed as "workspace <ID>", and its
// download goes into the folder asked, not above it or over what is there.
func TestWorkspaceNameThatIsNotAName(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/escaped.txt": []byte("x")})
	syncWS(t, aw)
	for _, name := range []string{"..", ".", "../../x", "a/b", "bell\a"} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			if err := p.ac.RenameUnchecked(t.Context(), id, name); err != nil {
				t.Fatal(err)
			}
			poll(t, p.bc)
			info, err := bw.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if info.Name != "" || info.Tampered != nil {
				t.Errorf("workspace named %q, tampered %v; want no name, and no blame on the server", info.Name, info.Tampered)
			}
			base := t.TempDir()
			into := filepath.Join(base, "into", "deeper")
			if err := os.MkdirAll(into, 0o755); err != nil {
				t.Fatal(err)
			}
			res, err := bw.Download(t.Context(), "/", into, client.CopyOptions{Recursive: true})
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(into, "workspace "+parsec.ShortID(id))
			if res.Path != want {
				t.Errorf("downloaded to %s, want %s", res.Path, want)
			}
			if _, err := os.Stat(filepath.Join(want, "escaped.txt")); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestWorkspaceNamedAfterAnotherID: mallory names a workspace she shares with alice after
// the ID of alice's own. Looking up that ID (as the CLI's W:/path and the GUI's links do)
// finds alice's workspace: a name matched first before, and sent her files to mallory's.
func TestWorkspaceNamedAfterAnotherID(t *testing.T) {
	p := newPeople(t)
	if err := p.ac.UpdateProfile(t.Context(), p.mallory.Device.UserID, parsec.ProfileStandard); err != nil {
		t.Fatal(err)
	}
	poll(t, p.mc)
	mine, err := p.ac.CreateWorkspace(t.Context(), "Secret")
	if err != nil {
		t.Fatal(err)
	}
	trap, err := p.mc.CreateWorkspace(t.Context(), mine.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.mc.ShareWorkspace(t.Context(), trap, p.alice.Device.UserID, parsec.RoleContributor); err != nil {
		t.Fatal(err)
	}
	poll(t, p.ac)
	for _, ref := range []string{mine.String(), strings.ToUpper(mine.String())} {
		got, err := p.ac.FindWorkspace(t.Context(), ref)
		if err != nil || got.ID != mine {
			t.Errorf("FindWorkspace(%s) = %s (%q), %v; want alice's own %s", ref, parsec.ShortID(got.ID), got.Name, err, parsec.ShortID(mine))
		}
	}
	// Mallory's is found by its own ID.
	if got, err := p.ac.FindWorkspace(t.Context(), trap.String()); err != nil || got.ID != trap {
		t.Errorf("FindWorkspace(mallory's ID) = %s, %v", parsec.ShortID(got.ID), err)
	}
}

// TestWorkspaceShortIDFindsIt: the short form messages give of a workspace's ID (when its
// name cannot be read) finds it again, as a prefix of its ID, even among workspaces one
// process made after another (the GUI, a script): workspace IDs are not made in sequence
// like those of files, whose first digits follow each other.
func TestWorkspaceShortIDFindsIt(t *testing.T) {
	p := newPeople(t)
	var ids []parsec.VlobID
	for i := range 3 {
		id, err := p.ac.CreateWorkspace(t.Context(), fmt.Sprintf("W%d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		short := parsec.ShortID(id)
		if got, err := p.ac.FindWorkspace(t.Context(), short); err != nil || got.ID != id {
			t.Errorf("FindWorkspace(%s), the short form of %s: %s, %v", short, id, got.ID, err)
		}
	}
}
