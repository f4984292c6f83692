package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// run is the state of one Engine.Run.
type run struct {
	e     *Engine
	t     *store.Tenant
	msg   queue.Message
	rec   store.TenantRecord
	state store.SyncState
	sum   store.RunSummary
	log   *slog.Logger

	lookback, deep, retry, margin time.Duration
	deadline                      time.Time
	hasDeadline                   bool

	from, to time.Time
	deepRead bool // the window reaches back DeepLookback

	client *gong.Client
	users  tenantUsers
	scope  *tenantUsers // set for backfills limited to some users
	// mapCall maps a written call to a deal with the run's mapping session;
	// nil when the engine has no Mapper.
	mapCall func(ctx context.Context, c calls.Call) (store.Mapping, error)

	seen      map[string]bool                    // call ids processed in this run
	requested map[string]bool                    // call ids whose transcript was requested
	pending   map[string]store.PendingTranscript // retries not yet requested
	mu        sync.Mutex                         // guards sum and pending while page writes run

	pages  int        // pages whose writes started
	writes pageWrites // store writes of the last page, in the background
}

// planWindow sets the window the run reads.
func (r *run) planWindow(now time.Time) {
	now = now.Truncate(time.Second)
	if r.msg.Kind != queue.KindSync {
		r.from, r.to = r.msg.From.UTC(), r.msg.To.UTC()
		if r.to.After(now) {
			r.to = now
		}
		// A continuation of a deep sync finishes the deep read.
		r.deepRead = r.msg.EffectiveKind() == queue.KindSync && r.to.Sub(r.from) >= r.deep
		return
	}
	r.to = now
	if r.state.Watermark.IsZero() {
		r.from = now.Add(-r.lookback)
		return
	}
	r.from = r.state.Watermark.UTC().Add(-r.lookback)
	if now.Sub(r.state.LastDeepAt) >= DeepInterval {
		if deepFrom := now.Add(-r.deep); deepFrom.Before(r.from) {
			r.from = deepFrom
		}
		r.deepRead = true
	}
}

// execute reads the window. It returns nil when the window is complete, a
// *stopError when the run stopped early on purpose, or the failure.
func (r *run) execute(ctx context.Context) error {
	r.sum.From, r.sum.To = r.from, r.to
	if !r.from.Before(r.to) {
		// Nothing to read, such as a watermark ahead of the clock or a
		// backfill window in the future: Gong rejects such windows.
		r.log.Info("empty window, nothing to read", "from", r.from, "to", r.to)
		return nil
	}
	hc, baseURL, err := r.e.Tokens.Client(ctx, r.t.ID())
	if err != nil {
		// A refresh that Gong rejected moves the tenant to reconnect
		// needed; its work is then dropped rather than retried.
		if stop := r.checkTenant(ctx); stop != nil {
			return stop
		}
		return fmt.Errorf("get Gong credentials of tenant %s: %w", r.t.ID(), err)
	}
	opts := []gong.Option{
		gong.WithLimiter(gong.LimiterFor(baseURL)),
		gong.WithLogger(r.log),
		gong.WithBeforeRequest(func(ctx context.Context, _ string) error { return r.reserve(ctx, 1) }),
	}
	r.client, err = gong.New(baseURL, hc, append(opts, r.e.GongOptions...)...)
	if err != nil {
		return fmt.Errorf("build Gong client of tenant %s: %w", r.t.ID(), err)
	}
	if err := r.loadUsers(ctx); err != nil {
		return err
	}
	if r.msg.EffectiveKind() == queue.KindSync {
		// Scheduled syncs retry the pending transcripts; backfill windows
		// leave them to the next sync instead of requesting them again in
		// every window.
		if err := r.loadPending(ctx); err != nil {
			return err
		}
	}
	filter := gong.CallFilter{From: r.from, To: r.to}
	err = r.client.Calls(ctx, filter, func(page []gong.Call) error { return r.page(ctx, page) })
	// The run ends only after every page's writes ended, and a failed write
	// fails it even when reading stopped early or failed too.
	if werr := r.writes.wait(); werr != nil {
		return werr
	}
	if err != nil {
		var stop *stopError
		if errors.As(err, &stop) {
			return stop
		}
		return fmt.Errorf("read calls %s to %s: %w", r.from.Format(time.RFC3339), r.to.Format(time.RFC3339), err)
	}
	if err := r.checkDeadline(); err != nil {
		return err
	}
	// Retries of pending transcripts when the window had no page to share
	// their requests with.
	return r.fetchTranscripts(ctx, nil, nil)
}

// loadUsers reads the organization's users and, at most once a day, links
// them to Gong users by email.
func (r *run) loadUsers(ctx context.Context) error {
	users, err := r.t.Users(ctx)
	if err != nil {
		return fmt.Errorf("read users of tenant %s: %w", r.t.ID(), err)
	}
	if r.e.now().Sub(r.state.UsersRefreshedAt) >= UsersRefreshInterval {
		users = r.refreshUsers(ctx, users)
	}
	r.users = newTenantUsers(users)
	if r.users.empty() {
		r.log.Warn("tenant has no active users: every call will be skipped")
	}
	if len(r.msg.Emails) > 0 {
		scope := scopeUsers(users, r.msg.Emails)
		r.scope = &scope
	}
	return nil
}

// refreshUsers links users to Gong user ids. A failure is logged and the run
// goes on matching by email only; the next run tries again.
func (r *run) refreshUsers(ctx context.Context, users []store.User) []store.User {
	gongUsers, err := r.client.Users(ctx)
	if err != nil {
		r.log.Warn("Gong user list not read; matching participants by email only", "error", err)
		return users
	}
	linked, changed, err := linkGongUsers(ctx, r.t, users, gongUsers)
	if err != nil {
		r.log.Warn("linking users to Gong users failed", "error", err)
		return users
	}
	if err := r.t.MarkUsersRefreshed(ctx, r.e.now()); err != nil {
		r.log.Warn("recording the user refresh failed", "error", err)
	}
	r.log.Info("Gong users read", "gong_users", len(gongUsers), "links_changed", changed)
	return linked
}

// loadPending reads transcripts still awaited from earlier runs. Those past
// the retry period are marked as having none; the others are requested with
// this run's first batch.
func (r *run) loadPending(ctx context.Context) error {
	list, err := r.t.PendingTranscripts(ctx)
	if err != nil {
		return fmt.Errorf("read pending transcripts of tenant %s: %w", r.t.ID(), err)
	}
	now := r.e.now()
	for _, p := range list {
		if r.retryExpired(p.FirstMissingAt, now) {
			st := calls.TranscriptState{Status: calls.TranscriptNone, FirstMissingAt: p.FirstMissingAt}
			if err := r.t.SetTranscriptState(ctx, p.CallID, st); err != nil {
				return fmt.Errorf("mark transcript of call %s as none: %w", p.CallID, err)
			}
			r.sum.TranscriptsNone++
			r.log.Info("transcript retry period over, marked as none", "call_id", p.CallID, "first_missing_at", p.FirstMissingAt)
			continue
		}
		r.pending[p.CallID] = p
	}
	return nil
}

func (r *run) retryExpired(firstMissing, now time.Time) bool {
	return !firstMissing.IsZero() && now.Sub(firstMissing) >= r.retry
}

// reserve requests n more Gong requests from the budget. The Gong client calls it
// before every request, retries included.
func (r *run) reserve(ctx context.Context, n int64) error {
	if r.e.Budget == nil || n <= 0 {
		return nil
	}
	ok, err := r.e.Budget.Reserve(ctx, r.t.ID(), r.msg.EffectiveKind(), n)
	if err != nil {
		return fmt.Errorf("reserve %d Gong request(s) for tenant %s: %w", n, r.t.ID(), err)
	}
	if !ok {
		return &stopError{OutcomePaused, "daily budget"}
	}
	return nil
}

// checkTenant stops the run when the tenant was disconnected or reconnected
// since the run began.
func (r *run) checkTenant(ctx context.Context) error {
	rec, err := r.t.GetTenant(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return &stopError{OutcomeDropped, "tenant deleted during the run"}
	}
	if err != nil {
		return fmt.Errorf("re-read tenant %s: %w", r.t.ID(), err)
	}
	if reason := dropReason(rec, r.msg); reason != "" {
		return &stopError{OutcomeDropped, reason + " (changed during the run)"}
	}
	return nil
}

// checkDeadline stops the run when less than the safety margin is left.
func (r *run) checkDeadline() error {
	if !r.hasDeadline {
		return nil
	}
	if left := r.deadline.Sub(r.e.now()); left < r.margin {
		return &stopError{OutcomeContinued, fmt.Sprintf("%s left before the deadline", left.Round(time.Second))}
	}
	return nil
}
