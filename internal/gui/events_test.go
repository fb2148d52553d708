package gui

import (
	"bufio"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A live page says how many events it saw when it was drawn: one published before it
// listens is told at once, and a page that saw them all waits for the next.
func TestEventsMissedBeforeListening(t *testing.T) {
	app, launch := serveApp(t)
	u, _ := url.Parse(launch)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if resp, _ := get(t, c, launch, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("let in: %d", resp.StatusCode)
	}
	drawn := app.events.seen()
	app.events.publish("changed") // between the page's drawing and its listening

	first := func(seen uint64) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.Host+"/events?seen="+strconv.FormatUint(seen, 10), nil)
		if err != nil {
			return "", err
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "data:") {
				return line, nil
			}
		}
		return "", sc.Err()
	}
	if got, err := first(drawn); got != "data: changed" {
		t.Errorf("a page that missed an event: %q, %v; want it told at once", got, err)
	}
	if got, _ := first(app.events.seen()); got != "" {
		t.Errorf("a page that saw every event is told %q", got)
	}
}
