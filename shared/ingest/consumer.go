package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// Runner runs one message; *Engine implements it.
type Runner interface {
	Run(ctx context.Context, msg queue.Message) (store.RunSummary, error)
}

// SyncLease is the name of the per-tenant lease an ingest run holds.
const SyncLease = "sync"

// DefaultLeaseTTL bounds a sync lease when the context has no deadline: the
// 15-minute Lambda maximum.
const DefaultLeaseTTL = 15 * time.Minute

// Consumer processes the ingest queue's SQS events. The ingest function is a
// thin wrapper around it.
type Consumer struct {
	Engine Runner
	Store  *store.Store
	Now    func() time.Time
	Logger *slog.Logger
}

// Handle runs every message of the event and reports the failed ones, so SQS
// deletes the others (ReportBatchItemFailures). Tenants run concurrently and
// one tenant's failure never fails another's. Within one tenant, messages run
// in order, and after a failure the tenant's later messages are reported
// failed without running, to keep the FIFO order. A message that cannot be
// parsed is reported failed, so after the queue's maxReceiveCount it moves to
// the dead-letter queue.
func (c *Consumer) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	type item struct {
		id  string
		msg queue.Message
	}
	var (
		order  []string
		groups = map[string][]item{}
		resp   events.SQSEventResponse
		mu     sync.Mutex
	)
	fail := func(id string) {
		mu.Lock()
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
		mu.Unlock()
	}
	if len(ev.Records) == 0 {
		// SQS never invokes with an empty batch, so this is a test or a
		// misrouted event, such as a schedule event sent to this function.
		c.logger().Warn("ingest invoked without SQS records: nothing to sync; send an SQS event")
	}
	for _, rec := range ev.Records {
		msg, err := queue.Parse(rec.Body)
		if err != nil {
			c.logger().Error("ingest message rejected: body is not a valid message; it will move to the dead-letter queue after the queue's receive limit",
				"message_id", rec.MessageId, "receive_count", rec.Attributes["ApproximateReceiveCount"], "error", err)
			fail(rec.MessageId)
			continue
		}
		if _, ok := groups[msg.TenantID]; !ok {
			order = append(order, msg.TenantID)
		}
		groups[msg.TenantID] = append(groups[msg.TenantID], item{rec.MessageId, msg})
	}

	var wg sync.WaitGroup
	for _, tenant := range order {
		items := groups[tenant]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, it := range items {
				if !c.runOne(ctx, it.id, it.msg) {
					for _, rest := range items[i:] {
						fail(rest.id)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	return resp, nil
}

// runOne runs one message under the tenant's sync lease and reports whether
// it succeeded.
func (c *Consumer) runOne(ctx context.Context, messageID string, msg queue.Message) bool {
	log := c.logger().With("tenant_id", msg.TenantID, "message_id", messageID, "kind", msg.Kind)
	t, err := c.Store.Tenant(msg.TenantID)
	if err != nil {
		log.Error("ingest message has an invalid tenant id", "error", err)
		return false
	}
	ttl := DefaultLeaseTTL
	if d, ok := deadlineOf(ctx); ok {
		if left := d.Sub(c.now()); left > 0 {
			ttl = left + time.Minute
		}
	}
	ok, err := t.AcquireLease(ctx, SyncLease, messageID, ttl)
	if err != nil {
		log.Error("acquiring the tenant's sync lease failed", "error", err)
		return false
	}
	if !ok {
		log.Warn("sync lease of the tenant is held by another run; the message will be retried")
		return false
	}
	defer func() {
		// The lease must be released even when the run's context is done.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := t.ReleaseLease(rctx, SyncLease, messageID); err != nil {
			log.Warn("releasing the tenant's sync lease failed; it expires by itself", "error", err)
		}
	}()
	if _, err := c.Engine.Run(ctx, msg); err != nil {
		log.Error("ingest run failed; the message will be retried", "error", err)
		return false
	}
	return true
}

func (c *Consumer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Consumer) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
