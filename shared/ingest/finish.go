package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// finish completes the run after execute returned err: it advances the
// watermark or reports the backfill window, saves a checkpoint and queues a
// continuation, or records the failure. It then stores and logs the summary.
func (r *run) finish(ctx context.Context, err error) (store.RunSummary, error) {
	if r.client != nil {
		// OnWindowDone, reached through complete and stopEarly, records the
		// window's requests on its job.
		r.sum.GongRequests = r.client.Requests()
	}
	var stop *stopError
	switch {
	case err == nil:
		err = r.complete(ctx)
	case errors.As(err, &stop):
		r.sum.Error = stop.Error()
		err = r.stopEarly(ctx, stop)
	}
	if err != nil {
		r.sum.Error = err.Error()
	}

	now := r.e.now()
	r.sum.Finished = now
	r.sum.DurationMs = now.Sub(r.sum.Started).Milliseconds()
	if r.client != nil {
		r.sum.GongRequests = r.client.Requests()
	}
	if stop != nil && stop.outcome == OutcomeDropped && err == nil {
		// The tenant left; write nothing more under it.
		r.logSummary(nil)
		return r.sum, nil
	}
	if err != nil {
		if rerr := r.t.RecordError(ctx, truncate(err.Error(), 1000)); rerr != nil {
			r.log.Error("recording the run error failed", "error", rerr)
		}
	}
	if rerr := r.t.RecordRun(ctx, r.sum); rerr != nil {
		r.log.Error("recording the run summary failed", "error", rerr)
		if err == nil {
			err = fmt.Errorf("record run summary: %w", rerr)
		}
	}
	r.logSummary(err)
	if err != nil {
		return r.sum, fmt.Errorf("ingest: tenant %s: %w", r.t.ID(), err)
	}
	return r.sum, nil
}

// complete runs after every write of the window succeeded.
func (r *run) complete(ctx context.Context) error {
	if r.msg.IsBackfill() {
		if err := r.windowDone(ctx); err != nil {
			return err
		}
	} else {
		if err := r.t.AdvanceWatermark(ctx, r.to); err != nil {
			return fmt.Errorf("advance watermark to %s: %w", r.to.Format(time.RFC3339), err)
		}
		if r.e.Remap != nil {
			// A failed remap leaves the mapping state stale, so the next
			// sync tries again. It does not fail the sync that stored calls.
			if _, err := r.e.Remap.RemapIfStale(ctx, r.t); err != nil {
				r.log.Warn("remapping calls to deals failed", "error", err)
			}
		}
		if r.deepRead || r.state.LastDeepAt.IsZero() {
			// A tenant's first sync counts as its deep read: the initial
			// backfill covers the days before it.
			if err := r.t.MarkDeepRead(ctx, r.sum.Started); err != nil {
				return fmt.Errorf("record deep read: %w", err)
			}
		}
	}
	if r.msg.Kind == queue.KindContinue || r.state.Checkpoint != nil && r.state.Checkpoint.RunID == r.sum.RunID {
		if err := r.t.ClearCheckpoint(ctx); err != nil {
			return fmt.Errorf("clear checkpoint: %w", err)
		}
	}
	return nil
}

func (r *run) windowDone(ctx context.Context) error {
	if r.e.OnWindowDone == nil {
		return nil
	}
	if err := r.e.OnWindowDone(ctx, r.t.ID(), r.msg, r.sum); err != nil {
		return fmt.Errorf("report backfill window %d of job %s: %w", r.msg.WindowIndex, r.msg.JobID, err)
	}
	return nil
}

// stopEarly handles a run that stopped on purpose.
func (r *run) stopEarly(ctx context.Context, stop *stopError) error {
	switch stop.outcome {
	case OutcomeContinued:
		return r.continueLater(ctx)
	case OutcomePaused:
		if !r.msg.IsBackfill() {
			// The next scheduled sync reads the same window again.
			return nil
		}
		if err := r.t.SaveCheckpoint(ctx, r.checkpoint()); err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		return r.windowDone(ctx)
	}
	return nil
}

func (r *run) checkpoint() *store.Checkpoint {
	pending := make([]string, 0, len(r.pending))
	for id := range r.pending {
		pending = append(pending, id)
	}
	return &store.Checkpoint{
		RunID: r.sum.RunID, Kind: r.msg.EffectiveKind(), JobID: r.msg.JobID,
		From: r.from, To: r.to, DoneCallIDs: len(r.seen),
		// The continuation reads the whole window again; see the package
		// documentation.
		ResumeFrom:           r.from,
		PendingTranscriptIDs: pending,
	}
}

// continueLater saves a checkpoint and queues a continuation that reads the
// rest of the window in a fresh invocation.
func (r *run) continueLater(ctx context.Context) error {
	if r.e.Sender == nil {
		return errors.New("run stopped before its deadline but no queue is configured for its continuation: set INGEST_QUEUE_URL")
	}
	if err := r.t.SaveCheckpoint(ctx, r.checkpoint()); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	next := queue.Message{
		TenantID: r.msg.TenantID, Epoch: r.msg.Epoch, Kind: queue.KindContinue,
		JobID: r.msg.JobID, WindowIndex: r.msg.WindowIndex, Emails: r.msg.Emails, Slot: r.msg.Slot,
		From: r.from, To: r.to, Resumes: r.msg.EffectiveKind(), RunID: r.sum.RunID, Part: r.msg.Part + 1,
	}
	if err := r.e.Sender.Send(ctx, next); err != nil {
		return fmt.Errorf("queue continuation %d: %w", next.Part, err)
	}
	r.log.Info("run checkpointed before its deadline; continuation queued", "part", next.Part, "calls_seen", r.sum.CallsSeen)
	return nil
}

// logSummary writes the run summary as one JSON log line.
func (r *run) logSummary(err error) {
	s := r.sum
	attrs := []any{
		"from", s.From, "to", s.To,
		"calls_seen", s.CallsSeen, "ingested", s.Ingested, "updated", s.Updated, "skipped", s.Skipped,
		"transcripts_stored", s.TranscriptsStored, "transcripts_pending", s.TranscriptsPending, "transcripts_none", s.TranscriptsNone,
		"gong_requests", s.GongRequests, "duration_ms", s.DurationMs,
	}
	switch {
	case err != nil:
		r.log.Error("ingest run failed", append(attrs, "error", err)...)
	case s.Error != "":
		r.log.Info("ingest run stopped early", append(attrs, "outcome", s.Error)...)
	default:
		r.log.Info("ingest run complete", attrs...)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
