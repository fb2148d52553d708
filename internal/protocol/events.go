package protocol

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Event names, sent in the SSE "event:" field. The data field is the base64 (standard,
// padded) of the CBOR-encoded event payload.
const (
	EventOrganizationConfig = "organization_config" // payload OrganizationConfig; always first
	EventPinged             = "pinged"              // payload EventPingedData
	EventCommonCertificate  = "common_certificate"  // payload EventCertificateData
	EventRealmCertificate   = "realm_certificate"   // payload EventCertificateData
	EventMissed             = "missed_events"       // no payload: resynchronize everything
	EventKeepalive          = "keepalive"           // no payload
)

type EventPingedData struct {
	Ping string `cbor:"ping"`
}

// EventCertificateData announces a new certificate in a topic.
type EventCertificateData struct {
	Timestamp parsec.DateTime `cbor:"timestamp"`
	RealmID   *parsec.VlobID  `cbor:"realm_id,omitempty"`
}

// SSEEvent is one frame of the stream.
type SSEEvent struct {
	ID   string // empty for frames that cannot be resumed from
	Name string
	Data []byte // CBOR payload, nil for payload-less events
}

// WriteSSE writes one frame.
func WriteSSE(w io.Writer, ev SSEEvent) error {
	var b strings.Builder
	if ev.ID != "" {
		b.WriteString("id: " + ev.ID + "\n")
	}
	b.WriteString("event: " + ev.Name + "\n")
	b.WriteString("data: " + base64.StdEncoding.EncodeToString(ev.Data) + "\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// SSEReader reads frames written by WriteSSE, ignoring comments and unknown fields.
type SSEReader struct {
	r *bufio.Reader
}

func NewSSEReader(r io.Reader) *SSEReader { return &SSEReader{r: bufio.NewReaderSize(r, 64<<10)} }

// MaxEventSize bounds the bytes of one frame a reader holds, so that a lying server cannot
// exhaust a client's memory. The largest frame a server sends is a vlob event carrying a
// blob of InlineEventBlob bytes, a few KiB in base64; the limit leaves room to grow.
const MaxEventSize = 1 << 20

// ErrEventTooLarge is returned by Next for a frame larger than MaxEventSize. The frame is
// skipped: the next call reads the frame after it.
var ErrEventTooLarge = fmt.Errorf("event stream: event larger than %d bytes", MaxEventSize)

// Next returns the next frame, or io.EOF at the end of the stream.
func (s *SSEReader) Next() (SSEEvent, error) {
	var ev SSEEvent
	var data strings.Builder
	seen, size := false, 0
	for {
		line, err := s.readLine(MaxEventSize - size)
		if err == ErrEventTooLarge {
			return SSEEvent{}, s.skipEvent()
		}
		if err != nil {
			if err == io.EOF && seen {
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
		size += len(line) + 1
		if line == "" {
			if !seen {
				continue
			}
			if data.Len() > 0 {
				d, err := base64.StdEncoding.DecodeString(data.String())
				if err != nil {
					return ev, fmt.Errorf("event stream: bad data in %q event", ev.Name)
				}
				ev.Data = d
			}
			return ev, nil
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		seen = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			// The ID goes back in a Last-Event-ID header: one that a header cannot carry
			// (a control character, as a lone CR) is ignored, as the standard ignores one
			// with NUL; kept, it would make every reconnection fail before it is sent.
			if strings.IndexFunc(value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) < 0 {
				ev.ID = value
			}
		case "event":
			ev.Name = value
		case "data":
			data.WriteString(value)
		}
	}
}

// readLine reads a line of at most limit bytes (ErrEventTooLarge beyond, the rest of the
// line unread).
func (s *SSEReader) readLine(limit int) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return "", err
		}
		if len(b)+len(chunk) > limit {
			if !isPrefix {
				return "", ErrEventTooLarge
			}
			return "", s.skipLine(ErrEventTooLarge)
		}
		b = append(b, chunk...)
		if !isPrefix {
			return string(b), nil
		}
	}
}

// skipLine discards the rest of the current line and returns err.
func (s *SSEReader) skipLine(err error) error {
	for {
		_, isPrefix, rerr := s.r.ReadLine()
		if rerr != nil {
			return rerr
		}
		if !isPrefix {
			return err
		}
	}
}

// skipEvent discards lines up to the end of the current frame (an empty line) and returns
// ErrEventTooLarge, or the error that stopped it.
func (s *SSEReader) skipEvent() error {
	for {
		line, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return err
		}
		if isPrefix {
			if err := s.skipLine(nil); err != nil {
				return err
			}
			continue
		}
		if len(line) == 0 {
			return ErrEventTooLarge
		}
	}
}

// DecodeEvent decodes an event payload.
func DecodeEvent(data []byte, v any) error {
	if err := codec.UnmarshalLenient(data, v); err != nil {
		return fmt.Errorf("malformed event: %w", err)
	}
	return nil
}

// FormatEventID and ParseEventID convert the numeric event IDs of the bus.
func FormatEventID(id uint64) string { return strconv.FormatUint(id, 10) }

func ParseEventID(s string) (uint64, error) {
	return strconv.ParseUint(strings.TrimSpace(s), 10, 64)
}
