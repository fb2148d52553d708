package mail

import (
	"errors"
	"strings"
	"testing"
)

func TestSendErrorRedactsSecret(t *testing.T) {
	err := NewSendError(ErrUnavailable, "sending mail via h:25", "authenticating as \"u\"", errors.New("535 you said hunter2"), "hunter2")
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q contains the secret", err)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("error %q does not match ErrUnavailable", err)
	}
}
