package tokens

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/dealdesk/gongingest/shared/store"
)

const (
	// refreshEarly is how long before expiry a token is refreshed.
	refreshEarly = time.Minute
	// refreshLease names the tenant's lease held while refreshing.
	refreshLease = "refresh"
	// refreshLeaseTTL bounds how long a crashed refresher blocks others.
	refreshLeaseTTL = 30 * time.Second
	// assumedLifetime is the expiry given to a refreshed token whose
	// response had no usable expires_in. It is short on purpose, so such a
	// token is refreshed soon rather than used past its real expiry.
	assumedLifetime = 15 * time.Minute
)

// Client returns an HTTP client that sends the tenant's Gong token as a
// Bearer Authorization header, and the tenant's Gong API base URL. A token
// expired or within a minute of expiry is refreshed first, and again during
// use when it nears expiry. Those refreshes use ctx, so the client lasts only
// as long as ctx.
//
// Errors: ErrNoToken when no secret exists; ErrReconnectNeeded when the
// refresh token is rejected (invalid_grant) or the stored token has no base
// URL, after setting the tenant's status to reconnect_needed.
func (m *Manager) Client(ctx context.Context, tenantID string) (*http.Client, string, error) {
	tok, err := m.fresh(ctx, tenantID)
	if err != nil {
		return nil, "", err
	}
	baseURL, err := checkBaseURL(tok.BaseURL)
	if err != nil {
		return nil, "", m.reconnectNeeded(ctx, tenantID, "stored Gong token has no usable API base URL: "+err.Error())
	}
	src := &tenantTokenSource{m: m, ctx: ctx, tenantID: tenantID, tok: tok}
	base := m.httpClient()
	hc := &http.Client{
		Transport: &oauth2.Transport{Source: src, Base: base.Transport},
		Timeout:   base.Timeout,
	}
	return hc, baseURL, nil
}

// checkBaseURL validates the API base URL from the token response.
func checkBaseURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("api_base_url_for_customer is empty")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("api_base_url_for_customer %q is not an http(s) URL", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// tenantTokenSource gives oauth2.Transport the tenant's current token,
// refreshing through the Manager when it nears expiry.
type tenantTokenSource struct {
	m        *Manager
	ctx      context.Context
	tenantID string

	mu  sync.Mutex
	tok Token
}

func (s *tenantTokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m.expiring(s.tok) {
		tok, err := s.m.fresh(s.ctx, s.tenantID)
		if err != nil {
			return nil, err
		}
		s.tok = tok
	}
	return &oauth2.Token{AccessToken: s.tok.AccessToken, TokenType: s.tok.TokenType, Expiry: s.tok.Expiry}, nil
}

func (m *Manager) expiring(tok Token) bool {
	return tok.AccessToken == "" || !tok.Expiry.After(m.now().Add(refreshEarly))
}

// fresh returns the tenant's stored token, refreshed first when it nears
// expiry.
func (m *Manager) fresh(ctx context.Context, tenantID string) (Token, error) {
	tok, err := m.Get(ctx, tenantID)
	if err != nil || !m.expiring(tok) {
		return tok, err
	}
	return m.refreshOnce(ctx, tenantID)
}

// refreshOnce refreshes the tenant's token under the tenant's refresh lease.
// A process that cannot take the lease re-reads the secret until the holder
// has saved a fresh token, takes the lease itself if the holder gave up, or
// fails after RefreshWait.
func (m *Manager) refreshOnce(ctx context.Context, tenantID string) (Token, error) {
	tenant, err := m.Store.Tenant(tenantID)
	if err != nil {
		return Token{}, err
	}
	owner, err := newOwnerID()
	if err != nil {
		return Token{}, err
	}
	wait, poll := m.RefreshWait, m.PollInterval
	if wait <= 0 {
		wait = 20 * time.Second
	}
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	deadline := time.Now().Add(wait)
	log := m.logger().With("tenant_id", tenantID)
	for {
		acquired, err := tenant.AcquireLease(ctx, refreshLease, owner, refreshLeaseTTL)
		if err != nil {
			return Token{}, fmt.Errorf("tokens: take refresh lease of tenant %s: %w", tenantID, err)
		}
		if acquired {
			defer func() {
				if err := tenant.ReleaseLease(context.WithoutCancel(ctx), refreshLease, owner); err != nil {
					log.Warn("release token refresh lease failed", "error", err)
				}
			}()
			// Another process may have refreshed between our read and the lease.
			cur, err := m.Get(ctx, tenantID)
			if err != nil || !m.expiring(cur) {
				return cur, err
			}
			return m.refresh(ctx, tenant, cur)
		}
		timer := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return Token{}, fmt.Errorf("tokens: wait for token refresh of tenant %s: %w", tenantID, ctx.Err())
		case <-timer.C:
		}
		cur, err := m.Get(ctx, tenantID)
		if err != nil {
			return Token{}, err
		}
		if !m.expiring(cur) {
			log.Info("using Gong token refreshed by another process")
			return cur, nil
		}
		if time.Now().After(deadline) {
			return Token{}, fmt.Errorf("tokens: another process has held the token refresh of tenant %s for over %s: retry later", tenantID, wait)
		}
	}
}

// refresh exchanges cur's refresh token at Gong's token endpoint and saves
// the new token before returning it.
func (m *Manager) refresh(ctx context.Context, tenant *store.Tenant, cur Token) (Token, error) {
	tenantID := tenant.ID()
	log := m.logger().With("tenant_id", tenantID)
	if cur.RefreshToken == "" {
		return Token{}, m.reconnectNeeded(ctx, tenantID, "stored Gong token has no refresh token")
	}
	tctx := TokenEndpointContext(ctx, m.httpClient())
	got, err := m.OAuth.TokenSource(tctx, &oauth2.Token{RefreshToken: cur.RefreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			// The grant may have been used by a refresher this lease did not
			// cover (its lease expired); prefer a newer saved token.
			if latest, gerr := m.Get(ctx, tenantID); gerr == nil && latest.RefreshToken != cur.RefreshToken && !m.expiring(latest) {
				return latest, nil
			}
			return Token{}, m.reconnectNeeded(ctx, tenantID, "Gong rejected the refresh token (invalid_grant)")
		}
		log.Error("Gong token refresh failed", "error", err)
		return Token{}, fmt.Errorf("tokens: refresh Gong token of tenant %s: %w", tenantID, err)
	}
	next := Token{
		AccessToken:  got.AccessToken,
		RefreshToken: got.RefreshToken,
		TokenType:    got.TokenType,
		Expiry:       got.Expiry,
		Scopes:       cur.Scopes,
		BaseURL:      cur.BaseURL,
	}
	if next.RefreshToken == "" {
		next.RefreshToken = cur.RefreshToken
	}
	if next.Expiry.IsZero() || !next.Expiry.After(m.now()) {
		log.Warn("Gong token response has no usable expires_in; assuming a short lifetime", "assumed_lifetime", assumedLifetime.String())
		next.Expiry = m.now().Add(assumedLifetime)
	}
	if scope, ok := got.Extra("scope").(string); ok && scope != "" {
		next.Scopes = strings.Fields(scope)
	}
	for _, field := range []string{"api_base_url_for_customer", "api_base_url"} {
		if base, ok := got.Extra(field).(string); ok && base != "" {
			next.BaseURL = base
			break
		}
	}
	if err := m.Put(ctx, tenantID, next); err != nil {
		// The old refresh token is spent, so this tenant will need a
		// reconnect unless a retry of the save succeeds.
		if err2 := m.Put(context.WithoutCancel(ctx), tenantID, next); err2 != nil {
			log.Error("saving the refreshed Gong token failed", "error", err2)
			return Token{}, fmt.Errorf("tokens: save refreshed token of tenant %s: %w", tenantID, err2)
		}
	}
	log.Info("refreshed Gong token", "expiry", next.Expiry)
	return next, nil
}

// reconnectNeeded marks the tenant reconnect_needed with reason and returns
// ErrReconnectNeeded wrapped with the tenant id and reason.
func (m *Manager) reconnectNeeded(ctx context.Context, tenantID, reason string) error {
	log := m.logger().With("tenant_id", tenantID)
	log.Warn("Gong connection needs a reconnect", "reason", reason)
	tenant, err := m.Store.Tenant(tenantID)
	if err == nil {
		err = tenant.SetStatus(ctx, store.StatusReconnectNeeded, reason+": reconnect Gong")
	}
	if err != nil {
		log.Error("marking the tenant reconnect_needed failed", "error", err)
	}
	return fmt.Errorf("tenant %s: %s: %w", tenantID, reason, ErrReconnectNeeded)
}

func newOwnerID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("tokens: make lease owner id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
