package connect

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

// CallbackRequest is the query and cookie the browser brings back from Gong.
type CallbackRequest struct {
	State string
	Code  string
	// Error is Gong's error parameter, such as access_denied when the admin
	// declined.
	Error string
	// Binding is the value of the binding cookie, empty when absent.
	Binding string
	// Caller is the signed-in user when the callback route has a JWT
	// authorizer, and nil otherwise.
	Caller *Caller
}

// StateProblem is the reason a callback's state was rejected. The callback
// returns a 400 page for such requests and stores nothing.
type StateProblem string

// Reasons a state is rejected.
const (
	StateMissing    StateProblem = "missing"   // no state parameter
	StateUnknown    StateProblem = "unknown"   // never issued, or already used
	StateExpired    StateProblem = "expired"   // older than StateLifetime
	StateMismatched StateProblem = "mismatch"  // issued to another tenant, admin or browser
	StateRepeated   StateProblem = "repeated"  // the state or code parameter appears more than once
	StateMalformed  StateProblem = "malformed" // the query string cannot be parsed
)

// StateError is returned by Callback for a rejected state.
type StateError struct {
	Problem StateProblem
	err     error
}

func (e *StateError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("connect: OAuth state rejected (%s): %v", e.Problem, e.err)
	}
	return fmt.Sprintf("connect: OAuth state rejected (%s)", e.Problem)
}

func (e *StateError) Unwrap() error { return e.err }

// Outcome reasons sent to the product page as gong=error&reason=<reason>.
const (
	ReasonAccessDenied   = "access_denied"         // the admin declined in Gong
	ReasonGongError      = "gong_error"            // Gong sent another error
	ReasonMissingCode    = "missing_code"          // Gong sent neither a code nor an error
	ReasonExchangeFailed = "token_exchange_failed" // the token endpoint failed
	ReasonMissingScopes  = "missing_scopes"        // some required scopes were not granted
	ReasonNoBaseURL      = "no_base_url"           // the token lacks api_base_url_for_customer
	ReasonInternal       = "internal_error"        // storing the connection failed
)

// Outcome is the result of a callback with a valid state. Either the tenant
// is connected, or Reason names the failure.
type Outcome struct {
	TenantID  string
	Connected bool
	Epoch     int64
	Reason    string
	// MissingScopes lists required scopes that Gong did not grant.
	MissingScopes []string
	// BackfillJobID is the initial backfill's job, empty when none started.
	BackfillJobID string
	// BackfillFailed is set when the backfill could not be started.
	BackfillFailed bool
}

// ReturnURL returns the product page URL with the outcome in its query.
func (s *Service) ReturnURL(o Outcome) string {
	u, err := url.Parse(s.config().ReturnURL)
	if err != nil {
		// Config.Validate rejects such URLs before the service runs.
		return s.config().ReturnURL
	}
	q := u.Query()
	if o.Connected {
		q.Set("gong", "connected")
		if o.BackfillFailed {
			q.Set("backfill", "error")
		}
	} else {
		q.Set("gong", "error")
		q.Set("reason", o.Reason)
		if len(o.MissingScopes) > 0 {
			q.Set("missing_scopes", strings.Join(o.MissingScopes, " "))
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Callback completes a connection. A rejected state returns a *StateError and
// nothing is stored. Every other result is an Outcome for the admin, with an
// error only when storing the connection failed.
func (s *Service) Callback(ctx context.Context, req CallbackRequest) (Outcome, error) {
	rec, err := s.checkState(ctx, req)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{TenantID: rec.TenantID}
	log := s.logger().With("tenant_id", rec.TenantID)

	if req.Error != "" {
		out.Reason = gongErrorReason(req.Error)
		log.InfoContext(ctx, "gong connection declined in Gong", "reason", out.Reason)
		return out, nil
	}
	if req.Code == "" {
		out.Reason = ReasonMissingCode
		log.WarnContext(ctx, "gong callback had neither a code nor an error")
		return out, nil
	}

	tok, reason, err := s.exchange(ctx, req.Code)
	if err != nil {
		out.Reason = reason
		log.WarnContext(ctx, "gong code exchange failed", "reason", reason, "error", err)
		return out, nil
	}
	if missing := missingScopes(tok.Scopes); len(missing) > 0 {
		out.Reason = ReasonMissingScopes
		out.MissingScopes = missing
		log.WarnContext(ctx, "gong connection lacks required scopes", "missing_scopes", missing)
		return out, nil
	}
	return s.connect(ctx, rec, tok, out)
}

// checkState checks that the request's state was issued to the same tenant,
// admin and browser, and only then consumes it. A request from anyone else
// leaves the state in place, so the admin who started can still finish with
// it. A consumed or expired state is rejected.
func (s *Service) checkState(ctx context.Context, req CallbackRequest) (store.OAuthState, error) {
	if req.State == "" {
		s.logger().WarnContext(ctx, "gong callback without a state parameter")
		return store.OAuthState{}, &StateError{Problem: StateMissing}
	}
	rec, err := s.Store.GetOAuthState(ctx, req.State, s.now())
	if err == nil {
		if problem := bindingProblem(rec, req); problem != "" {
			s.logger().WarnContext(ctx, "gong callback from another user or browser; the state stays usable", "tenant_id", rec.TenantID, "check", problem)
			return rec, &StateError{Problem: StateMismatched, err: errors.New(problem)}
		}
		// The state item is never changed after it is written, so the item
		// consumed here is the one just checked, unless another callback
		// consumed it first.
		rec, err = s.Store.ConsumeOAuthState(ctx, req.State, s.now())
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.logger().WarnContext(ctx, "gong callback with an unknown or used state")
		return rec, &StateError{Problem: StateUnknown, err: err}
	case errors.Is(err, store.ErrOAuthStateExpired):
		s.logger().WarnContext(ctx, "gong callback with an expired state", "tenant_id", rec.TenantID)
		s.deleteExpiredState(ctx, req.State, rec.TenantID)
		return rec, &StateError{Problem: StateExpired, err: err}
	case err != nil:
		return rec, fmt.Errorf("connect: check OAuth state: %w", err)
	}
	return rec, nil
}

// deleteExpiredState removes an expired state now instead of waiting for the
// table's TTL. Failures are only logged, because an expired state is rejected
// whether or not its item remains.
func (s *Service) deleteExpiredState(ctx context.Context, state, tenantID string) {
	_, err := s.Store.ConsumeOAuthState(ctx, state, s.now())
	if err != nil && !errors.Is(err, store.ErrOAuthStateExpired) && !errors.Is(err, store.ErrNotFound) {
		s.logger().WarnContext(ctx, "delete expired OAuth state", "tenant_id", tenantID, "error", err)
	}
}

// bindingProblem returns why the callback request does not match the user and
// browser the state was issued to, or "" when it matches. Claims, when
// present, must match; the binding cookie, when present, must match; and at
// least one of the two must be present.
func bindingProblem(rec store.OAuthState, req CallbackRequest) string {
	if req.Caller == nil && req.Binding == "" {
		return "no signed-in user and no binding cookie"
	}
	if c := req.Caller; c != nil {
		tenantOK := subtle.ConstantTimeCompare([]byte(c.TenantID), []byte(rec.TenantID))
		subjectOK := subtle.ConstantTimeCompare([]byte(c.Subject), []byte(rec.Subject))
		if tenantOK&subjectOK != 1 {
			return "signed-in user differs from the admin who started"
		}
	}
	if req.Binding != "" {
		got := store.HashOAuthState(req.Binding)
		if subtle.ConstantTimeCompare([]byte(got), []byte(rec.BindingHash)) != 1 {
			return "binding cookie differs from the one set at start"
		}
	}
	return ""
}

// gongErrorReason maps Gong's error parameter to an outcome reason, passing
// on only the standard OAuth error codes.
func gongErrorReason(code string) string {
	switch code {
	case "access_denied":
		return ReasonAccessDenied
	case "invalid_request", "unauthorized_client", "unsupported_response_type",
		"invalid_scope", "server_error", "temporarily_unavailable":
		return code
	}
	return ReasonGongError
}

// exchange trades the code for a token at Gong's token endpoint. On failure
// it returns the outcome reason with the error; neither includes the code or
// the response body.
func (s *Service) exchange(ctx context.Context, code string) (tokens.Token, string, error) {
	secret, err := s.clientSecretOnce(ctx)
	if err != nil {
		return tokens.Token{}, ReasonInternal, fmt.Errorf("read OAuth client secret: %w", err)
	}
	// Gong reads the token request's parameters from the query string.
	ctx = tokens.TokenEndpointContext(ctx, s.HTTPClient)
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	t, err := oauthConfig(s.config(), secret).Exchange(ctx, code)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			status := 0
			if re.Response != nil {
				status = re.Response.StatusCode
			}
			return tokens.Token{}, ReasonExchangeFailed, fmt.Errorf("token endpoint returned status %d, error code %q", status, re.ErrorCode)
		}
		return tokens.Token{}, ReasonExchangeFailed, fmt.Errorf("token endpoint request failed: %s", redactURLError(err))
	}
	if t.RefreshToken == "" {
		return tokens.Token{}, ReasonExchangeFailed, errors.New("token response has no refresh_token")
	}
	if t.Expiry.IsZero() {
		return tokens.Token{}, ReasonExchangeFailed, errors.New("token response has no expires_in")
	}
	baseURL, err := customerBaseURL(t)
	if err != nil {
		return tokens.Token{}, ReasonNoBaseURL, err
	}
	return tokens.Token{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		TokenType:    t.TokenType,
		Expiry:       t.Expiry.UTC(),
		Scopes:       grantedScopes(t),
		BaseURL:      baseURL,
		UpdatedAt:    s.now(),
	}, "", nil
}

// redactURLError returns the error text without the request URL, which may
// carry the code in its query string.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s: %v", ue.Op, ue.Err)
	}
	return "request failed"
}

// customerBaseURL reads the tenant's API host from the token response. Gong
// names it api_base_url_for_customer; some clients report api_base_url, so
// that is accepted too. Tokens are sent to this host, so it must be https,
// except on the loopback address used by local runs.
func customerBaseURL(t *oauth2.Token) (string, error) {
	var raw string
	for _, key := range []string{"api_base_url_for_customer", "api_base_url"} {
		if v, ok := t.Extra(key).(string); ok && v != "" {
			raw = v
			break
		}
	}
	if raw == "" {
		return "", errors.New("token response has no api_base_url_for_customer")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("api_base_url_for_customer %q is not an absolute URL", raw)
	}
	loopback := false
	if ip := net.ParseIP(u.Hostname()); ip != nil {
		loopback = ip.IsLoopback()
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return "", fmt.Errorf("api_base_url_for_customer %q is not https", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// grantedScopes reads the space-separated scope field of the token response.
// When Gong omits it, the requested scopes are assumed.
func grantedScopes(t *oauth2.Token) []string {
	s, _ := t.Extra("scope").(string)
	if strings.TrimSpace(s) == "" {
		return slices.Clone(tokens.Scopes)
	}
	return strings.Fields(s)
}

// missingScopes returns the required scopes absent from granted, in the
// order of tokens.Scopes.
func missingScopes(granted []string) []string {
	var missing []string
	for _, want := range tokens.Scopes {
		if !slices.Contains(granted, want) {
			missing = append(missing, want)
		}
	}
	return missing
}

// connect stores the token, marks the tenant connected and starts the initial
// backfill when the tenant has never synced.
func (s *Service) connect(ctx context.Context, rec store.OAuthState, tok tokens.Token, out Outcome) (Outcome, error) {
	log := s.logger().With("tenant_id", rec.TenantID)
	t, err := s.Store.Tenant(rec.TenantID)
	if err != nil {
		out.Reason = ReasonInternal
		return out, fmt.Errorf("connect: tenant of OAuth state: %w", err)
	}
	if err := s.Tokens.Put(ctx, rec.TenantID, tok); err != nil {
		out.Reason = ReasonInternal
		return out, fmt.Errorf("connect: store token of tenant %s: %w", rec.TenantID, err)
	}
	epoch, err := t.MarkConnected(ctx, rec.Subject, tok.Scopes, tok.BaseURL)
	if err != nil {
		out.Reason = ReasonInternal
		return out, fmt.Errorf("connect: %w", err)
	}
	out.Connected = true
	out.Epoch = epoch
	log.InfoContext(ctx, "gong connected", "subject", rec.Subject, "epoch", epoch, "scopes", tok.Scopes)

	jobID, err := s.startBackfill(ctx, t, epoch, rec.Subject)
	if err != nil {
		out.BackfillFailed = true
		log.ErrorContext(ctx, "initial backfill not started", "epoch", epoch, "error", err)
		return out, nil
	}
	out.BackfillJobID = jobID
	return out, nil
}

// startBackfill starts the initial backfill unless the tenant has synced
// before: after a reconnect the scheduled sync resumes from the watermark.
func (s *Service) startBackfill(ctx context.Context, t *store.Tenant, epoch int64, by string) (string, error) {
	if s.Backfill == nil {
		return "", nil
	}
	sync, err := t.GetSync(ctx)
	if err != nil {
		return "", fmt.Errorf("read sync state: %w", err)
	}
	if !sync.Watermark.IsZero() {
		s.logger().InfoContext(ctx, "reconnected: sync resumes from the watermark, no initial backfill",
			"tenant_id", t.ID(), "watermark", sync.Watermark)
		return "", nil
	}
	rec, err := t.GetTenant(ctx)
	if err != nil {
		return "", fmt.Errorf("read tenant settings: %w", err)
	}
	days := s.backfillDays(rec.Settings)
	jobID, err := s.Backfill.StartInitial(ctx, t.ID(), epoch, days, by)
	if err != nil {
		return "", fmt.Errorf("start initial backfill of %d days: %w", days, err)
	}
	s.logger().InfoContext(ctx, "initial backfill started", "tenant_id", t.ID(), "job_id", jobID, "days", days)
	return jobID, nil
}

// backfillDays returns the tenant's backfill length, or the default, capped
// at the maximum.
func (s *Service) backfillDays(set store.Settings) int {
	cfg := s.config()
	days := cfg.BackfillDays
	if set.BackfillDays > 0 {
		days = set.BackfillDays
	}
	return min(days, cfg.BackfillMaxDays)
}
