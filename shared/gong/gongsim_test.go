package gong_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/gongsim"
)

// simClock drives the client with the simulator's manual clock, so pacing
// and Retry-After waits move the simulator's time instead of sleeping.
type simClock struct{ m *gongsim.ManualClock }

func (c simClock) Now() time.Time { return c.m.Now() }

func (c simClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.m.Advance(d)
	}
	return nil
}

// staticBearer adds a fixed access token, as an oauth2 transport would.
type staticBearer struct{ token string }

func (s staticBearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+s.token)
	return http.DefaultTransport.RoundTrip(r)
}

var simNow = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

type simEnv struct {
	srv   *gongsim.Server
	clock *gongsim.ManualClock
}

func startSim(t *testing.T) simEnv {
	t.Helper()
	clock := gongsim.NewManualClock(simNow)
	srv := gongsim.StartTB(t, gongsim.Config{Seed: 42, Clock: clock.Now, Span: 7 * 24 * time.Hour, CallsPerDay: 30, End: simNow})
	return simEnv{srv: srv, clock: clock}
}

// client returns a client for company "acme" with a token of the given
// scopes, or every scope when scopes is nil.
func (e simEnv) client(t *testing.T, scopes []string, opts ...gong.Option) *gong.Client {
	t.Helper()
	tok := e.srv.IssueToken("acme")
	if scopes != nil {
		tok = e.srv.IssueTokenWithScopes("acme", scopes)
	}
	base := []gong.Option{
		gong.WithClock(simClock{e.clock}),
		gong.WithLimiter(rate.NewLimiter(rate.Every(gong.MinRequestInterval), 1)),
	}
	c, err := gong.New(tok.BaseURL, &http.Client{Transport: staticBearer{tok.AccessToken}}, append(base, opts...)...)
	if err != nil {
		t.Fatalf("gong.New(%q): %v", tok.BaseURL, err)
	}
	return c
}

// Ensure a window read against the simulator returns exactly its listed
// calls and costs one request per 100 calls, with no 429 from pacing.
func TestSimulatorWindowRead(t *testing.T) {
	env := startSim(t)
	c := env.client(t, nil)
	ctx := context.Background()
	from, to := simNow.Add(-7*24*time.Hour), simNow
	want := env.srv.VisibleCallIDs("acme", from, to)
	if len(want) < 150 {
		t.Fatalf("simulator lists %d calls, want at least 150 for a multi-page read", len(want))
	}

	calls, _, err := collectCalls(ctx, c, gong.CallFilter{From: from, To: to})
	if err != nil {
		t.Fatalf("Calls: %v", err)
	}
	if !reflect.DeepEqual(ids(calls), want) {
		t.Errorf("read %d calls, want the simulator's %d listed calls in order", len(calls), len(want))
	}
	pages := int64((len(want) + 99) / 100)
	if got := c.Requests()[gong.EndpointCalls]; got != pages {
		t.Errorf("calls/extensive requests = %d, want %d", got, pages)
	}

	ready := map[string]bool{}
	for _, info := range env.srv.Calls("acme") {
		ready[info.ID] = info.TranscriptReady
	}
	var got, wantReady int
	for _, id := range want {
		if ready[id] {
			wantReady++
		}
	}
	err = c.Transcripts(ctx, want, func(page []gong.CallTranscript) error {
		for _, tr := range page {
			if !ready[tr.CallID] {
				t.Errorf("transcript of %s returned before it is ready", tr.CallID)
			}
			if len(tr.Monologues) == 0 {
				t.Errorf("transcript of %s has no monologues", tr.CallID)
			}
		}
		got += len(page)
		return nil
	})
	if err != nil {
		t.Fatalf("Transcripts: %v", err)
	}
	if got != wantReady {
		t.Errorf("transcripts = %d, want %d ready ones", got, wantReady)
	}
	if n := c.Requests()[gong.EndpointTranscripts]; n != pages {
		t.Errorf("calls/transcript requests = %d, want %d", n, pages)
	}
	if n := env.srv.RateLimited("acme"); n != 0 {
		t.Errorf("simulator rate-limited %d requests, want 0 with client pacing", n)
	}
	simCounts := env.srv.Requests("acme")
	if simCounts[gongsim.EndpointExtensive] != int(pages) || simCounts[gongsim.EndpointTranscript] != int(pages) {
		t.Errorf("simulator counted %v, want %d extensive and %d transcript requests", simCounts, pages, pages)
	}
}

func TestSimulatorCallParsing(t *testing.T) {
	env := startSim(t)
	calls, _, err := collectCalls(context.Background(), env.client(t, nil), gong.CallFilter{From: simNow.Add(-7 * 24 * time.Hour), To: simNow})
	if err != nil {
		t.Fatalf("Calls: %v", err)
	}
	var withParties, withContext, withMedia int
	for _, call := range calls {
		if call.ID == "" || call.Started.IsZero() || call.Started.Location() != time.UTC {
			t.Errorf("call %q started %v, want an id and a UTC start", call.ID, call.Started)
		}
		if len(call.Parties) > 0 {
			withParties++
		}
		if len(call.Context) > 0 {
			withContext++
		}
		if call.AudioURL != "" || call.VideoURL != "" {
			withMedia++
		}
	}
	if withParties == 0 || withContext == 0 || withMedia == 0 {
		t.Errorf("calls with parties, context, media = %d, %d, %d, want each above 0", withParties, withContext, withMedia)
	}
}

func TestSimulatorUsers(t *testing.T) {
	env := startSim(t)
	users, err := env.client(t, nil).Users(context.Background())
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	if want := len(env.srv.Users("acme")); len(users) != want {
		t.Errorf("users = %d, want %d", len(users), want)
	}
}

func TestSimulatorRetries(t *testing.T) {
	tests := []struct {
		name  string
		setup func(srv *gongsim.Server)
		check func(t *testing.T, env simEnv, start time.Time)
	}{
		{
			name:  "429 waits retry-after",
			setup: func(srv *gongsim.Server) { srv.ThrottleNext("acme", 1, 30*time.Second) },
			check: func(t *testing.T, env simEnv, start time.Time) {
				if waited := env.clock.Now().Sub(start); waited < 30*time.Second {
					t.Errorf("clock moved %s, want at least the 30s Retry-After", waited)
				}
				if n := env.srv.RateLimited("acme"); n != 1 {
					t.Errorf("rate-limited requests = %d, want 1", n)
				}
			},
		},
		{
			name:  "503 retried",
			setup: func(srv *gongsim.Server) { srv.FailNext("acme", 2, 503) },
			check: func(t *testing.T, env simEnv, _ time.Time) {
				if n := env.srv.Requests("acme")[gongsim.EndpointExtensive]; n < 3 {
					t.Errorf("extensive requests = %d, want the 2 failures and the success", n)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startSim(t)
			c := env.client(t, nil)
			tt.setup(env.srv)
			start := env.clock.Now()
			from, to := simNow.Add(-24*time.Hour), simNow
			calls, _, err := collectCalls(context.Background(), c, gong.CallFilter{From: from, To: to})
			if err != nil {
				t.Fatalf("Calls: %v", err)
			}
			if want := env.srv.VisibleCallIDs("acme", from, to); !reflect.DeepEqual(ids(calls), want) {
				t.Errorf("read %d calls, want %d without duplicates", len(calls), len(want))
			}
			tt.check(t, env, start)
		})
	}
}

func TestSimulatorErrors(t *testing.T) {
	tests := []struct {
		name      string
		scopes    []string
		revoke    bool
		wantKind  gong.ErrorKind
		wantScope string
	}{
		{"missing transcript scope", []string{"api:calls:read:extensive", "api:users:read"}, false, gong.KindForbidden, "api:calls:read:transcript"},
		{"revoked token", nil, true, gong.KindUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startSim(t)
			c := env.client(t, tt.scopes)
			if tt.revoke {
				env.srv.RevokeCompany("acme")
			}
			ids := env.srv.VisibleCallIDs("acme", simNow.Add(-24*time.Hour), simNow)
			err := c.Transcripts(context.Background(), ids, func([]gong.CallTranscript) error { return nil })
			var apiErr *gong.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *gong.APIError", err)
			}
			if apiErr.Kind != tt.wantKind {
				t.Errorf("Kind = %s, want %s", apiErr.Kind, tt.wantKind)
			}
			if apiErr.Scope != tt.wantScope {
				t.Errorf("Scope = %q, want %q", apiErr.Scope, tt.wantScope)
			}
			if apiErr.RequestID == "" {
				t.Errorf("RequestID is empty, want the simulator's requestId")
			}
		})
	}
}

func TestSimulatorEmptyWindow(t *testing.T) {
	env := startSim(t)
	c := env.client(t, nil)
	from := simNow.Add(-400 * 24 * time.Hour)
	_, pages, err := collectCalls(context.Background(), c, gong.CallFilter{From: from, To: from.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Calls: %v, want an empty result", err)
	}
	if pages != 0 {
		t.Errorf("pages = %d, want 0", pages)
	}
	if n := c.Requests()[gong.EndpointCalls]; n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}
