package protocol

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestSSERoundTrip(t *testing.T) {
	realm := parsec.NewVlobID()
	frames := []SSEEvent{
		{Name: EventOrganizationConfig, Data: codec.MustMarshal(OrganizationConfig{UserProfileOutsiderAllowed: true, SSEKeepaliveSeconds: 30})},
		{ID: FormatEventID(1770000000000001), Name: EventCommonCertificate, Data: codec.MustMarshal(EventCertificateData{Timestamp: 5})},
		{ID: "7", Name: EventRealmCertificate, Data: codec.MustMarshal(EventCertificateData{Timestamp: 6, RealmID: &realm})},
		{Name: EventKeepalive},
		{Name: EventMissed, Data: []byte{}},
		{ID: "8", Name: EventPinged, Data: bytes.Repeat([]byte{0xff}, 100_000)}, // longer than the reader's buffer
	}
	var buf bytes.Buffer
	for _, f := range frames {
		if err := WriteSSE(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	r := NewSSEReader(&buf)
	for i, want := range frames {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("frame %d (-want +got):\n%s", i, diff)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}

	var data EventCertificateData
	if err := DecodeEvent(frames[2].Data, &data); err != nil || data.RealmID == nil || *data.RealmID != realm || data.Timestamp != 6 {
		t.Errorf("DecodeEvent = %+v, %v", data, err)
	}
	if err := DecodeEvent([]byte("junk"), &data); err == nil {
		t.Error("DecodeEvent accepted junk")
	}
}

// A lying server sends an event without end, in lines or in one line: the reader refuses
// it without holding it, then reads the next event.
func TestSSEReaderEventTooLarge(t *testing.T) {
	manyLines := "event: big\n" + strings.Repeat("data: "+strings.Repeat("A", 1000)+"\n", MaxEventSize/1000+10) + "\n"
	oneLine := "event: big\ndata: " + strings.Repeat("A", 2*MaxEventSize) + "\nid: 7\n\n"
	for name, big := range map[string]string{"many lines": manyLines, "one line": oneLine} {
		t.Run(name, func(t *testing.T) {
			r := NewSSEReader(strings.NewReader(big + "event: next\ndata: AQI=\n\n"))
			if _, err := r.Next(); !errors.Is(err, ErrEventTooLarge) {
				t.Fatalf("oversized event: %v, want %v", err, ErrEventTooLarge)
			}
			ev, err := r.Next()
			if err != nil || ev.Name != "next" {
				t.Fatalf("after the oversized event: %+v, %v; want the next event", ev, err)
			}
		})
	}
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []SSEEvent
		err    error // after the frames; nil means io.EOF
	}{
		{"comments and blank lines", ": hello\n\n\n:x\nevent: a\n\n", []SSEEvent{{Name: "a"}}, nil},
		{"no space after colon", "id:3\nevent:b\ndata:AQI=\n\n", []SSEEvent{{ID: "3", Name: "b", Data: []byte{1, 2}}}, nil},
		{"data over several lines", "event: c\ndata: AQ\ndata: I=\n\n", []SSEEvent{{Name: "c", Data: []byte{1, 2}}}, nil},
		{"CRLF line ends", "event: d\r\ndata: AQI=\r\n\r\n", []SSEEvent{{Name: "d", Data: []byte{1, 2}}}, nil},
		{"unknown fields ignored", "retry: 10\nevent: e\nfoo\n\n", []SSEEvent{{Name: "e"}}, nil},
		{"truncated frame", "event: f\n\nevent: g\ndata: AQI=\n", []SSEEvent{{Name: "f"}}, io.ErrUnexpectedEOF},
		{"bad base64", "event: h\ndata: !!!\n\n", nil, errAny},
		{"line too long", "event: i\ndata: " + strings.Repeat("A", MaxEventSize+10) + "\n\n", nil, ErrEventTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewSSEReader(strings.NewReader(tc.stream))
			for i, want := range tc.want {
				got, err := r.Next()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("frame %d (-want +got):\n%s", i, diff)
				}
			}
			_, err := r.Next()
			switch {
			case tc.err == nil && err != io.EOF:
				t.Errorf("end of stream: %v, want io.EOF", err)
			case tc.err == errAny && (err == nil || err == io.EOF):
				t.Errorf("end of stream: %v, want an error", err)
			case tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Errorf("end of stream: %v, want %v", err, tc.err)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestEventID(t *testing.T) {
	for _, id := range []uint64{0, 1, 1770000000000001, 1<<64 - 1} {
		got, err := ParseEventID(FormatEventID(id))
		if err != nil || got != id {
			t.Errorf("ParseEventID(FormatEventID(%d)) = %d, %v", id, got, err)
		}
	}
	for _, s := range []string{"", "x", "-1", "1.5", "18446744073709551616"} {
		if id, err := ParseEventID(s); err == nil {
			t.Errorf("ParseEventID(%q) = %d, want an error", s, id)
		}
	}
}
