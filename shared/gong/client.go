// Package gong is the product's only HTTP client for Gong's REST API v2. It
// reads users, calls with parties, media URLs and CRM context, and
// transcripts, paces requests to Gong's per-company limit, retries rate
// limiting and transient failures, and classifies errors into APIError.
//
// Reference: https://help.gong.io/apidocs/introduction (limits, cursors) and
// Gong's OpenAPI document for request and response shapes.
package gong

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Endpoint names used as keys of Client.Requests and in APIError.Endpoint.
const (
	EndpointUsers       = "users"
	EndpointCalls       = "calls/extensive"
	EndpointTranscripts = "calls/transcript"
)

// Defaults of a new Client, which options override.
const (
	// MinRequestInterval spaces requests of one Gong company so that any
	// one-second span holds at most 3 of them, Gong's default limit. Four
	// requests then span 1,050 ms when sent, so network jitter of up to
	// 50 ms cannot put a 4th into one second at Gong; 340 ms left 20 ms,
	// which a loaded host exceeded in local runs. The cost is 5% over 1s/3.
	MinRequestInterval = 350 * time.Millisecond

	// DefaultMaxRetries bounds the retries of one request after 5xx statuses
	// or network failures, and separately the waits after 429 responses.
	DefaultMaxRetries = 5

	// DefaultRequestTimeout bounds one HTTP request, body read included.
	DefaultRequestTimeout = 60 * time.Second

	// DefaultMaxRetryAfter is the longest Retry-After the client waits out.
	// A longer one, such as the daily limit running out, is returned as a
	// KindRateLimited error so that the caller can reschedule the work.
	DefaultMaxRetryAfter = 5 * time.Minute

	// DefaultMaxBodyBytes caps a response body. By estimate (150 words a
	// minute, sentence overhead included) a transcript page of 100 one-hour
	// calls is about 6 MiB of JSON, so 32 MiB leaves room for long calls.
	DefaultMaxBodyBytes = 32 << 20

	// maxPageSize is Gong's fixed page size and the most call ids the client
	// puts in one request.
	maxPageSize = 100
)

// Clock supplies the current time and waits. The client waits only through
// its Clock, so tests that inject a fake one never sleep.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Client reads one Gong company's data. It is safe for concurrent use.
type Client struct {
	baseURL        string // scheme and host, no trailing slash and no /v2
	hc             *http.Client
	limiter        *rate.Limiter
	pause          *pause
	clock          Clock
	logger         *slog.Logger
	maxRetries     int
	requestTimeout time.Duration
	maxRetryAfter  time.Duration
	maxBodyBytes   int64
	beforeRequest  func(ctx context.Context, endpoint string) error

	usersCount       atomic.Int64
	callsCount       atomic.Int64
	transcriptsCount atomic.Int64
}

// Option configures a Client in New.
type Option func(*Client) error

// WithLimiter replaces the limiter from LimiterFor(baseURL). Use it to share
// one limiter across base URLs of the same company.
func WithLimiter(l *rate.Limiter) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("gong: WithLimiter: limiter is nil; pass LimiterFor(company) or a rate.Limiter")
		}
		c.limiter = l
		return nil
	}
}

// WithClock replaces the wall clock used for pacing, Retry-After and backoff.
func WithClock(clock Clock) Option {
	return func(c *Client) error {
		if clock == nil {
			return errors.New("gong: WithClock: clock is nil")
		}
		c.clock = clock
		return nil
	}
}

// WithMaxRetries sets how often one request is retried after 5xx statuses
// or network failures, and separately after 429 responses. 0 disables
// retries.
func WithMaxRetries(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return fmt.Errorf("gong: WithMaxRetries: %d is negative; use 0 to disable retries", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithLogger sets the logger for retries and tolerated response problems.
// Pass a logger that already carries the tenant_id attribute.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("gong: WithLogger: logger is nil")
		}
		c.logger = l
		return nil
	}
}

// WithRequestTimeout bounds each HTTP request, reading the body included.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("gong: WithRequestTimeout: %s is not positive", d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithMaxRetryAfter sets the longest Retry-After the client waits out
// before it returns a KindRateLimited error instead.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("gong: WithMaxRetryAfter: %s is negative", d)
		}
		c.maxRetryAfter = d
		return nil
	}
}

// WithMaxBodyBytes sets the response body size cap in bytes.
func WithMaxBodyBytes(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("gong: WithMaxBodyBytes: %d is not positive", n)
		}
		c.maxBodyBytes = n
		return nil
	}
}

// WithBeforeRequest sets a hook called before every HTTP request, retries
// included, with the endpoint name. An error from the hook stops the read
// and is returned wrapped, so a caller can enforce a daily request budget.
func WithBeforeRequest(hook func(ctx context.Context, endpoint string) error) Option {
	return func(c *Client) error {
		c.beforeRequest = hook
		return nil
	}
}

// New returns a client for the Gong company at baseURL, the token's
// api_base_url_for_customer such as https://us-12345.api.gong.io. hc must
// add the Authorization header, for example an oauth2 client, so the
// client never sees the token. Plain http is accepted only for loopback hosts.
func New(baseURL string, hc *http.Client, opts ...Option) (*Client, error) {
	base, err := normalizeBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		return nil, errors.New("gong: http client is nil; pass the tenant's authorized client (for example from an oauth2 token source)")
	}
	c := &Client{
		baseURL:        base,
		hc:             hc,
		clock:          realClock{},
		logger:         slog.New(slog.DiscardHandler),
		maxRetries:     DefaultMaxRetries,
		requestTimeout: DefaultRequestTimeout,
		maxRetryAfter:  DefaultMaxRetryAfter,
		maxBodyBytes:   DefaultMaxBodyBytes,
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.limiter == nil {
		c.limiter = LimiterFor(base)
	}
	c.pause = pauseFor(c.limiter)
	return c, nil
}

// normalizeBaseURL checks baseURL and returns it as scheme://host[:port]
// with any trailing slash or /v2 removed. Credentials in the URL are
// rejected and never echoed.
func normalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("gong: invalid base URL %q: want https://<host>, the token's api_base_url_for_customer", redactURL(raw))
	}
	if u.User != nil {
		return "", fmt.Errorf("gong: base URL %q contains credentials: pass them through the http client instead", redactURL(raw))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("gong: base URL %q uses plain http: only https is allowed outside 127.0.0.1", redactURL(raw))
	}
	path := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/v2")
	return u.Scheme + "://" + u.Host + path, nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Requests returns how many HTTP requests this client sent per endpoint,
// retries included, keyed by EndpointUsers, EndpointCalls and
// EndpointTranscripts.
func (c *Client) Requests() map[string]int64 {
	return map[string]int64{
		EndpointUsers:       c.usersCount.Load(),
		EndpointCalls:       c.callsCount.Load(),
		EndpointTranscripts: c.transcriptsCount.Load(),
	}
}

func (c *Client) countRequest(endpoint string) {
	switch endpoint {
	case EndpointUsers:
		c.usersCount.Add(1)
	case EndpointCalls:
		c.callsCount.Add(1)
	case EndpointTranscripts:
		c.transcriptsCount.Add(1)
	}
}

var limiters = struct {
	sync.Mutex
	byCompany map[string]*rate.Limiter
}{byCompany: map[string]*rate.Limiter{}}

// LimiterFor returns the process-wide limiter of one Gong company, keyed by
// its base URL or tenant id. Every client of that company in the process
// shares it, so together they send at most one request per
// MinRequestInterval (about 3 per second). Keys are compared after trimming
// spaces, trailing slashes and case.
func LimiterFor(company string) *rate.Limiter {
	key := strings.ToLower(strings.TrimRight(strings.TrimSpace(company), "/"))
	limiters.Lock()
	defer limiters.Unlock()
	l, ok := limiters.byCompany[key]
	if !ok {
		l = rate.NewLimiter(rate.Every(MinRequestInterval), 1)
		limiters.byCompany[key] = l
	}
	return l
}

// pause holds back every client sharing one limiter until a Retry-After
// from Gong has passed, so one 429 does not let other workers of the same
// company keep sending.
type pause struct {
	mu    sync.Mutex
	until time.Time
}

var pauses sync.Map // *rate.Limiter -> *pause

func pauseFor(l *rate.Limiter) *pause {
	p, _ := pauses.LoadOrStore(l, &pause{})
	return p.(*pause)
}

func (p *pause) extend(until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.until) {
		p.until = until
	}
}

func (p *pause) get() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.until
}

// wait blocks until the company's Retry-After pause is over and the limiter
// grants a request. A pause longer than the client's maximum Retry-After, or
// past ctx's deadline, returns a KindRateLimited error instead of waiting.
func (c *Client) wait(ctx context.Context, endpoint string) error {
	for {
		now := c.clock.Now()
		if until := c.pause.get(); until.After(now) {
			remaining := until.Sub(now)
			if remaining > c.maxRetryAfter || !fitsDeadline(ctx, remaining) {
				return &APIError{
					Kind:       KindRateLimited,
					Endpoint:   endpoint,
					Messages:   []string{"an earlier 429 from Gong asked this company's clients to wait"},
					RetryAfter: remaining,
				}
			}
			if err := c.clock.Sleep(ctx, remaining); err != nil {
				return err
			}
			continue
		}
		r := c.limiter.ReserveN(now, 1)
		if !r.OK() {
			return errors.New("gong: limiter burst is 0, so it never grants a request; build it with a burst of at least 1")
		}
		delay := r.DelayFrom(now)
		if delay <= 0 {
			return nil
		}
		if err := c.clock.Sleep(ctx, delay); err != nil {
			r.CancelAt(c.clock.Now())
			return err
		}
		return nil
	}
}
