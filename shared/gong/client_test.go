package gong_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/dealdesk/gongingest/shared/gong"
)

func TestNewValidation(t *testing.T) {
	hc := authorizedClient()
	tests := []struct {
		name    string
		baseURL string
		hc      *http.Client
		opts    []gong.Option
		wantErr string // "" means valid
	}{
		{"https host", "https://us-12345.api.gong.io", hc, nil, ""},
		{"trailing v2", "https://us-12345.api.gong.io/v2/", hc, nil, ""},
		{"loopback http", "http://127.0.0.1:8080", hc, nil, ""},
		{"empty", "", hc, nil, "invalid base URL"},
		{"no scheme", "us-12345.api.gong.io", hc, nil, "invalid base URL"},
		{"ftp", "ftp://us-12345.api.gong.io", hc, nil, "invalid base URL"},
		{"plain http remote", "http://us-12345.api.gong.io", hc, nil, "only https"},
		{"credentials in url", "https://key:hunter2@us-12345.api.gong.io", hc, nil, "contains credentials"},
		{"nil client", "https://us-12345.api.gong.io", nil, nil, "http client is nil"},
		{"negative retries", "https://us-12345.api.gong.io", hc, []gong.Option{gong.WithMaxRetries(-1)}, "negative"},
		{"zero timeout", "https://us-12345.api.gong.io", hc, []gong.Option{gong.WithRequestTimeout(0)}, "not positive"},
		{"nil limiter", "https://us-12345.api.gong.io", hc, []gong.Option{gong.WithLimiter(nil)}, "limiter is nil"},
		{"nil clock", "https://us-12345.api.gong.io", hc, []gong.Option{gong.WithClock(nil)}, "clock is nil"},
		{"zero body cap", "https://us-12345.api.gong.io", hc, []gong.Option{gong.WithMaxBodyBytes(0)}, "not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := gong.New(tt.baseURL, tt.hc, tt.opts...)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err = %v, echoes the password", err)
			}
		})
	}
}

func TestBaseURLWithV2Suffix(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return gongError(404, noCallsMessage) })
	c, err := gong.New(g.srv.URL+"/v2/", authorizedClient(), gong.WithClock(g.clock))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := collectCalls(context.Background(), c, window); err != nil {
		t.Fatalf("Calls: %v", err)
	}
	if p := g.requests()[0].Path; p != "/v2/calls/extensive" {
		t.Errorf("path = %q, want /v2/calls/extensive", p)
	}
}

func TestLimiterFor(t *testing.T) {
	a := gong.LimiterFor("https://Us-1.api.gong.io/")
	if b := gong.LimiterFor("https://us-1.api.gong.io"); a != b {
		t.Errorf("LimiterFor returned different limiters for one company")
	}
	if c := gong.LimiterFor("https://us-2.api.gong.io"); a == c {
		t.Errorf("LimiterFor returned one limiter for two companies")
	}
	if a.Limit() != rate.Every(gong.MinRequestInterval) || a.Burst() != 1 {
		t.Errorf("limit, burst = %v, %d, want one request per %s", a.Limit(), a.Burst(), gong.MinRequestInterval)
	}
}

// Ensure clients of one company together never send more than 3 requests
// in any one-second span.
func TestPacingAcrossClients(t *testing.T) {
	clock := newFakeClock()
	g := newFakeGong(t, clock, func(int, seen) reply { return gongError(404, noCallsMessage) })
	limiter := rate.NewLimiter(rate.Every(gong.MinRequestInterval), 1)
	clients := []*gong.Client{g.client(t, gong.WithLimiter(limiter)), g.client(t, gong.WithLimiter(limiter))}
	const total = 12
	for i := 0; i < total; i++ {
		if _, _, err := collectCalls(context.Background(), clients[i%2], window); err != nil {
			t.Fatalf("Calls: %v", err)
		}
	}
	reqs := g.requests()
	if len(reqs) != total {
		t.Fatalf("requests = %d, want %d", len(reqs), total)
	}
	for i := range reqs {
		inSecond := 0
		for j := i; j < len(reqs) && reqs[j].At.Sub(reqs[i].At) < time.Second; j++ {
			inSecond++
		}
		if inSecond > 3 {
			t.Errorf("%d requests in the second after request %d, want at most 3", inSecond, i)
		}
	}
	if span, floor := reqs[total-1].At.Sub(reqs[0].At), (total-1)*gong.MinRequestInterval; span < floor {
		t.Errorf("12 requests took %s, want at least %s", span, floor)
	}
}

func TestErrorKindString(t *testing.T) {
	kinds := map[gong.ErrorKind]string{
		gong.KindRateLimited:    "rate_limited",
		gong.KindUnauthorized:   "unauthorized",
		gong.KindForbidden:      "forbidden",
		gong.KindInvalidRequest: "invalid_request",
		gong.KindUnavailable:    "unavailable",
		gong.KindNotFound:       "not_found",
		gong.KindMalformed:      "malformed",
		gong.ErrorKind(0):       "ErrorKind(0)",
	}
	for k, want := range kinds {
		if got := k.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
