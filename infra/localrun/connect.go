package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/dealdesk/gongingest/shared/connect"
)

const (
	// redirectURI is the OAuth callback URL sent to the simulator, which
	// accepts any http URL on a loopback host. Nothing listens there: the
	// run reads the code and state from the redirect instead of following it.
	redirectURI = "http://127.0.0.1/gong/callback"
	// returnURL is the product page connect.Service sends the admin to.
	returnURL = "http://127.0.0.1/settings/gong"
	// clientSecretID names the OAuth client secret in Secrets Manager, which
	// connect.Service reads as GONG_CLIENT_SECRET_ID names it in AWS.
	clientSecretID = "gong-ingest-local/gong-client-secret"
)

// newConnectService stores the OAuth client secret in Secrets Manager and
// returns the product's connect service, configured for the simulator.
func (w *world) newConnectService(ctx context.Context) (*connect.Service, error) {
	if err := putSecret(ctx, w.clients.SecretsManager, clientSecretID, w.opts.clientSecret); err != nil {
		return nil, err
	}
	cfg := connect.Config{
		ClientID:     w.opts.clientID,
		AuthorizeURL: w.gongURL + "/oauth2/authorize",
		TokenURL:     w.gongURL + "/oauth2/generate-customer-token",
		RedirectURI:  redirectURI,
		ReturnURL:    returnURL,
		BackfillDays: w.opts.days,
		// The connect service caps BackfillDays at BackfillMaxDays.
		BackfillMaxDays: max(w.opts.days, connect.DefaultBackfillMaxDays),
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &connect.Service{
		Config:   cfg,
		Store:    w.st,
		Tokens:   w.tokens,
		Secret:   connect.SecretsManagerSecret{API: w.clients.SecretsManager, SecretID: clientSecretID},
		Backfill: w.backfill,
		Now:      w.now,
		Logger:   w.logger,
	}, nil
}

// putSecret creates the secret, or replaces its value when it exists, as in
// a stand-in kept from an earlier run.
func putSecret(ctx context.Context, api *secretsmanager.Client, id, value string) error {
	_, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(value)})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		_, err = api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(value)})
	}
	if err != nil {
		return fmt.Errorf("store the OAuth client secret %s in Secrets Manager: %w", id, err)
	}
	return nil
}

// connection is the outcome of connecting one tenant.
type connection struct {
	Epoch         int64
	BackfillJobID string
}

// connectTenant connects the tenant to the Gong company as its admin would.
// connect.Service.Connect returns the authorize URL. The simulator approves
// at once for the company in the URL's "company" parameter and redirects to
// the callback with a code and the state. connect.Service.Callback then
// exchanges the code at the token endpoint with Basic client authentication,
// stores the token, marks the tenant connected and starts the initial
// backfill.
func (w *world) connectTenant(ctx context.Context, company string) (connection, error) {
	tenantID := tenantOf(company)
	admin := connect.Caller{TenantID: tenantID, Subject: adminOf(company), Admin: true}
	auth, err := w.connect.Connect(ctx, admin)
	if err != nil {
		return connection{}, err
	}
	authorize, err := url.Parse(auth.URL)
	if err != nil {
		return connection{}, fmt.Errorf("invalid authorize URL for tenant %s: %w", tenantID, err)
	}
	q := authorize.Query()
	q.Set("company", company)
	authorize.RawQuery = q.Encode()

	back, err := authorizeRedirect(ctx, authorize.String())
	if err != nil {
		return connection{}, fmt.Errorf("authorize tenant %s for Gong company %s: %w", tenantID, company, err)
	}
	out, err := w.connect.Callback(ctx, connect.CallbackRequest{
		State: back.Get("state"), Code: back.Get("code"), Error: back.Get("error"), Binding: auth.Binding,
	})
	if err != nil {
		return connection{}, fmt.Errorf("OAuth callback of tenant %s failed: %w", tenantID, err)
	}
	if out.Reason == connect.ReasonExchangeFailed {
		return connection{}, fmt.Errorf("tenant %s not connected: the token endpoint rejected the code exchange; check that GONG_CLIENT_ID and GONG_CLIENT_SECRET match the simulator's -client-id and -client-secret", tenantID)
	}
	if !out.Connected {
		return connection{}, fmt.Errorf("tenant %s not connected: callback outcome %q (%s)", tenantID, out.Reason, w.connect.ReturnURL(out))
	}
	if out.BackfillJobID == "" {
		return connection{}, fmt.Errorf("tenant %s connected, but no initial backfill started: the table may hold a watermark from an earlier run; use a fresh AWS stand-in", tenantID)
	}
	return connection{Epoch: out.Epoch, BackfillJobID: out.BackfillJobID}, nil
}

// authorizeRedirect requests the authorize URL as the admin's browser would
// and returns the query of the redirect back to the callback, without
// following it.
func authorizeRedirect(ctx context.Context, authorizeURL string) (url.Values, error) {
	hc := &http.Client{
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request to the authorize endpoint failed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return nil, fmt.Errorf("authorize endpoint returned status %d instead of a 302 redirect: %s; check that the simulator serves the company (its -companies flag)",
			resp.StatusCode, strings.TrimSpace(string(body)))
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("authorize redirect has no valid Location: %w", err)
	}
	if !strings.HasPrefix(loc.String(), redirectURI) {
		return nil, fmt.Errorf("authorize endpoint redirected to %s://%s%s, want the callback %s", loc.Scheme, loc.Host, loc.Path, redirectURI)
	}
	return loc.Query(), nil
}

func adminOf(company string) string { return "admin@" + company + ".example" }
