package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// BackfillHooks is the backfill service's part of a scheduled run: queueing
// history for users who joined, and resuming backfills paused on the daily
// budget. Either may be nil.
type BackfillHooks interface {
	QueueNewUsers(ctx context.Context, tenantID string) (int, error)
	ResumeDue(ctx context.Context) (int, error)
}

// Scheduler turns a scheduled event into one sync message per connected
// tenant. The scheduler function is a thin wrapper around it.
type Scheduler struct {
	Store    *store.Store
	Sender   *queue.Sender
	Backfill BackfillHooks // nil: no backfill work is started from the schedule
	Now      func() time.Time
	Logger   *slog.Logger
}

// ScheduleResult is the outcome of one scheduled run, returned to Lambda and
// logged.
type ScheduleResult struct {
	Slot             string         `json:"slot"`
	Queued           int            `json:"queued"`
	AlreadyQueued    int            `json:"alreadyQueued"`    // the slot was claimed by an earlier delivery of the event
	NotQueued        int            `json:"notQueued"`        // send or claim failures
	Skipped          map[string]int `json:"skipped"`          // tenants not synced, by status
	UserBackfills    int            `json:"userBackfills"`    // per-user backfill windows queued
	ResumedBackfills int            `json:"resumedBackfills"` // paused backfills queued again
}

// Handle queues the syncs of the slot that contains the event's time. A slot
// is claimed per tenant before its message is sent, so an event delivered
// twice queues each tenant once. The FIFO queue's deduplication id (tenant,
// epoch and slot) also covers two deliveries within five minutes. A tenant
// whose message could not be sent misses this slot and is caught up by the
// next one, because syncs read from the watermark. The error is non-nil when
// any tenant was not queued.
func (h *Scheduler) Handle(ctx context.Context, ev events.EventBridgeEvent) (ScheduleResult, error) {
	at := ev.Time
	if at.IsZero() {
		at = h.now()
	}
	slot := queue.Slot(at)
	log := h.logger().With("slot", slot, "event_id", ev.ID)
	res := ScheduleResult{Slot: slot, Skipped: map[string]int{}}

	ids, err := h.Store.TenantsWithStatus(ctx, store.StatusConnected)
	if err != nil {
		return res, fmt.Errorf("scheduler: list connected tenants: %w", err)
	}
	h.logSkipped(ctx, log, &res)

	var msgs []queue.Message
	var errs []error
	for _, id := range ids {
		msg, ok, err := h.claim(ctx, id, slot)
		switch {
		case err != nil:
			res.NotQueued++
			errs = append(errs, err)
			log.Error("tenant not scheduled", "tenant_id", id, "error", err)
		case !ok:
			res.AlreadyQueued++
			log.Info("slot already scheduled for tenant", "tenant_id", id)
		default:
			msgs = append(msgs, msg)
		}
		h.queueNewUsers(ctx, log, id, &res)
	}
	if err := h.Sender.Send(ctx, msgs...); err != nil {
		var se *queue.SendError
		if errors.As(err, &se) {
			for _, f := range se.Failed {
				log.Error("sync message not sent", "tenant_id", f.Message.TenantID, "code", f.Code, "reason", f.Reason)
			}
			res.NotQueued += len(se.Failed)
			res.Queued += len(msgs) - len(se.Failed)
		} else {
			res.NotQueued += len(msgs)
		}
		errs = append(errs, err)
	} else {
		res.Queued += len(msgs)
	}

	if h.Backfill != nil {
		n, err := h.Backfill.ResumeDue(ctx)
		if err != nil {
			log.Error("resuming paused backfills failed", "error", err)
		}
		res.ResumedBackfills = n
	}
	log.Info("scheduled run done", "queued", res.Queued, "already_queued", res.AlreadyQueued,
		"not_queued", res.NotQueued, "skipped", res.Skipped, "user_backfills", res.UserBackfills, "resumed_backfills", res.ResumedBackfills)
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("scheduler: %d tenant(s) not queued for slot %s: %w", res.NotQueued, slot, err)
	}
	return res, nil
}

// claim claims the slot for the tenant and returns its sync message, or
// false when the slot was claimed before.
func (h *Scheduler) claim(ctx context.Context, tenantID, slot string) (queue.Message, bool, error) {
	t, err := h.Store.Tenant(tenantID)
	if err != nil {
		return queue.Message{}, false, err
	}
	rec, err := t.GetTenant(ctx)
	if err != nil {
		return queue.Message{}, false, fmt.Errorf("read tenant %s: %w", tenantID, err)
	}
	if !rec.Syncable() {
		// Disconnected since the index was read.
		return queue.Message{}, false, nil
	}
	ok, err := t.ClaimSlot(ctx, slot)
	if err != nil || !ok {
		return queue.Message{}, false, err
	}
	return queue.Message{TenantID: tenantID, Epoch: rec.Epoch, Kind: queue.KindSync, Slot: slot}, true, nil
}

func (h *Scheduler) queueNewUsers(ctx context.Context, log *slog.Logger, tenantID string, res *ScheduleResult) {
	if h.Backfill == nil {
		return
	}
	n, err := h.Backfill.QueueNewUsers(ctx, tenantID)
	if err != nil {
		log.Error("queueing backfills of new users failed", "tenant_id", tenantID, "error", err)
		return
	}
	res.UserBackfills += n
}

// logSkipped logs one line per tenant that is not synced because of its
// connection status.
func (h *Scheduler) logSkipped(ctx context.Context, log *slog.Logger, res *ScheduleResult) {
	for _, status := range []string{store.StatusReconnectNeeded, store.StatusDisconnected} {
		ids, err := h.Store.TenantsWithStatus(ctx, status)
		if err != nil {
			log.Warn("listing skipped tenants failed", "status", status, "error", err)
			continue
		}
		for _, id := range ids {
			log.Info("tenant skipped", "tenant_id", id, "status", status)
		}
		res.Skipped[status] = len(ids)
	}
}

func (h *Scheduler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Scheduler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
