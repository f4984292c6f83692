package gong_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/dealdesk/gongingest/shared/gong"
)

// Ensure a 429 waits Retry-After and then repeats the same request, cursor
// included, without duplicating records.
func TestRateLimitedRetryRepeatsRequest(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter func(now time.Time) string
		wantWait   time.Duration
	}{
		{"seconds", func(time.Time) string { return "30" }, 30 * time.Second},
		// HTTP dates have whole seconds, so up to one second is lost.
		{"http date", func(now time.Time) string { return now.Add(45 * time.Second).Format(http.TimeFormat) }, 44 * time.Second},
		{"missing header", func(time.Time) string { return "" }, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			a, b := callIDs(0, 100), callIDs(100, 100)
			g := newFakeGong(t, clock, func(n int, r seen) reply {
				switch n {
				case 0:
					return ok(callsPage(a, "c1"))
				case 1:
					return reply{status: 429, body: `{"requestId":"r429","errors":["API request limit exceeded"]}`,
						header: map[string]string{"Retry-After": tt.retryAfter(clock.Now())}}
				}
				if r.cursorInBody(t) != "c1" {
					return gongError(400, "wrong cursor")
				}
				return ok(callsPage(b, ""))
			})
			c := g.client(t)
			calls, pages, err := collectCalls(context.Background(), c, window)
			if err != nil {
				t.Fatalf("Calls: %v", err)
			}
			if pages != 2 || len(calls) != 200 {
				t.Errorf("pages, calls = %d, %d, want 2, 200", pages, len(calls))
			}
			reqs := g.requests()
			if len(reqs) != 3 {
				t.Fatalf("requests = %d, want 3", len(reqs))
			}
			if !bytes.Equal(reqs[1].Body, reqs[2].Body) {
				t.Errorf("retry body %s differs from the rate-limited body %s", reqs[2].Body, reqs[1].Body)
			}
			if waited := reqs[2].At.Sub(reqs[1].At); waited < tt.wantWait {
				t.Errorf("waited %s after the 429, want at least %s", waited, tt.wantWait)
			}
			if got := c.Requests()[gong.EndpointCalls]; got != 3 {
				t.Errorf("Requests()[calls/extensive] = %d, want 3 (retries count)", got)
			}
		})
	}
}

// Ensure a Retry-After longer than the client waits, or past the caller's
// deadline, returns at once so the caller can reschedule.
func TestRateLimitedTooLong(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		ctx        func() (context.Context, context.CancelFunc)
	}{
		{"daily limit", "3600", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"past deadline", "30", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			g := newFakeGong(t, clock, func(int, seen) reply {
				return reply{status: 429, body: `{"requestId":"r","errors":["limit"]}`, header: map[string]string{"Retry-After": tt.retryAfter}}
			})
			ctx, cancel := tt.ctx()
			defer cancel()
			_, _, err := collectCalls(ctx, g.client(t), window)
			var apiErr *gong.APIError
			if !errors.As(err, &apiErr) || apiErr.Kind != gong.KindRateLimited {
				t.Fatalf("err = %v, want KindRateLimited", err)
			}
			if !apiErr.Retryable() {
				t.Errorf("Retryable() = false, want true")
			}
			if apiErr.RetryAfter.String() != tt.retryAfter+"s" && apiErr.RetryAfter != time.Hour {
				t.Errorf("RetryAfter = %s, want %ss", apiErr.RetryAfter, tt.retryAfter)
			}
			if n := len(g.requests()); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
			if clock.total() >= 30*time.Second {
				t.Errorf("slept %s, want no wait", clock.total())
			}
		})
	}
}

// Ensure one client's 429 holds back other clients of the same company.
func TestRateLimitPauseShared(t *testing.T) {
	tests := []struct {
		name         string
		retryAfter   string
		wantSecond   bool // whether the second client sends its request
		wantMinDelay time.Duration
	}{
		{"short pause waited", "30", true, 30 * time.Second},
		{"long pause returned", "7200", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			g := newFakeGong(t, clock, func(n int, r seen) reply {
				if n == 0 {
					return reply{status: 429, body: `{"errors":["limit"]}`, header: map[string]string{"Retry-After": tt.retryAfter}}
				}
				return ok(callsPage(callIDs(0, 1), ""))
			})
			limiter := rate.NewLimiter(rate.Every(gong.MinRequestInterval), 1)
			first := g.client(t, gong.WithLimiter(limiter), gong.WithMaxRetries(0))
			second := g.client(t, gong.WithLimiter(limiter))
			if _, _, err := collectCalls(context.Background(), first, window); err == nil {
				t.Fatalf("first client: want the 429 returned with retries disabled")
			}
			_, _, err := collectCalls(context.Background(), second, window)
			reqs := g.requests()
			if !tt.wantSecond {
				var apiErr *gong.APIError
				if !errors.As(err, &apiErr) || apiErr.Kind != gong.KindRateLimited {
					t.Errorf("second client err = %v, want KindRateLimited without a request", err)
				}
				if len(reqs) != 1 {
					t.Errorf("requests = %d, want 1", len(reqs))
				}
				return
			}
			if err != nil {
				t.Fatalf("second client: %v", err)
			}
			if len(reqs) != 2 {
				t.Fatalf("requests = %d, want 2", len(reqs))
			}
			if d := reqs[1].At.Sub(reqs[0].At); d < tt.wantMinDelay {
				t.Errorf("second client sent %s after the 429, want at least %s", d, tt.wantMinDelay)
			}
		})
	}
}

// Ensure 5xx retries back off exponentially with jitter and stay bounded.
func TestServerErrorBackoff(t *testing.T) {
	clock := newFakeClock()
	g := newFakeGong(t, clock, func(n int, r seen) reply {
		if n < 3 {
			return gongError(500+n, "An error has occurred")
		}
		return ok(callsPage(callIDs(0, 5), ""))
	})
	calls, _, err := collectCalls(context.Background(), g.client(t), window)
	if err != nil {
		t.Fatalf("Calls: %v", err)
	}
	if len(calls) != 5 {
		t.Errorf("calls = %d, want 5", len(calls))
	}
	reqs := g.requests()
	if len(reqs) != 4 {
		t.Fatalf("requests = %d, want 4", len(reqs))
	}
	// Retry n waits between half and all of 500ms*2^n; pacing may add up to
	// one request interval on top.
	for n := 0; n < 3; n++ {
		full := 500 * time.Millisecond << n
		gap := reqs[n+1].At.Sub(reqs[n].At)
		if gap < full/2 || gap > full+gong.MinRequestInterval {
			t.Errorf("gap before retry %d = %s, want between %s and %s", n+1, gap, full/2, full+gong.MinRequestInterval)
		}
		if !bytes.Equal(reqs[n+1].Body, reqs[0].Body) {
			t.Errorf("retry %d changed the body", n+1)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// failingTransport fails the first failures requests with err.
type failingTransport struct {
	err      error
	failures int32
	calls    atomic.Int32
}

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.calls.Add(1) <= f.failures {
		return nil, f.err
	}
	return bearerTransport{base: http.DefaultTransport}.RoundTrip(r)
}

func TestNetworkFailures(t *testing.T) {
	refusal := errors.New("oauth2: cannot fetch token: invalid_grant")
	tests := []struct {
		name      string
		err       error
		failures  int32
		wantCalls int32
		wantErrIs error // nil means success
		wantKind  gong.ErrorKind
	}{
		{"timeouts then success", timeoutError{}, 2, 3, nil, 0},
		{"timeouts exhaust retries", timeoutError{}, 10, 3, nil, gong.KindUnavailable},
		{"token refusal not retried", refusal, 10, 1, refusal, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return ok(callsPage(callIDs(0, 1), "")) })
			ft := &failingTransport{err: tt.err, failures: tt.failures}
			c, err := gong.New(g.srv.URL, &http.Client{Transport: ft}, gong.WithClock(g.clock), gong.WithMaxRetries(2))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = collectCalls(context.Background(), c, window)
			if got := ft.calls.Load(); got != tt.wantCalls {
				t.Errorf("round trips = %d, want %d", got, tt.wantCalls)
			}
			if got := c.Requests()[gong.EndpointCalls]; got != int64(tt.wantCalls) {
				t.Errorf("Requests()[calls/extensive] = %d, want %d", got, tt.wantCalls)
			}
			switch {
			case tt.wantKind != 0:
				var apiErr *gong.APIError
				if !errors.As(err, &apiErr) || apiErr.Kind != tt.wantKind || apiErr.Status != 0 {
					t.Errorf("err = %v, want %s without a status", err, tt.wantKind)
				}
			case tt.wantErrIs != nil:
				if !errors.Is(err, tt.wantErrIs) {
					t.Errorf("err = %v, want it to wrap %v", err, tt.wantErrIs)
				}
			case err != nil:
				t.Errorf("Calls: %v", err)
			}
		})
	}
}

// Ensure a request that hangs is cut off by the per-request timeout and
// retried.
func TestRequestTimeout(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return ok(callsPage(callIDs(0, 1), "")) })
	var hung atomic.Bool
	g.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // the server notices a closed connection only after the body
		if hung.CompareAndSwap(false, true) {
			select {
			case <-r.Context().Done(): // the client's timeout ends this request
			case <-time.After(10 * time.Second):
			}
			return
		}
		_, _ = w.Write([]byte(callsPage(callIDs(0, 1), "")))
	})
	c := g.client(t, gong.WithRequestTimeout(50*time.Millisecond))
	calls, _, err := collectCalls(context.Background(), c, window)
	if err != nil {
		t.Fatalf("Calls: %v", err)
	}
	if len(calls) != 1 {
		t.Errorf("calls = %d, want 1", len(calls))
	}
	if got := c.Requests()[gong.EndpointCalls]; got != 2 {
		t.Errorf("Requests()[calls/extensive] = %d, want 2", got)
	}
}

func TestContextCanceledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply {
		cancel()
		return gongError(503, "unavailable")
	})
	_, _, err := collectCalls(ctx, g.client(t), window)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(g.requests()); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestBodySizeCap(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return ok(callsPage(callIDs(0, 100), "")) })
	_, _, err := collectCalls(context.Background(), g.client(t, gong.WithMaxBodyBytes(1024)), window)
	var apiErr *gong.APIError
	if !errors.As(err, &apiErr) || apiErr.Kind != gong.KindMalformed {
		t.Fatalf("err = %v, want KindMalformed", err)
	}
	if !errors.Is(err, gong.ErrBodyTooLarge) {
		t.Errorf("err = %v, want it to wrap ErrBodyTooLarge", err)
	}
}

func TestBeforeRequestHook(t *testing.T) {
	budget := errors.New("daily budget spent")
	g := newFakeGong(t, newFakeClock(), func(n int, r seen) reply { return ok(callsPage(callIDs(n*100, 100), "c"+string(rune('a'+n)))) })
	var sent []string
	hook := func(_ context.Context, endpoint string) error {
		if len(sent) == 2 {
			return budget
		}
		sent = append(sent, endpoint)
		return nil
	}
	_, pages, err := collectCalls(context.Background(), g.client(t, gong.WithBeforeRequest(hook)), window)
	if !errors.Is(err, budget) {
		t.Errorf("err = %v, want the hook's error", err)
	}
	if pages != 2 || len(g.requests()) != 2 {
		t.Errorf("pages, requests = %d, %d, want 2, 2", pages, len(g.requests()))
	}
}

// Ensure no error or log line carries the bearer token, even when a server
// echoes it.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	echo := "Authorization: Bearer " + testToken
	tests := []struct {
		name  string
		reply reply
	}{
		{"401 json echo", gongError(401, "token "+echo+" is expired")},
		{"502 text echo", reply{status: 502, body: echo}},
		{"403 json", gongError(403, "Bearer "+testToken+" lacks scope api:calls:read:extensive")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return tt.reply })
			_, _, err := collectCalls(context.Background(), g.client(t, gong.WithLogger(logger), gong.WithMaxRetries(1)), window)
			if err == nil {
				t.Fatal("Calls: want an error")
			}
			assertNoSecret(t, "error", err.Error())
			assertNoSecret(t, "logs", logs.String())
			if strings.Contains(tt.name, "502") && !strings.Contains(logs.String(), "gong request retried") {
				t.Errorf("logs = %s, want the retry logged", logs.String())
			}
		})
	}
}
