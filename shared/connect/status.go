package connect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

// PreviousStatusNone is DisconnectResult.PreviousStatus for a tenant that
// never connected.
const PreviousStatusNone = "never_connected"

// DisconnectResult is the response of a disconnect.
type DisconnectResult struct {
	// Status is always disconnected.
	Status string `json:"status"`
	// PreviousStatus is the status before the request: connected,
	// reconnect_needed, disconnected or PreviousStatusNone.
	PreviousStatus string `json:"previousStatus"`
	Message        string `json:"message"`
}

// Disconnect stops the tenant's syncs and deletes its token; ingested data
// stays. It is idempotent: disconnecting a tenant that is disconnected or
// never connected succeeds, and the result reports which it was.
//
// Queued work carries the epoch it was queued under and runs only while the
// tenant is connected, so once the status is disconnected the ingest engine
// drops queued messages and stops a running sync before its next page.
func (s *Service) Disconnect(ctx context.Context, c Caller) (DisconnectResult, error) {
	if err := requireAdmin(c); err != nil {
		return DisconnectResult{}, err
	}
	t, err := s.Store.Tenant(c.TenantID)
	if err != nil {
		return DisconnectResult{}, fmt.Errorf("connect: disconnect: %w", err)
	}
	res := DisconnectResult{Status: store.StatusDisconnected}
	rec, err := t.GetTenant(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Never connected: there is no status to change, but a token stored
		// by a callback that failed later may still exist.
		res.PreviousStatus = PreviousStatusNone
		res.Message = "Gong was never connected for this organization, so there was nothing to disconnect"
	case err != nil:
		return DisconnectResult{}, fmt.Errorf("connect: disconnect: %w", err)
	case rec.Status == store.StatusDisconnected:
		res.PreviousStatus = rec.Status
		res.Message = "Gong was already disconnected for this organization"
	default:
		if err := t.SetStatus(ctx, store.StatusDisconnected, "disconnected by "+c.Subject); err != nil {
			return DisconnectResult{}, fmt.Errorf("connect: disconnect: %w", err)
		}
		res.PreviousStatus = rec.Status
		res.Message = "Gong is disconnected: syncs stopped and the ingested data stays"
	}
	// The status changes first so that no sync starts with the token while
	// it is being deleted.
	if err := s.Tokens.Delete(ctx, c.TenantID); err != nil && !errors.Is(err, tokens.ErrNoToken) {
		return DisconnectResult{}, fmt.Errorf("connect: delete token of tenant %s: %w", c.TenantID, err)
	}
	s.logger().InfoContext(ctx, "gong disconnected", "tenant_id", c.TenantID, "subject", c.Subject, "previous_status", res.PreviousStatus)
	return res, nil
}

// Status is the connection status shown to members of the organization.
type Status struct {
	// Status is connected, disconnected or reconnect_needed; a tenant that
	// never connected is disconnected.
	Status          string     `json:"status"`
	StatusReason    string     `json:"statusReason,omitempty"`
	StatusChangedAt *time.Time `json:"statusChangedAt,omitempty"`
	ConnectedBy     string     `json:"connectedBy,omitempty"`
	ConnectedAt     *time.Time `json:"connectedAt,omitempty"`
	GrantedScopes   []string   `json:"grantedScopes,omitempty"`
	// MissingScopes lists required scopes the connection lacks, which
	// happens when the product needs a scope added after the tenant
	// connected.
	MissingScopes []string `json:"missingScopes,omitempty"`
	// LastSyncAt is when a sync last finished without error.
	LastSyncAt  *time.Time        `json:"lastSyncAt,omitempty"`
	LastRunAt   *time.Time        `json:"lastRunAt,omitempty"`
	LastRun     *store.RunSummary `json:"lastRun,omitempty"`
	LastError   string            `json:"lastError,omitempty"`
	LastErrorAt *time.Time        `json:"lastErrorAt,omitempty"`
	// CallsIngested counts the calls stored for the tenant.
	CallsIngested int `json:"callsIngested"`
	// DailyBudget is the number of Gong requests the tenant may use per UTC
	// day, and UsedToday how many it has used today.
	DailyBudget int64 `json:"dailyBudget"`
	UsedToday   int64 `json:"usedToday"`
}

// Status returns the tenant's connection status. Any member of the tenant
// may read it.
func (s *Service) Status(ctx context.Context, c Caller) (Status, error) {
	if err := requireMember(c); err != nil {
		return Status{}, err
	}
	t, err := s.Store.Tenant(c.TenantID)
	if err != nil {
		return Status{}, fmt.Errorf("connect: status: %w", err)
	}
	st := Status{Status: store.StatusDisconnected, DailyBudget: s.config().DailyBudget}
	rec, err := t.GetTenant(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return st, nil
	case err != nil:
		return Status{}, fmt.Errorf("connect: status: %w", err)
	}
	st.Status = rec.Status
	st.StatusReason = rec.StatusReason
	st.StatusChangedAt = timePtr(rec.StatusChangedAt)
	st.ConnectedBy = rec.ConnectedBy
	st.ConnectedAt = timePtr(rec.ConnectedAt)
	st.GrantedScopes = rec.GrantedScopes
	if rec.ConnectedBy != "" {
		st.MissingScopes = missingScopes(rec.GrantedScopes)
	}
	if rec.Settings.DailyBudget > 0 {
		st.DailyBudget = int64(rec.Settings.DailyBudget)
	}

	sync, err := t.GetSync(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("connect: status: %w", err)
	}
	st.LastSyncAt = timePtr(sync.LastSuccessAt)
	st.LastRunAt = timePtr(sync.LastRunAt)
	st.LastRun = sync.LastRun
	st.LastError = sync.LastError
	st.LastErrorAt = timePtr(sync.LastErrorAt)

	if st.CallsIngested, err = t.CallCount(ctx); err != nil {
		return Status{}, fmt.Errorf("connect: status: %w", err)
	}
	if st.UsedToday, err = t.QuotaUsed(ctx, store.QuotaDay(s.now())); err != nil {
		return Status{}, fmt.Errorf("connect: status: %w", err)
	}
	return st, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
