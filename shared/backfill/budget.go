package backfill

import (
	"context"
	"fmt"
	"time"

	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// BackfillSharePercent is the share of a tenant's daily request budget that
// backfills may use. Scheduled syncs may use all of it, so a long backfill
// stops at this mark and leaves the rest of the day to the syncs.
const BackfillSharePercent = 80

// GongRequestsPerSecond is Gong's per-company request rate, which the client
// keeps to; time estimates divide request counts by it.
const GongRequestsPerSecond = 3

// Budget keeps each tenant's daily Gong request budget in the store's quota
// items. It implements the engine's Budget interface.
type Budget struct {
	Store *store.Store
	// Daily is the budget of tenants whose settings set none
	// (DAILY_REQUEST_BUDGET).
	Daily int64
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Limits are a tenant's daily request limits.
type Limits struct {
	Daily    int64 `json:"daily"`    // for scheduled syncs
	Backfill int64 `json:"backfill"` // for backfills: BackfillSharePercent of Daily
}

// IsBackfillKind reports whether requests of the kind count against the
// backfill share. The kinds are the queue message kinds. A continuation
// ("continue") counts as a sync, so the engine passes the kind of the run it
// continues (queue.Message.EffectiveKind).
func IsBackfillKind(kind string) bool {
	return kind == queue.KindBackfill || kind == queue.KindUserBackfill
}

// Limits returns the tenant's limits: its own daily budget from its settings,
// or b.Daily.
func (b *Budget) Limits(ctx context.Context, tenantID string) (Limits, error) {
	t, err := b.Store.Tenant(tenantID)
	if err != nil {
		return Limits{}, err
	}
	rec, err := t.GetTenant(ctx)
	if err != nil {
		return Limits{}, fmt.Errorf("backfill: read budget of tenant %s: %w", tenantID, err)
	}
	return b.limitsOf(rec), nil
}

func (b *Budget) limitsOf(rec store.TenantRecord) Limits {
	daily := b.Daily
	if daily <= 0 {
		daily = DefaultDailyBudget
	}
	if rec.Settings.DailyBudget > 0 {
		daily = int64(rec.Settings.DailyBudget)
	}
	return Limits{Daily: daily, Backfill: daily * BackfillSharePercent / 100}
}

// Reserve counts n requests of the kind against today's (UTC) budget and
// reports whether they fit: syncs up to the daily budget, backfills up to
// their share of it. Requests that do not fit are not counted. A false
// result for a backfill means its job pauses until the next UTC day.
func (b *Budget) Reserve(ctx context.Context, tenantID, kind string, n int64) (bool, error) {
	if n <= 0 {
		return true, nil
	}
	t, err := b.Store.Tenant(tenantID)
	if err != nil {
		return false, err
	}
	rec, err := t.GetTenant(ctx)
	if err != nil {
		return false, fmt.Errorf("backfill: read budget of tenant %s: %w", tenantID, err)
	}
	limits := b.limitsOf(rec)
	limit := limits.Daily
	if IsBackfillKind(kind) {
		limit = limits.Backfill
	}
	ok, _, err := t.ReserveQuota(ctx, store.QuotaDay(b.now()), kind, n, limit)
	if err != nil {
		return false, fmt.Errorf("backfill: reserve %d requests for tenant %s: %w", n, tenantID, err)
	}
	return ok, nil
}

// Usage is a tenant's request count for one UTC day next to its limits, for
// status pages.
type Usage struct {
	Day    string           `json:"day"`
	Used   int64            `json:"used"`
	ByKind map[string]int64 `json:"byKind"`
	Limits Limits           `json:"limits"`
}

// Usage returns today's (UTC) request count and limits of the tenant.
func (b *Budget) Usage(ctx context.Context, tenantID string) (Usage, error) {
	limits, err := b.Limits(ctx, tenantID)
	if err != nil {
		return Usage{}, err
	}
	t, err := b.Store.Tenant(tenantID)
	if err != nil {
		return Usage{}, err
	}
	q, err := t.Quota(ctx, store.QuotaDay(b.now()))
	if err != nil {
		return Usage{}, fmt.Errorf("backfill: read request count of tenant %s: %w", tenantID, err)
	}
	return Usage{Day: q.Day, Used: q.Total, ByKind: q.ByKind, Limits: limits}, nil
}

func (b *Budget) now() time.Time {
	if b.Now == nil {
		return time.Now().UTC()
	}
	return b.Now().UTC()
}

// Duration estimates how long `requests` Gong requests take for a backfill
// starting at now, when `used` requests were already counted today and the
// backfill may use `limit` a day. It counts the requests at
// GongRequestsPerSecond, plus the waits for the next UTC day whenever the
// day's share runs out, and assumes later days start with nothing used.
func Duration(requests, used, limit int64, now time.Time) time.Duration {
	if requests <= 0 {
		return 0
	}
	atRate := func(n int64) time.Duration {
		return time.Duration((n+GongRequestsPerSecond-1)/GongRequestsPerSecond) * time.Second
	}
	left := max(limit-used, 0)
	if requests <= left {
		return atRate(requests)
	}
	if limit <= 0 {
		// NOTE: with no budget the job never finishes; report a year so the
		// estimate stays a finite number.
		return 365 * day
	}
	rest := requests - left
	total := NextUTCDay(now).Sub(now)
	for rest > limit {
		total += day
		rest -= limit
	}
	return total + atRate(rest)
}
