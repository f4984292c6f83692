package connect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dealdesk/gongingest/shared/connect"
	"github.com/dealdesk/gongingest/shared/gongsim"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

const (
	redirectURI = "https://api.example.com/gong/callback"
	returnURL   = "https://app.example.com/settings/gong"
)

var envCount atomic.Int64

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// backfillCall is one StartInitial call.
type backfillCall struct {
	TenantID    string
	Epoch       int64
	Days        int
	RequestedBy string
}

type recordingBackfill struct {
	mu    sync.Mutex
	calls []backfillCall
	err   error
}

func (b *recordingBackfill) StartInitial(_ context.Context, tenantID string, epoch int64, days int, requestedBy string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return "", b.err
	}
	b.calls = append(b.calls, backfillCall{tenantID, epoch, days, requestedBy})
	return "job-" + tenantID, nil
}

func (b *recordingBackfill) Calls() []backfillCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]backfillCall(nil), b.calls...)
}

// testEnv is the whole flow on kumo and a Gong OAuth server: the simulator,
// or a fake whose token responses tests can shape.
type testEnv struct {
	api      *connect.API
	store    *store.Store
	tokens   *tokens.Manager
	sim      *gongsim.Server // nil when fake is set
	fake     *fakeGong
	baseURL  string // api_base_url_for_customer the token carries
	secret   string // the OAuth client secret
	clock    *clock
	backfill *recordingBackfill
	logs     *bytes.Buffer
}

// gongServer is what the tests need to know of a Gong OAuth server.
type gongServer struct {
	clientID, clientSecret, authorizeURL, tokenURL, baseURL string
}

// newTestEnv runs the flow against the Gong simulator.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	sim := gongsim.StartTB(t, gongsim.Config{
		Companies:    []gongsim.CompanySpec{{ID: "acme", Users: 2, CallsPerDay: 1}},
		Span:         48 * time.Hour,
		Clock:        clk.Now,
		RedirectURIs: []string{redirectURI},
	})
	e := newTestEnvWith(t, clk, gongServer{
		clientID: "gongsim-client", clientSecret: "gongsim-secret",
		authorizeURL: sim.URL + "/oauth2/authorize", tokenURL: sim.URL + "/oauth2/generate-customer-token",
		baseURL: sim.URL + "/c/acme",
	})
	e.sim = sim
	return e
}

// newFakeTestEnv runs the flow against a fake Gong whose token responses a
// test can change.
func newFakeTestEnv(t *testing.T) *testEnv {
	t.Helper()
	fake := startFakeGong(t)
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	e := newTestEnvWith(t, clk, gongServer{
		clientID: fake.ClientID, clientSecret: fake.ClientSecret,
		authorizeURL: fake.AuthorizeURL(), tokenURL: fake.TokenURL(), baseURL: fake.URL,
	})
	e.fake = fake
	return e
}

func newTestEnvWith(t *testing.T, clk *clock, gong gongServer) *testEnv {
	t.Helper()
	ctx := context.Background()
	aws := localaws.StartKumo(t)
	// kumo keeps one state per process, so every environment gets its own
	// table and secret names.
	n := envCount.Add(1)
	table := fmt.Sprintf("connect-test-%d", n)
	clientSecretID := fmt.Sprintf("connect-test-%d/oauth-client", n)
	if err := store.EnsureTable(ctx, aws.DynamoDB, table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := aws.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         awsString(clientSecretID),
		SecretString: awsString(gong.clientSecret),
	}); err != nil {
		t.Fatalf("create client secret: %v", err)
	}
	st := store.New(aws.DynamoDB, table)
	st.Now = clk.Now
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tm := &tokens.Manager{Secrets: aws.SecretsManager, Store: st, Prefix: fmt.Sprintf("connect-test-%d/tenants/", n), Now: clk.Now, Logger: logger}
	bf := &recordingBackfill{}
	svc := &connect.Service{
		Config: connect.Config{
			ClientID:     gong.clientID,
			AuthorizeURL: gong.authorizeURL,
			TokenURL:     gong.tokenURL,
			RedirectURI:  redirectURI,
			ReturnURL:    returnURL,
		},
		Store:    st,
		Tokens:   tm,
		Secret:   connect.SecretsManagerSecret{API: aws.SecretsManager, SecretID: clientSecretID},
		Backfill: bf,
		Now:      clk.Now,
		Logger:   logger,
	}
	if err := svc.Config.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return &testEnv{
		api: &connect.API{Service: svc}, store: st, tokens: tm, baseURL: gong.baseURL, secret: gong.clientSecret,
		clock: clk, backfill: bf, logs: logs,
	}
}

func awsString(s string) *string { return &s }

// loadEvent reads a request fixture from testdata.
func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	return req
}

// withClaims returns req signed in as sub of tenant with role; nil claims
// remove the authorizer.
func withClaims(req events.APIGatewayV2HTTPRequest, claims map[string]string) events.APIGatewayV2HTTPRequest {
	if claims == nil {
		req.RequestContext.Authorizer = nil
		return req
	}
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
	}
	return req
}

func admin(tenant, sub string) map[string]string {
	return map[string]string{"org_id": tenant, "sub": sub, "role": "admin"}
}

func member(tenant, sub string) map[string]string {
	return map[string]string{"org_id": tenant, "sub": sub, "role": "member"}
}

func (e *testEnv) do(t *testing.T, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := e.api.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle(%s): %v", req.RouteKey, err)
	}
	return resp
}

// started is a connection an admin began: the authorize URL and the browser's
// binding cookie.
type started struct {
	authorizeURL string
	cookie       string // "name=value"
}

func (e *testEnv) startConnect(t *testing.T, claims map[string]string) started {
	t.Helper()
	resp := e.do(t, withClaims(loadEvent(t, "connect.json"), claims))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("connect status = %d, body %s; want 302", resp.StatusCode, resp.Body)
	}
	if len(resp.Cookies) != 1 {
		t.Fatalf("connect set %d cookies, want 1", len(resp.Cookies))
	}
	nameValue, _, _ := strings.Cut(resp.Cookies[0], ";")
	return started{authorizeURL: resp.Headers["Location"], cookie: nameValue}
}

// approve sends the admin's browser to Gong's authorize page and returns the
// query string Gong redirects back with.
func approve(t *testing.T, authorizeURL string) string {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authorizeURL)
	if err != nil {
		t.Fatalf("open authorize URL: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize status = %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("authorize Location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("Gong redirected to %s, want %s", got, redirectURI)
	}
	return loc.RawQuery
}

func (e *testEnv) callback(t *testing.T, rawQuery, cookie string, claims map[string]string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	req := loadEvent(t, "callback.json")
	req.RawQueryString = rawQuery
	q, _ := url.ParseQuery(rawQuery)
	req.QueryStringParameters = map[string]string{}
	for k := range q {
		req.QueryStringParameters[k] = strings.Join(q[k], ",")
	}
	req.Cookies = nil
	if cookie != "" {
		req.Cookies = []string{cookie}
	}
	return e.do(t, withClaims(req, claims))
}

// connectTenant runs the whole flow for an admin and checks it succeeded.
func (e *testEnv) connectTenant(t *testing.T, tenant, sub string) {
	t.Helper()
	s := e.startConnect(t, admin(tenant, sub))
	resp := e.callback(t, approve(t, s.authorizeURL), s.cookie, nil)
	if loc := resp.Headers["Location"]; resp.StatusCode != http.StatusFound || !strings.Contains(loc, "gong=connected") {
		t.Fatalf("callback = %d %q, want 302 to gong=connected", resp.StatusCode, loc)
	}
}

func (e *testEnv) tenant(t *testing.T, id string) *store.Tenant {
	t.Helper()
	tn, err := e.store.Tenant(id)
	if err != nil {
		t.Fatalf("tenant: %v", err)
	}
	return tn
}

// assertNothingStored checks that no token and no tenant record exist.
func (e *testEnv) assertNothingStored(t *testing.T, tenant string) {
	t.Helper()
	if _, err := e.tokens.Get(context.Background(), tenant); !errors.Is(err, tokens.ErrNoToken) {
		t.Errorf("token of %s: err = %v, want ErrNoToken", tenant, err)
	}
	if rec, err := e.tenant(t, tenant).GetTenant(context.Background()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tenant record of %s = %+v, %v; want ErrNotFound", tenant, rec, err)
	}
	if calls := e.backfill.Calls(); len(calls) != 0 {
		t.Errorf("backfill started %+v, want none", calls)
	}
}

// assertNoSecretsLogged checks that no token, code, state, binding or client
// secret reached the logs.
func (e *testEnv) assertNoSecretsLogged(t *testing.T, values ...string) {
	t.Helper()
	logs := e.logs.String()
	for _, v := range append(values, e.secret, "access-code-", "refresh-code-", "code-x") {
		if v != "" && strings.Contains(logs, v) {
			t.Errorf("logs contain the secret value %q", v)
		}
	}
}

func TestConnectRedirectsToGong(t *testing.T) {
	e := newTestEnv(t)
	s := e.startConnect(t, admin("acme", "admin-1"))
	u, err := url.Parse(s.authorizeURL)
	if err != nil {
		t.Fatalf("Location: %v", err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != e.api.Service.Config.AuthorizeURL {
		t.Errorf("authorize endpoint = %s, want %s", got, e.api.Service.Config.AuthorizeURL)
	}
	q := u.Query()
	want := map[string]string{
		"client_id":     e.api.Service.Config.ClientID,
		"response_type": "code",
		"redirect_uri":  redirectURI,
		"scope":         "api:calls:read:basic api:calls:read:extensive api:calls:read:transcript api:calls:read:media-url api:users:read",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if n := len(q.Get("state")); n != 43 {
		t.Errorf("state length = %d, want 43 (32 bytes, base64url)", n)
	}
	if !strings.HasPrefix(s.cookie, connect.BindingCookie+"=") {
		t.Errorf("cookie = %q, want %s", s.cookie, connect.BindingCookie)
	}
	second := e.startConnect(t, admin("acme", "admin-1"))
	if second.authorizeURL == s.authorizeURL {
		t.Errorf("two connects returned the same state")
	}
	e.assertNoSecretsLogged(t, q.Get("state"))
}

func TestConnectAsJSON(t *testing.T) {
	e := newTestEnv(t)
	req := withClaims(loadEvent(t, "connect.json"), admin("acme", "admin-1"))
	req.Headers["accept"] = "application/json"
	resp := e.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	var body struct {
		AuthorizeURL string `json:"authorizeUrl"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	if !strings.HasPrefix(body.AuthorizeURL, e.api.Service.Config.AuthorizeURL+"?") {
		t.Errorf("authorizeUrl = %q, want Gong's authorize URL", body.AuthorizeURL)
	}
	if len(resp.Cookies) != 1 {
		t.Errorf("cookies = %d, want 1", len(resp.Cookies))
	}
}

func TestConnectRejectsCallers(t *testing.T) {
	tests := []struct {
		name   string
		route  string
		claims map[string]string
		want   int
	}{
		{"connect non-admin", "connect.json", member("acme", "user-2"), http.StatusForbidden},
		{"connect no claims", "connect.json", nil, http.StatusUnauthorized},
		{"connect bad tenant", "connect.json", admin("a#b", "admin-1"), http.StatusForbidden},
		{"disconnect non-admin", "disconnect.json", member("acme", "user-2"), http.StatusForbidden},
		{"disconnect no claims", "disconnect.json", nil, http.StatusUnauthorized},
		{"status no claims", "status.json", nil, http.StatusUnauthorized},
	}
	e := newTestEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(t, withClaims(loadEvent(t, tt.route), tt.claims))
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, tt.want, resp.Body)
			}
		})
	}
	e.assertNothingStored(t, "acme")
}

func TestCallbackConnects(t *testing.T) {
	tests := []struct {
		name   string
		cookie bool
		claims map[string]string
	}{
		{"cookie only", true, nil},
		{"claims only", false, admin("acme", "admin-1")},
		{"claims and cookie", true, admin("acme", "admin-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			ctx := context.Background()
			s := e.startConnect(t, admin("acme", "admin-1"))
			query := approve(t, s.authorizeURL)
			cookie := ""
			if tt.cookie {
				cookie = s.cookie
			}
			resp := e.callback(t, query, cookie, tt.claims)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("callback status = %d, body %s; want 302", resp.StatusCode, resp.Body)
			}
			if got, want := resp.Headers["Location"], returnURL+"?gong=connected"; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			tok, err := e.tokens.Get(ctx, "acme")
			if err != nil {
				t.Fatalf("stored token: %v", err)
			}
			if tok.BaseURL != e.baseURL {
				t.Errorf("token BaseURL = %q, want %q", tok.BaseURL, e.baseURL)
			}
			if len(tok.Scopes) != len(tokens.Scopes) {
				t.Errorf("token scopes = %v, want %v", tok.Scopes, tokens.Scopes)
			}
			if tok.RefreshToken == "" || tok.AccessToken == "" || tok.Expiry.IsZero() {
				t.Errorf("token incomplete: access %t refresh %t expiry %s", tok.AccessToken != "", tok.RefreshToken != "", tok.Expiry)
			}
			rec, err := e.tenant(t, "acme").GetTenant(ctx)
			if err != nil {
				t.Fatalf("tenant record: %v", err)
			}
			if rec.Status != store.StatusConnected || rec.Epoch != 1 || rec.ConnectedBy != "admin-1" || rec.GongBaseURL != e.baseURL {
				t.Errorf("tenant = status %s epoch %d by %s base %s; want connected 1 admin-1 %s",
					rec.Status, rec.Epoch, rec.ConnectedBy, rec.GongBaseURL, e.baseURL)
			}
			want := []backfillCall{{TenantID: "acme", Epoch: 1, Days: connect.DefaultBackfillDays, RequestedBy: "admin-1"}}
			if got := e.backfill.Calls(); len(got) != 1 || got[0] != want[0] {
				t.Errorf("backfill calls = %+v, want %+v", got, want)
			}
			q, _ := url.ParseQuery(query)
			e.assertNoSecretsLogged(t, q.Get("state"), q.Get("code"), strings.TrimPrefix(s.cookie, connect.BindingCookie+"="))
			if strings.Contains(resp.Headers["Location"], q.Get("code")) {
				t.Errorf("redirect leaks the code")
			}
		})
	}
}

func TestCallbackRejectsBadState(t *testing.T) {
	tests := []struct {
		name string
		// run starts a connection for acme/admin-1 and returns the callback
		// request to send.
		run  func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string)
		page string
		log  string // the one warning the rejection logs
	}{
		{"forged state", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			return "code=code-x&state=Zm9yZ2VkLXN0YXRlLXZhbHVlLXRoYXQtd2FzLW5ldmVyLWlzc3VlZA", s.cookie, nil
		}, "not valid", "unknown or used state"},
		{"missing state", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			return "code=code-x", s.cookie, nil
		}, "no state", "without a state parameter"},
		{"replayed state", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			if resp := e.callback(t, query, s.cookie, nil); resp.StatusCode != http.StatusFound {
				t.Fatalf("first callback = %d, want 302", resp.StatusCode)
			}
			if err := e.tokens.Delete(context.Background(), "acme"); err != nil {
				t.Fatalf("reset token: %v", err)
			}
			return query, s.cookie, nil
		}, "already been used", "unknown or used state"},
		{"expired state", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			e.clock.Advance(connect.StateLifetime + time.Second)
			return query, s.cookie, nil
		}, "expired", "expired state"},
		{"state from another tenant", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			return query, "", admin("globex", "admin-9")
		}, "another user", "another user or browser"},
		{"another admin of the tenant", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			return query, s.cookie, admin("acme", "admin-2")
		}, "another user", "another user or browser"},
		{"other browser", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			other := e.startConnect(t, admin("globex", "admin-9"))
			return query, other.cookie, nil
		}, "another user", "another user or browser"},
		{"no claims and no cookie", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			return query, "", nil
		}, "another user", "another user or browser"},
		{"repeated state parameter", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			return query + "&state=second", s.cookie, nil
		}, "repeats its state or code", "repeated query parameter"},
		{"repeated code parameter", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			return query + "&code=second", s.cookie, nil
		}, "repeats its state or code", "repeated query parameter"},
		{"unparsable query", func(t *testing.T, e *testEnv, s started, query string) (string, string, map[string]string) {
			return query + "&x=%zz", s.cookie, nil
		}, "cannot be read", "unparsable query string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			s := e.startConnect(t, admin("acme", "admin-1"))
			query := approve(t, s.authorizeURL)
			rawQuery, cookie, claims := tt.run(t, e, s, query)
			e.backfill.mu.Lock()
			e.backfill.calls = nil
			e.backfill.mu.Unlock()
			e.logs.Reset()

			resp := e.callback(t, rawQuery, cookie, claims)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (Location %q)", resp.StatusCode, resp.Headers["Location"])
			}
			if len(resp.Cookies) != 1 || !strings.HasPrefix(resp.Cookies[0], connect.BindingCookie+"=;") || !strings.Contains(resp.Cookies[0], "Max-Age=0") {
				t.Errorf("cookies = %q, want the binding cookie deleted", resp.Cookies)
			}
			if lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tt.log) {
				t.Errorf("logs = %q, want one line about %q", lines, tt.log)
			}
			if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q, want text/html", ct)
			}
			if !strings.Contains(resp.Body, tt.page) {
				t.Errorf("page does not explain %q: %s", tt.page, resp.Body)
			}
			q, _ := url.ParseQuery(rawQuery)
			if st := q.Get("state"); st != "" && strings.Contains(resp.Body, st) {
				t.Errorf("page shows the state")
			}
			// The replayed case connected once on purpose and removed the
			// token again, so every case must end with no token.
			if _, err := e.tokens.Get(context.Background(), "acme"); !errors.Is(err, tokens.ErrNoToken) {
				t.Errorf("token stored after a rejected state: %v", err)
			}
			if tt.name != "replayed state" {
				e.assertNothingStored(t, "acme")
				e.assertNothingStored(t, "globex")
			}
			e.assertNoSecretsLogged(t, q.Get("state"), q.Get("code"))
		})
	}
}

func TestCallbackOutcomes(t *testing.T) {
	allScopes := "api:calls:read:basic api:calls:read:extensive api:calls:read:transcript api:calls:read:media-url api:users:read"
	tests := []struct {
		name    string
		newEnv  func(t *testing.T) *testEnv
		setup   func(e *testEnv)
		wantLoc string
	}{
		{"access denied", newTestEnv, func(e *testEnv) { e.sim.DenyNext() }, "gong=error&reason=access_denied"},
		{"token endpoint fails", newTestEnv, func(e *testEnv) { e.sim.FailTokenEndpoint(1) }, "gong=error&reason=token_exchange_failed"},
		{"token endpoint rejects code", newFakeTestEnv, func(e *testEnv) { e.fake.FailCode = http.StatusBadRequest }, "gong=error&reason=token_exchange_failed"},
		{"missing scopes", newFakeTestEnv, func(e *testEnv) { e.fake.Scope = "api:calls:read:basic api:users:read" },
			"gong=error&missing_scopes=api%3Acalls%3Aread%3Aextensive+api%3Acalls%3Aread%3Atranscript+api%3Acalls%3Aread%3Amedia-url&reason=missing_scopes"},
		{"extra scopes are fine", newFakeTestEnv, func(e *testEnv) { e.fake.Scope = allScopes + " api:workspaces:read" }, "gong=connected"},
		{"no base URL", newFakeTestEnv, func(e *testEnv) { e.fake.BaseURL = "-" }, "gong=error&reason=no_base_url"},
		{"base URL not https", newFakeTestEnv, func(e *testEnv) { e.fake.BaseURL = "http://eu-1234.api.gong.example" }, "gong=error&reason=no_base_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.newEnv(t)
			tt.setup(e)
			s := e.startConnect(t, admin("acme", "admin-1"))
			query := approve(t, s.authorizeURL)
			resp := e.callback(t, query, s.cookie, nil)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status = %d, want 302 (body %s)", resp.StatusCode, resp.Body)
			}
			if got, want := resp.Headers["Location"], returnURL+"?"+tt.wantLoc; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			if tt.wantLoc != "gong=connected" {
				e.assertNothingStored(t, "acme")
			}
			q, _ := url.ParseQuery(query)
			e.assertNoSecretsLogged(t, q.Get("state"), q.Get("code"))
		})
	}
}

func TestCallbackKeepsConnectionWhenBackfillFails(t *testing.T) {
	e := newTestEnv(t)
	e.backfill.err = errors.New("queue unavailable")
	s := e.startConnect(t, admin("acme", "admin-1"))
	resp := e.callback(t, approve(t, s.authorizeURL), s.cookie, nil)
	if got, want := resp.Headers["Location"], returnURL+"?backfill=error&gong=connected"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	rec, err := e.tenant(t, "acme").GetTenant(context.Background())
	if err != nil || rec.Status != store.StatusConnected {
		t.Errorf("tenant = %+v, %v; want connected", rec, err)
	}
}

func TestDisconnectStopsSyncAndKeepsData(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.connectTenant(t, "acme", "admin-1")
	tn := e.tenant(t, "acme")
	before, err := tn.GetTenant(ctx)
	if err != nil {
		t.Fatalf("tenant: %v", err)
	}
	if err := tn.PutSettings(ctx, store.Settings{IncludePrivate: true}); err != nil {
		t.Fatalf("settings: %v", err)
	}

	for i := range 2 { // the second disconnect checks idempotence
		resp := e.do(t, withClaims(loadEvent(t, "disconnect.json"), admin("acme", "admin-1")))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("disconnect %d status = %d, body %s", i+1, resp.StatusCode, resp.Body)
		}
	}
	rec, err := tn.GetTenant(ctx)
	if err != nil {
		t.Fatalf("tenant after disconnect: %v", err)
	}
	if rec.Status != store.StatusDisconnected {
		t.Errorf("status = %s, want disconnected", rec.Status)
	}
	// A message queued before the disconnect carries the old epoch; the
	// engine runs work only for a syncable tenant at the message's epoch.
	if rec.Syncable() {
		t.Errorf("tenant still syncable after disconnect")
	}
	if !rec.Settings.IncludePrivate || rec.ConnectedBy != "admin-1" || rec.Epoch != before.Epoch {
		t.Errorf("disconnect changed data: settings %+v by %q epoch %d", rec.Settings, rec.ConnectedBy, rec.Epoch)
	}
	if _, err := e.tokens.Get(ctx, "acme"); !errors.Is(err, tokens.ErrNoToken) {
		t.Errorf("token after disconnect: err = %v, want ErrNoToken", err)
	}
	ids, err := e.store.TenantsWithStatus(ctx, store.StatusConnected)
	if err != nil {
		t.Fatalf("connected tenants: %v", err)
	}
	if len(ids) != 0 {
		t.Errorf("connected tenants = %v, want none", ids)
	}
}

func TestDisconnectNeverConnected(t *testing.T) {
	e := newTestEnv(t)
	resp := e.do(t, withClaims(loadEvent(t, "disconnect.json"), admin("acme", "admin-1")))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s; want 200", resp.StatusCode, resp.Body)
	}
	e.assertNothingStored(t, "acme")
}

func TestDisconnectReportsPreviousStatus(t *testing.T) {
	e := newTestEnv(t)
	e.connectTenant(t, "acme", "admin-1")
	tests := []struct {
		name, tenant, wantPrevious, wantMessage string
	}{
		{"connected tenant", "acme", store.StatusConnected, "is disconnected"},
		{"second disconnect", "acme", store.StatusDisconnected, "already disconnected"},
		{"never connected", "globex", connect.PreviousStatusNone, "never connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(t, withClaims(loadEvent(t, "disconnect.json"), admin(tt.tenant, "admin-1")))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, body %s; want 200", resp.StatusCode, resp.Body)
			}
			var body connect.DisconnectResult
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %s: %v", resp.Body, err)
			}
			if body.Status != store.StatusDisconnected {
				t.Errorf("status = %q, want disconnected", body.Status)
			}
			if body.PreviousStatus != tt.wantPrevious {
				t.Errorf("previousStatus = %q, want %q", body.PreviousStatus, tt.wantPrevious)
			}
			if !strings.Contains(body.Message, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", body.Message, tt.wantMessage)
			}
		})
	}
}

// TestCallbackMismatchKeepsState sends the state to the callback from the
// wrong user or browser first: the request is rejected without using the
// state up, so the admin who started can still finish, once.
func TestCallbackMismatchKeepsState(t *testing.T) {
	tests := []struct {
		name   string
		cookie func(t *testing.T, e *testEnv) string
		claims map[string]string
	}{
		{"no cookie and no claims", func(*testing.T, *testEnv) string { return "" }, nil},
		{"cookie of another browser", func(t *testing.T, e *testEnv) string {
			return e.startConnect(t, admin("globex", "admin-9")).cookie
		}, nil},
		{"forged cookie value", func(*testing.T, *testEnv) string { return connect.BindingCookie + "=forged" }, nil},
		{"claims of another admin", func(*testing.T, *testEnv) string { return "" }, admin("acme", "admin-2")},
		{"claims of another tenant", func(*testing.T, *testEnv) string { return "" }, admin("globex", "admin-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			s := e.startConnect(t, admin("acme", "admin-1"))
			query := approve(t, s.authorizeURL)

			resp := e.callback(t, query, tt.cookie(t, e), tt.claims)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, "another user") {
				t.Fatalf("wrong caller: status = %d, body %s; want 400 about another user", resp.StatusCode, resp.Body)
			}
			e.assertNothingStored(t, "acme")

			resp = e.callback(t, query, s.cookie, nil)
			if loc := resp.Headers["Location"]; resp.StatusCode != http.StatusFound || !strings.Contains(loc, "gong=connected") {
				t.Fatalf("admin after the wrong caller: status = %d, Location %q, body %s; want 302 to gong=connected", resp.StatusCode, loc, resp.Body)
			}

			resp = e.callback(t, query, s.cookie, nil)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, "already been used") {
				t.Errorf("replay: status = %d, body %s; want 400 already used", resp.StatusCode, resp.Body)
			}
			if calls := e.backfill.Calls(); len(calls) != 1 {
				t.Errorf("backfills = %+v, want one", calls)
			}
		})
	}
}

func TestReconnectBumpsEpoch(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, e *testEnv)
	}{
		{"after disconnect", func(t *testing.T, e *testEnv) {
			resp := e.do(t, withClaims(loadEvent(t, "disconnect.json"), admin("acme", "admin-1")))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("disconnect = %d", resp.StatusCode)
			}
		}},
		{"after reconnect needed", func(t *testing.T, e *testEnv) {
			if err := e.tenant(t, "acme").SetStatus(context.Background(), store.StatusReconnectNeeded, "refresh returned invalid_grant"); err != nil {
				t.Fatalf("set status: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			ctx := context.Background()
			tn := e.tenant(t, "acme")
			e.connectTenant(t, "acme", "admin-1")
			watermark := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			if err := tn.AdvanceWatermark(ctx, watermark); err != nil {
				t.Fatalf("watermark: %v", err)
			}
			tt.break_(t, e)
			e.connectTenant(t, "acme", "admin-2")

			rec, err := tn.GetTenant(ctx)
			if err != nil {
				t.Fatalf("tenant: %v", err)
			}
			if rec.Epoch != 2 || rec.Status != store.StatusConnected || rec.ConnectedBy != "admin-2" {
				t.Errorf("tenant = epoch %d status %s by %s; want 2 connected admin-2", rec.Epoch, rec.Status, rec.ConnectedBy)
			}
			sync, err := tn.GetSync(ctx)
			if err != nil {
				t.Fatalf("sync state: %v", err)
			}
			if !sync.Watermark.Equal(watermark) {
				t.Errorf("watermark = %s, want %s kept", sync.Watermark, watermark)
			}
			if calls := e.backfill.Calls(); len(calls) != 1 {
				t.Errorf("backfills = %+v, want only the first connection's", calls)
			}
			if _, err := e.tokens.Get(ctx, "acme"); err != nil {
				t.Errorf("token after reconnect: %v", err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	e := newTestEnv(t)
	get := func(t *testing.T) connect.Status {
		t.Helper()
		resp := e.do(t, loadEvent(t, "status.json"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, body %s", resp.StatusCode, resp.Body)
		}
		var st connect.Status
		if err := json.Unmarshal([]byte(resp.Body), &st); err != nil {
			t.Fatalf("decode status: %v", err)
		}
		return st
	}
	if st := get(t); st.Status != store.StatusDisconnected || st.ConnectedBy != "" || st.DailyBudget != connect.DefaultDailyBudget {
		t.Errorf("never connected status = %+v", st)
	}
	e.connectTenant(t, "acme", "admin-1")
	ctx := context.Background()
	if err := e.tenant(t, "acme").RecordError(ctx, "gong returned 503"); err != nil {
		t.Fatalf("record error: %v", err)
	}
	st := get(t)
	if st.Status != store.StatusConnected {
		t.Errorf("Status = %q, want connected", st.Status)
	}
	if st.ConnectedBy != "admin-1" || st.ConnectedAt == nil || !st.ConnectedAt.Equal(e.clock.Now()) {
		t.Errorf("connected by %q at %v, want admin-1 at %s", st.ConnectedBy, st.ConnectedAt, e.clock.Now())
	}
	if st.LastError != "gong returned 503" {
		t.Errorf("LastError = %q", st.LastError)
	}
	if len(st.MissingScopes) != 0 {
		t.Errorf("MissingScopes = %v, want none", st.MissingScopes)
	}
	if st.CallsIngested != 0 || st.UsedToday != 0 {
		t.Errorf("calls %d used %d, want 0 and 0", st.CallsIngested, st.UsedToday)
	}
	e.assertNoSecretsLogged(t)
}

func TestSecretsManagerSecretFormats(t *testing.T) {
	ctx := context.Background()
	kumo := localaws.StartKumo(t)
	tests := []struct {
		name, value, want string
		wantErr           bool
	}{
		{"bare", "s3cret\n", "s3cret", false},
		{"json", `{"client_secret":"s3cret"}`, "s3cret", false},
		{"json without field", `{"secret":"s3cret"}`, "", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("secret-format-test-%d-%d", envCount.Add(1), i)
			if _, err := kumo.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(tt.value)}); err != nil {
				t.Fatalf("create secret: %v", err)
			}
			got, err := connect.SecretsManagerSecret{API: kumo.SecretsManager, SecretID: id}.ClientSecret(ctx)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ClientSecret error = %v, want error %t", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ClientSecret = %q, want %q", got, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}
