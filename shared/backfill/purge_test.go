package backfill

import (
	"context"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

// seedTenant stores one item or more of every kind for the fixture's tenant.
func seedTenant(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	tn := f.tenant
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seed %s: %v", what, err)
		}
	}
	for _, id := range []string{"1001", "1002", "1003"} {
		_, err := tn.PutCall(ctx, calls.Call{TenantID: "acme", CallID: id, Title: "Call " + id, Started: startTime.Add(-time.Hour)})
		must("call", err)
	}
	_, err := tn.PutTranscript(ctx, calls.Transcript{CallID: "1001", Monologues: []calls.Monologue{
		{SpeakerID: "s1", SpeakerName: "Ana", Sentences: []calls.Sentence{{StartMs: 0, EndMs: 900, Text: "Hello."}}},
	}})
	must("transcript", err)
	must("pending", tn.SetTranscriptState(ctx, "1002", calls.TranscriptState{Status: calls.TranscriptPending, FirstMissingAt: startTime}))
	must("skip", tn.PutSkip(ctx, store.Skip{CallID: "2001", Reason: calls.SkipPrivate, Started: startTime, SeenAt: startTime}))
	must("run", tn.RecordRun(ctx, store.RunSummary{RunID: "r1", Kind: "sync", Started: startTime, Finished: startTime}))
	_, _, err = tn.PutDeal(ctx, store.Deal{DealID: "d1", Name: "Acme renewal", ContactEmails: []string{"buyer@client.test"}, Open: true})
	must("deal", err)
	_, err = tn.AddQuota(ctx, store.QuotaDay(startTime), "sync", 3)
	must("quota", err)
	f.start(t, validStart())
}

func TestPurgeDryRunCountsAndPurgeKeepsProductItems(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seedTenant(t, f)

	res, err := f.svc.Handle(ctx, Request{Action: ActionPurge, TenantID: "acme", DryRun: true, RequestedBy: "support@dealdesk.test"})
	if err != nil {
		t.Fatal(err)
	}
	dry := res.(PurgeResult)
	if !dry.DryRun || !dry.Connected {
		t.Errorf("dry run result = %+v", dry)
	}
	wantDelete := map[string]int{"calls": 3, "transcripts": 1, "pending_transcripts": 1, "skips": 1, "sync_state": 1, "jobs": 1}
	for kind, n := range wantDelete {
		if dry.Counts.Delete[kind] != n {
			t.Errorf("dry run delete[%s] = %d, want %d (counts %+v)", kind, dry.Counts.Delete[kind], n, dry.Counts.Delete)
		}
	}
	for _, kind := range []string{"tenant", "users", "deals", "quota_days"} {
		if dry.Counts.Keep[kind] == 0 {
			t.Errorf("dry run keep[%s] = 0, want at least 1 (keep %+v)", kind, dry.Counts.Keep)
		}
	}
	again, err := f.tenant.CountPurge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Deleted() != dry.Counts.Deleted() {
		t.Errorf("the dry run deleted items: %d before, %d after", dry.Counts.Deleted(), again.Deleted())
	}

	res, err = f.svc.Handle(ctx, Request{Action: ActionPurge, TenantID: "acme", RequestedBy: "support@dealdesk.test", Reason: "customer request 12", Confirm: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	done := res.(PurgeResult)
	if done.Counts.Deleted() != dry.Counts.Deleted() {
		t.Errorf("purge deleted %d items, dry run counted %d", done.Counts.Deleted(), dry.Counts.Deleted())
	}
	after, err := f.tenant.CountPurge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Deleted() != 0 {
		t.Errorf("items left to delete after the purge: %+v", after.Delete)
	}
	for kind, n := range dry.Counts.Keep {
		if after.Keep[kind] != n {
			t.Errorf("keep[%s] = %d after the purge, want %d", kind, after.Keep[kind], n)
		}
	}
	if users, err := f.tenant.Users(ctx); err != nil || len(users) != 1 {
		t.Errorf("users after the purge = %v, %v", users, err)
	}
	if _, err := f.tenant.GetDeal(ctx, "d1"); err != nil {
		t.Errorf("deal after the purge: %v", err)
	}
	rec, err := f.tenant.GetTenant(ctx)
	if err != nil || rec.Status != store.StatusConnected || rec.Epoch != f.epoch {
		t.Errorf("tenant after the purge = %+v, %v", rec, err)
	}
	last, err := f.tenant.LastPurge(ctx)
	if err != nil || last.By != "support@dealdesk.test" || last.Reason != "customer request 12" || !last.At.Equal(startTime) || last.Deleted["calls"] != 3 {
		t.Errorf("LastPurge = %+v, %v", last, err)
	}
	if used, _ := f.tenant.QuotaUsed(ctx, store.QuotaDay(startTime)); used != 3 {
		t.Errorf("quota after the purge = %d, want 3", used)
	}
	if n, _ := f.tenant.CallCount(ctx); n != 0 {
		t.Errorf("call count after the purge = %d", n)
	}
}

func TestPurgeDisconnectedTenant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seedTenant(t, f)
	if err := f.tenant.SetStatus(ctx, store.StatusDisconnected, "disconnected by admin"); err != nil {
		t.Fatal(err)
	}
	// Disconnecting deleted nothing.
	before, _ := f.tenant.CountPurge(ctx)
	if before.Delete["calls"] != 3 {
		t.Fatalf("calls after disconnect = %d, want 3", before.Delete["calls"])
	}
	res, err := f.svc.Purge(ctx, Request{Action: ActionPurge, TenantID: "acme", RequestedBy: "s@dealdesk.test", Reason: "r", Confirm: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected || res.Counts.Delete["calls"] != 3 {
		t.Errorf("purge result = %+v", res)
	}
}
