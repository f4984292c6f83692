package connect_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeGong serves Gong's two OAuth endpoints: the authorize page, which
// approves or declines at once, and the token endpoint, which checks the
// Basic header and the query parameters as Gong documents them.
type fakeGong struct {
	URL          string
	ClientID     string
	ClientSecret string

	mu       sync.Mutex
	codes    map[string]string // code -> redirect_uri
	next     int
	Decline  bool   // authorize redirects back with error=access_denied
	FailCode int    // token endpoint fails with this HTTP status
	Scope    string // scope in the token response; empty means all requested
	BaseURL  string // api_base_url_for_customer; "-" omits it
}

func startFakeGong(t *testing.T) *fakeGong {
	t.Helper()
	g := &fakeGong{ClientID: "client-1", ClientSecret: "client-secret-value", codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", g.authorize)
	mux.HandleFunc("POST /oauth2/generate-customer-token", g.token)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

func (g *fakeGong) AuthorizeURL() string { return g.URL + "/oauth2/authorize" }
func (g *fakeGong) TokenURL() string     { return g.URL + "/oauth2/generate-customer-token" }

func (g *fakeGong) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != g.ClientID || q.Get("response_type") != "code" || q.Get("redirect_uri") == "" || q.Get("state") == "" {
		http.Error(w, "invalid authorize request", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := url.Values{"state": {q.Get("state")}}
	g.mu.Lock()
	if g.Decline {
		bq.Set("error", "access_denied")
	} else {
		g.next++
		code := "code-" + strings.Repeat("x", g.next)
		g.codes[code] = q.Get("redirect_uri")
		bq.Set("code", code)
	}
	g.mu.Unlock()
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (g *fakeGong) token(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	oauthError := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if g.FailCode != 0 {
		oauthError(g.FailCode, "server_error")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != g.ClientID || secret != g.ClientSecret {
		oauthError(http.StatusUnauthorized, "invalid_client")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(http.StatusBadRequest, "invalid_request")
		return
	}
	code := r.Form.Get("code")
	redirect, known := g.codes[code]
	if r.Form.Get("grant_type") != "authorization_code" || !known || r.Form.Get("redirect_uri") != redirect {
		oauthError(http.StatusBadRequest, "invalid_grant")
		return
	}
	delete(g.codes, code)
	scope := g.Scope
	if scope == "" {
		scope = "api:calls:read:basic api:calls:read:extensive api:calls:read:transcript api:calls:read:media-url api:users:read"
	}
	resp := map[string]any{
		"access_token":  "access-" + code,
		"refresh_token": "refresh-" + code,
		"scope":         scope,
		"token_type":    "bearer",
		"expires_in":    86400,
	}
	switch g.BaseURL {
	case "-":
	case "":
		resp["api_base_url_for_customer"] = g.URL
	default:
		resp["api_base_url_for_customer"] = g.BaseURL
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}
