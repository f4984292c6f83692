// Package tokens keeps each tenant's Gong OAuth token in AWS Secrets Manager
// and hands out HTTP clients that carry it, refreshing it when it expires.
//
// One secret per tenant, named Prefix + tenant id, holds the token as JSON
// (see Token). Gong refresh tokens are single-use, so a refresh runs under the
// tenant's "refresh" lease in the store: one process refreshes and saves the
// new pair before using it, and the others wait and read the saved token.
package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"golang.org/x/oauth2"

	"github.com/dealdesk/gongingest/shared/store"
)

// DefaultPrefix is the secret name prefix when TOKEN_SECRET_PREFIX is unset.
const DefaultPrefix = "gong-ingest/tenants/"

var (
	// ErrNoToken means the tenant has no stored token: it never connected,
	// or it disconnected.
	ErrNoToken = errors.New("tokens: no Gong token stored")
	// ErrReconnectNeeded means the stored token cannot be used or refreshed;
	// an admin of the organization must connect Gong again.
	ErrReconnectNeeded = errors.New("tokens: Gong connection must be reconnected")
)

// Token is the secret's JSON value.
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry"`
	Scopes       []string  `json:"scopes,omitempty"`
	BaseURL      string    `json:"api_base_url_for_customer"` // the tenant's Gong API host, without /v2
	UpdatedAt    time.Time `json:"updated_at"`
}

// SecretsAPI is the part of *secretsmanager.Client the Manager uses.
type SecretsAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

var _ SecretsAPI = (*secretsmanager.Client)(nil)

// Manager stores tenants' tokens and builds authorized clients. Secrets,
// Store and OAuth are required; the other fields have defaults.
type Manager struct {
	Secrets SecretsAPI
	Store   *store.Store   // leases and tenant status
	OAuth   *oauth2.Config // client credentials and token URL, from OAuthConfig
	Prefix  string         // secret name prefix; DefaultPrefix when empty
	Now     func() time.Time
	Logger  *slog.Logger

	// HTTPClient is the base client for token refreshes and API calls;
	// a client with a 30-second timeout when nil.
	HTTPClient *http.Client
	// RefreshWait is how long a process waits for another process's refresh
	// before giving up (default 20s); PollInterval is how often it re-reads
	// the secret meanwhile (default 250ms).
	RefreshWait  time.Duration
	PollInterval time.Duration
}

// SecretName returns the name of the tenant's secret.
func (m *Manager) SecretName(tenantID string) string {
	prefix := m.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + tenantID
}

// Put creates or replaces the tenant's token, setting UpdatedAt.
func (m *Manager) Put(ctx context.Context, tenantID string, tok Token) error {
	if err := store.ValidateTenantID(tenantID); err != nil {
		return err
	}
	tok.UpdatedAt = m.now().UTC()
	body, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("tokens: encode token of tenant %s: %w", tenantID, err)
	}
	name := m.SecretName(tenantID)
	_, err = m.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		Description:  aws.String("Gong OAuth token of tenant " + tenantID),
		SecretString: aws.String(string(body)),
	})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		_, err = m.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:     aws.String(name),
			SecretString: aws.String(string(body)),
		})
	}
	if err != nil {
		return fmt.Errorf("tokens: save token of tenant %s in secret %s: %w", tenantID, name, err)
	}
	return nil
}

// Get reads the tenant's token; ErrNoToken (wrapped with the tenant id) when
// the secret does not exist.
func (m *Manager) Get(ctx context.Context, tenantID string) (Token, error) {
	if err := store.ValidateTenantID(tenantID); err != nil {
		return Token{}, err
	}
	name := m.SecretName(tenantID)
	out, err := m.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		var missing *smtypes.ResourceNotFoundException
		if errors.As(err, &missing) {
			return Token{}, fmt.Errorf("tenant %s (secret %s): %w", tenantID, name, ErrNoToken)
		}
		return Token{}, fmt.Errorf("tokens: read secret %s of tenant %s: %w", name, tenantID, err)
	}
	var tok Token
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &tok); err != nil {
		return Token{}, fmt.Errorf("tokens: secret %s of tenant %s is not token JSON: %w", name, tenantID, err)
	}
	return tok, nil
}

// Delete removes the tenant's secret at once, without a recovery window.
// Deleting a missing secret is not an error.
func (m *Manager) Delete(ctx context.Context, tenantID string) error {
	if err := store.ValidateTenantID(tenantID); err != nil {
		return err
	}
	name := m.SecretName(tenantID)
	_, err := m.Secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:                   aws.String(name),
		ForceDeleteWithoutRecovery: aws.Bool(true),
	})
	var missing *smtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("tokens: delete secret %s of tenant %s: %w", name, tenantID, err)
	}
	return nil
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}

func (m *Manager) httpClient() *http.Client {
	if m.HTTPClient != nil {
		return m.HTTPClient
	}
	return defaultHTTPClient
}

var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}
