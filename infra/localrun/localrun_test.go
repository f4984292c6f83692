package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// TestRunReadsEachCallOnce runs both passes for one small company and checks
// that the initial backfill lists each call of its range once, that no
// other backfill reads the range again, and that calls map to deals.
func TestRunReadsEachCallOnce(t *testing.T) {
	ctx := context.Background()
	opts := options{
		days: 3, callsPerDay: 20, gongRPS: 1000, companies: []string{"acme"}, pollWait: 0,
		clientID: defaultClientID, clientSecret: defaultClientSecret,
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := newWorld(ctx, localaws.StartKumo(t), "localrun-test", opts, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if err := w.seed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.pass(ctx, "pass 1", w.now()); err != nil {
		t.Fatal(err)
	}

	tn, err := w.st.Tenant("org-acme")
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := tn.Jobs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var initial store.Job
	for _, j := range jobs {
		if j.Type == store.JobTypeInitial {
			initial = j
			continue
		}
		t.Errorf("job %s of type %s over %s to %s, want only the initial backfill", j.JobID, j.Type, j.From, j.To)
	}
	if initial.Status != store.JobDone {
		t.Fatalf("initial backfill %q has status %q, want done", initial.JobID, initial.Status)
	}
	inRange := len(w.sim.VisibleCallIDs("acme", initial.From, initial.To))
	backfillRead, windows := 0, 0
	for _, r := range w.recorder.summaries("org-acme") {
		switch r.Kind {
		case queue.KindBackfill:
			backfillRead += r.CallsSeen
			windows++
		case queue.KindSync:
		default:
			t.Errorf("pass 1 ran a %s message, want only backfill windows and one sync", r.Kind)
		}
	}
	if windows != initial.WindowsTotal {
		t.Errorf("%d backfill windows ran, want the job's %d", windows, initial.WindowsTotal)
	}
	if backfillRead != inRange {
		t.Errorf("backfill windows read %d calls, want the %d calls Gong lists in the range", backfillRead, inRange)
	}

	title, at, err := w.later(ctx, w.now())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.pass(ctx, title, at); err != nil {
		t.Fatal(err)
	}
	stored, err := countStored(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	if stored.calls == 0 {
		t.Fatal("no calls stored")
	}
	for _, rule := range []string{store.RuleCRMOpportunity, store.RuleCRMAccount} {
		if stored.rules[rule] == 0 {
			t.Errorf("no call mapped by rule %s; rules %v", rule, stored.rules)
		}
	}
	if stored.rules[""] != 0 {
		t.Errorf("%d stored calls never evaluated for a deal", stored.rules[""])
	}
}
