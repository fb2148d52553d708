package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// slowRequest opens a connection to the world's server and sends a POST to path with the
// given Authorization, announcing a body of size bytes, and sends sent, its first bytes.
// The caller may send the rest on the connection, and reads the answer with answer.
func slowRequest(t *testing.T, w *world, path, auth string, size int, sent []byte) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", w.hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: parsec\r\nContent-Type: %s\r\n%s: %s\r\nContent-Length: %d\r\n",
		path, protocol.ContentType, protocol.HeaderAPIVersion, protocol.APIVersion, size)
	if auth != "" {
		head += protocol.HeaderAuthorization + ": " + auth + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	// The server may refuse before it has read anything: then writing fails, which is fine.
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	conn.Write(sent)
	return conn
}

// waitForSlot waits until key holds a slot of s (a request held by slowRequest, once the
// server has taken it).
func waitForSlot(t *testing.T, s *slots, key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.count(key) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the held request holds no slot of %s after 10s", key)
		}
		time.Sleep(time.Millisecond)
	}
}

// answer reads the HTTP answer on conn, waiting at most wait.
func answer(t *testing.T, conn net.Conn, wait time.Duration) (int, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", wait, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A stranger who knows an organization's name announces big bodies on many connections and
// sends them slowly: the server refuses each before reading its body, and its memory does
// not grow with the announced sizes (it grew by 16 MiB per connection, read before the
// signature was checked).
func TestSlowBodiesFromStrangers(t *testing.T) {
	w := newWorld(t, "alice:admin")
	alice := w.user("alice")
	stranger := crypto.GenerateSigningKey()
	const conns, size = 20, protocol.MaxBodySize
	tests := []struct {
		name string
		path string
		auth func() string
		code int
	}{
		{"unknown device", alice.path(), func() string {
			return protocol.SignRequest(stranger, parsec.NewDeviceID(), http.MethodPost, alice.path(), w.clock.Now(), make([]byte, size))
		}, protocol.HTTPForbidden},
		{"member's device, another key", alice.path(), func() string {
			return w.sign(stranger, alice.device, http.MethodPost, alice.path(), w.clock.Now(), make([]byte, size))
		}, protocol.HTTPForbidden},
		{"no authorization", alice.path(), func() string { return "" }, protocol.HTTPUnauthorized},
		{"unknown invitation", protocol.RouteInvited + string(w.org), func() string { return "Bearer " + parsec.NewAccessToken().String() }, protocol.HTTPTooLarge},
		{"anonymous", protocol.RouteAnonymous + string(w.org), func() string { return "" }, protocol.HTTPTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := heapInUse()
			open := make([]net.Conn, conns)
			for i := range open {
				open[i] = slowRequest(t, w, tc.path, tc.auth(), size, make([]byte, 64<<10))
			}
			grown := int64(heapInUse()) - int64(before)
			for _, c := range open {
				if code, text := answer(t, c, 5*time.Second); code != tc.code {
					t.Errorf("HTTP %d %q, want %d", code, text, tc.code)
				}
			}
			t.Logf("%d connections announcing %d MiB each: heap grew by %.1f MiB", conns, size>>20, float64(grown)/(1<<20))
			if grown > 8<<20 {
				t.Errorf("heap grew by %d MiB with %d slow bodies", grown>>20, conns)
			}
		})
	}
}

// A member's device that stops sending its body in the middle is cut off after BodyIdle;
// one that keeps sending gets through.
func TestStalledBodyCutOff(t *testing.T) {
	w := newWorld(t, "alice:admin", func(c *Config) { c.Limits.BodyIdle = 200 * time.Millisecond })
	alice := w.user("alice")
	body := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: strings.Repeat("p", 1000)})
	conn := slowRequest(t, w, alice.path(), w.sign(alice.key, alice.device, http.MethodPost, alice.path(), w.clock.Now(), body), len(body), body[:10])
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("a stalled body got HTTP %d", resp.StatusCode)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still waits for a stalled body after 5 s")
	}
}

// A request captured and sent again as is, while its timestamp is still in the ballpark, is
// refused; so is an event stream request.
func TestReplayedRequest(t *testing.T) {
	w := newWorld(t, "alice:admin")
	alice := w.user("alice")
	body := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: "x"})
	first := w.signedRequest(t, alice, body, w.clock.Now())
	wantOK(t, w.do(t, first))
	again := w.rpcRequest(t, alice.path(), body)
	again.Header.Set(protocol.HeaderAuthorization, first.Header.Get(protocol.HeaderAuthorization))
	wantCode(t, w.do(t, again), protocol.HTTPReplayed)
	// Later, still within the ballpark.
	w.clock.Set(w.clock.Now().Add(4 * time.Minute))
	again = w.rpcRequest(t, alice.path(), body)
	again.Header.Set(protocol.HeaderAuthorization, first.Header.Get(protocol.HeaderAuthorization))
	wantCode(t, w.do(t, again), protocol.HTTPReplayed)
	// A new signature passes.
	wantOK(t, w.do(t, w.signedRequest(t, alice, body, w.clock.Now())))

	s := w.openEvents(t, alice, "")
	req := w.eventsRequest(t, w.org, alice, w.clock.Now())
	req.Header.Set(protocol.HeaderAuthorization, s.resp.Request.Header.Get(protocol.HeaderAuthorization))
	wantCode(t, w.do(t, req), protocol.HTTPReplayed)
}

func TestReplayCacheBounded(t *testing.T) {
	c := newReplayCache(3, nil)
	now := testStart
	sig := func(i byte) []byte { s := make([]byte, crypto.SignatureSize); s[0] = i; return s }
	for i := range byte(3) {
		if err := c.check(t.Context(), sig(i), now.Add(time.Duration(i)*time.Second), now); err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
	}
	if err := c.check(t.Context(), sig(1), now.Add(time.Second), now); err != errReplayed {
		t.Fatalf("replay: %v, want %v", err, errReplayed)
	}
	// A fourth signature makes the cache forget the oldest (time now): requests that old
	// can no longer be told apart from replays.
	if err := c.check(t.Context(), sig(3), now.Add(3*time.Second), now); err != nil {
		t.Fatal(err)
	}
	if len(c.seen) != 3 || len(c.order) != 3 {
		t.Fatalf("cache holds %d, %d signatures, want 3", len(c.seen), len(c.order))
	}
	if err := c.check(t.Context(), sig(0), now, now); err != errTooOld {
		t.Fatalf("forgotten signature: %v, want %v", err, errTooOld)
	}
	if err := c.check(t.Context(), sig(4), now.Add(4*time.Second), now); err != nil {
		t.Fatalf("newer signature: %v", err)
	}
	// Signatures out of the ballpark are forgotten.
	later := now.Add(protocol.BallparkLateSeconds*time.Second + time.Hour)
	if err := c.check(t.Context(), sig(5), later, later); err != nil || len(c.seen) != 1 {
		t.Fatalf("after the ballpark: %v, %d signatures remembered, want 1", err, len(c.seen))
	}
}

// One device cannot hold more event streams or requests than its limits; one address no
// more requests than its limit. The refusal says why.
func TestLimitsPerDevice(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member", func(c *Config) {
		c.Limits.StreamsPerDevice = 2
		c.Limits.RequestsPerDevice = 1
	})
	alice, bob := w.user("alice"), w.user("bob")
	w.openEvents(t, alice, "")
	w.openEvents(t, alice, "")
	r := w.do(t, w.eventsRequest(t, w.org, alice, w.clock.Now()))
	wantCode(t, r, protocol.HTTPTooManyRequests)
	if !strings.Contains(string(r.body), "too many event streams") {
		t.Errorf("refusal %q does not say why", r.body)
	}
	w.openEvents(t, bob, "") // another device has its own streams

	body := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: "x"})
	held := slowRequest(t, w, alice.path(), w.sign(alice.key, alice.device, http.MethodPost, alice.path(), w.clock.Now(), body), len(body), body[:1])
	// The held request is counted once the server has authenticated it; a request sent
	// before that would take the device's one slot first, and the held one be refused.
	waitForSlot(t, w.srv.deviceRequests, string(w.org)+"/"+alice.device.String())
	r = w.do(t, w.signedRequest(t, alice, body, w.clock.Now()))
	wantCode(t, r, protocol.HTTPTooManyRequests)
	wantOK(t, w.do(t, w.signedRequest(t, bob, body, w.clock.Now())))
	held.Close()
}

func TestLimitsPerAddress(t *testing.T) {
	w := newWorld(t, "alice:admin", func(c *Config) { c.Limits.RequestsPerAddr = 1 })
	held := slowRequest(t, w, protocol.RouteAnonymous+string(w.org), "", 1000, make([]byte, 1))
	// The held request holds the address's one slot once the server has taken it; a ping
	// sent before that would take the slot first, and the held request be refused.
	waitForSlot(t, w.srv.addrRequests, "127.0.0.1")
	body := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: "x"})
	r := w.do(t, w.rpcRequest(t, protocol.RouteAnonymous+string(w.org), body))
	wantCode(t, r, protocol.HTTPTooManyRequests)
	if !strings.Contains(string(r.body), "from this address") {
		t.Errorf("refusal %q does not say why", r.body)
	}
	held.Close()
}

// An event stream outlives the HTTP server's read and write timeouts: it renews its write
// deadline for each frame.
func TestEventStreamOutlivesTimeouts(t *testing.T) {
	w := newWorld(t, "alice:admin", func(c *Config) {
		c.SSEKeepalive = 50 * time.Millisecond
		c.Limits.BodyIdle = time.Second
	})
	hs := httptest.NewUnstartedServer(w.srv)
	hs.Config.ReadTimeout = 200 * time.Millisecond
	hs.Config.WriteTimeout = 200 * time.Millisecond
	hs.Start()
	t.Cleanup(func() {
		w.srv.Stopping()
		hs.Close()
	})
	req := w.eventsRequest(t, w.org, w.user("alice"), w.clock.Now())
	req.URL.Host = hs.Listener.Addr().String()
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream: HTTP %d", resp.StatusCode)
	}
	r := protocol.NewSSEReader(resp.Body)
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		if _, err := r.Next(); err != nil {
			t.Fatalf("the stream ended: %v", err)
		}
	}
}

// A request whose array announces more elements than any legitimate request carries is
// refused at the array's header (415), before it is decoded: a vlob_write of 1 MiB
// announcing 2^20 empty items made the server allocate 64 MiB (one 56-byte struct per
// byte) before it counted them against MaxBatchItems, and a block_create laid out as a
// batch was decoded so once more for its signed hash. A batch just over MaxBatchItems is
// still decoded and answered too_many_elements.
func TestRequestArraysBounded(t *testing.T) {
	w := newWorld(t, dataUsers)
	bob := w.user("bob")
	// body is a request of cmd whose arguments start with an array named field of n empty
	// maps, followed by the encoded pairs after.
	body := func(cmd, field string, pairs byte, n int, after string) []byte {
		b := append([]byte("\xa2\x63cmd"), 0x60+byte(len(cmd)))
		b = append(append(b, cmd...), "\x63req"...)
		b = append(b, 0xa0+pairs, 0x60+byte(len(field)))
		b = append(append(b, field...), 0x9a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		b = append(b, strings.Repeat("\xa0", n)...)
		return append(b, after...)
	}
	realm := parsec.NewVlobID()
	batchTail := "\x69key_index\x01\x68realm_id\x50" + string(realm[:])
	tests := []struct {
		name   string
		body   []byte
		code   int
		status protocol.Status // when code is 200
	}{
		{"vlob_write of 2^20 items", body(protocol.CmdVlobWrite, "items", 1, 1<<20, ""), protocol.HTTPUnsupportedType, ""},
		{"block_create as a batch of 2^20 blocks", body(protocol.CmdBlockCreate, "blocks", 3, 1<<20, batchTail), protocol.HTTPUnsupportedType, ""},
		{"vlob_write of MaxBatchItems+1 items", body(protocol.CmdVlobWrite, "items", 1, protocol.MaxBatchItems+1, ""), http.StatusOK, protocol.StatusTooManyElements},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := w.signedRequest(t, bob, tc.body, w.clock.Now())
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := w.do(t, req)
			runtime.ReadMemStats(&after)
			wantCode(t, r, tc.code)
			if tc.code == http.StatusOK {
				wantStatus(t, decodeReply(t, r, nil), tc.status)
			} else if !strings.Contains(string(r.body), "undecodable arguments") {
				t.Errorf("refusal %q, want undecodable arguments", r.body)
			}
			// Everything the process allocated meanwhile counts, the test's client too, and
			// the body's buffer alone takes 2 to 4 MiB (twice that under the race detector,
			// whose pools drop buffers): the bound is generous, well under the 60 MiB that
			// 2^20 items cost decoded.
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("body of %d KiB: %d KiB allocated", len(tc.body)>>10, alloc>>10)
			if alloc > 24<<20 {
				t.Errorf("a body of %d KiB made the process allocate %d MiB", len(tc.body)>>10, alloc>>20)
			}
		})
	}
}
