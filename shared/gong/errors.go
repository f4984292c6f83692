package gong

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ErrorKind classifies a failed Gong request so that callers can choose a
// retry policy with errors.As instead of matching status codes.
type ErrorKind int

// Error kinds. The zero value is not a valid kind.
const (
	// KindRateLimited is HTTP 429: the company's request limit was exceeded.
	// APIError.RetryAfter holds Gong's Retry-After value.
	KindRateLimited ErrorKind = iota + 1
	// KindUnauthorized is HTTP 401: the token is invalid, expired or revoked.
	KindUnauthorized
	// KindForbidden is HTTP 403: the token lacks a scope or the company
	// blocked API access. APIError.Scope names the scope when Gong does.
	KindForbidden
	// KindInvalidRequest is HTTP 400 and other 4xx statuses, including an
	// expired cursor. Repeating the same request fails the same way.
	KindInvalidRequest
	// KindUnavailable is a 5xx status, a network failure or a timeout that
	// persisted through every retry.
	KindUnavailable
	// KindNotFound is a 404 other than Gong's "No calls found corresponding
	// to the provided filters", which the client turns into an empty result.
	KindNotFound
	// KindMalformed is a response the client cannot use: a success status
	// with a body that is not the expected JSON, or a body over the size cap.
	KindMalformed
)

// String returns the kind's name in lower case, such as "rate_limited".
func (k ErrorKind) String() string {
	switch k {
	case KindRateLimited:
		return "rate_limited"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindInvalidRequest:
		return "invalid_request"
	case KindUnavailable:
		return "unavailable"
	case KindNotFound:
		return "not_found"
	case KindMalformed:
		return "malformed"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// APIError is a Gong request that failed after the client's retries. It
// carries Gong's requestId and error messages but never a token or a
// request header.
type APIError struct {
	Kind       ErrorKind
	Endpoint   string        // "users", "calls/extensive" or "calls/transcript"
	Status     int           // HTTP status, or 0 when no response arrived
	RequestID  string        // Gong's requestId, for Gong support
	Messages   []string      // Gong's "errors" array
	Scope      string        // OAuth scope named in the messages, such as api:calls:read:transcript
	RetryAfter time.Duration // Retry-After of a 429, or 0 when absent
	Attempts   int           // HTTP requests made for this call, retries included
	Err        error         // underlying network or decoding error, if any
}

// Error describes the failure with the endpoint, status, Gong's request id
// and messages.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gong %s: %s", e.Endpoint, e.Kind)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.RequestID != "" {
			fmt.Fprintf(&b, ", request id %s", e.RequestID)
		}
		b.WriteString(")")
	}
	if len(e.Messages) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(e.Messages, "; "))
	}
	if e.Scope != "" {
		fmt.Fprintf(&b, " (scope %s)", e.Scope)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the underlying network or decoding error.
func (e *APIError) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later: true for
// rate limiting and unavailability, false for every other kind.
func (e *APIError) Retryable() bool {
	return e.Kind == KindRateLimited || e.Kind == KindUnavailable
}

// ErrCursorLoop is returned when a pager receives a cursor it already
// followed, or a page made only of records it already returned in the same
// pass. Continuing would loop or duplicate data, so the read stops and the
// caller must treat the pass as incomplete.
var ErrCursorLoop = errors.New("gong: pagination loop")

// ErrBodyTooLarge is wrapped by a KindMalformed APIError when a response body
// exceeds the client's size cap (DefaultMaxBodyBytes unless changed with
// WithMaxBodyBytes).
var ErrBodyTooLarge = errors.New("gong: response body exceeds the size cap")

// emptyResultMarker is the part of Gong's 404 message that means "no records
// match": "No calls found corresponding to the provided filters" for calls
// and transcripts, "No users found corresponding to the provided filters"
// for users.
const emptyResultMarker = "found corresponding to the provided filters"

// scopePattern matches an OAuth scope such as api:calls:read:transcript.
var scopePattern = regexp.MustCompile(`\bapi(?::[A-Za-z0-9_-]+)+`)

// kindForStatus maps a non-2xx status to its error kind.
func kindForStatus(status int) ErrorKind {
	switch {
	case status == 429:
		return KindRateLimited
	case status == 401:
		return KindUnauthorized
	case status == 403:
		return KindForbidden
	case status == 404:
		return KindNotFound
	case status >= 500:
		return KindUnavailable
	default:
		return KindInvalidRequest
	}
}

// isEmptyResult reports whether a 404's messages are Gong's "no records
// match" message rather than a real not-found error.
func isEmptyResult(messages []string) bool {
	for _, m := range messages {
		if strings.Contains(strings.ToLower(m), emptyResultMarker) {
			return true
		}
	}
	return false
}

// scopeIn returns the first OAuth scope named in messages, or "".
func scopeIn(messages []string) string {
	for _, m := range messages {
		if s := scopePattern.FindString(m); s != "" {
			return s
		}
	}
	return ""
}
