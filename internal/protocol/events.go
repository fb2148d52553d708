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

// maxSSELine bounds a line so that a lying server cannot exhaust memory.
const maxSSELine = 1 << 20

// Next returns the next frame, or io.EOF at the end of the stream.
func (s *SSEReader) Next() (SSEEvent, error) {
	var ev SSEEvent
	var data strings.Builder
	seen := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && seen {
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
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

func (s *SSEReader) readLine() (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxSSELine {
			return "", fmt.Errorf("event stream: line longer than %d bytes", maxSSELine)
		}
		if !isPrefix {
			return string(b), nil
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
