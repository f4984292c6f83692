package gong_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/gong"
)

// testToken is the bearer token the test transport adds; no error or log
// line may contain it.
const testToken = "tok-SECRET-7f3a9c"

var clockStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a gong.Clock whose Sleep advances the time at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: clockStart} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d > 0 {
		f.now = f.now.Add(d)
	}
	f.sleeps = append(f.sleeps, d)
	return nil
}

func (f *fakeClock) slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

func (f *fakeClock) total() time.Duration {
	var sum time.Duration
	for _, d := range f.slept() {
		sum += d
	}
	return sum
}

// seen is one request the fake server received.
type seen struct {
	Method string
	Path   string
	Query  string
	Body   []byte
	Auth   string
	At     time.Time // fake clock when the request arrived
}

// bodyJSON decodes the request body into a generic map.
func (s seen) bodyJSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s.Body, &m); err != nil {
		t.Fatalf("request body %q is not a JSON object: %v", s.Body, err)
	}
	return m
}

// cursorInBody returns the body's top-level cursor, or "".
func (s seen) cursorInBody(t *testing.T) string {
	t.Helper()
	c, _ := s.bodyJSON(t)["cursor"].(string)
	return c
}

// reply is the fake server's response to one request.
type reply struct {
	status int
	body   string
	header map[string]string
}

func ok(body string) reply { return reply{status: 200, body: body} }

func gongError(status int, messages ...string) reply {
	b, _ := json.Marshal(map[string]any{"requestId": "req-err-1", "errors": messages})
	return reply{status: status, body: string(b)}
}

const noCallsMessage = "No calls found corresponding to the provided filters"

// fakeGong is a scripted Gong server on 127.0.0.1.
type fakeGong struct {
	srv   *httptest.Server
	clock *fakeClock

	mu   sync.Mutex
	reqs []seen
}

// newFakeGong starts a server that responds to request n (0-based) with
// handle(n, request).
func newFakeGong(t *testing.T, clock *fakeClock, handle func(n int, r seen) reply) *fakeGong {
	t.Helper()
	g := &fakeGong{clock: clock}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Auth: r.Header.Get("Authorization"), At: clock.Now()}
		g.mu.Lock()
		n := len(g.reqs)
		g.reqs = append(g.reqs, s)
		g.mu.Unlock()
		rep := handle(n, s)
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGong) requests() []seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seen(nil), g.reqs...)
}

// bearerTransport adds the test token, as an oauth2 transport would.
type bearerTransport struct{ base http.RoundTripper }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+testToken)
	return b.base.RoundTrip(r)
}

func authorizedClient() *http.Client {
	return &http.Client{Transport: bearerTransport{base: http.DefaultTransport}}
}

// client returns a gong.Client for g with the fake clock and its own
// limiter, so that tests do not share pacing state.
func (g *fakeGong) client(t *testing.T, opts ...gong.Option) *gong.Client {
	t.Helper()
	base := []gong.Option{gong.WithClock(g.clock)}
	c, err := gong.New(g.srv.URL, authorizedClient(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("gong.New(%q): %v", g.srv.URL, err)
	}
	return c
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	return string(b)
}

// callIDs returns n distinct numeric call ids starting at base.
func callIDs(base, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%d", 7000000000000000000+base+i)
	}
	return ids
}

// callsPage renders an extensive-calls page with minimal calls.
func callsPage(ids []string, cursor string) string {
	calls := make([]map[string]any, len(ids))
	for i, id := range ids {
		calls[i] = map[string]any{"metaData": map[string]any{"id": id, "title": "Call " + id, "started": "2026-02-27T10:00:00Z", "duration": 1800}}
	}
	records := map[string]any{"totalRecords": len(ids), "currentPageSize": len(ids), "currentPageNumber": 0}
	if cursor != "" {
		records["cursor"] = cursor
	}
	b, _ := json.Marshal(map[string]any{"requestId": "req-page", "records": records, "calls": calls})
	return string(b)
}

// transcriptsPage renders a transcript page with one sentence per call.
func transcriptsPage(ids []string, cursor string) string {
	ts := make([]map[string]any, len(ids))
	for i, id := range ids {
		ts[i] = map[string]any{"callId": id, "transcript": []any{map[string]any{"speakerId": "1", "topic": nil, "sentences": []any{map[string]any{"start": 0, "end": 1000, "text": "hello " + id}}}}}
	}
	records := map[string]any{"totalRecords": len(ids), "currentPageSize": len(ids), "currentPageNumber": 0}
	if cursor != "" {
		records["cursor"] = cursor
	}
	b, _ := json.Marshal(map[string]any{"requestId": "req-tr", "records": records, "callTranscripts": ts})
	return string(b)
}

// collectCalls reads c.Calls into one slice and counts the pages.
func collectCalls(ctx context.Context, c *gong.Client, f gong.CallFilter) (calls []gong.Call, pages int, err error) {
	err = c.Calls(ctx, f, func(page []gong.Call) error {
		pages++
		calls = append(calls, page...)
		return nil
	})
	return calls, pages, err
}

func ids(calls []gong.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.ID
	}
	return out
}

// assertNoSecret fails when text contains the test token.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, testToken) {
		t.Errorf("%s contains the bearer token: %s", what, text)
	}
}

var window = gong.CallFilter{
	From: time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC),
	To:   time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC),
}
