// Package connect connects an organization's Gong account through OAuth,
// disconnects it, and reports the connection's status.
//
// The flow is Gong's authorization-code grant without PKCE:
//
//  1. An admin requests a connection. Connect stores a random state bound to the
//     tenant, the admin and the admin's browser, and returns Gong's authorize
//     URL carrying that state.
//  2. Gong sends the browser back to the callback with the state and a code.
//     Callback consumes the state (single use, 10 minutes), checks that the
//     same admin and browser returned, exchanges the code for a token, stores
//     the token, marks the tenant connected and starts the initial backfill.
//
// The browser returning from Gong usually carries no JWT, so the state item
// alone says which tenant and admin the connection belongs to. Two checks keep
// someone else's browser from completing a flow with a stolen or planted
// state: when the callback request carries JWT claims they must name the same
// tenant and admin, and otherwise the browser must present the binding cookie
// that Connect set. A callback with neither is rejected.
package connect

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

// Defaults of Config fields left zero.
const (
	DefaultAuthorizeURL    = "https://app.gong.io/oauth2/authorize"
	DefaultTokenURL        = "https://app.gong.io/oauth2/generate-customer-token"
	DefaultBackfillDays    = 90
	DefaultBackfillMaxDays = 730
	DefaultDailyBudget     = 5000
	// StateLifetime is how long an admin has to approve the connection in
	// Gong before the state expires.
	StateLifetime = 10 * time.Minute
	// stateBytes is the number of random bytes in a state and in a browser
	// binding value.
	stateBytes = 32
	// exchangeTimeout bounds the code exchange with Gong's token endpoint.
	exchangeTimeout = 15 * time.Second
)

// BackfillStarter starts the initial backfill of a newly connected tenant and
// returns the job id.
type BackfillStarter interface {
	StartInitial(ctx context.Context, tenantID string, epoch int64, days int, requestedBy string) (string, error)
}

// TokenStore keeps each tenant's Gong token; *tokens.Manager implements it.
type TokenStore interface {
	Put(ctx context.Context, tenantID string, tok tokens.Token) error
	Delete(ctx context.Context, tenantID string) error
}

// SecretReader reads the OAuth client secret; *secretsmanager.Client
// implements it through SecretsManagerReader.
type SecretReader interface {
	ClientSecret(ctx context.Context) (string, error)
}

// Config is the OAuth client registration and the product settings the flow
// uses.
type Config struct {
	ClientID     string
	AuthorizeURL string // default DefaultAuthorizeURL
	TokenURL     string // default DefaultTokenURL
	// RedirectURI is the callback URL registered with Gong. It is the only
	// redirect URI ever sent.
	RedirectURI string
	// ReturnURL is the product page the admin lands on after the callback,
	// with gong=connected or gong=error&reason=... added to its query.
	ReturnURL       string
	BackfillDays    int   // default DefaultBackfillDays
	BackfillMaxDays int   // default DefaultBackfillMaxDays
	DailyBudget     int64 // Gong requests per tenant per day; default DefaultDailyBudget
}

// Validate checks that the required fields are set and the URLs are absolute.
func (c Config) Validate() error {
	if c.ClientID == "" {
		return errors.New("connect: client id is empty: set GONG_CLIENT_ID to the OAuth app's client id")
	}
	urls := []struct{ name, env, value string }{
		{"authorize URL", "GONG_AUTHORIZE_URL", c.AuthorizeURL},
		{"token URL", "GONG_TOKEN_URL", c.TokenURL},
		{"redirect URI", "OAUTH_REDIRECT_URI", c.RedirectURI},
		{"return URL", "APP_RETURN_URL", c.ReturnURL},
	}
	for _, u := range urls {
		if u.value == "" {
			return fmt.Errorf("connect: %s is empty: set %s", u.name, u.env)
		}
		parsed, err := url.Parse(u.value)
		if err != nil || parsed.Host == "" || (parsed.Scheme != "https" && parsed.Scheme != "http") {
			return fmt.Errorf("connect: %s %q is not an absolute http(s) URL: fix %s", u.name, u.value, u.env)
		}
	}
	if c.BackfillDays < 0 || c.BackfillMaxDays < 0 {
		return fmt.Errorf("connect: backfill days %d and maximum %d must not be negative: fix BACKFILL_DAYS and BACKFILL_MAX_DAYS",
			c.BackfillDays, c.BackfillMaxDays)
	}
	return nil
}

// withDefaults returns c with zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.AuthorizeURL == "" {
		c.AuthorizeURL = DefaultAuthorizeURL
	}
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
	}
	if c.BackfillDays == 0 {
		c.BackfillDays = DefaultBackfillDays
	}
	if c.BackfillMaxDays == 0 {
		c.BackfillMaxDays = DefaultBackfillMaxDays
	}
	if c.DailyBudget == 0 {
		c.DailyBudget = DefaultDailyBudget
	}
	return c
}

// Caller is the signed-in user of a request, taken from the JWT claims.
type Caller struct {
	TenantID string
	Subject  string
	Admin    bool
}

// Errors that callers of the service check for. The API adapter maps them to
// HTTP status codes.
var (
	ErrUnauthenticated = errors.New("connect: request has no signed-in user")
	ErrForbidden       = errors.New("connect: only an admin of the organization may do this")
)

// Service runs the connect flow. Set the fields, then use it from many
// goroutines.
type Service struct {
	Config   Config
	Store    *store.Store
	Tokens   TokenStore
	Secret   SecretReader
	Backfill BackfillStarter // nil: no initial backfill is started
	// HTTPClient calls Gong's token endpoint; nil means http.DefaultClient.
	HTTPClient *http.Client
	Now        func() time.Time // nil means time.Now
	Rand       io.Reader        // nil means crypto/rand.Reader
	Logger     *slog.Logger     // nil means slog.Default()

	mu           sync.Mutex
	clientSecret string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) config() Config { return s.Config.withDefaults() }

// Authorization is Connect's result: where to send the admin's browser, and
// the binding value to keep in that browser until the callback.
type Authorization struct {
	URL     string
	Binding string
	Expires time.Time
}

// Connect starts a connection for the caller, who must be an admin of the
// tenant. It stores a new state and returns Gong's authorize URL.
func (s *Service) Connect(ctx context.Context, c Caller) (Authorization, error) {
	if err := requireAdmin(c); err != nil {
		return Authorization{}, err
	}
	cfg := s.config()
	state, err := s.randomValue()
	if err != nil {
		return Authorization{}, err
	}
	binding, err := s.randomValue()
	if err != nil {
		return Authorization{}, err
	}
	now := s.now()
	rec := store.OAuthState{
		TenantID:    c.TenantID,
		Subject:     c.Subject,
		BindingHash: store.HashOAuthState(binding),
		CreatedAt:   now,
		ExpiresAt:   now.Add(StateLifetime),
	}
	if err := s.Store.PutOAuthState(ctx, state, rec); err != nil {
		return Authorization{}, fmt.Errorf("connect: start connection for tenant %s: %w", c.TenantID, err)
	}
	s.logger().InfoContext(ctx, "gong connection started", "tenant_id", c.TenantID, "subject", c.Subject)
	return Authorization{
		URL:     oauthConfig(cfg, "").AuthCodeURL(state),
		Binding: binding,
		Expires: rec.ExpiresAt,
	}, nil
}

// oauthConfig returns the OAuth client configuration with the product's
// scopes. Gong wants the client credentials in a Basic header.
func oauthConfig(cfg Config, clientSecret string) *oauth2.Config {
	return tokens.OAuthConfig(cfg.ClientID, clientSecret, cfg.AuthorizeURL, cfg.TokenURL, cfg.RedirectURI, tokens.Scopes)
}

// randomValue returns 32 random bytes, base64url-encoded without padding.
func (s *Service) randomValue() (string, error) {
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, stateBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("connect: read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// requireAdmin checks that the caller is signed in to a tenant as an admin.
func requireAdmin(c Caller) error {
	if err := requireMember(c); err != nil {
		return err
	}
	if !c.Admin {
		return fmt.Errorf("connect: user %s of tenant %s is not an admin: %w", c.Subject, c.TenantID, ErrForbidden)
	}
	return nil
}

// requireMember checks that the caller is signed in to a valid tenant.
func requireMember(c Caller) error {
	if c.TenantID == "" || c.Subject == "" {
		return ErrUnauthenticated
	}
	if err := store.ValidateTenantID(c.TenantID); err != nil {
		return fmt.Errorf("connect: tenant claim: %w: %w", ErrForbidden, err)
	}
	return nil
}

// clientSecretOnce reads the OAuth client secret once per process.
func (s *Service) clientSecretOnce(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clientSecret != "" {
		return s.clientSecret, nil
	}
	if s.Secret == nil {
		return "", errors.New("connect: no client secret source: set GONG_CLIENT_SECRET_ID")
	}
	secret, err := s.Secret.ClientSecret(ctx)
	if err != nil {
		return "", err
	}
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return "", errors.New("connect: the OAuth client secret is empty: store the Gong app's client secret in the secret GONG_CLIENT_SECRET_ID names")
	}
	s.clientSecret = secret
	return secret, nil
}
