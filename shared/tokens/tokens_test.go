package tokens_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// tokenServer is a Gong-like token endpoint with single-use refresh tokens.
type tokenServer struct {
	*httptest.Server
	mu              sync.Mutex
	valid           map[string]bool // refresh tokens not used yet
	refreshes       int
	issued          int
	omitRefresh     bool // respond without a new refresh token
	paramsFromQuery bool // the last request had its parameters in the query
}

func newTokenServer(t *testing.T, refreshTokens ...string) *tokenServer {
	ts := &tokenServer{valid: map[string]bool{}}
	for _, rt := range refreshTokens {
		ts.valid[rt] = true
	}
	ts.Server = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	id, secret, ok := r.BasicAuth()
	if !ok || id != "client-id" || secret != "client-secret" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	ts.paramsFromQuery = q.Get("grant_type") == "refresh_token" && q.Get("refresh_token") != ""
	if q.Get("grant_type") != "refresh_token" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	ts.refreshes++
	rt := q.Get("refresh_token")
	if !ts.valid[rt] {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Refresh token code is invalid"}`)
		return
	}
	delete(ts.valid, rt)
	ts.issued++
	resp := map[string]any{
		"access_token": fmt.Sprintf("access-%d", ts.issued),
		"token_type":   "bearer",
		"expires_in":   86400,
		"scope":        strings.Join(tokens.Scopes, " "),
	}
	if !ts.omitRefresh {
		next := fmt.Sprintf("refresh-%d", ts.issued)
		ts.valid[next] = true
		resp["refresh_token"] = next
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

type fixture struct {
	clients   localaws.Clients
	store     *store.Store
	server    *tokenServer
	api       *httptest.Server
	authSeen  chan string
	secretsMu sync.Mutex
}

func newFixture(t *testing.T, refreshTokens ...string) *fixture {
	f := &fixture{clients: localaws.StartKumo(t), server: newTokenServer(t, refreshTokens...), authSeen: make(chan string, 10)}
	if err := store.EnsureTable(context.Background(), f.clients.DynamoDB, store.DefaultTableName); err != nil {
		t.Fatalf("EnsureTable: %v", err)
	}
	f.store = store.New(f.clients.DynamoDB, store.DefaultTableName)
	f.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.authSeen <- r.Header.Get("Authorization")
	}))
	t.Cleanup(f.api.Close)
	return f
}

// serialSecrets runs one Secrets Manager call at a time. kumo v0.33.1
// updates a secret's last-access time inside GetSecretValue without a write
// lock, which the race detector reports when two Managers read at once.
type serialSecrets struct {
	mu   *sync.Mutex
	next tokens.SecretsAPI
}

func (s serialSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.GetSecretValue(ctx, in, opts...)
}

func (s serialSecrets) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.PutSecretValue(ctx, in, opts...)
}

func (s serialSecrets) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.CreateSecret(ctx, in, opts...)
}

func (s serialSecrets) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.DeleteSecret(ctx, in, opts...)
}

func (f *fixture) manager() *tokens.Manager {
	return &tokens.Manager{
		Secrets:      serialSecrets{mu: &f.secretsMu, next: f.clients.SecretsManager},
		Store:        f.store,
		OAuth:        tokens.OAuthConfig("client-id", "client-secret", f.server.URL+"/authorize", f.server.URL+"/token", "http://127.0.0.1/callback", tokens.Scopes),
		PollInterval: 5 * time.Millisecond,
	}
}

func (f *fixture) connect(t *testing.T, m *tokens.Manager, tenantID string, tok tokens.Token) {
	t.Helper()
	tn, err := f.store.Tenant(tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.MarkConnected(context.Background(), "admin", tokens.Scopes, tok.BaseURL); err != nil {
		t.Fatalf("MarkConnected: %v", err)
	}
	if err := m.Put(context.Background(), tenantID, tok); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func expiredToken(baseURL, refresh string) tokens.Token {
	return tokens.Token{AccessToken: "old", RefreshToken: refresh, TokenType: "bearer", Expiry: time.Now().Add(-time.Minute), BaseURL: baseURL}
}

func TestPutGetDelete(t *testing.T) {
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	tok := tokens.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour).UTC().Round(time.Second), BaseURL: "https://eu-1.api.gong.io"}
	if err := m.Put(ctx, "org-1", tok); err != nil {
		t.Fatalf("Put: %v", err)
	}
	tok.AccessToken = "a2"
	if err := m.Put(ctx, "org-1", tok); err != nil {
		t.Fatalf("Put over an existing secret: %v", err)
	}
	got, err := m.Get(ctx, "org-1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.AccessToken != "a2" || got.BaseURL != tok.BaseURL || !got.Expiry.Equal(tok.Expiry) || got.UpdatedAt.IsZero() {
		t.Errorf("Get = %+v, want the second Put with UpdatedAt", got)
	}
	if m.SecretName("org-1") != "gong-ingest/tenants/org-1" {
		t.Errorf("SecretName = %q", m.SecretName("org-1"))
	}
	if err := m.Delete(ctx, "org-1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := m.Delete(ctx, "org-1"); err != nil {
		t.Fatalf("Delete of a missing secret: %v", err)
	}
	_, err = m.Get(ctx, "org-1")
	if !errors.Is(err, tokens.ErrNoToken) || !strings.Contains(err.Error(), "org-1") {
		t.Errorf("Get after Delete error = %v, want ErrNoToken naming org-1", err)
	}
}

func TestClientMissingSecret(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.manager().Client(context.Background(), "org-none")
	if !errors.Is(err, tokens.ErrNoToken) {
		t.Errorf("Client error = %v, want ErrNoToken", err)
	}
}

func TestClientValidTokenNoRefresh(t *testing.T) {
	f := newFixture(t, "r0")
	m := f.manager()
	f.connect(t, m, "org-1", tokens.Token{AccessToken: "a0", RefreshToken: "r0", TokenType: "bearer", Expiry: time.Now().Add(time.Hour), BaseURL: f.api.URL + "/"})
	hc, base, err := m.Client(context.Background(), "org-1")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if base != f.api.URL {
		t.Errorf("base URL = %q, want %q", base, f.api.URL)
	}
	resp, err := hc.Get(base + "/v2/users")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if got := <-f.authSeen; got != "Bearer a0" {
		t.Errorf("Authorization = %q, want Bearer a0", got)
	}
	if f.server.refreshes != 0 {
		t.Errorf("refresh requests = %d, want 0", f.server.refreshes)
	}
}

func TestClientRefreshesAndStores(t *testing.T) {
	cases := []struct {
		name        string
		omitRefresh bool
		wantRefresh string
	}{
		{"RotatedRefreshToken", false, "refresh-1"},
		{"ResponseWithoutRefreshToken", true, "r0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "r0")
			f.server.omitRefresh = tc.omitRefresh
			m := f.manager()
			f.connect(t, m, "org-1", expiredToken(f.api.URL, "r0"))
			hc, _, err := m.Client(context.Background(), "org-1")
			if err != nil {
				t.Fatalf("Client: %v", err)
			}
			if !f.server.paramsFromQuery {
				t.Errorf("refresh request lacked grant_type and refresh_token in the query string")
			}
			stored, err := m.Get(context.Background(), "org-1")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if stored.AccessToken != "access-1" || stored.RefreshToken != tc.wantRefresh || stored.BaseURL != f.api.URL {
				t.Errorf("stored token = access %q refresh %q base %q, want access-1, %s, %s", stored.AccessToken, stored.RefreshToken, stored.BaseURL, tc.wantRefresh, f.api.URL)
			}
			if len(stored.Scopes) != len(tokens.Scopes) {
				t.Errorf("stored scopes = %v", stored.Scopes)
			}
			resp, err := hc.Get(f.api.URL + "/v2/calls")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			resp.Body.Close()
			if got := <-f.authSeen; got != "Bearer access-1" {
				t.Errorf("Authorization = %q, want Bearer access-1", got)
			}
		})
	}
}

func TestConcurrentRefreshSingleFlight(t *testing.T) {
	f := newFixture(t, "r0")
	seed := f.manager()
	f.connect(t, seed, "org-1", expiredToken(f.api.URL, "r0"))
	managers := []*tokens.Manager{f.manager(), f.manager()}
	var wg sync.WaitGroup
	errs := make([]error, len(managers))
	for i, m := range managers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc, base, err := m.Client(context.Background(), "org-1")
			if err != nil {
				errs[i] = err
				return
			}
			resp, err := hc.Get(base + "/v2/users")
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	close(f.authSeen)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("manager %d: %v", i, err)
		}
	}
	var got []string
	for a := range f.authSeen {
		got = append(got, a)
	}
	if len(got) != 2 {
		t.Errorf("API requests = %d, want 2", len(got))
	}
	if f.server.refreshes != 1 {
		t.Errorf("refresh requests = %d, want exactly 1", f.server.refreshes)
	}
	for _, a := range got {
		if a != "Bearer access-1" {
			t.Errorf("Authorization = %q, want Bearer access-1 for both", a)
		}
	}
}

func TestInvalidGrantMarksReconnect(t *testing.T) {
	f := newFixture(t) // no valid refresh tokens
	m := f.manager()
	f.connect(t, m, "org-1", expiredToken(f.api.URL, "spent"))
	_, _, err := m.Client(context.Background(), "org-1")
	if !errors.Is(err, tokens.ErrReconnectNeeded) {
		t.Fatalf("Client error = %v, want ErrReconnectNeeded", err)
	}
	tn, _ := f.store.Tenant("org-1")
	rec, err := tn.GetTenant(context.Background())
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	if rec.Status != store.StatusReconnectNeeded || !strings.Contains(rec.StatusReason, "invalid_grant") {
		t.Errorf("tenant status = %q (%q), want reconnect_needed for invalid_grant", rec.Status, rec.StatusReason)
	}
}

func TestMissingBaseURLMarksReconnect(t *testing.T) {
	f := newFixture(t)
	m := f.manager()
	f.connect(t, m, "org-1", tokens.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)})
	_, _, err := m.Client(context.Background(), "org-1")
	if !errors.Is(err, tokens.ErrReconnectNeeded) {
		t.Errorf("Client error = %v, want ErrReconnectNeeded", err)
	}
}
