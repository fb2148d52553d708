package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// caller is who sent a request, as established by the handshake.
type caller struct {
	org    metastore.Organization
	device metastore.Device // authenticated family only
	user   metastore.User   // authenticated family only

	invitation metastore.Invitation // invited family only
}

// handler serves one command. It returns the reply to encode, or an error: a
// *protocol.StatusError becomes a reply with that status, anything else a 500.
type handler func(ctx context.Context, c *caller, body []byte) (any, error)

// command adapts a typed handler: the body, envelope and arguments, is decoded strictly
// (unknown fields refused) in one pass, within the limits of requests: an array longer
// than any request carries is refused at its header (415), before it costs memory.
func command[Req any](f func(ctx context.Context, c *caller, req *Req) (any, error)) handler {
	return func(ctx context.Context, c *caller, body []byte) (any, error) {
		var env struct {
			Cmd string `cbor:"cmd"`
			Req *Req   `cbor:"req"`
		}
		if err := protocol.UnmarshalRequest(body, &env); err != nil || env.Req == nil {
			return nil, errUndecodable
		}
		return f(ctx, c, env.Req)
	}
}

var errUndecodable = errors.New("undecodable arguments")

func (s *Server) commands(family string) map[string]handler {
	switch family {
	case protocol.FamilyAnonymous:
		return map[string]handler{
			protocol.CmdPing:                  command(s.ping),
			protocol.CmdOrganizationBootstrap: command(s.organizationBootstrap),
		}
	case protocol.FamilyAuthenticated:
		cmds := map[string]handler{
			protocol.CmdPing:                 command(s.ping),
			protocol.CmdCertificateGet:       command(s.certificateGet),
			protocol.CmdOrganizationConfig:   command(s.organizationConfig),
			protocol.CmdInviteNewUser:        command(s.inviteNewUser),
			protocol.CmdInviteNewDevice:      command(s.inviteNewDevice),
			protocol.CmdInviteList:           command(s.inviteList),
			protocol.CmdInviteCancel:         command(s.inviteCancel),
			protocol.CmdInviteComplete:       command(s.inviteComplete),
			protocol.CmdGreeterStartAttempt:  command(s.greeterStartAttempt),
			protocol.CmdGreeterCancelAttempt: command(s.greeterCancelAttempt),
			protocol.CmdGreeterStep:          command(s.greeterStep),
			protocol.CmdUserCreate:           command(s.userCreate),
			protocol.CmdDeviceCreate:         command(s.deviceCreate),
			protocol.CmdUserUpdate:           command(s.userUpdate),
			protocol.CmdUserRevoke:           command(s.userRevoke),
			protocol.CmdListFrozenUsers:      command(s.listFrozenUsers),
		}
		maps.Copy(cmds, s.realmCommands())
		maps.Copy(cmds, s.dataCommands())
		maps.Copy(cmds, s.recoveryCommands())
		return cmds
	case protocol.FamilyInvited:
		return map[string]handler{
			protocol.CmdPing:                 command(s.ping),
			protocol.CmdInviteInfo:           command(s.inviteInfo),
			protocol.CmdClaimerStartAttempt:  command(s.claimerStartAttempt),
			protocol.CmdClaimerCancelAttempt: command(s.claimerCancelAttempt),
			protocol.CmdClaimerStep:          command(s.claimerStep),
			protocol.CmdRecoveryReveal:       command(s.recoveryReveal),
		}
	}
	return map[string]handler{}
}

// httpError ends a request at the handshake, with a status code and a short text.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// write answers the request with the error; a 422 says which versions are supported.
func (e *httpError) write(w http.ResponseWriter) {
	if e.code == protocol.HTTPUnsupportedVersion {
		w.Header().Set(protocol.HeaderSupportedAPIVersion, protocol.APIVersion)
	}
	http.Error(w, e.msg, e.code)
}

func fail(code int, msg string) error { return &httpError{code: code, msg: msg} }

// checkVersion is the first handshake check of every RPC: it returns the client's minor
// version, which says how it hashed an upload's blocks (protocol.DeviceAuth.CheckBody).
func checkVersion(r *http.Request) (minor int, err error) {
	major, minor, err := protocol.ParseAPIVersion(r.Header.Get(protocol.HeaderAPIVersion))
	if err != nil || major != protocol.APIMajor {
		return 0, fail(protocol.HTTPUnsupportedVersion, "unsupported API version")
	}
	return minor, nil
}

func (s *Server) rpc(family string) http.HandlerFunc {
	cmds := s.commands(family)
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(protocol.HeaderAPIVersion, protocol.APIVersion)
		reply, err := s.serveRPC(w, r, family, cmds)
		// The reply starts now, however long the body took to come.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.limits.BodyIdle))
		if err != nil {
			var he *httpError
			if errors.As(err, &he) {
				// The body may be unread: close rather than read it to reuse the connection.
				w.Header().Set("Connection", "close")
				he.write(w)
				return
			}
			s.rpcFailed(w, r, family, err)
			return
		}
		defer reply.done()
		w.Header().Set("Content-Type", protocol.ContentType)
		w.Header().Set("Content-Length", strconv.FormatInt(reply.size, 10))
		if err := reply.write(w, s.limits.BodyIdle, canSendfile(r)); err != nil && r.Context().Err() == nil {
			s.log.Warn("rpc reply cut", "family", family, "path", r.URL.Path, "err", err)
		}
	}
}

// serveRPC checks who sends the request before it reads a byte of the body: the
// organization, then the device's signature over the body's hash (authenticated family) or
// the invitation token (invited family). Only then is the body read, at most the family's
// limit, in a buffer that grows with what arrives (never from the announced length), and,
// for a device, checked against the signed hash.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request, family string, cmds map[string]handler) (*replyBody, error) {
	minor, err := checkVersion(r)
	if err != nil {
		return nil, err
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != protocol.ContentType {
		return nil, fail(protocol.HTTPUnsupportedType, "content type must be "+protocol.ContentType)
	}
	limit := int64(protocol.MaxUnauthenticatedBodySize)
	if family == protocol.FamilyAuthenticated {
		limit = protocol.MaxBodySize
	}
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	ctx := r.Context()
	c, err := s.handshakeOrg(ctx, r)
	if err != nil {
		return nil, err
	}
	var auth protocol.DeviceAuth
	switch family {
	case protocol.FamilyAuthenticated:
		if auth, err = s.authenticate(ctx, r, c); err != nil {
			return nil, err
		}
		key := deviceKey(c)
		if !s.deviceRequests.take(key) {
			return nil, overLimit("requests at once from this device", s.limits.RequestsPerDevice)
		}
		defer s.deviceRequests.give(key)
	case protocol.FamilyInvited:
		if err := s.authenticateInvited(ctx, r, c); err != nil {
			return nil, err
		}
	}
	buf, err := s.readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	// Nothing holds on to the body once the reply is encoded (a block store does not retain
	// the blocks it is given, which decode as parts of the body: see protocol.Bytes).
	defer releaseBody(buf)
	body := buf.Bytes()
	if family == protocol.FamilyAuthenticated {
		if err := auth.CheckBody(body, minor); err != nil {
			return nil, fail(protocol.HTTPForbidden, "bad request signature: the body does not match its signed hash")
		}
	}
	cmd, err := protocol.RequestCommand(body)
	if err != nil {
		return nil, fail(protocol.HTTPUnsupportedType, "undecodable request")
	}
	h, ok := cmds[cmd]
	if !ok {
		return nil, fail(protocol.HTTPUnsupportedType, "unknown command "+strconv.Quote(cmd))
	}
	noteRPC(w, cmd, "")
	rep, err := h(ctx, c, body)
	var se *protocol.StatusError
	switch {
	case err == nil:
		noteRPC(w, cmd, "ok")
		if sr, ok := rep.(streamedReply); ok {
			return sr.body(), nil
		}
		b, err := protocol.OK(rep)
		return bufferedReply(b), err
	case errors.Is(err, errUndecodable):
		return nil, fail(protocol.HTTPUnsupportedType, "undecodable arguments for "+cmd)
	case errors.As(err, &se):
		noteRPC(w, cmd, string(se.Status))
		return bufferedReply(protocol.EncodeError(se)), nil
	}
	return nil, err
}

// replyBody is an encoded reply, written part after part: size bytes in all.
type replyBody struct {
	parts []replyPart
	size  int64
	close func() // when set, called once the reply is written, or not
}

// replyPart is bytes in memory, or n bytes of a reader.
type replyPart struct {
	data []byte
	r    io.Reader
	n    int64
}

// streamedReply is a handler's reply that is written from readers, not from memory (see
// blockReadReply): its body holds them, and closes them when done.
type streamedReply interface{ body() *replyBody }

func bufferedReply(b []byte) *replyBody {
	body := &replyBody{}
	body.addBytes(b)
	return body
}

func (b *replyBody) addBytes(data []byte) {
	b.parts = append(b.parts, replyPart{data: data})
	b.size += int64(len(data))
}

func (b *replyBody) addReader(r io.Reader, n int64) {
	b.parts = append(b.parts, replyPart{r: r, n: n})
	b.size += n
}

func (b *replyBody) done() {
	if b.close != nil {
		b.close()
	}
}

// write writes the parts, extending the write deadline for each piece of at most
// replyPiece bytes (see writeReply). With sendfile (see canSendfile), a file's bytes go to
// the connection by the response writer's ReadFrom, which hands them to the kernel; any
// other reader's (an S3 object's body), and a file's over TLS or HTTP/2, go through a
// reused buffer, a piece in one write, where ReadFrom would copy them through a buffer of
// 32 KiB allocated for each piece (twice the server's processor time for a download from
// S3). A reader that ends early cuts the reply short, which the client sees as a lost
// connection.
func (b *replyBody) write(w http.ResponseWriter, idle time.Duration, sendfile bool) error {
	var buf *[]byte
	defer func() {
		if buf != nil {
			pieceBuffers.Put(buf)
		}
	}()
	rc := http.NewResponseController(w)
	for _, p := range b.parts {
		if p.r == nil {
			writeReply(w, p.data, idle)
			continue
		}
		var rf io.ReaderFrom
		if _, ok := p.r.(*os.File); ok && sendfile {
			rf, _ = w.(io.ReaderFrom)
		}
		if buf == nil && rf == nil {
			buf = pieceBuffers.Get().(*[]byte)
		}
		for left := p.n; left > 0; {
			n := min(left, replyPiece)
			rc.SetWriteDeadline(time.Now().Add(idle))
			if rf != nil {
				if m, err := rf.ReadFrom(io.LimitReader(p.r, n)); err != nil {
					return err
				} else if m < n {
					return io.ErrUnexpectedEOF
				}
			} else {
				piece := (*buf)[:n]
				if _, err := io.ReadFull(p.r, piece); err != nil {
					if err == io.EOF {
						err = io.ErrUnexpectedEOF // ended on a piece's boundary: still short
					}
					return err
				}
				if _, err := w.Write(piece); err != nil {
					return err
				}
			}
			left -= n
		}
	}
	return nil
}

const replyPiece = 256 << 10

// canSendfile says whether a reply to r can hand a file's bytes to the kernel (sendfile):
// on HTTP/1 without TLS, where the connection is the server's TCP connection (a proxy in
// front may terminate TLS). Over TLS the bytes must be encrypted here, and HTTP/2 frames
// them: its response writer has no ReadFrom.
func canSendfile(r *http.Request) bool { return r.TLS == nil && r.ProtoMajor == 1 }

var pieceBuffers = sync.Pool{New: func() any { b := make([]byte, replyPiece); return &b }}

var errTooLarge = fail(protocol.HTTPTooLarge, "request body too large")

func deviceKey(c *caller) string { return string(c.org.ID) + "/" + c.device.ID.String() }

// handshakeOrg finds the organization named in the path: 404 if unknown, 460 if expired.
func (s *Server) handshakeOrg(ctx context.Context, r *http.Request) (*caller, error) {
	id, err := parsec.ParseOrganizationID(r.PathValue("org"))
	if err != nil {
		return nil, fail(protocol.HTTPNotFound, "organization not found")
	}
	org, err := s.lookupOrg(ctx, id)
	if err != nil {
		return nil, err
	}
	if org == nil {
		return nil, fail(protocol.HTTPNotFound, "organization not found")
	}
	if org.Config.IsExpired {
		return nil, fail(protocol.HTTPExpired, "organization expired")
	}
	return &caller{org: *org}, nil
}

// authenticate checks the signed Authorization header, without the body (the caller checks
// it against the signed hash once read): 401 when missing or malformed, 403 for an unknown
// device or a bad signature, 498 outside the ballpark, 409 for a replayed request, 461 for
// a revoked user, 462 for a frozen one.
func (s *Server) authenticate(ctx context.Context, r *http.Request, c *caller) (protocol.DeviceAuth, error) {
	auth, err := protocol.ParseDeviceAuth(r.Header.Get(protocol.HeaderAuthorization))
	if err != nil {
		return auth, fail(protocol.HTTPUnauthorized, "missing or malformed authorization")
	}
	return auth, s.checkDevice(ctx, r, auth, c)
}

func (s *Server) checkDevice(ctx context.Context, r *http.Request, auth protocol.DeviceAuth, c *caller) error {
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		d, err := tx.Device(c.org.ID, auth.Device)
		if err != nil {
			return err
		}
		u, err := tx.User(c.org.ID, d.UserID)
		if err != nil {
			return err
		}
		c.device, c.user = d, u
		return nil
	})
	if errors.Is(err, metastore.ErrNotFound) {
		return fail(protocol.HTTPForbidden, "unknown device")
	}
	if err != nil {
		return err
	}
	vk, err := crypto.ParseVerifyKey(c.device.VerifyKey)
	if err != nil {
		return err
	}
	if err := auth.VerifyHeader(vk, r.Method, r.URL.Path); err != nil {
		return fail(protocol.HTTPForbidden, "bad request signature")
	}
	now := s.now()
	if !protocol.InBallpark(auth.Timestamp, now) {
		return fail(protocol.HTTPClockSkew, "request timestamp out of ballpark: check this computer's clock")
	}
	if err := s.admit(ctx, c, auth, now); err != nil {
		return err
	}
	return userBlocked(c.user)
}

// userBlocked returns the handshake's refusal of a revoked or frozen user (461, 462), or nil.
func userBlocked(u metastore.User) error {
	switch {
	case u.Revoked():
		return fail(protocol.HTTPRevoked, "user revoked")
	case u.Frozen:
		return fail(protocol.HTTPFrozen, "user frozen")
	}
	return nil
}

// currentCaller reads the caller's user again, inside a write transaction, and refuses it
// as the handshake would if it was revoked or frozen since. The handshake reads the user
// before the body, which may take long to come (its read deadline is renewed while bytes
// arrive): without this, a user revoked meanwhile could still write. Writers of an
// organization being serialized, a change that passes this check is committed before the
// revocation or freeze, never after. The refusal is an HTTP status, like the handshake's,
// which serveRPC answers as such.
func currentCaller(tx metastore.Tx, c *caller) (metastore.User, error) {
	u, err := tx.User(c.org.ID, c.user.ID)
	if err != nil {
		return u, err
	}
	return u, userBlocked(u)
}

func (s *Server) ping(ctx context.Context, c *caller, req *protocol.PingReq) (any, error) {
	return protocol.PingRep{Pong: req.Ping}, nil
}

// ballpark returns the timestamp_out_of_ballpark status for a certificate timestamp, or nil.
func (s *Server) ballpark(ts parsec.DateTime) error {
	now := s.now()
	if protocol.InBallpark(ts, now) {
		return nil
	}
	e := protocol.Errorf(protocol.StatusTimestampOutOfBallpark,
		"certificate timestamp %v is too far from the server's time %v: check this computer's clock", ts, now)
	e.Detail = protocol.ErrorDetail{ServerTimestamp: now, ClientTimestamp: ts}
	return e
}

// readBody reads a request's body, at most limit bytes (413 beyond), into a buffer that
// grows with what arrives: an announced length costs nothing until the bytes come. Each
// read may wait for the next bytes up to the limits' BodyIdle. The buffer is reused (bodyBuffers): releaseBody gives it back
// when the request no longer needs it.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) (*bytes.Buffer, error) {
	rc := http.NewResponseController(w)
	body := http.MaxBytesReader(w, r.Body, limit)
	buf := takeBody()
	_, err := buf.ReadFrom(progressReader{rc: rc, r: body, idle: s.limits.BodyIdle})
	if err == nil {
		// Reading is over: the handler's time is bounded by the write deadline.
		rc.SetReadDeadline(time.Time{})
		return buf, nil
	}
	releaseBody(buf)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errTooLarge
	}
	return nil, fail(http.StatusBadRequest, "cannot read request body")
}

// Buffers of request bodies are kept for the next requests: an upload sends bodies of
// megabytes one after another, each of which would otherwise be a new buffer, cleared,
// grown by doubling, then garbage. keptBodies holds a few out of the garbage collector's
// reach: a sync.Pool alone (bodyBuffers, for the rest) is emptied by every other
// collection, which such an upload triggers every few requests, so that most of its bodies
// took a new buffer (7 % of the server's processor time in a 1 GiB upload went to clearing
// them, and more to the page faults of their fresh memory).
var (
	keptBodies  = make(chan *bytes.Buffer, 4)
	bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func takeBody() *bytes.Buffer {
	select {
	case buf := <-keptBodies:
		return buf
	default:
		return bodyBuffers.Get().(*bytes.Buffer)
	}
}

func releaseBody(buf *bytes.Buffer) {
	if buf.Cap() > 2*protocol.MaxBodySize {
		return
	}
	buf.Reset()
	select {
	case keptBodies <- buf:
	default:
		bodyBuffers.Put(buf)
	}
}
