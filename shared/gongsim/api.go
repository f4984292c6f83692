package gongsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes caps request bodies; Gong's own limit is not documented.
const maxBodyBytes = 1 << 20

// apiRequest is the context that the common checks pass to an endpoint handler.
type apiRequest struct {
	companyID string
	co        *company
	requestID string
	scopes    []string
	now       time.Time
	base      string // simulator URL as the client reached it
}

// apiError is a Gong-shaped error for the response.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// noCallsMessage is Gong's 404 message for an empty result.
// NOTE: only this message is Gong's own wording. The texts of the other
// errors are invented, so clients must not match on them.
const noCallsMessage = "No calls found corresponding to the provided filters"

func (s *Sim) nextRequestID() string {
	s.mu.Lock()
	s.requestN++
	n := s.requestN
	s.mu.Unlock()
	// splitmix64 turns the counter into a random-looking id.
	n += 0x9e3779b97f4a7c15
	n = (n ^ (n >> 30)) * 0xbf58476d1ce4e5b9
	n = (n ^ (n >> 27)) * 0x94d049bb133111eb
	n ^= n >> 31
	id := strconv.FormatUint(n, 36)
	return strings.Repeat("0", max(0, 13-len(id))) + id
}

func (s *Sim) writeError(w http.ResponseWriter, status int, msgs ...string) {
	id := s.nextRequestID()
	w.Header().Set("X-Traceid", id)
	writeJSON(w, status, errorBody{RequestID: id, Errors: msgs})
}

// api wraps an endpoint handler with the checks every Gong endpoint makes,
// in this order: known company, method, bearer token, forced failures and
// the per-company rate limit, then the scope.
func (s *Sim) api(endpoint string, methods []string, scope string, h func(http.ResponseWriter, *http.Request, *apiRequest) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, status, retryAfter, msg := s.admit(r, endpoint, methods, scope)
		if status != 0 {
			s.cfg.Logger.Info("gongsim: error response", "endpoint", endpoint, "tenant_id", r.PathValue("company"), "status", status, "error", msg)
			if status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", strings.Join(methods, ", "))
			}
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			}
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gong"`)
			}
			s.writeError(w, status, msg)
			return
		}
		req.requestID = s.nextRequestID()
		req.base = s.requestBase(r)
		if err := h(w, r, req); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				s.cfg.Logger.Info("gongsim: error response", "endpoint", endpoint, "tenant_id", req.companyID, "status", ae.status, "error", ae.msg)
			} else {
				ae = &apiError{status: http.StatusInternalServerError, msg: "Failed to complete the operation"}
				s.cfg.Logger.Error("gongsim: request failed", "endpoint", endpoint, "tenant_id", req.companyID, "error", err)
			}
			s.writeError(w, ae.status, ae.msg)
		}
	}
}

func (s *Sim) admit(r *http.Request, endpoint string, methods []string, scope string) (req *apiRequest, status, retryAfter int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	companyID := r.PathValue("company")
	co := s.companies[companyID]
	if co == nil {
		return nil, http.StatusNotFound, 0, fmt.Sprintf("No API host for company %q", companyID)
	}
	co.requests[endpoint]++
	now := s.now()
	if !containsString(methods, r.Method) {
		return nil, http.StatusMethodNotAllowed, 0, fmt.Sprintf("Request method '%s' is not supported", r.Method)
	}
	scopes, msg := s.authorize(r, companyID, now)
	// NOTE: Gong documents 403 rather than 401 for a rejected token on
	// GET /v2/users. The simulator returns 401 on every endpoint.
	if msg != "" {
		return nil, http.StatusUnauthorized, 0, msg
	}
	if co.throttleNext > 0 {
		co.throttleNext--
		co.rateLimited++
		return nil, http.StatusTooManyRequests, wholeSeconds(co.throttleWait), "API request limit exceeded"
	}
	if !s.cfg.DisableRateLimit {
		if wait := co.rateWait(now, s.cfg.RateLimit); wait > 0 {
			co.rateLimited++
			if s.cfg.RetryAfter > 0 {
				wait = s.cfg.RetryAfter
			}
			return nil, http.StatusTooManyRequests, wholeSeconds(wait), "API request limit exceeded"
		}
		co.recent = append(co.recent, now)
	}
	if co.failNext > 0 {
		co.failNext--
		return nil, co.failStatus, 0, "Failed to complete the operation due to an unexpected error"
	}
	if scope != "" && !containsString(scopes, scope) {
		return nil, http.StatusForbidden, 0, fmt.Sprintf("Access denied: the access token is missing the scope %s", scope)
	}
	return &apiRequest{companyID: companyID, co: co, scopes: scopes, now: now}, 0, 0, ""
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func wholeSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// rateWait returns how long until another request fits the limit of n
// requests in any one second, or 0 when one fits now.
func (co *company) rateWait(now time.Time, n int) time.Duration {
	cut := now.Add(-time.Second)
	keep := co.recent[:0]
	for _, t := range co.recent {
		if t.After(cut) {
			keep = append(keep, t)
		}
	}
	co.recent = keep
	if len(keep) < n {
		return 0
	}
	return keep[len(keep)-n].Add(time.Second).Sub(now)
}

// authorize checks the bearer token; the caller holds s.mu.
func (s *Sim) authorize(r *http.Request, companyID string, now time.Time) ([]string, string) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || raw == "" {
		return nil, "Unauthorized: send the access token in an 'Authorization: Bearer' header"
	}
	t := s.auth.access[raw]
	switch {
	case t == nil:
		return nil, "Unauthorized: the access token is invalid"
	case t.revoked:
		return nil, "Unauthorized: the access token was revoked"
	case !now.Before(t.expiry):
		return nil, "Unauthorized: the access token expired"
	case t.company != companyID:
		return nil, "Unauthorized: the access token was revoked or belongs to another API host"
	}
	return t.scopes, ""
}

// decodeBody reads a JSON request body strictly: a JSON content type, one
// object, and no members outside Gong's request schema.
func decodeBody(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return badRequest("Content-Type must be application/json, got %q", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return badRequest("failed to read the request body: %v", err)
	}
	if len(body) > maxBodyBytes {
		return badRequest("request body is larger than %d bytes", maxBodyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("Malformed request body: %v", err)
	}
	if dec.More() {
		return badRequest("Malformed request body: data after the JSON object")
	}
	return nil
}

// parseDateTime parses an ISO-8601 date-time that carries a UTC offset.
func parseDateTime(field string, v *string) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return time.Time{}, badRequest("%s: invalid date-time %q: send ISO-8601 with an offset, such as 2026-03-01T09:00:00Z", field, *v)
	}
	return t, nil
}

// filterQuery is a validated call filter.
type filterQuery struct {
	from, to time.Time
	callIDs  []string
	users    []string
}

func validateFilter(f *callsFilter, co *company, transcripts bool) (filterQuery, error) {
	var q filterQuery
	if f == nil {
		return q, badRequest("filter: must not be null")
	}
	var err error
	if q.from, err = parseDateTime("filter.fromDateTime", f.FromDateTime); err != nil {
		return q, err
	}
	if q.to, err = parseDateTime("filter.toDateTime", f.ToDateTime); err != nil {
		return q, err
	}
	if !q.from.IsZero() && !q.to.IsZero() && q.from.After(q.to) {
		return q, badRequest("filter: fromDateTime %s is after toDateTime %s", *f.FromDateTime, *f.ToDateTime)
	}
	if f.CallIDs != nil {
		if transcripts && f.WorkspaceID != nil {
			return q, badRequest("filter.workspaceId: must not provide both callIds and workspaceId")
		}
		if q.callIDs, err = validateIDs("filter.callIds", *f.CallIDs); err != nil {
			return q, err
		}
	}
	if f.PrimaryUserIDs != nil {
		if transcripts {
			return q, badRequest("Malformed request body: unknown field \"primaryUserIds\" in filter")
		}
		if q.users, err = validateIDs("filter.primaryUserIds", *f.PrimaryUserIDs); err != nil {
			return q, err
		}
	}
	if f.WorkspaceID != nil && *f.WorkspaceID != co.workspaceID {
		return q, badRequest("filter.workspaceId: unknown workspace %q", *f.WorkspaceID)
	}
	return q, nil
}

func validateIDs(field string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, badRequest("%s: must not be empty", field)
	}
	if len(ids) > MaxCallIDs {
		return nil, badRequest("%s: size must be between 1 and %d, got %d", field, MaxCallIDs, len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !isNumericID(id) {
			return nil, badRequest("%s: invalid id %q: ids are strings of up to 20 digits", field, id)
		}
		if seen[id] {
			return nil, badRequest("%s: duplicate id %s", field, id)
		}
		seen[id] = true
	}
	return ids, nil
}

func isNumericID(id string) bool {
	if id == "" || len(id) > 20 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// selectCalls returns copies of the calls a filter matches at the current
// time, in paging order. The caller holds s.mu.
func (co *company) selectCalls(q filterQuery, now time.Time) []callRecord {
	var out []callRecord
	keep := func(c *callRecord) bool {
		if len(q.users) > 0 && !containsString(q.users, c.primaryUserID) {
			return false
		}
		return true
	}
	if q.callIDs != nil {
		for _, id := range q.callIDs {
			c := co.byID[id]
			if c == nil || !c.visible(now) || !keep(c) {
				continue
			}
			st := c.startTime()
			if (!q.from.IsZero() && st.Before(q.from)) || (!q.to.IsZero() && !st.Before(q.to)) {
				continue
			}
			out = append(out, *c)
		}
		sortRecords(out)
		return out
	}
	for _, c := range co.window(q.from, q.to, now) {
		if keep(c) {
			out = append(out, *c)
		}
	}
	return out
}

// cursorState is the content of an opaque page cursor.
type cursorState struct {
	Endpoint string `json:"e"`
	Company  string `json:"c"`
	Request  string `json:"h"` // hash of the request without its cursor
	Started  int64  `json:"s"` // key of the last record returned
	ID       string `json:"i"`
	Page     int    `json:"p"` // number of the page this cursor fetches
	Expires  int64  `json:"x"`
}

func (s *Sim) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, s.signKey)
	m.Write(payload)
	return m.Sum(nil)[:16]
}

func (s *Sim) encodeCursor(c cursorState) string {
	payload, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.sign(payload))
}

// decodeCursor checks that a cursor was issued by this simulator for the
// same endpoint, company and request, and has not expired.
func (s *Sim) decodeCursor(raw string, want cursorState, now time.Time) (cursorState, error) {
	var c cursorState
	invalid := badRequest("cursor: invalid cursor; start again without a cursor")
	p, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return c, invalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.sign(payload)) || json.Unmarshal(payload, &c) != nil {
		return c, invalid
	}
	if c.Endpoint != want.Endpoint || c.Company != want.Company || c.Request != want.Request {
		return c, badRequest("cursor: the cursor belongs to a different request; repeat the original request with it")
	}
	if now.Unix() >= c.Expires {
		return c, badRequest("cursor: the cursor has expired; start again without a cursor")
	}
	return c, nil
}

func requestHash(parts ...any) string {
	b, _ := json.Marshal(parts)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// page cuts one page out of records sorted by (started, id).
type pageInfo struct {
	start, end int
	records    records
}

func (s *Sim) paginate(keys func(i int) (int64, string), n int, cursor *string, want cursorState, now time.Time) (pageInfo, error) {
	pi := pageInfo{}
	pageNum := 0
	if cursor != nil {
		c, err := s.decodeCursor(*cursor, want, now)
		if err != nil {
			return pi, err
		}
		pageNum = c.Page
		pi.start = sort.Search(n, func(i int) bool {
			st, id := keys(i)
			return st > c.Started || (st == c.Started && id > c.ID)
		})
	}
	pi.end = min(n, pi.start+PageSize)
	pi.records = records{TotalRecords: n, CurrentPageSize: pi.end - pi.start, CurrentPageNumber: pageNum}
	if pi.end < n {
		st, id := keys(pi.end - 1)
		next := want
		next.Started, next.ID, next.Page = st, id, pageNum+1
		next.Expires = now.Add(s.cfg.CursorTTL).Unix()
		pi.records.Cursor = s.encodeCursor(next)
	}
	return pi, nil
}

func (s *Sim) writeOK(w http.ResponseWriter, requestID string, v any) {
	w.Header().Set("X-Traceid", requestID)
	writeJSON(w, http.StatusOK, v)
}
