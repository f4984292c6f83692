package ingest_test

import (
	"bytes"
	"log/slog"
	"strings"
	"time"

	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// connect marks another tenant connected and returns its epoch.
func (e *env) connect(id string) int64 {
	e.t.Helper()
	epoch, err := e.mustTenant(id).MarkConnected(e.ctx, "admin-1", nil, "http://127.0.0.1")
	if err != nil {
		e.t.Fatalf("MarkConnected(%s): %v", id, err)
	}
	return epoch
}

type fakeHooks struct{ newUsers, resumed int }

func (f *fakeHooks) QueueNewUsers(context.Context, string) (int, error) { f.newUsers++; return 0, nil }
func (f *fakeHooks) ResumeDue(context.Context) (int, error)             { f.resumed++; return 0, nil }

func TestSchedulerQueuesConnectedTenantsOnce(t *testing.T) {
	e := newEnv(t)
	e.connect("org-2")
	e.connect("org-gone")
	if err := e.mustTenant("org-gone").SetStatus(e.ctx, store.StatusDisconnected, "disconnected by admin-1"); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	e.connect("org-expired")
	if err := e.mustTenant("org-expired").SetStatus(e.ctx, store.StatusReconnectNeeded, "refresh rejected"); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	hooks := &fakeHooks{}
	s := &ingest.Scheduler{Store: e.st, Sender: e.engine.Sender, Backfill: hooks, Now: e.clk.Now, Logger: e.engine.Logger}
	ev := events.EventBridgeEvent{ID: "ev-1", Time: start.Add(30 * 60e9)}

	res, err := s.Handle(e.ctx, ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if res.Queued != 2 || res.Skipped[store.StatusDisconnected] != 1 || res.Skipped[store.StatusReconnectNeeded] != 1 {
		t.Errorf("result = %+v, want 2 queued, 1 disconnected and 1 reconnect-needed skipped", res)
	}
	if hooks.newUsers != 2 || hooks.resumed != 1 {
		t.Errorf("hooks: new users %d, resume %d; want 2 and 1", hooks.newUsers, hooks.resumed)
	}
	// The same event delivered again, later in the slot, queues nothing.
	ev.Time = ev.Time.Add(40 * 60e9)
	res, err = s.Handle(e.ctx, ev)
	if err != nil {
		t.Fatalf("Handle again: %v", err)
	}
	if res.Queued != 0 || res.AlreadyQueued != 2 {
		t.Errorf("second delivery = %+v, want 0 queued and 2 already queued", res)
	}
	msgs := e.receive()
	if len(msgs) != 2 {
		t.Fatalf("queued messages = %d, want 2", len(msgs))
	}
	for _, m := range msgs {
		if m.Kind != queue.KindSync || m.Slot != "2026-03-02T12:00Z" || m.Epoch < 1 {
			t.Errorf("message = %+v, want a sync of slot 2026-03-02T12:00Z with the tenant's epoch", m)
		}
	}
}

func TestConsumerReportsFailuresPerTenant(t *testing.T) {
	e := newEnv(t)
	e.addMany(3, time.Hour)
	badEpoch := e.connect("org-bad")
	failing := failFor{next: e.engine, tenant: "org-bad", calls: map[string]int{}}
	c := &ingest.Consumer{Engine: failing, Store: e.st, Now: e.clk.Now, Logger: e.engine.Logger}
	body := func(m queue.Message) string {
		s, err := queue.Marshal(m)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		return s
	}
	good := e.syncMessage()
	bad := queue.Message{TenantID: "org-bad", Epoch: badEpoch, Kind: queue.KindSync, Slot: good.Slot}
	badLater := bad
	badLater.Slot = "2026-03-02T14:00Z"
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m-bad", Body: body(bad)},
		{MessageId: "m-good", Body: body(good)},
		{MessageId: "m-poison", Body: "{not json"},
		{MessageId: "m-bad-later", Body: body(badLater)},
	}}

	resp, err := c.Handle(e.ctx, ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for id, want := range map[string]bool{"m-bad": true, "m-good": false, "m-poison": true, "m-bad-later": true} {
		if failed[id] != want {
			t.Errorf("message %s reported failed = %v, want %v", id, failed[id], want)
		}
	}
	if failing.calls["org-bad"] != 1 {
		t.Errorf("runs of the failing tenant = %d, want 1: its later message must wait", failing.calls["org-bad"])
	}
	if n, _ := e.tenant.CallCount(e.ctx); n != 3 {
		t.Errorf("calls stored for the healthy tenant = %d, want 3", n)
	}
	// The lease is released after each run.
	ok, err := e.tenant.AcquireLease(e.ctx, ingest.SyncLease, "someone-else", 60e9)
	if err != nil || !ok {
		t.Errorf("AcquireLease after the run = %v, %v; want the lease free", ok, err)
	}
}

func TestConsumerRespectsHeldLease(t *testing.T) {
	e := newEnv(t)
	if ok, err := e.tenant.AcquireLease(e.ctx, ingest.SyncLease, "other-run", 10*60e9); err != nil || !ok {
		t.Fatalf("AcquireLease: %v, %v", ok, err)
	}
	c := &ingest.Consumer{Engine: e.engine, Store: e.st, Now: e.clk.Now, Logger: e.engine.Logger}
	msg, _ := queue.Marshal(e.syncMessage())
	resp, err := c.Handle(e.ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", Body: msg}}})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(resp.BatchItemFailures) != 1 {
		t.Errorf("failures = %v, want the message retried while another run holds the lease", resp.BatchItemFailures)
	}
}

// failFor fails every run of one tenant and passes the others on.
type failFor struct {
	next   ingest.Runner
	tenant string
	calls  map[string]int
}

func (f failFor) Run(ctx context.Context, msg queue.Message) (store.RunSummary, error) {
	if msg.TenantID == f.tenant {
		f.calls[msg.TenantID]++
		return store.RunSummary{}, errors.New("Gong unavailable")
	}
	return f.next.Run(ctx, msg)
}

// An event without SQS records, such as a schedule event sent to the
// ingest function by mistake, reports no failures and logs a warning.
func TestConsumerWarnsOnEmptyEvent(t *testing.T) {
	var logs bytes.Buffer
	c := &ingest.Consumer{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	resp, err := c.Handle(context.Background(), events.SQSEvent{})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures = %v, want none", resp.BatchItemFailures)
	}
	if !strings.Contains(logs.String(), "without SQS records") {
		t.Errorf("logs = %q, want a warning about the missing records", logs.String())
	}
}
