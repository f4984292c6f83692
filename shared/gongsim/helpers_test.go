package gongsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// fixture is a started simulator with a manual clock and a token for the
// first company.
type fixture struct {
	srv   *Server
	clock *ManualClock
	token Token
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	clock := NewManualClock(testNow)
	cfg.Clock = clock.Now
	srv := StartTB(t, cfg)
	return &fixture{srv: srv, clock: clock, token: srv.IssueToken(srv.CompanyIDs()[0])}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode response body %q: %v", r.body, err)
	}
	return m
}

// send makes one request. A string body is sent as JSON; nil sends none.
func send(t *testing.T, method, url, token string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// windowBody is an extensive request for a date window, asking for
// everything the product stores.
func windowBody(from, to time.Time, cursor string) map[string]any {
	b := map[string]any{
		"filter": map[string]any{"fromDateTime": from.Format(time.RFC3339), "toDateTime": to.Format(time.RFC3339)},
		"contentSelector": map[string]any{
			"context":       "Extended",
			"contextTiming": []string{"Now", "TimeOfCall"},
			"exposedFields": map[string]any{"parties": true, "media": true},
		},
	}
	if cursor != "" {
		b["cursor"] = cursor
	}
	return b
}

// assertGongError checks the status and that the body is Gong's error
// shape with a request id and at least one message.
func assertGongError(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.json(t)
	if id, _ := m["requestId"].(string); id == "" {
		t.Errorf("requestId missing in %s", r.body)
	}
	if errs, _ := m["errors"].([]any); len(errs) == 0 {
		t.Errorf("errors missing in %s", r.body)
	}
	return m
}

func firstError(m map[string]any) string {
	errs, _ := m["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	s, _ := errs[0].(string)
	return s
}
