package gong

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Backoff after a 5xx status or a network failure: the n-th retry waits
// between half and all of backoffBase*2^n, capped at backoffMax.
const (
	backoffBase = 500 * time.Millisecond
	backoffMax  = 30 * time.Second

	// maxErrorBodyBytes caps how much of an error response is read.
	maxErrorBodyBytes = 64 << 10
)

// request is one logical Gong request. Retries resend it unchanged,
// cursor included.
type request struct {
	endpoint string
	method   string
	path     string     // such as /v2/calls/extensive
	query    url.Values // GET only
	body     []byte     // POST only
}

// response is a successful (2xx) response, or an empty result when empty is
// true (Gong's 404 "No calls found corresponding to the provided filters").
type response struct {
	body  []byte
	empty bool
	at    time.Time // client clock when the response arrived
}

// errorBody is Gong's error document: {"requestId": "...", "errors": [...]}.
type errorBody struct {
	RequestID flexString   `json:"requestId"`
	Errors    []flexString `json:"errors"`
}

// do sends rq, waiting for the company's limiter first, and retries 429
// after Retry-After and 5xx statuses and network failures with exponential
// backoff and jitter. Each retry repeats the same method, path, query and
// body, so a cursor is never lost or advanced by a retry.
func (c *Client) do(ctx context.Context, rq request) (response, error) {
	attempts, failures, rateLimited := 0, 0, 0
	for {
		if err := c.wait(ctx, rq.endpoint); err != nil {
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				apiErr.Attempts = attempts
				return response{}, apiErr
			}
			return response{}, fmt.Errorf("gong %s: waiting for the request limiter: %w", rq.endpoint, err)
		}
		if c.beforeRequest != nil {
			if err := c.beforeRequest(ctx, rq.endpoint); err != nil {
				return response{}, fmt.Errorf("gong %s: request not sent: %w", rq.endpoint, err)
			}
		}
		attempts++
		c.countRequest(rq.endpoint)
		resp, apiErr, err := c.send(ctx, rq)
		if err == nil && apiErr == nil {
			return resp, nil
		}
		if err != nil {
			// No response: the context ended, or a network failure.
			if ctx.Err() != nil {
				return response{}, fmt.Errorf("gong %s: %w", rq.endpoint, ctx.Err())
			}
			if !isTransient(err) {
				return response{}, fmt.Errorf("gong %s: request failed: %w", rq.endpoint, err)
			}
			apiErr = &APIError{Kind: KindUnavailable, Endpoint: rq.endpoint, Err: err}
		}
		apiErr.Attempts = attempts

		var delay time.Duration
		switch apiErr.Kind {
		case KindRateLimited:
			delay = apiErr.RetryAfter
			if delay <= 0 {
				delay = backoff(rateLimited)
			}
			// Hold back every client of this company, not only this one,
			// even when this request is not retried.
			c.pause.extend(c.clock.Now().Add(delay))
			if rateLimited >= c.maxRetries || delay > c.maxRetryAfter || !fitsDeadline(ctx, delay) {
				return response{}, apiErr
			}
			rateLimited++
			delay = 0 // c.wait sleeps until the pause ends
		case KindUnavailable:
			if failures >= c.maxRetries {
				return response{}, apiErr
			}
			delay = backoff(failures)
			failures++
		default:
			return response{}, apiErr
		}
		c.logger.WarnContext(ctx, "gong request retried",
			"endpoint", rq.endpoint,
			"status", apiErr.Status,
			"request_id", apiErr.RequestID,
			"attempt", attempts,
			"retry_after", apiErr.RetryAfter,
			"backoff", delay,
			"error", errorCause(apiErr),
		)
		if delay > 0 {
			if err := c.clock.Sleep(ctx, delay); err != nil {
				return response{}, fmt.Errorf("gong %s: waiting to retry: %w", rq.endpoint, err)
			}
		}
	}
}

// send makes one HTTP request under the per-request timeout. It returns a
// response, an APIError for a non-2xx status or a malformed body, or a
// plain error when no response arrived.
func (c *Client) send(ctx context.Context, rq request) (response, *APIError, error) {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()

	u := c.baseURL + rq.path
	if len(rq.query) > 0 {
		u += "?" + rq.query.Encode()
	}
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, body)
	if err != nil {
		return response{}, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return response{}, nil, err
	}
	defer res.Body.Close()

	if res.StatusCode >= 200 && res.StatusCode < 300 {
		data, err := readCapped(res.Body, c.maxBodyBytes)
		if errors.Is(err, ErrBodyTooLarge) {
			return response{}, &APIError{Kind: KindMalformed, Endpoint: rq.endpoint, Status: res.StatusCode, Err: err}, nil
		}
		if err != nil {
			// The body broke off: treat it like any other network failure.
			return response{}, nil, fmt.Errorf("reading response body: %w", err)
		}
		return response{body: data, at: c.clock.Now()}, nil, nil
	}

	data, err := readCapped(res.Body, maxErrorBodyBytes)
	if err != nil && !errors.Is(err, ErrBodyTooLarge) {
		c.logger.WarnContext(ctx, "gong error body unreadable", "endpoint", rq.endpoint, "status", res.StatusCode, "error", err)
	}
	apiErr := &APIError{
		Kind:     kindForStatus(res.StatusCode),
		Endpoint: rq.endpoint,
		Status:   res.StatusCode,
	}
	var eb errorBody
	if json.Unmarshal(data, &eb) == nil {
		apiErr.RequestID = string(eb.RequestID)
		for _, m := range eb.Errors {
			if m != "" {
				apiErr.Messages = append(apiErr.Messages, redactCredentials(string(m)))
			}
		}
	} else if len(data) > 0 {
		// A body that is not Gong's JSON (a proxy page, say) is not echoed,
		// because it could reflect request headers.
		apiErr.Messages = []string{fmt.Sprintf("non-JSON error body of %d bytes", len(data))}
	}
	if apiErr.RequestID == "" {
		apiErr.RequestID = res.Header.Get("X-Traceid")
	}
	apiErr.Scope = scopeIn(apiErr.Messages)
	if res.StatusCode == http.StatusTooManyRequests {
		apiErr.RetryAfter = parseRetryAfter(res.Header.Get("Retry-After"), c.clock.Now())
	}
	if res.StatusCode == http.StatusNotFound && isEmptyResult(apiErr.Messages) {
		return response{empty: true, at: c.clock.Now()}, nil, nil
	}
	return response{}, apiErr, nil
}

// readCapped reads r up to limit bytes and returns ErrBodyTooLarge past it.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrBodyTooLarge, limit)
	}
	return data, nil
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff returns the wait before retry n (0-based): a random duration
// between half and all of backoffBase*2^n, capped at backoffMax.
func backoff(n int) time.Duration {
	d := backoffBase << min(n, 16)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	half := d / 2
	return half + rand.N(half+1)
}

// fitsDeadline reports whether waiting d still leaves ctx time to run. A
// caller whose deadline comes sooner gets the rate-limit error at once and
// can reschedule instead of timing out mid-wait.
func fitsDeadline(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d
}

// isTransient reports whether a request that got no response may succeed
// when repeated: timeouts, refused or reset connections and bodies cut
// short. Other failures, such as an oauth2 token refresh that was
// rejected, are returned at once.
func isTransient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true // the per-request timeout, because the caller's ctx is still live
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	return errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF)
}

// credentialPattern matches an Authorization value a server might echo.
var credentialPattern = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`)

// redactCredentials replaces echoed Authorization values in a message.
func redactCredentials(s string) string {
	return credentialPattern.ReplaceAllString(s, "$1 [redacted]")
}

func errorCause(e *APIError) string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return strings.Join(e.Messages, "; ")
}
