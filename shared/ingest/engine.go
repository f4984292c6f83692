// Package ingest is the sync engine: it reads one tenant's calls from Gong
// for one window, keeps those that include a user of the organization,
// fetches their transcripts and writes everything to the store.
//
// # Windows
//
// A scheduled sync reads [watermark - Lookback, now), so calls that Gong
// finishes processing late are still found, and advances the watermark to the
// window end once every write succeeded. Once a day the window reaches back
// DeepLookback instead. A sync without a watermark reads the last Lookback
// only, because the tenant's initial backfill reads the history. Backfill
// messages carry their own window and never move the watermark.
//
// # Deadlines and continuations
//
// Gong does not document the order of calls within a window, so a run that
// nears its deadline cannot resume from a call time or from a cursor, which
// may expire. Instead it saves a checkpoint and queues a continuation that
// reads the same window again. The continuation skips calls whose transcript
// is already final (stored, or marked as having none) with the batch read it
// makes anyway, so the work already done costs one extensive request per page
// and no writes. Calls without a final transcript are processed again, which
// is idempotent.
package ingest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// Defaults of the engine's durations; SYNC_LOOKBACK, DEEP_LOOKBACK and
// TRANSCRIPT_RETRY override them.
const (
	DefaultLookback        = 6 * time.Hour
	DefaultDeepLookback    = 72 * time.Hour
	DefaultTranscriptRetry = 48 * time.Hour
	// DefaultSafetyMargin is the time left before the deadline at which a run
	// checkpoints: enough to finish a page of writes and queue the
	// continuation.
	DefaultSafetyMargin = 90 * time.Second
	// DeepInterval is how often a sync reads back DeepLookback.
	DeepInterval = 24 * time.Hour
)

// ClientSource returns an authenticated HTTP client and the Gong API base URL
// of a tenant; *tokens.Manager implements it.
type ClientSource interface {
	Client(ctx context.Context, tenantID string) (*http.Client, string, error)
}

// Budget rations a tenant's daily Gong requests. Reserve returns false when n
// more requests of the kind would exceed what the kind may spend today.
type Budget interface {
	Reserve(ctx context.Context, tenantID string, kind string, n int64) (bool, error)
}

// Remapper re-evaluates a tenant's automatic deal mappings when deals
// changed since its last remap; *mapping.Mapper implements it.
type Remapper interface {
	RemapIfStale(ctx context.Context, t *store.Tenant) (mapping.RemapStats, error)
}

// Jobs reports whether a backfill job is still active.
type Jobs interface {
	Active(ctx context.Context, tenantID, jobID string) (bool, error)
}

// Mapper links stored calls to deals; *mapping.Mapper implements it. The
// engine calls CallMapper once per run and maps every call the run writes
// with the returned function, so the calls of one run share deal lookups.
type Mapper interface {
	CallMapper(t *store.Tenant) func(ctx context.Context, c calls.Call) (store.Mapping, error)
}

// Engine syncs tenants. Set the exported fields; zero durations take the
// defaults above.
type Engine struct {
	Store  *store.Store
	Tokens ClientSource
	Now    func() time.Time
	Logger *slog.Logger

	Lookback        time.Duration
	DeepLookback    time.Duration
	TranscriptRetry time.Duration
	SafetyMargin    time.Duration

	// Budget is consulted before each Gong request; nil means unlimited.
	Budget Budget
	// Sender queues continuations; without it a run that nears its deadline
	// fails so that SQS delivers its message again.
	Sender *queue.Sender
	// Mapper maps each call a run writes to a deal; nil means no mapping.
	Mapper Mapper
	// OnWindowDone is called when a backfill window completes or pauses on
	// the daily budget.
	OnWindowDone func(ctx context.Context, tenantID string, msg queue.Message, sum store.RunSummary) error
	// Jobs reports whether a backfill job is still active, so a window
	// queued before its job was cancelled is dropped. Nil runs every window.
	Jobs Jobs
	// Remap re-evaluates the tenant's automatic deal mappings after deals
	// changed. It runs at the end of each successful scheduled sync, so a
	// remap cut short elsewhere is resumed every two hours. Nil skips it.
	Remap Remapper
	// GongOptions are passed to every tenant's Gong client after the
	// engine's own limiter and logger options.
	GongOptions []gong.Option
	// Workers bounds the concurrent store writes of one page; 0 means 8.
	Workers int
}

// LoadEnv reads SYNC_LOOKBACK, DEEP_LOOKBACK and TRANSCRIPT_RETRY (Go
// durations such as "6h") with getenv; unset variables keep the defaults.
func (e *Engine) LoadEnv(getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, v := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"SYNC_LOOKBACK", &e.Lookback, DefaultLookback},
		{"DEEP_LOOKBACK", &e.DeepLookback, DefaultDeepLookback},
		{"TRANSCRIPT_RETRY", &e.TranscriptRetry, DefaultTranscriptRetry},
	} {
		raw := getenv(v.name)
		if raw == "" {
			*v.dst = v.def
			continue
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return fmt.Errorf("ingest: %s=%q is not a positive Go duration: use a value such as %q", v.name, raw, v.def.String())
		}
		*v.dst = d
	}
	return nil
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

type deadlineKey struct{}

// WithDeadline returns a context carrying the time by which the function
// must have stopped, measured on the engine's clock. Without it the engine
// uses the context's own deadline.
func WithDeadline(ctx context.Context, deadline time.Time) context.Context {
	return context.WithValue(ctx, deadlineKey{}, deadline)
}

func deadlineOf(ctx context.Context) (time.Time, bool) {
	if d, ok := ctx.Value(deadlineKey{}).(time.Time); ok {
		return d, true
	}
	return ctx.Deadline()
}

// Outcomes of a run that stopped early without failing, written at the start
// of RunSummary.Error.
const (
	OutcomeDropped   = "dropped"
	OutcomePaused    = "paused"
	OutcomeContinued = "continued"
)

// stopError ends a run early without failing it; the Gong pager passes it
// back from the page callback.
type stopError struct {
	outcome string
	reason  string
}

func (s *stopError) Error() string { return s.outcome + ": " + s.reason }

// Run syncs one message's window for its tenant and returns the run's
// summary. Work for a tenant that is no longer connected, or queued under an
// earlier connection, is dropped with a summary whose Error starts with
// "dropped" and a nil error. A run that nears its deadline or runs out of
// daily budget returns a summary whose Error starts with "continued" or
// "paused", also with a nil error. Any other failure is returned as an error
// after it is recorded on the tenant's sync state; the watermark then stays
// where it was.
func (e *Engine) Run(ctx context.Context, msg queue.Message) (store.RunSummary, error) {
	r, sum, err := e.prepare(ctx, msg)
	if r == nil {
		return sum, err
	}
	err = r.execute(ctx)
	return r.finish(ctx, err)
}

// prepare loads the tenant and builds the run, or returns the summary of a
// message that is dropped or fails before any Gong request.
func (e *Engine) prepare(ctx context.Context, msg queue.Message) (*run, store.RunSummary, error) {
	started := e.now()
	sum := store.RunSummary{
		RunID: msg.RunID, Kind: msg.EffectiveKind(), JobID: msg.JobID, Started: started,
		Skipped: map[string]int{}, GongRequests: map[string]int64{},
	}
	if sum.RunID == "" {
		sum.RunID = newRunID(started)
	}
	log := e.logger().With("tenant_id", msg.TenantID, "run_id", sum.RunID, "kind", msg.Kind)
	if err := msg.Validate(); err != nil {
		sum.Error = err.Error()
		return nil, sum, fmt.Errorf("ingest: %w", err)
	}
	t, err := e.Store.Tenant(msg.TenantID)
	if err != nil {
		sum.Error = err.Error()
		return nil, sum, fmt.Errorf("ingest: %w", err)
	}
	rec, err := t.GetTenant(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, dropped(log, sum, "tenant not found"), nil
	}
	if err != nil {
		sum.Error = err.Error()
		return nil, sum, fmt.Errorf("ingest: tenant %s: %w", msg.TenantID, err)
	}
	if reason := dropReason(rec, msg); reason != "" {
		return nil, dropped(log, sum, reason), nil
	}
	if msg.IsBackfill() && e.Jobs != nil {
		active, err := e.Jobs.Active(ctx, msg.TenantID, msg.JobID)
		if err != nil {
			sum.Error = err.Error()
			return nil, sum, fmt.Errorf("ingest: check backfill job %s of tenant %s: %w", msg.JobID, msg.TenantID, err)
		}
		if !active {
			return nil, dropped(log, sum, "backfill job "+msg.JobID+" is no longer active"), nil
		}
	}
	state, err := t.GetSync(ctx)
	if err != nil {
		sum.Error = err.Error()
		return nil, sum, fmt.Errorf("ingest: read sync state of tenant %s: %w", msg.TenantID, err)
	}
	r := &run{
		e: e, t: t, msg: msg, rec: rec, state: state, sum: sum, log: log,
		lookback:  orDefault(e.Lookback, DefaultLookback),
		deep:      orDefault(e.DeepLookback, DefaultDeepLookback),
		retry:     orDefault(e.TranscriptRetry, DefaultTranscriptRetry),
		margin:    orDefault(e.SafetyMargin, DefaultSafetyMargin),
		seen:      map[string]bool{},
		requested: map[string]bool{},
		pending:   map[string]store.PendingTranscript{},
	}
	if e.Mapper != nil {
		r.mapCall = e.Mapper.CallMapper(t)
	}
	r.deadline, r.hasDeadline = deadlineOf(ctx)
	r.planWindow(started)
	return r, sum, nil
}

func dropReason(rec store.TenantRecord, msg queue.Message) string {
	switch {
	case !rec.Syncable():
		return "tenant status is " + rec.Status
	case rec.Epoch != msg.Epoch:
		return fmt.Sprintf("message epoch %d, tenant epoch %d", msg.Epoch, rec.Epoch)
	}
	return ""
}

func dropped(log *slog.Logger, sum store.RunSummary, reason string) store.RunSummary {
	sum.Error = OutcomeDropped + ": " + reason
	sum.Finished = sum.Started
	log.Info("ingest message dropped", "reason", reason)
	return sum
}

// newRunID returns a sortable id unique enough to tell runs apart.
func newRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%x", now.UTC().Format("20060102T150405.000Z"), b)
}
