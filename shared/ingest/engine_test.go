package ingest_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/gongsim"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// Covers the kept and skipped rules, imported calls without parties, null
// titles and anonymous parties, private calls and loosely typed CRM context.
func TestSyncKeepsOnlyCallsOfTenantUsers(t *testing.T) {
	e := newEnv(t)
	u := e.gong
	kept := e.addCall(3*time.Hour, gongsim.CallSpec{Title: "Pricing review", Parties: []gongsim.PartySpec{internal(u[0]), external("Sam Buyer", "Sam.Buyer@Acme.example")}})
	notOurs := e.addCall(3*time.Hour, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(u[2]), external("Pat", "pat@acme.example")}})
	private := e.addCall(2*time.Hour, gongsim.CallSpec{Private: true, Parties: []gongsim.PartySpec{internal(u[1])}})
	imported := e.addCall(2*time.Hour, gongsim.CallSpec{Imported: true, PrimaryUserID: u[0].ID})
	untitled := e.addCall(90*time.Minute, gongsim.CallSpec{NullTitle: true, Parties: []gongsim.PartySpec{
		internal(u[1]), {Affiliation: "External", Speaker: true},
	}})
	crm := e.addCall(time.Hour, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(u[1])}, Context: []gongsim.ContextSpec{
		{System: "Salesforce", ObjectType: "Opportunity", ObjectID: "", Fields: map[string]any{"Name": nil}},
		{System: "Salesforce", ObjectType: "Account", ObjectID: "001X", Fields: map[string]any{"Name": "Acme", "AnnualRevenue": 1200000}},
	}})

	sum := e.run(e.syncMessage())

	if sum.CallsSeen != 6 || sum.Ingested != 4 {
		t.Errorf("seen %d, ingested %d; want 6 and 4", sum.CallsSeen, sum.Ingested)
	}
	if sum.Skipped[calls.SkipNoTenantUser] != 1 || sum.Skipped[calls.SkipPrivate] != 1 {
		t.Errorf("skipped = %v, want 1 %s and 1 %s", sum.Skipped, calls.SkipNoTenantUser, calls.SkipPrivate)
	}
	if sum.TranscriptsStored != 4 {
		t.Errorf("transcripts stored = %d, want 4", sum.TranscriptsStored)
	}
	if sum.Error != "" {
		t.Errorf("summary error = %q, want none", sum.Error)
	}
	if got := e.syncState().Watermark; !got.Equal(start) {
		t.Errorf("watermark = %s, want %s", got, start)
	}
	for _, id := range []string{notOurs, private} {
		if e.getCall(id) {
			t.Errorf("call %s stored, want skipped", id)
		}
	}
	if sk, err := e.tenant.GetSkip(e.ctx, notOurs); err != nil || sk.Reason != calls.SkipNoTenantUser {
		t.Errorf("skip of %s = %+v, %v; want reason %s", notOurs, sk, err, calls.SkipNoTenantUser)
	}

	c, err := e.tenant.GetCall(e.ctx, kept)
	if err != nil {
		t.Fatalf("GetCall(kept): %v", err)
	}
	if c.Title != "Pricing review" {
		t.Errorf("title = %q, want Pricing review", c.Title)
	}
	var emails []string
	for _, p := range c.Participants {
		emails = append(emails, p.Email)
	}
	if !strings.Contains(strings.Join(emails, ","), "sam.buyer@acme.example") {
		t.Errorf("participant emails = %v, want lower-cased sam.buyer@acme.example", emails)
	}
	if c.Transcript.Status != calls.TranscriptComplete {
		t.Errorf("transcript status = %q, want complete", c.Transcript.Status)
	}
	if !c.Media.ExpiresAt.IsZero() && !c.Media.ExpiresAt.Equal(start.Add(calls.MediaURLLifetime)) {
		t.Errorf("media expiry = %s, want fetch time + 8h", c.Media.ExpiresAt)
	}
	tr, err := e.tenant.GetTranscript(e.ctx, kept)
	if err != nil {
		t.Fatalf("GetTranscript(kept): %v", err)
	}
	for _, m := range tr.Monologues {
		if m.SpeakerName == calls.UnknownSpeaker || m.PartyID == "" {
			t.Errorf("monologue of speaker %q unresolved in a call whose speakers are all parties", m.SpeakerID)
		}
	}

	// No parties, kept through its primary user, speakers unknown.
	tr, err = e.tenant.GetTranscript(e.ctx, imported)
	if err != nil {
		t.Fatalf("GetTranscript(imported): %v", err)
	}
	for _, m := range tr.Monologues {
		if m.SpeakerName != calls.UnknownSpeaker {
			t.Errorf("imported call monologue speaker = %q, want %q", m.SpeakerName, calls.UnknownSpeaker)
		}
	}

	// Placeholder title; the anonymous party is kept.
	c, err = e.tenant.GetCall(e.ctx, untitled)
	if err != nil {
		t.Fatalf("GetCall(untitled): %v", err)
	}
	if c.Title != ingest.UntitledCall {
		t.Errorf("title = %q, want %q", c.Title, ingest.UntitledCall)
	}
	if len(c.Participants) != 2 {
		t.Errorf("participants = %d, want 2", len(c.Participants))
	}

	// The opportunity without id is kept as sent, the account maps.
	c, err = e.tenant.GetCall(e.ctx, crm)
	if err != nil {
		t.Fatalf("GetCall(crm): %v", err)
	}
	var sawOpp, sawAccount bool
	for _, o := range c.CRM {
		switch o.ObjectType {
		case calls.ObjectOpportunity:
			sawOpp = o.ObjectID == ""
		case calls.ObjectAccount:
			sawAccount = o.ObjectID == "001X" && o.Name == "Acme" && strings.Contains(o.FieldsJSON, "1200000")
		}
	}
	if !sawOpp || !sawAccount {
		t.Errorf("CRM = %+v, want an opportunity without id and account 001X named Acme with its revenue", c.CRM)
	}

	// The user stored with an upper-case email is linked to its Gong id.
	users, err := e.tenant.Users(e.ctx)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	for _, us := range users {
		if strings.EqualFold(us.Email, u[0].Email) && us.GongUserID != u[0].ID {
			t.Errorf("user %s has Gong id %q, want %q", us.UserID, us.GongUserID, u[0].ID)
		}
	}

	// The setting admits private calls; the earlier skip is cleared.
	if err := e.tenant.PutSettings(e.ctx, store.Settings{IncludePrivate: true}); err != nil {
		t.Fatalf("PutSettings: %v", err)
	}
	e.clk.Advance(2 * time.Hour)
	sum = e.run(e.syncMessage())
	if sum.Ingested != 1 || !e.getCall(private) {
		t.Errorf("with private calls included: ingested %d, stored %v; want the private call", sum.Ingested, e.getCall(private))
	}
	if _, err := e.tenant.GetSkip(e.ctx, private); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("skip of the now-ingested call: err = %v, want ErrNotFound", err)
	}

	// A stored call that turns private is removed on the next re-read.
	if err := e.tenant.PutSettings(e.ctx, store.Settings{}); err != nil {
		t.Fatalf("PutSettings: %v", err)
	}
	e.sim.SetCallPrivate(company, kept, true)
	e.clk.Advance(2 * time.Hour)
	sum = e.run(e.syncMessage())
	if e.getCall(kept) {
		t.Error("call that turned private is still stored")
	}
	if _, err := e.tenant.GetTranscript(e.ctx, kept); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("transcript of the call that turned private: err = %v, want ErrNotFound", err)
	}
	if sum.Skipped[calls.SkipPrivate] != 2 {
		t.Errorf("private skips = %d, want 2", sum.Skipped[calls.SkipPrivate])
	}
}

// A call listed late and a transcript produced late are both picked up by
// later runs. Then a poll with nothing new costs one request.
func TestLateCallsAndTranscripts(t *testing.T) {
	e := newEnv(t)
	u := e.gong
	lateCall := e.addCall(60*time.Minute, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(u[1])}, VisibleAt: start.Add(time.Hour)})
	lateTranscript := e.addCall(59*time.Minute, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(u[1])}, TranscriptAt: start.Add(26 * time.Hour)})

	sum := e.run(e.syncMessage())
	if sum.Ingested != 1 || sum.TranscriptsPending != 1 {
		t.Fatalf("run 1: ingested %d, pending %d; want 1 and 1", sum.Ingested, sum.TranscriptsPending)
	}
	if e.getCall(lateCall) {
		t.Fatal("run 1 stored a call Gong does not list yet")
	}

	e.clk.Advance(2 * time.Hour)
	sum = e.run(e.syncMessage())
	if !e.getCall(lateCall) || sum.Ingested != 1 {
		t.Errorf("run 2: ingested %d; want the late call", sum.Ingested)
	}
	if sum.TranscriptsStored != 1 || sum.TranscriptsPending != 1 {
		t.Errorf("run 2: transcripts stored %d, pending %d; want 1 and 1", sum.TranscriptsStored, sum.TranscriptsPending)
	}

	e.clk.Set(start.Add(28 * time.Hour))
	sum = e.run(e.syncMessage())
	if sum.TranscriptsStored != 1 {
		t.Errorf("run 3: transcripts stored %d, want the late one", sum.TranscriptsStored)
	}
	c, err := e.tenant.GetCall(e.ctx, lateTranscript)
	if err != nil || c.Transcript.Status != calls.TranscriptComplete {
		t.Errorf("late transcript state = %+v, %v; want complete", c.Transcript, err)
	}
	pending, err := e.tenant.PendingTranscripts(e.ctx)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending transcripts = %v, %v; want none", pending, err)
	}

	// Steady state: no new calls costs one extensive request and no
	// transcript request.
	e.requests()
	e.clk.Advance(2 * time.Hour)
	sum = e.run(e.syncMessage())
	got := e.requests()
	if got[gongsim.EndpointExtensive] != 1 || got[gongsim.EndpointTranscript] != 0 || got[gongsim.EndpointUsers] != 0 {
		t.Errorf("steady-state poll requests = %v, want 1 extensive and nothing else", got)
	}
	if sum.Ingested != 0 || sum.Updated != 0 {
		t.Errorf("steady-state poll: ingested %d, updated %d; want 0 and 0", sum.Ingested, sum.Updated)
	}
}

func TestPendingTranscriptRetryBound(t *testing.T) {
	e := newEnv(t)
	never := e.addCall(time.Hour, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(e.gong[1])}, NoTranscript: true})

	for i, step := range []struct {
		at                  time.Duration
		pending, none       int
		transcriptRequested bool
	}{
		{0, 1, 0, true},
		{24 * time.Hour, 1, 0, true},
		{49 * time.Hour, 0, 1, false},
		{51 * time.Hour, 0, 0, false},
	} {
		e.clk.Set(start.Add(step.at))
		e.requests()
		sum := e.run(e.syncMessage())
		got := e.requests()
		if sum.TranscriptsPending != step.pending || sum.TranscriptsNone != step.none {
			t.Errorf("run %d: pending %d, none %d; want %d and %d", i, sum.TranscriptsPending, sum.TranscriptsNone, step.pending, step.none)
		}
		if (got[gongsim.EndpointTranscript] > 0) != step.transcriptRequested {
			t.Errorf("run %d: transcript requests %d, want requested=%v", i, got[gongsim.EndpointTranscript], step.transcriptRequested)
		}
	}
	c, err := e.tenant.GetCall(e.ctx, never)
	if err != nil || c.Transcript.Status != calls.TranscriptNone {
		t.Errorf("transcript state = %+v, %v; want none", c.Transcript, err)
	}
}

// addMany adds n calls of a tenant user, one a minute, the newest ago
// before now.
func (e *env) addMany(n int, ago time.Duration) []string {
	ids := make([]string, n)
	for i := range n {
		ids[i] = e.addCall(ago+time.Duration(n-i)*time.Minute, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(e.gong[1])}})
	}
	return ids
}

// A page made only of calls already stored does not end the sync. Also
// checks that a second run is idempotent and that the watermark never moves
// backwards.
func TestKnownPageDoesNotEndSync(t *testing.T) {
	e := newEnv(t)
	e.addMany(250, 30*time.Minute) // started from 280 to 31 minutes ago
	calls := e.sim.Calls(company)
	middle := queue.Message{
		TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindBackfill, JobID: "job-1",
		From: calls[100].Started, To: calls[200].Started,
	}
	if sum := e.run(middle); sum.Ingested != 100 {
		t.Fatalf("backfill of the middle page ingested %d, want 100", sum.Ingested)
	}
	if !e.syncState().Watermark.IsZero() {
		t.Error("a backfill moved the watermark")
	}

	e.requests()
	sum := e.run(e.syncMessage())
	got := e.requests()
	if sum.CallsSeen != 250 || sum.Ingested != 150 {
		t.Errorf("sync: seen %d, ingested %d; want 250 and 150", sum.CallsSeen, sum.Ingested)
	}
	if got[gongsim.EndpointExtensive] != 3 || got[gongsim.EndpointTranscript] != 2 {
		t.Errorf("sync requests = %v, want 3 extensive and 2 transcript", got)
	}
	n, err := e.tenant.CallCount(e.ctx)
	if err != nil || n != 250 {
		t.Errorf("CallCount = %d, %v; want 250", n, err)
	}

	// The same window again writes nothing and fetches no transcript.
	sum = e.run(e.syncMessage())
	got = e.requests()
	if sum.Ingested != 0 || sum.Updated != 0 || sum.TranscriptsStored != 0 {
		t.Errorf("re-run: ingested %d, updated %d, transcripts %d; want all 0", sum.Ingested, sum.Updated, sum.TranscriptsStored)
	}
	if got[gongsim.EndpointTranscript] != 0 {
		t.Errorf("re-run transcript requests = %d, want 0", got[gongsim.EndpointTranscript])
	}

	// A clock behind the watermark leaves it where it is.
	e.clk.Set(start.Add(-time.Hour))
	e.run(e.syncMessage())
	if w := e.syncState().Watermark; !w.Equal(start) {
		t.Errorf("watermark = %s after a run with an earlier clock, want %s", w, start)
	}
}

// mapperFunc adapts a function to ingest.Mapper.
type mapperFunc func(ctx context.Context, t *store.Tenant, c calls.Call) (store.Mapping, error)

func (f mapperFunc) CallMapper(t *store.Tenant) func(ctx context.Context, c calls.Call) (store.Mapping, error) {
	return func(ctx context.Context, c calls.Call) (store.Mapping, error) {
		return f(ctx, t, c)
	}
}

func TestDisconnectStopsRunBetweenPages(t *testing.T) {
	e := newEnv(t)
	e.addMany(250, 30*time.Minute)
	var mapped atomic.Int64
	e.engine.Workers = 1
	e.engine.Mapper = mapperFunc(func(ctx context.Context, tn *store.Tenant, c calls.Call) (store.Mapping, error) {
		if mapped.Add(1) == 100 {
			if err := tn.SetStatus(ctx, store.StatusDisconnected, "disconnected by admin-1"); err != nil {
				t.Errorf("SetStatus: %v", err)
			}
		}
		return store.Mapping{}, nil
	})

	sum := e.run(e.syncMessage())

	if !strings.HasPrefix(sum.Error, ingest.OutcomeDropped) {
		t.Errorf("summary error = %q, want it to start with %q", sum.Error, ingest.OutcomeDropped)
	}
	if n, _ := e.tenant.CallCount(e.ctx); n != 100 {
		t.Errorf("stored calls = %d, want the first page's 100", n)
	}
	if w := e.syncState().Watermark; !w.IsZero() {
		t.Errorf("watermark = %s after a disconnect, want unset", w)
	}
}

func TestDroppedMessages(t *testing.T) {
	e := newEnv(t)
	e.addMany(3, time.Hour)
	stale := e.syncMessage()
	stale.Epoch = e.epoch - 1
	if stale.Epoch == 0 {
		stale.Epoch = e.epoch + 1
	}
	unknown := e.syncMessage()
	unknown.TenantID = "org-unknown"
	e.requests()
	for _, msg := range []queue.Message{stale, unknown} {
		sum := e.run(msg)
		if !strings.HasPrefix(sum.Error, ingest.OutcomeDropped) {
			t.Errorf("message %+v: summary error = %q, want dropped", msg, sum.Error)
		}
	}
	if err := e.tenant.SetStatus(e.ctx, store.StatusReconnectNeeded, "refresh rejected"); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	if sum := e.run(e.syncMessage()); !strings.HasPrefix(sum.Error, ingest.OutcomeDropped) {
		t.Errorf("reconnect-needed tenant: summary error = %q, want dropped", sum.Error)
	}
	if got := e.requests(); len(got) != 0 {
		t.Errorf("Gong requests for dropped messages = %v, want none", got)
	}
}

// A window in the future is clamped to now and read without calling
// Gong when empty.
func TestFutureWindowSkipsGong(t *testing.T) {
	e := newEnv(t)
	msg := queue.Message{TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindBackfill, JobID: "job-1",
		From: start.Add(time.Hour), To: start.Add(2 * time.Hour)}
	var done []store.RunSummary
	e.engine.OnWindowDone = func(_ context.Context, _ string, _ queue.Message, sum store.RunSummary) error {
		done = append(done, sum)
		return nil
	}
	e.requests()
	sum := e.run(msg)
	if sum.Error != "" {
		t.Errorf("summary error = %q, want none", sum.Error)
	}
	if got := e.requests(); len(got) != 0 {
		t.Errorf("Gong requests = %v, want none", got)
	}
	if len(done) != 1 {
		t.Errorf("OnWindowDone called %d times, want 1", len(done))
	}
}

func TestUserScopedBackfill(t *testing.T) {
	e := newEnv(t)
	u := e.gong
	mine := e.addCall(3*time.Hour, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(u[0])}})
	theirs := e.addCall(2*time.Hour, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(u[1])}})
	storedBefore := e.addCall(90*time.Minute, gongsim.CallSpec{Parties: []gongsim.PartySpec{internal(u[1])}})
	e.run(queue.Message{TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindBackfill, JobID: "job-0",
		From: start.Add(-100 * time.Minute), To: start.Add(-80 * time.Minute)})
	if !e.getCall(storedBefore) {
		t.Fatal("setup: call not stored")
	}

	sum := e.run(queue.Message{TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindUserBackfill, JobID: "job-1",
		From: start.Add(-4 * time.Hour), To: start, Emails: []string{strings.ToUpper(u[0].Email)}})

	if !e.getCall(mine) || e.getCall(theirs) {
		t.Errorf("stored: in-scope %v, out-of-scope %v; want true and false", e.getCall(mine), e.getCall(theirs))
	}
	if sum.Skipped[calls.SkipUserScope] != 2 {
		t.Errorf("outside-scope skips = %d, want 2", sum.Skipped[calls.SkipUserScope])
	}
	if _, err := e.tenant.GetSkip(e.ctx, storedBefore); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("skip recorded for a call already stored: err = %v, want ErrNotFound", err)
	}
	if !e.getCall(storedBefore) {
		t.Error("the scoped backfill removed a stored call")
	}
}

func TestDeadlineCheckpointAndContinuation(t *testing.T) {
	e := newEnv(t)
	e.addMany(250, 30*time.Minute)
	e.engine.Workers = 1
	slow := mapperFunc(func(context.Context, *store.Tenant, calls.Call) (store.Mapping, error) {
		e.clk.Advance(2 * time.Second)
		return store.Mapping{}, nil
	})
	e.engine.Mapper = slow
	ctx := ingest.WithDeadline(e.ctx, start.Add(5*time.Minute))
	first, err := e.engine.Run(ctx, e.syncMessage())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.HasPrefix(first.Error, ingest.OutcomeContinued) {
		t.Fatalf("summary error = %q, want it to start with %q", first.Error, ingest.OutcomeContinued)
	}
	if first.Ingested == 0 || first.Ingested >= 250 {
		t.Fatalf("first part ingested %d, want some but not all of 250", first.Ingested)
	}
	st := e.syncState()
	if st.Checkpoint == nil || !st.Checkpoint.To.Equal(start) {
		t.Fatalf("checkpoint = %+v, want one for the window ending %s", st.Checkpoint, start)
	}
	if !st.Watermark.IsZero() {
		t.Errorf("watermark = %s before the window completed, want unset", st.Watermark)
	}
	msgs := e.receive()
	if len(msgs) != 1 || msgs[0].Kind != queue.KindContinue || msgs[0].Resumes != queue.KindSync || msgs[0].Part != 1 {
		t.Fatalf("queued = %+v, want one continuation of the sync", msgs)
	}

	e.engine.Mapper = nil
	e.requests()
	rest := e.run(msgs[0])
	got := e.requests()
	if rest.Error != "" {
		t.Errorf("continuation error = %q, want none", rest.Error)
	}
	if first.Ingested+rest.Ingested != 250 || rest.Updated != 0 {
		t.Errorf("ingested %d + %d (updated %d), want 250 in all and no rewrites", first.Ingested, rest.Ingested, rest.Updated)
	}
	if got[gongsim.EndpointTranscript] != 2 && got[gongsim.EndpointTranscript] != 1 {
		t.Errorf("continuation transcript requests = %d, want only those of the calls left", got[gongsim.EndpointTranscript])
	}
	st = e.syncState()
	if st.Checkpoint != nil {
		t.Errorf("checkpoint = %+v after the continuation, want none", st.Checkpoint)
	}
	if !st.Watermark.Equal(start) {
		t.Errorf("watermark = %s, want the original window end %s", st.Watermark, start)
	}
}

func TestBudgetPausesBackfill(t *testing.T) {
	e := newEnv(t)
	e.addMany(5, time.Hour)
	e.engine.Budget = denyAll{}
	var done []store.RunSummary
	e.engine.OnWindowDone = func(_ context.Context, _ string, _ queue.Message, sum store.RunSummary) error {
		done = append(done, sum)
		return nil
	}
	sum := e.run(queue.Message{TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindBackfill, JobID: "job-1",
		From: start.Add(-24 * time.Hour), To: start})
	if sum.Error != "paused: daily budget" {
		t.Errorf("summary error = %q, want paused: daily budget", sum.Error)
	}
	if len(done) != 1 || done[0].Error != sum.Error {
		t.Errorf("OnWindowDone calls = %+v, want one with the paused summary", done)
	}
	if e.syncState().Checkpoint == nil {
		t.Error("no checkpoint saved for the paused window")
	}
}

type denyAll struct{}

func (denyAll) Reserve(context.Context, string, string, int64) (bool, error) { return false, nil }

func TestTokenFailureIsRecorded(t *testing.T) {
	e := newEnv(t)
	e.tokens.fail = errors.New("secret gong-ingest/tenants/org-1 not found")
	_, err := e.engine.Run(e.ctx, e.syncMessage())
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("Run error = %v, want the credentials error", err)
	}
	if st := e.syncState(); !strings.Contains(st.LastError, "not found") {
		t.Errorf("last error = %q, want the credentials error", st.LastError)
	}
}

// jobsFunc reports a backfill job's state from a function.
type jobsFunc func(jobID string) bool

func (f jobsFunc) Active(_ context.Context, _ string, jobID string) (bool, error) {
	return f(jobID), nil
}

// A window queued before its job was cancelled is dropped without a Gong
// request; windows of active jobs and scheduled syncs still run.
func TestCancelledJobWindowDropped(t *testing.T) {
	e := newEnv(t)
	e.addMany(3, time.Hour)
	e.engine.Jobs = jobsFunc(func(jobID string) bool { return jobID != "job-cancelled" })
	window := func(jobID string) queue.Message {
		return queue.Message{TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindBackfill, JobID: jobID,
			From: start.Add(-24 * time.Hour), To: start}
	}
	e.requests()

	sum := e.run(window("job-cancelled"))
	if !strings.HasPrefix(sum.Error, ingest.OutcomeDropped) {
		t.Errorf("cancelled job: summary error = %q, want dropped", sum.Error)
	}
	if got := e.requests(); len(got) != 0 {
		t.Errorf("Gong requests for a cancelled job's window = %v, want none", got)
	}

	var reported []store.RunSummary
	e.engine.OnWindowDone = func(_ context.Context, _ string, _ queue.Message, sum store.RunSummary) error {
		reported = append(reported, sum)
		return nil
	}
	if sum := e.run(window("job-active")); sum.Error != "" {
		t.Errorf("active job: summary error = %q, want none", sum.Error)
	}
	if len(reported) != 1 {
		t.Fatalf("OnWindowDone calls = %d, want 1", len(reported))
	}
	if reported[0].GongRequests[gong.EndpointCalls] == 0 {
		t.Errorf("window reported Gong requests %v, want the extensive pages counted", reported[0].GongRequests)
	}
	if sum := e.run(e.syncMessage()); sum.Error != "" {
		t.Errorf("scheduled sync: summary error = %q, want none", sum.Error)
	}
}

// Scheduled syncs finish deal remaps that were cut short elsewhere;
// backfill windows leave that to the next sync.
func TestRemapRunsAfterScheduledSync(t *testing.T) {
	e := newEnv(t)
	e.addMany(2, time.Hour)
	remaps := 0
	e.engine.Remap = remapperFunc(func() error {
		remaps++
		return errors.New("remap failed")
	})

	if sum := e.run(queue.Message{TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindBackfill, JobID: "job-1",
		From: start.Add(-24 * time.Hour), To: start}); sum.Error != "" {
		t.Errorf("backfill: summary error = %q, want none", sum.Error)
	}
	if remaps != 0 {
		t.Errorf("remaps after a backfill window = %d, want 0", remaps)
	}

	if sum := e.run(e.syncMessage()); sum.Error != "" {
		t.Errorf("sync with a failing remap: summary error = %q, want none", sum.Error)
	}
	if remaps != 1 {
		t.Errorf("remaps after a scheduled sync = %d, want 1", remaps)
	}
}

// remapperFunc adapts a function to ingest.Remapper.
type remapperFunc func() error

func (f remapperFunc) RemapIfStale(context.Context, *store.Tenant) (mapping.RemapStats, error) {
	return mapping.RemapStats{}, f()
}
