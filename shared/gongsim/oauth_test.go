package gongsim

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testRedirect = "http://127.0.0.1:9999/oauth/callback"

func authorizeURL(base string, mod func(url.Values)) string {
	v := url.Values{
		"client_id":     {"gongsim-client"},
		"response_type": {"code"},
		"redirect_uri":  {testRedirect},
		"scope":         {strings.Join(KnownScopes, " ")},
		"state":         {"st-123"},
	}
	if mod != nil {
		mod(v)
	}
	return base + "/oauth2/authorize?" + v.Encode()
}

// tokenRequest posts to the token endpoint with the parameters in the
// query string and the given Basic credentials.
func tokenRequest(t *testing.T, base string, params url.Values, id, secret string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth2/generate-customer-token?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func authorizeCode(t *testing.T, base string, mod func(url.Values)) *url.URL {
	t.Helper()
	r := send(t, http.MethodGet, authorizeURL(base, mod), "", nil)
	if r.status != http.StatusFound {
		t.Fatalf("authorize status = %d, want 302; body %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatalf("parse Location: %v", err)
	}
	return loc
}

func TestOAuthCodeAndRefresh(t *testing.T) {
	f := newFixture(t, Config{Companies: []CompanySpec{{ID: "acme"}, {ID: "globex"}}, CallsPerDay: 1})
	base := f.srv.URL

	loc := authorizeCode(t, base, func(v url.Values) { v.Set("company", "globex") })
	if got := loc.Query().Get("state"); got != "st-123" {
		t.Errorf("state = %q, want st-123", got)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in redirect %s", loc)
	}
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"gongsim-client"}, "redirect_uri": {testRedirect}}
	r := tokenRequest(t, base, exchange, "gongsim-client", "gongsim-secret")
	if r.status != http.StatusOK {
		t.Fatalf("code exchange status = %d; body %s", r.status, r.body)
	}
	tok := r.json(t)
	if got, want := tok["api_base_url_for_customer"], base+"/c/globex"; got != want {
		t.Errorf("api_base_url_for_customer = %v, want %s", got, want)
	}
	if got := tok["expires_in"]; got != float64(86400) {
		t.Errorf("expires_in = %v, want 86400", got)
	}
	if got := tok["scope"]; got != strings.Join(KnownScopes, " ") {
		t.Errorf("scope = %v", got)
	}
	access, _ := tok["access_token"].(string)
	refresh, _ := tok["refresh_token"].(string)

	// The token works on its own company only.
	if r := send(t, http.MethodGet, base+"/c/globex/v2/users", access, nil); r.status != http.StatusOK {
		t.Errorf("users on own company: status %d; body %s", r.status, r.body)
	}
	assertGongError(t, send(t, http.MethodGet, base+"/c/acme/v2/users", access, nil), http.StatusUnauthorized)

	r = tokenRequest(t, base, exchange, "gongsim-client", "gongsim-secret")
	if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_grant" {
		t.Errorf("reused code: status %d body %s, want 400 invalid_grant", r.status, r.body)
	}

	refreshParams := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	r = tokenRequest(t, base, refreshParams, "gongsim-client", "gongsim-secret")
	if r.status != http.StatusOK {
		t.Fatalf("refresh status = %d; body %s", r.status, r.body)
	}
	if r.json(t)["refresh_token"] == refresh {
		t.Error("refresh returned the same refresh token; want a rotated one")
	}
	r = tokenRequest(t, base, refreshParams, "gongsim-client", "gongsim-secret")
	if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_grant" {
		t.Errorf("reused refresh token: status %d body %s, want 400 invalid_grant", r.status, r.body)
	}
	if got := f.srv.TokenRefreshes(); got != 1 {
		t.Errorf("TokenRefreshes = %d, want 1", got)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fixture) url.Values
		id, secret string
		wantStatus int
		wantError  string
	}{
		{
			name: "wrong secret",
			setup: func(f *fixture) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.token.RefreshToken}}
			},
			id:         "gongsim-client",
			secret:     "wrong",
			wantStatus: http.StatusUnauthorized,
			wantError:  "invalid_client",
		},
		{
			name: "no basic header",
			setup: func(f *fixture) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.token.RefreshToken}}
			},
			wantStatus: http.StatusUnauthorized,
			wantError:  "invalid_client",
		},
		{
			name:       "unknown grant",
			setup:      func(f *fixture) url.Values { return url.Values{"grant_type": {"password"}} },
			id:         "gongsim-client",
			secret:     "gongsim-secret",
			wantStatus: http.StatusBadRequest,
			wantError:  "unsupported_grant_type",
		},
		{
			name: "revoked company",
			setup: func(f *fixture) url.Values {
				f.srv.RevokeCompany("acme")
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.token.RefreshToken}}
			},
			id:         "gongsim-client",
			secret:     "gongsim-secret",
			wantStatus: http.StatusBadRequest,
			wantError:  "invalid_grant",
		},
		{
			name: "token endpoint down",
			setup: func(f *fixture) url.Values {
				f.srv.FailTokenEndpoint(1)
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.token.RefreshToken}}
			},
			id:         "gongsim-client",
			secret:     "gongsim-secret",
			wantStatus: http.StatusServiceUnavailable,
			wantError:  "temporarily_unavailable",
		},
		{
			name: "code with other redirect",
			setup: func(f *fixture) url.Values {
				code := authorizeCode(t, f.srv.URL, nil).Query().Get("code")
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:1/other"}}
			},
			id:         "gongsim-client",
			secret:     "gongsim-secret",
			wantStatus: http.StatusBadRequest,
			wantError:  "invalid_grant",
		},
		{
			name: "expired code",
			setup: func(f *fixture) url.Values {
				code := authorizeCode(t, f.srv.URL, nil).Query().Get("code")
				f.clock.Advance(11 * time.Minute)
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
			},
			id:         "gongsim-client",
			secret:     "gongsim-secret",
			wantStatus: http.StatusBadRequest,
			wantError:  "invalid_grant",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{CallsPerDay: 1})
			r := tokenRequest(t, f.srv.URL, tt.setup(f), tt.id, tt.secret)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			if got := r.json(t)["error"]; got != tt.wantError {
				t.Errorf("error = %v, want %s", got, tt.wantError)
			}
		})
	}
}

func TestTokenFormBody(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 1})
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.token.RefreshToken}}
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/oauth2/generate-customer-token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("gongsim-client", "gongsim-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200", resp.StatusCode)
	}
}

func TestAuthorizeRejects(t *testing.T) {
	tests := []struct {
		name       string
		mod        func(url.Values)
		deny       bool
		wantStatus int
		wantError  string // error parameter of the redirect
	}{
		{name: "unknown client", mod: func(v url.Values) { v.Set("client_id", "other") }, wantStatus: http.StatusBadRequest},
		{name: "remote redirect", mod: func(v url.Values) { v.Set("redirect_uri", "https://evil.example.com/cb") }, wantStatus: http.StatusBadRequest},
		{name: "relative redirect", mod: func(v url.Values) { v.Set("redirect_uri", "/cb") }, wantStatus: http.StatusBadRequest},
		{name: "unknown company", mod: func(v url.Values) { v.Set("company", "nobody") }, wantStatus: http.StatusBadRequest},
		{name: "token response type", mod: func(v url.Values) { v.Set("response_type", "token") }, wantStatus: http.StatusFound, wantError: "unsupported_response_type"},
		{name: "missing state", mod: func(v url.Values) { v.Del("state") }, wantStatus: http.StatusFound, wantError: "invalid_request"},
		{name: "unknown scope", mod: func(v url.Values) { v.Set("scope", "api:calls:delete") }, wantStatus: http.StatusFound, wantError: "invalid_scope"},
		{name: "denied by param", mod: func(v url.Values) { v.Set("deny", "1") }, wantStatus: http.StatusFound, wantError: "access_denied"},
		{name: "denied by control", deny: true, wantStatus: http.StatusFound, wantError: "access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{CallsPerDay: 1})
			if tt.deny {
				f.srv.DenyNext()
			}
			r := send(t, http.MethodGet, authorizeURL(f.srv.URL, tt.mod), "", nil)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			if tt.wantError == "" {
				return
			}
			loc, err := url.Parse(r.header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			if got := loc.Query().Get("error"); got != tt.wantError {
				t.Errorf("error = %q, want %q", got, tt.wantError)
			}
			if loc.Query().Get("code") != "" {
				t.Error("redirect carries a code despite the error")
			}
		})
	}
}
