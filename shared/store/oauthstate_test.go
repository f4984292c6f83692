package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
)

func newOAuthStateStore(t *testing.T) *store.Store {
	t.Helper()
	clients := localaws.StartKumo(t)
	ctx := context.Background()
	// kumo keeps one state per process, so each test gets its own table.
	table := "oauthstate-" + strings.ReplaceAll(t.Name(), "/", "-")
	if err := store.EnsureTable(ctx, clients.DynamoDB, table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return store.New(clients.DynamoDB, table)
}

func TestOAuthStateConsume(t *testing.T) {
	s := newOAuthStateStore(t)
	ctx := context.Background()
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	rec := store.OAuthState{
		TenantID:    "acme",
		Subject:     "admin-1",
		BindingHash: store.HashOAuthState("browser"),
		CreatedAt:   created,
		ExpiresAt:   created.Add(10 * time.Minute),
	}
	if err := s.PutOAuthState(ctx, "state-ok", rec); err != nil {
		t.Fatalf("PutOAuthState: %v", err)
	}
	if err := s.PutOAuthState(ctx, "state-ok", rec); err == nil {
		t.Fatalf("PutOAuthState of an existing state: want an error, got nil")
	}
	if err := s.PutOAuthState(ctx, "state-expired", rec); err != nil {
		t.Fatalf("PutOAuthState: %v", err)
	}

	tests := []struct {
		name    string
		state   string
		now     time.Time
		wantErr error
	}{
		{"valid", "state-ok", created.Add(time.Minute), nil},
		{"replayed", "state-ok", created.Add(time.Minute), store.ErrNotFound},
		{"never issued", "state-forged", created.Add(time.Minute), store.ErrNotFound},
		{"empty", "", created.Add(time.Minute), store.ErrNotFound},
		{"expired", "state-expired", created.Add(10 * time.Minute), store.ErrOAuthStateExpired},
		{"expired then reused", "state-expired", created.Add(time.Minute), store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ConsumeOAuthState(ctx, tt.state, tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ConsumeOAuthState error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got.TenantID != rec.TenantID {
				t.Errorf("TenantID = %q, want %q", got.TenantID, rec.TenantID)
			}
			if got.Subject != rec.Subject {
				t.Errorf("Subject = %q, want %q", got.Subject, rec.Subject)
			}
			if got.BindingHash != rec.BindingHash {
				t.Errorf("BindingHash = %q, want %q", got.BindingHash, rec.BindingHash)
			}
			if !got.CreatedAt.Equal(rec.CreatedAt) {
				t.Errorf("CreatedAt = %s, want %s", got.CreatedAt, rec.CreatedAt)
			}
			if !got.ExpiresAt.Equal(rec.ExpiresAt) {
				t.Errorf("ExpiresAt = %s, want %s", got.ExpiresAt, rec.ExpiresAt)
			}
		})
	}
}

func TestPutOAuthStateRejectsBadInput(t *testing.T) {
	s := newOAuthStateStore(t)
	ctx := context.Background()
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	good := store.OAuthState{TenantID: "acme", Subject: "admin-1", CreatedAt: created, ExpiresAt: created.Add(time.Minute)}
	tests := []struct {
		name  string
		state string
		edit  func(*store.OAuthState)
	}{
		{"empty state", "", func(*store.OAuthState) {}},
		{"bad tenant", "s1", func(r *store.OAuthState) { r.TenantID = "a#b" }},
		{"no subject", "s2", func(r *store.OAuthState) { r.Subject = "" }},
		{"no lifetime", "s3", func(r *store.OAuthState) { r.ExpiresAt = r.CreatedAt }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := good
			tt.edit(&rec)
			if err := s.PutOAuthState(ctx, tt.state, rec); err == nil {
				t.Fatalf("PutOAuthState: want an error, got nil")
			}
		})
	}
}
