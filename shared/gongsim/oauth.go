package gongsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// KnownScopes are the OAuth scopes the simulator grants.
var KnownScopes = []string{
	"api:calls:read:basic",
	"api:calls:read:extensive",
	"api:calls:read:transcript",
	"api:calls:read:media-url",
	"api:users:read",
	"api:workspaces:read",
}

// Token is a token pair as a completed connection stores it.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time
	Scopes       []string
	BaseURL      string // api_base_url_for_customer
}

type accessToken struct {
	company string
	scopes  []string
	expiry  time.Time
	revoked bool
}

type refreshToken struct {
	company string
	scopes  []string
	used    bool
	revoked bool
}

type authCode struct {
	company     string
	scopes      []string
	redirectURI string
	expiry      time.Time
	used        bool
}

type authState struct {
	access       map[string]*accessToken
	refresh      map[string]*refreshToken
	codes        map[string]*authCode
	denyNext     int
	failTokenN   int
	tokenIssued  int
	refreshCount int
}

func (a *authState) init() {
	a.access = map[string]*accessToken{}
	a.refresh = map[string]*refreshToken{}
	a.codes = map[string]*authCode{}
}

func randomToken(prefix string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("gongsim: read random bytes: %v", err))
	}
	return prefix + hex.EncodeToString(b)
}

// issue creates a token pair; the caller holds s.mu.
func (s *Sim) issue(companyID string, scopes []string) Token {
	now := s.now()
	t := Token{
		AccessToken:  randomToken("sat_"),
		RefreshToken: randomToken("srt_"),
		TokenType:    "bearer",
		Expiry:       now.Add(s.cfg.AccessTokenTTL),
		Scopes:       append([]string(nil), scopes...),
		BaseURL:      s.baseURL + "/c/" + companyID,
	}
	s.auth.access[t.AccessToken] = &accessToken{company: companyID, scopes: t.Scopes, expiry: t.Expiry}
	s.auth.refresh[t.RefreshToken] = &refreshToken{company: companyID, scopes: t.Scopes}
	s.auth.tokenIssued++
	return t
}

// IssueToken creates a token pair with every known scope for a company, as
// a completed connection would leave it. It panics on an unknown company.
func (s *Sim) IssueToken(companyID string) Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustCompany(companyID)
	return s.issue(companyID, KnownScopes)
}

// IssueTokenWithScopes is IssueToken with a chosen scope list, for tests of
// 403 responses.
func (s *Sim) IssueTokenWithScopes(companyID string, scopes []string) Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustCompany(companyID)
	return s.issue(companyID, scopes)
}

// RevokeCompany invalidates every access and refresh token of a company,
// as when an admin removes the app in Gong.
func (s *Sim) RevokeCompany(companyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.auth.access {
		if t.company == companyID {
			t.revoked = true
		}
	}
	for _, t := range s.auth.refresh {
		if t.company == companyID {
			t.revoked = true
		}
	}
}

// ExpireAccessTokens makes every access token of a company expired, while
// its refresh tokens stay valid.
func (s *Sim) ExpireAccessTokens(companyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.now().Add(-time.Second)
	for _, t := range s.auth.access {
		if t.company == companyID {
			t.expiry = past
		}
	}
}

// FailTokenEndpoint makes the next n requests to the token endpoint fail
// with 503.
func (s *Sim) FailTokenEndpoint(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth.failTokenN = n
}

// DenyNext makes the next authorization request redirect back with
// error=access_denied, as when the admin clicks Deny.
func (s *Sim) DenyNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth.denyNext++
}

// TokenRefreshes returns how many refresh grants succeeded.
func (s *Sim) TokenRefreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth.refreshCount
}

func (s *Sim) countGlobal(companyID, endpoint string) {
	s.total++
	if co := s.companies[companyID]; co != nil {
		co.requests[endpoint]++
	}
}

// handleAuthorize serves GET /oauth2/authorize. It approves at once for the
// company named by the "company" parameter (default: the first company).
// A bad client or redirect URI gets a 400 page, as OAuth requires; other
// problems redirect back with an error code.
func (s *Sim) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	companyID := q.Get("company")
	if companyID == "" {
		companyID = s.order[0]
	}
	s.mu.Lock()
	s.countGlobal(companyID, EndpointAuthorize)
	s.mu.Unlock()
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "authorize accepts GET only", http.StatusMethodNotAllowed)
		return
	}
	if q.Get("client_id") != s.cfg.ClientID {
		http.Error(w, fmt.Sprintf("unknown client_id %q", q.Get("client_id")), http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	back, err := s.checkRedirectURI(redirectURI)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		v := back.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if state != "" {
			v.Set("state", state)
		}
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	if state == "" {
		fail("invalid_request", "state is missing")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		fail("invalid_scope", "scope is missing")
		return
	}
	for _, sc := range scopes {
		if !slices.Contains(KnownScopes, sc) {
			fail("invalid_scope", fmt.Sprintf("unknown scope %s", sc))
			return
		}
	}
	s.mu.Lock()
	_, companyErr := s.company(companyID)
	deny := s.auth.denyNext > 0 || q.Get("deny") != ""
	if s.auth.denyNext > 0 {
		s.auth.denyNext--
	}
	code := randomToken("sc_")
	if companyErr == nil && !deny {
		s.auth.codes[code] = &authCode{company: companyID, scopes: scopes, redirectURI: redirectURI, expiry: s.now().Add(s.cfg.CodeTTL)}
	}
	s.mu.Unlock()
	if companyErr != nil {
		http.Error(w, companyErr.Error(), http.StatusBadRequest)
		return
	}
	if deny {
		fail("access_denied", "the administrator denied access")
		return
	}
	v := back.Query()
	v.Set("code", code)
	v.Set("state", state)
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (s *Sim) checkRedirectURI(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("invalid redirect_uri %q: send the absolute URI registered for the app", raw)
	}
	if len(s.cfg.RedirectURIs) > 0 {
		if !slices.Contains(s.cfg.RedirectURIs, raw) {
			return nil, fmt.Errorf("redirect_uri %q is not registered for the app", raw)
		}
		return u, nil
	}
	host := u.Hostname()
	if u.Scheme != "http" || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		return nil, fmt.Errorf("redirect_uri %q must be an http URL on a loopback host", raw)
	}
	return u, nil
}

// handleToken serves POST /oauth2/generate-customer-token for the
// authorization_code and refresh_token grants. Parameters are read from the
// query string, as Gong documents, and from a form body.
func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.total++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeOAuthError(w, http.StatusMethodNotAllowed, oauthError{Error: "invalid_request", Description: "use POST"})
		return
	}
	params := r.URL.Query()
	if err := r.ParseForm(); err == nil {
		for k, vs := range r.PostForm {
			if params.Get(k) == "" {
				params[k] = vs
			}
		}
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != s.cfg.ClientID || secret != s.cfg.ClientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="gong"`)
		s.writeOAuthError(w, http.StatusUnauthorized, oauthError{Error: "invalid_client", Description: "client authentication failed: send the client id and secret in a Basic Authorization header"})
		return
	}
	if cid := params.Get("client_id"); cid != "" && cid != s.cfg.ClientID {
		s.writeOAuthError(w, http.StatusUnauthorized, oauthError{Error: "invalid_client", Description: "client_id does not match the Basic credentials"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auth.failTokenN > 0 {
		s.auth.failTokenN--
		s.writeOAuthError(w, http.StatusServiceUnavailable, oauthError{Error: "temporarily_unavailable", Description: "the token service is unavailable"})
		return
	}
	var (
		tok     Token
		status  int
		oerr    oauthError
		refresh bool
	)
	switch params.Get("grant_type") {
	case "authorization_code":
		tok, status, oerr = s.exchangeCode(params)
	case "refresh_token":
		refresh = true
		tok, status, oerr = s.exchangeRefresh(params)
	case "":
		status, oerr = http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "grant_type is missing"}
	default:
		status, oerr = http.StatusBadRequest, oauthError{Error: "unsupported_grant_type", Description: "grant_type must be authorization_code or refresh_token"}
	}
	if status != 0 {
		s.writeOAuthError(w, status, oerr)
		return
	}
	if s.baseURL == "" {
		tok.BaseURL = "http://" + r.Host + tok.BaseURL
	}
	resp := tokenResponse{
		AccessToken:           tok.AccessToken,
		RefreshToken:          tok.RefreshToken,
		Scope:                 strings.Join(tok.Scopes, " "),
		TokenType:             tok.TokenType,
		ExpiresIn:             int64(s.cfg.AccessTokenTTL / time.Second),
		APIBaseURLForCustomer: tok.BaseURL,
	}
	if refresh && s.cfg.OmitBaseURLOnRefresh {
		resp.APIBaseURLForCustomer = ""
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func invalidGrant(desc string) (Token, int, oauthError) {
	return Token{}, http.StatusBadRequest, oauthError{Error: "invalid_grant", Description: desc}
}

func (s *Sim) exchangeCode(params url.Values) (Token, int, oauthError) {
	code := params.Get("code")
	if code == "" {
		return Token{}, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "code is missing"}
	}
	c := s.auth.codes[code]
	switch {
	case c == nil:
		return invalidGrant("authorization code is invalid")
	case c.used:
		return invalidGrant("authorization code was already used")
	case !s.now().Before(c.expiry):
		return invalidGrant("authorization code expired")
	case params.Get("redirect_uri") != c.redirectURI:
		return invalidGrant("redirect_uri does not match the authorization request")
	}
	c.used = true
	s.companies[c.company].requests[EndpointToken]++
	return s.issue(c.company, c.scopes), 0, oauthError{}
}

func (s *Sim) exchangeRefresh(params url.Values) (Token, int, oauthError) {
	rt := params.Get("refresh_token")
	if rt == "" {
		return Token{}, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "refresh_token is missing"}
	}
	t := s.auth.refresh[rt]
	switch {
	case t == nil:
		return invalidGrant("Refresh token code is invalid")
	case t.revoked:
		return invalidGrant("refresh token was revoked")
	case t.used:
		return invalidGrant("refresh token was already used")
	}
	t.used = true
	s.auth.refreshCount++
	s.companies[t.company].requests[EndpointToken]++
	return s.issue(t.company, t.scopes), 0, oauthError{}
}

// writeOAuthError sends an OAuth error and logs it without any token or
// code value.
func (s *Sim) writeOAuthError(w http.ResponseWriter, status int, e oauthError) {
	s.cfg.Logger.Info("gongsim: token request rejected", "status", status, "error", e.Error, "description", e.Description)
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
