package backfill

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// recorder is a Sender that keeps the messages it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []queue.Message
	err  error
}

func (r *recorder) Send(_ context.Context, msgs ...queue.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return err
		}
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) take() []queue.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// fixture is a service over kumo with a connected tenant "acme" and a clock
// the test moves.
type fixture struct {
	svc    *Service
	st     *store.Store
	sent   *recorder
	tenant *store.Tenant
	epoch  int64
	now    time.Time
}

var startTime = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clients := localaws.StartKumo(t)
	ctx := context.Background()
	// kumo servers in one process share their tables, so each test gets its
	// own table.
	table := "backfill-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if err := store.EnsureTable(ctx, clients.DynamoDB, table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	f := &fixture{sent: &recorder{}, now: startTime}
	// The expression fix makes kumo apply every clause of an update.
	f.st = store.New(clients.DynamoDB, table)
	f.st.Now = func() time.Time { return f.now }
	f.svc = New(f.st, f.sent, Config{})
	f.svc.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.svc.Now = func() time.Time { return f.now }
	tenant, err := f.st.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	f.tenant = tenant
	f.epoch, err = tenant.MarkConnected(ctx, "admin@acme.test", nil, "https://us-1.api.gong.io")
	if err != nil {
		t.Fatalf("connect tenant: %v", err)
	}
	f.addUser(t, "u1", "ana@acme.test", startTime.Add(-400*24*time.Hour))
	return f
}

func (f *fixture) addUser(t *testing.T, id, email string, joined time.Time) {
	t.Helper()
	if _, err := f.tenant.PutUser(context.Background(), store.User{UserID: id, Email: email, Active: true, JoinedAt: joined}); err != nil {
		t.Fatalf("put user %s: %v", id, err)
	}
}

func (f *fixture) start(t *testing.T, req Request) StartResult {
	t.Helper()
	res, err := f.svc.Start(context.Background(), req)
	if err != nil {
		t.Fatalf("start %+v: %v", req, err)
	}
	return res
}

func validStart() Request {
	return Request{
		Action: ActionStart, TenantID: "acme",
		From: "2026-03-01T00:00:00+01:00", To: "2026-03-04T00:00:00+01:00",
		RequestedBy: "support@dealdesk.test", Reason: "ticket 4711",
	}
}

// fourWeekStart returns a start request whose range spans four 7-day
// windows.
func fourWeekStart() Request {
	req := validStart()
	req.From = "2026-02-08T00:00:00+01:00"
	return req
}

func TestHandleRejectsBadPayloads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other, _ := f.st.Tenant("gone")
	if _, err := other.MarkConnected(ctx, "x", nil, ""); err != nil {
		t.Fatal(err)
	}
	if err := other.SetStatus(ctx, store.StatusDisconnected, "disconnected by admin"); err != nil {
		t.Fatal(err)
	}
	edit := func(fn func(*Request)) Request {
		r := validStart()
		fn(&r)
		return r
	}
	tests := []struct {
		name      string
		req       Request
		wantField string
		wantText  string
	}{
		{"unknown action", Request{Action: "restart", TenantID: "acme"}, "action", "not a known action"},
		{"missing action", Request{TenantID: "acme"}, "action", "missing"},
		{"unknown tenant", edit(func(r *Request) { r.TenantID = "nobody" }), "tenantId", "not a known tenant"},
		{"invalid tenant id", edit(func(r *Request) { r.TenantID = "a#b" }), "tenantId", "not a valid tenant id"},
		{"disconnected tenant", edit(func(r *Request) { r.TenantID = "gone" }), "tenantId", "not connected"},
		{"missing from", edit(func(r *Request) { r.From = "" }), "from", "missing"},
		{"no offset", edit(func(r *Request) { r.From = "2026-03-01T09:00:00" }), "from", "no UTC offset"},
		{"date only", edit(func(r *Request) { r.To = "2026-03-04" }), "to", "date without a time"},
		{"garbage", edit(func(r *Request) { r.From = "last week" }), "from", "not an RFC 3339 time"},
		{"from equals to", edit(func(r *Request) { r.To = r.From }), "from", "not before to"},
		{"from after to", edit(func(r *Request) { r.From, r.To = r.To, r.From }), "from", "not before to"},
		{"from in future", edit(func(r *Request) { r.From = "2026-03-11T00:00:00Z"; r.To = "2026-03-12T00:00:00Z" }), "from", "in the future"},
		{"to in future", edit(func(r *Request) { r.To = "2026-03-10T12:06:00Z" }), "to", "in the future"},
		{"too long", edit(func(r *Request) { r.From = "2024-03-01T00:00:00Z" }), "to", "longer than the maximum of 730 days"},
		{"bad email", edit(func(r *Request) { r.UserEmails = []string{"ana@acme.test", "not-an-email"} }), "userEmails[1]", "not a plain email"},
		{"named email", edit(func(r *Request) { r.UserEmails = []string{"Ana <ana@acme.test>"} }), "userEmails[0]", "not a plain email"},
		{"unknown user", edit(func(r *Request) { r.UserEmails = []string{"bob@acme.test"} }), "userEmails[0]", "not a user"},
		{"missing requester", edit(func(r *Request) { r.RequestedBy = "" }), "requestedBy", "missing"},
		{"missing reason", edit(func(r *Request) { r.Reason = "" }), "reason", "missing"},
		{"status without job", Request{Action: ActionStatus, TenantID: "acme"}, "jobId", "missing"},
		{"status unknown job", Request{Action: ActionStatus, TenantID: "acme", JobID: "nope"}, "jobId", "not a job"},
		{"purge unconfirmed", Request{Action: ActionPurge, TenantID: "acme", RequestedBy: "s", Reason: "r"}, "confirm", "does not match"},
		{"purge wrong confirm", Request{Action: ActionPurge, TenantID: "acme", RequestedBy: "s", Reason: "r", Confirm: "acme2"}, "confirm", "does not match"},
		{"purge no reason", Request{Action: ActionPurge, TenantID: "acme", RequestedBy: "s", Confirm: "acme"}, "reason", "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Handle(ctx, tc.req)
			fe, ok := AsFieldError(err)
			if !ok {
				t.Fatalf("error = %v, want a *FieldError", err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("field = %q, want %q (error %v)", fe.Field, tc.wantField, fe)
			}
			if !strings.Contains(fe.Message, tc.wantText) {
				t.Errorf("message = %q, want it to contain %q", fe.Message, tc.wantText)
			}
			if fe.Fix == "" {
				t.Errorf("fix is empty")
			}
		})
	}
	if msgs := f.sent.take(); len(msgs) != 0 {
		t.Errorf("rejected requests queued %d messages", len(msgs))
	}
}

func TestWindowsSplitAtUTCMidnights(t *testing.T) {
	d := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name     string
		from, to string
		days     int
		want     []string // from/to pairs in UTC
	}{
		{"whole days", "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z", 1,
			[]string{"2026-03-01T00:00:00Z/2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z/2026-03-03T00:00:00Z"}},
		{"offset start", "2026-03-01T00:00:00+02:00", "2026-03-02T12:00:00Z", 1,
			[]string{"2026-02-28T22:00:00Z/2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z/2026-03-02T12:00:00Z"}},
		{"inside one day", "2026-03-01T05:00:00Z", "2026-03-01T06:00:00Z", 1,
			[]string{"2026-03-01T05:00:00Z/2026-03-01T06:00:00Z"}},
		{"across DST change in offset", "2026-03-28T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 1,
			[]string{"2026-03-27T23:00:00Z/2026-03-28T00:00:00Z", "2026-03-28T00:00:00Z/2026-03-29T00:00:00Z", "2026-03-29T00:00:00Z/2026-03-29T22:00:00Z"}},
		{"week windows", "2026-03-01T00:00:00Z", "2026-03-20T00:00:00Z", 7,
			[]string{"2026-03-01T00:00:00Z/2026-03-08T00:00:00Z", "2026-03-08T00:00:00Z/2026-03-15T00:00:00Z", "2026-03-15T00:00:00Z/2026-03-20T00:00:00Z"}},
		{"empty", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Windows(d(tc.from), d(tc.to), tc.days)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d windows %v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range got {
				s := w.From.Format(time.RFC3339) + "/" + w.To.Format(time.RFC3339)
				if s != tc.want[i] {
					t.Errorf("window %d = %s, want %s", i, s, tc.want[i])
				}
				if w.Index != i {
					t.Errorf("window %d has index %d", i, w.Index)
				}
			}
			if n := windowCount(d(tc.from), d(tc.to), tc.days); n != len(tc.want) {
				t.Errorf("windowCount = %d, want %d", n, len(tc.want))
			}
		})
	}
}

func TestWindowDaysFollowsCallRate(t *testing.T) {
	tests := []struct {
		rate float64
		want int
	}{{0, UnknownRateWindowDays}, {10000, 1}, {5000, 1}, {1000, 5}, {100, 30}, {0.5, 30}}
	for _, tc := range tests {
		if got := WindowDays(tc.rate); got != tc.want {
			t.Errorf("WindowDays(%v) = %d, want %d", tc.rate, got, tc.want)
		}
	}
}

func TestJobLifecycleStartToDone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res := f.start(t, fourWeekStart())
	j := res.Job
	if j == nil || j.Status != store.JobQueued {
		t.Fatalf("job = %+v, want a queued job", j)
	}
	// 2026-02-07T23:00Z to 2026-03-03T23:00Z in 7-day windows from the UTC
	// midnight of 2026-02-07, because no call rate is known yet.
	if j.WindowsTotal != 4 {
		t.Fatalf("windowsTotal = %d, want 4", j.WindowsTotal)
	}
	if j.Epoch != f.epoch || j.Kind != queue.KindBackfill || j.Type != store.JobTypeSupport {
		t.Errorf("job epoch/kind/type = %d/%s/%s", j.Epoch, j.Kind, j.Type)
	}
	for i := 0; i < j.WindowsTotal; i++ {
		msgs := f.sent.take()
		if len(msgs) != 1 {
			t.Fatalf("before window %d: %d messages queued, want 1", i, len(msgs))
		}
		m := msgs[0]
		if m.WindowIndex != i || m.JobID != j.JobID || m.Epoch != f.epoch || m.TenantID != "acme" {
			t.Fatalf("message %d = %+v", i, m)
		}
		w := JobWindow(*j, i)
		if !m.From.Equal(w.From) || !m.To.Equal(w.To) {
			t.Errorf("message %d window %s-%s, want %s-%s", i, m.From, m.To, w.From, w.To)
		}
		active, err := f.svc.Active(ctx, "acme", j.JobID)
		if err != nil || !active {
			t.Fatalf("Active before window %d = %v, %v", i, active, err)
		}
		f.now = f.now.Add(time.Minute)
		sum := store.RunSummary{CallsSeen: 10, Ingested: 7, Skipped: map[string]int{"private": 3}, TranscriptsStored: 7,
			GongRequests: map[string]int64{"calls/extensive": 1, "calls/transcript": 1}}
		if err := f.svc.OnWindowDone(ctx, "acme", m, sum); err != nil {
			t.Fatalf("OnWindowDone %d: %v", i, err)
		}
		// A second report of the same window changes nothing.
		if err := f.svc.OnWindowDone(ctx, "acme", m, sum); err != nil {
			t.Fatalf("repeated OnWindowDone %d: %v", i, err)
		}
	}
	if msgs := f.sent.take(); len(msgs) != 0 {
		t.Errorf("%d messages queued after the last window", len(msgs))
	}
	got, err := f.svc.Status(ctx, "acme", j.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.JobDone {
		t.Errorf("status = %s, want done", got.Status)
	}
	if got.WindowsDone != 4 || got.CallsIngested != 28 || got.CallsSkipped != 12 || got.GongRequests != 8 {
		t.Errorf("progress = windows %d, ingested %d, skipped %d, requests %d; want 4, 28, 12, 8",
			got.WindowsDone, got.CallsIngested, got.CallsSkipped, got.GongRequests)
	}
	if got.FinishedAt.IsZero() || got.EstimatedSecondsLeft != 0 {
		t.Errorf("finishedAt %v, estimatedSecondsLeft %d", got.FinishedAt, got.EstimatedSecondsLeft)
	}
	if active, _ := f.svc.Active(ctx, "acme", j.JobID); active {
		t.Errorf("a done job is active")
	}
	list, err := f.svc.List(ctx, "acme", 0)
	if err != nil || len(list) != 1 || list[0].JobID != j.JobID {
		t.Errorf("List = %v, %v", list, err)
	}
}

func TestCancelStopsNextWindow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	j := f.start(t, validStart()).Job
	first := f.sent.take()[0]
	cancelled, err := f.svc.Cancel(ctx, "acme", j.JobID, "support@dealdesk.test")
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.Status != store.JobCancelled || cancelled.CancelledBy != "support@dealdesk.test" {
		t.Errorf("cancelled job = %s by %q", cancelled.Status, cancelled.CancelledBy)
	}
	if active, _ := f.svc.Active(ctx, "acme", j.JobID); active {
		t.Errorf("a cancelled job is active")
	}
	if err := f.svc.OnWindowDone(ctx, "acme", first, store.RunSummary{Ingested: 1}); err != nil {
		t.Fatal(err)
	}
	if msgs := f.sent.take(); len(msgs) != 0 {
		t.Errorf("cancelled job queued %d windows", len(msgs))
	}
	got, _ := f.svc.Status(ctx, "acme", j.JobID)
	if got.Status != store.JobCancelled || got.WindowsDone != 0 {
		t.Errorf("after the window: status %s, windows done %d", got.Status, got.WindowsDone)
	}
	_, err = f.svc.Cancel(ctx, "acme", j.JobID, "support@dealdesk.test")
	if fe, ok := AsFieldError(err); !ok || !strings.Contains(fe.Message, "already cancelled") {
		t.Errorf("second cancel: %v", err)
	}
}

func TestBudgetPausesBackfillAndResumesNextDay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.tenant.PutSettings(ctx, store.Settings{DailyBudget: 100}); err != nil {
		t.Fatal(err)
	}
	b := f.svc.Budget
	// Backfills may use 80 of 100 requests, syncs all 100.
	if ok, err := b.Reserve(ctx, "acme", queue.KindBackfill, 80); err != nil || !ok {
		t.Fatalf("backfill reserve 80 = %v, %v", ok, err)
	}
	if ok, _ := b.Reserve(ctx, "acme", queue.KindUserBackfill, 1); ok {
		t.Errorf("backfill reserved past 80%%")
	}
	if ok, err := b.Reserve(ctx, "acme", queue.KindSync, 20); err != nil || !ok {
		t.Errorf("sync reserve 20 = %v, %v", ok, err)
	}
	if ok, _ := b.Reserve(ctx, "acme", queue.KindSync, 1); ok {
		t.Errorf("sync reserved past the daily budget")
	}
	used, err := f.tenant.QuotaUsed(ctx, store.QuotaDay(f.now))
	if err != nil || used != 100 {
		t.Errorf("QuotaUsed = %d, %v; want 100", used, err)
	}
	u, err := b.Usage(ctx, "acme")
	if err != nil || u.ByKind["backfill"] != 80 || u.ByKind["sync"] != 20 || u.Limits.Backfill != 80 {
		t.Errorf("Usage = %+v, %v", u, err)
	}

	j := f.start(t, validStart()).Job
	first := f.sent.take()[0]
	paused := store.RunSummary{Error: "paused: daily budget", GongRequests: map[string]int64{"calls/extensive": 2}}
	if err := f.svc.OnWindowDone(ctx, "acme", first, paused); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Status(ctx, "acme", j.JobID)
	wantResume := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	if got.Status != store.JobPaused || !got.ResumeAt.Equal(wantResume) || got.GongRequests != 2 {
		t.Fatalf("after pause: status %s, resumeAt %v, requests %d", got.Status, got.ResumeAt, got.GongRequests)
	}
	if active, _ := f.svc.Active(ctx, "acme", j.JobID); active {
		t.Errorf("a paused job is active")
	}

	// Before midnight nothing resumes.
	f.now = time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC)
	if n, err := f.svc.ResumeDue(ctx); err != nil || n != 0 {
		t.Fatalf("ResumeDue before midnight = %d, %v", n, err)
	}
	// The next day the same window is queued again.
	f.now = time.Date(2026, 3, 11, 0, 0, 30, 0, time.UTC)
	if n, err := f.svc.ResumeDue(ctx); err != nil || n != 1 {
		t.Fatalf("ResumeDue next day = %d, %v", n, err)
	}
	msgs := f.sent.take()
	if len(msgs) != 1 || msgs[0].WindowIndex != 0 || msgs[0].JobID != j.JobID {
		t.Fatalf("resumed messages = %+v", msgs)
	}
	got, _ = f.svc.Status(ctx, "acme", j.JobID)
	if got.Status != store.JobRunning || got.Resumes != 1 || !got.ResumeAt.IsZero() {
		t.Errorf("after resume: status %s, resumes %d, resumeAt %v", got.Status, got.Resumes, got.ResumeAt)
	}
	if n, _ := f.svc.ResumeDue(ctx); n != 0 {
		t.Errorf("second ResumeDue queued %d windows", n)
	}
	// The new day has a fresh budget.
	if ok, err := b.Reserve(ctx, "acme", queue.KindBackfill, 80); err != nil || !ok {
		t.Errorf("backfill reserve on the next day = %v, %v", ok, err)
	}
}

func TestResumeDueWaitsOutDeduplication(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	j := f.start(t, validStart()).Job
	first := f.sent.take()[0]
	f.now = time.Date(2026, 3, 10, 23, 58, 0, 0, time.UTC)
	if err := f.svc.OnWindowDone(ctx, "acme", first, store.RunSummary{Error: "paused: daily budget"}); err != nil {
		t.Fatal(err)
	}
	f.now = time.Date(2026, 3, 11, 0, 1, 0, 0, time.UTC)
	if n, _ := f.svc.ResumeDue(ctx); n != 0 {
		t.Errorf("resumed %d jobs within the deduplication interval", n)
	}
	f.now = f.now.Add(3 * time.Minute)
	if n, _ := f.svc.ResumeDue(ctx); n != 1 {
		t.Errorf("resumed %d jobs after the deduplication interval, want 1", n)
	}
	if msgs := f.sent.take(); len(msgs) != 1 || msgs[0].JobID != j.JobID {
		t.Errorf("resumed messages = %+v", msgs)
	}
}

func TestResumeDueFailsJobsOfEarlierConnection(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	j := f.start(t, validStart()).Job
	first := f.sent.take()[0]
	if err := f.svc.OnWindowDone(ctx, "acme", first, store.RunSummary{Error: "paused: daily budget"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tenant.MarkConnected(ctx, "admin@acme.test", nil, ""); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(24 * time.Hour)
	if n, err := f.svc.ResumeDue(ctx); err != nil || n != 0 {
		t.Fatalf("ResumeDue = %d, %v", n, err)
	}
	got, _ := f.svc.Status(ctx, "acme", j.JobID)
	if got.Status != store.JobFailed || !strings.HasPrefix(got.LastError, "dropped:") {
		t.Errorf("status %s, lastError %q", got.Status, got.LastError)
	}
	if msgs := f.sent.take(); len(msgs) != 0 {
		t.Errorf("queued %d windows for an earlier connection", len(msgs))
	}
}

func TestResumeDueRequeuesStaleJob(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	j := f.start(t, validStart()).Job
	f.sent.take()
	f.now = f.now.Add(StaleAfter - time.Minute)
	if n, _ := f.svc.ResumeDue(ctx); n != 0 {
		t.Errorf("requeued a job with recent progress")
	}
	f.now = f.now.Add(time.Minute)
	if n, err := f.svc.ResumeDue(ctx); err != nil || n != 1 {
		t.Fatalf("ResumeDue = %d, %v; want 1", n, err)
	}
	msgs := f.sent.take()
	if len(msgs) != 1 || msgs[0].WindowIndex != 0 || msgs[0].JobID != j.JobID {
		t.Errorf("requeued = %+v", msgs)
	}
	if n, _ := f.svc.ResumeDue(ctx); n != 0 {
		t.Errorf("requeued the same job twice in a row")
	}
}

func TestFailedWindowFailsJob(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	j := f.start(t, validStart()).Job
	first := f.sent.take()[0]
	if err := f.svc.OnWindowDone(ctx, "acme", first, store.RunSummary{Error: "gong: unauthorized"}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Status(ctx, "acme", j.JobID)
	if got.Status != store.JobFailed || !strings.Contains(got.LastError, "start a backfill from 2026-02-28T23:00:00Z") {
		t.Errorf("status %s, lastError %q", got.Status, got.LastError)
	}
}

func TestStartFailsJobWhenQueueFails(t *testing.T) {
	f := newFixture(t)
	f.sent.err = errors.New("queue down")
	_, err := f.svc.Start(context.Background(), validStart())
	if err == nil || !strings.Contains(err.Error(), "queue down") {
		t.Fatalf("Start error = %v", err)
	}
	jobs, _ := f.svc.List(context.Background(), "acme", 0)
	if len(jobs) != 1 || jobs[0].Status != store.JobFailed {
		t.Errorf("jobs = %+v, want one failed job", jobs)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before, err := f.tenant.CountPurge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := fourWeekStart()
	req.DryRun = true
	req.Reason = ""
	res := f.start(t, req)
	if !res.DryRun || res.Job != nil {
		t.Fatalf("dry run result = %+v", res)
	}
	if res.Estimate.Windows != 4 || res.Estimate.GongRequests < 4 || len(res.Windows) != 4 {
		t.Errorf("estimate = %+v, windows %d", res.Estimate, len(res.Windows))
	}
	after, err := f.tenant.CountPurge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Deleted() != before.Deleted() || len(after.Keep) != len(before.Keep) {
		t.Errorf("dry run changed the table: before %+v, after %+v", before, after)
	}
	if msgs := f.sent.take(); len(msgs) != 0 {
		t.Errorf("dry run queued %d messages", len(msgs))
	}
}

func TestEstimateUsesStoredCallRate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, _ := f.tenant.GetTenant(ctx)
	day := func(s string) time.Time {
		v, _ := time.Parse(time.DateOnly, s)
		return v
	}
	e, err := f.svc.estimate(ctx, f.tenant, rec, day("2025-11-01"), day("2025-12-01"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.CallsPerDay != 0 || e.Windows != 5 || e.ListRequests != 5 || e.TranscriptRequests != 0 {
		t.Errorf("with no stored calls: rate %v, windows %d, list %d, transcripts %d; want 0, 5, 5, 0",
			e.CallsPerDay, e.Windows, e.ListRequests, e.TranscriptRequests)
	}

	// An initial backfill of the 60 days before now finished, and 60,000
	// calls are stored: 1,000 calls a day, so windows of 5 days.
	done := store.Job{JobID: "20260109T120000Z-000001", Type: store.JobTypeInitial, Kind: queue.KindBackfill,
		Status: store.JobDone, From: startTime.Add(-60 * 24 * time.Hour), To: startTime, WindowDays: 1, CreatedAt: startTime.Add(-60 * 24 * time.Hour)}
	if err := f.tenant.CreateJob(ctx, done); err != nil {
		t.Fatal(err)
	}
	setCallCount(t, f, 60000)
	tests := []struct {
		name                     string
		from, to                 string
		windows                  int
		calls, list, transcripts int64
	}{
		// 30 days before the stored history: 6 windows of 5,000 new calls.
		{"before history", "2025-11-01", "2025-12-01", 6, 30000, 300, 300},
		// 28 days inside it: the calls are stored, only listing costs.
		{"inside history", "2026-02-01", "2026-03-01", 6, 28000, 280, 0},
	}
	for _, tc := range tests {
		e, err := f.svc.estimate(ctx, f.tenant, rec, day(tc.from), day(tc.to), nil)
		if err != nil {
			t.Fatal(err)
		}
		if e.CallsPerDay != 1000 || e.WindowDays != 5 {
			t.Errorf("%s: rate %v, window days %d; want 1000, 5", tc.name, e.CallsPerDay, e.WindowDays)
		}
		if e.Windows != tc.windows || e.Calls != tc.calls || e.ListRequests != tc.list || e.TranscriptRequests != tc.transcripts {
			t.Errorf("%s: windows %d, calls %d, list %d, transcripts %d; want %d, %d, %d, %d", tc.name,
				e.Windows, e.Calls, e.ListRequests, e.TranscriptRequests, tc.windows, tc.calls, tc.list, tc.transcripts)
		}
		if e.GongRequests != e.ListRequests+e.TranscriptRequests || e.Seconds <= 0 {
			t.Errorf("%s: requests %d, seconds %d", tc.name, e.GongRequests, e.Seconds)
		}
	}
}

// setCallCount sets the stored call counter of the fixture's tenant.
func setCallCount(t *testing.T, f *fixture, n int) {
	t.Helper()
	_, err := f.st.DB().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(f.st.Table()),
		Key: map[string]types.AttributeValue{
			store.AttrPK: &types.AttributeValueMemberS{Value: f.tenant.PK()},
			store.AttrSK: &types.AttributeValueMemberS{Value: "SYNC"},
		},
		UpdateExpression:          aws.String("SET callCount = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.Itoa(n)}},
	})
	if err != nil {
		t.Fatalf("set call count: %v", err)
	}
}

func TestDurationWaitsForNextDays(t *testing.T) {
	now := time.Date(2026, 3, 10, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name                  string
		requests, used, limit int64
		want                  time.Duration
	}{
		{"fits today", 300, 0, 4000, 100 * time.Second},
		{"none", 0, 0, 4000, 0},
		{"spills to tomorrow", 4000, 3000, 4000, 6*time.Hour + 1000*time.Second},
		{"three more days", 9000, 4000, 4000, 6*time.Hour + 48*time.Hour + 334*time.Second},
	}
	for _, tc := range tests {
		if got := Duration(tc.requests, tc.used, tc.limit, now); got != tc.want {
			t.Errorf("%s: Duration = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestQueueNewUsersOncePerUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// The initial backfill began a day ago: ana (joined long before) is
	// covered by it; ben and cy joined after it began.
	f.now = startTime.Add(-24 * time.Hour)
	if _, err := f.svc.StartInitial(ctx, "acme", f.epoch, 0, "admin@acme.test"); err != nil {
		t.Fatal(err)
	}
	f.now = startTime
	f.sent.take()
	f.addUser(t, "u2", "Ben@acme.test", startTime.Add(-time.Hour))
	f.addUser(t, "u3", "cy@acme.test", startTime.Add(-time.Minute))
	if _, err := f.tenant.PutUser(ctx, store.User{UserID: "u4", Email: "old@acme.test", Active: false, JoinedAt: startTime}); err != nil {
		t.Fatal(err)
	}

	n, err := f.svc.QueueNewUsers(ctx, "acme")
	if err != nil || n != 2 {
		t.Fatalf("QueueNewUsers = %d, %v; want 2", n, err)
	}
	msgs := f.sent.take()
	if len(msgs) != 1 {
		t.Fatalf("queued %d messages, want 1 (one job for both users)", len(msgs))
	}
	m := msgs[0]
	if m.Kind != queue.KindUserBackfill || strings.Join(m.Emails, ",") != "ben@acme.test,cy@acme.test" {
		t.Errorf("message kind %s, emails %v", m.Kind, m.Emails)
	}
	j, err := f.svc.Status(ctx, "acme", m.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if j.Type != store.JobTypeUsers || !j.From.Equal(startTime.Add(-90*24*time.Hour)) || !j.To.Equal(startTime) {
		t.Errorf("user job type %s, range %v to %v", j.Type, j.From, j.To)
	}
	markers, err := f.tenant.UserBackfills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if markers["u1"].Status != store.UserBackfillCovered || markers["u2"].JobID != j.JobID || markers["u3"].JobID != j.JobID {
		t.Errorf("markers = %+v", markers)
	}
	if _, ok := markers["u4"]; ok {
		t.Errorf("inactive user got a marker")
	}

	// The next run queues no user.
	if n, err := f.svc.QueueNewUsers(ctx, "acme"); err != nil || n != 0 {
		t.Errorf("second QueueNewUsers = %d, %v", n, err)
	}
	if msgs := f.sent.take(); len(msgs) != 0 {
		t.Errorf("second run queued %d messages", len(msgs))
	}
	// A user who joins later gets a job of their own.
	f.now = startTime.Add(2 * time.Hour)
	f.addUser(t, "u5", "dee@acme.test", f.now)
	if n, err := f.svc.QueueNewUsers(ctx, "acme"); err != nil || n != 1 {
		t.Errorf("QueueNewUsers after a join = %d, %v", n, err)
	}
}

func TestQueueNewUsersReleasesMarkersWhenQueueFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.sent.err = errors.New("queue down")
	if _, err := f.svc.QueueNewUsers(ctx, "acme"); err == nil {
		t.Fatal("QueueNewUsers succeeded with a failing queue")
	}
	markers, _ := f.tenant.UserBackfills(ctx)
	if len(markers) != 0 {
		t.Errorf("markers left after the failure: %+v", markers)
	}
	f.sent.err = nil
	if n, err := f.svc.QueueNewUsers(ctx, "acme"); err != nil || n != 1 {
		t.Errorf("retry = %d, %v; want 1", n, err)
	}
}

func TestStartInitialUsesTenantSetting(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.tenant.PutSettings(ctx, store.Settings{BackfillDays: 30}); err != nil {
		t.Fatal(err)
	}
	id, err := f.svc.StartInitial(ctx, "acme", f.epoch, 0, "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.svc.Status(ctx, "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	if j.Type != store.JobTypeInitial || j.To.Sub(j.From) != 30*24*time.Hour || j.WindowsTotal != 5 {
		t.Errorf("initial job type %s, range %v, windows %d", j.Type, j.To.Sub(j.From), j.WindowsTotal)
	}
	msgs := f.sent.take()
	if len(msgs) != 1 || msgs[0].Kind != queue.KindBackfill || msgs[0].Epoch != f.epoch {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestStartQueuesOnRealQueue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clients := localaws.StartKumo(t)
	out, err := clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String("backfill-test.fifo"),
		Attributes: map[string]string{"FifoQueue": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Sender = &queue.Sender{SQS: clients.SQS, QueueURL: aws.ToString(out.QueueUrl)}
	j := f.start(t, validStart()).Job
	got, err := clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: out.QueueUrl, MaxNumberOfMessages: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("received %d messages, want 1", len(got.Messages))
	}
	m, err := queue.Parse(aws.ToString(got.Messages[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	if m.JobID != j.JobID || m.Kind != queue.KindBackfill || m.WindowIndex != 0 {
		t.Errorf("received %+v", m)
	}
}

func TestHandleRejectsOversizedFields(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	long := strings.Repeat("x", 5000)
	edit := func(fn func(*Request)) Request {
		r := validStart()
		fn(&r)
		return r
	}
	tests := []struct {
		name      string
		req       Request
		wantField string
		wantText  string
		wantFix   string
	}{
		{"reason too long", edit(func(r *Request) { r.Reason = strings.Repeat("r", MaxReasonLength+1) }), "reason", "1001 characters long", "shorten"},
		{"requester too long", edit(func(r *Request) { r.RequestedBy = long }), "requestedBy", "5000 characters long", "email"},
		{"requester not an email", edit(func(r *Request) { r.RequestedBy = "support@" }), "requestedBy", "not a plain email", "support@dealdesk.example"},
		{"requester named email", edit(func(r *Request) { r.RequestedBy = "Ana <ana@acme.test>" }), "requestedBy", "not a plain email", "alone"},
		{"purge reason too long", Request{Action: ActionPurge, TenantID: "acme", RequestedBy: "s", Reason: long, Confirm: "acme"}, "reason", "characters long", "shorten"},
		{"cancel requester too long", Request{Action: ActionCancel, TenantID: "acme", RequestedBy: long, JobID: "j"}, "requestedBy", "characters long", "email"},
		{"long tenant id", edit(func(r *Request) { r.TenantID = long }), "tenantId", "not a valid tenant id", "128"},
		{"long from", edit(func(r *Request) { r.From = long }), "from", "not an RFC 3339 time", "2026-01-01T00:00:00Z"},
		{"long email", edit(func(r *Request) { r.UserEmails = []string{long + "@acme.test"} }), "userEmails[0]", "", ""},
		{"long job id", Request{Action: ActionStatus, TenantID: "acme", JobID: long}, "jobId", "not a valid job id", "list action"},
		{"long action", Request{Action: long, TenantID: "acme"}, "action", "not a known action", "start"},
		{"long confirm", Request{Action: ActionPurge, TenantID: "acme", RequestedBy: "s", Reason: "r", Confirm: long}, "confirm", "does not match", "dryRun"},
		{"list limit too large", Request{Action: ActionList, TenantID: "acme", Limit: MaxListLimit + 1}, "limit", "from 1 to 100", "leave it out"},
		{"list limit negative", Request{Action: ActionList, TenantID: "acme", Limit: -1}, "limit", "from 1 to 100", "leave it out"},
		{"purge unknown tenant", Request{Action: ActionPurge, TenantID: "nobody", RequestedBy: "s", DryRun: true}, "tenantId", "not a known tenant", "purge"},
		{"list unknown tenant", Request{Action: ActionList, TenantID: "nobody"}, "tenantId", "not a known tenant", "no backfill jobs"},
		{"start unknown tenant", edit(func(r *Request) { r.TenantID = "nobody" }), "tenantId", "not a known tenant", "before a backfill"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Handle(ctx, tc.req)
			fe, ok := AsFieldError(err)
			if !ok {
				t.Fatalf("error = %v, want a *FieldError", err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("field = %q, want %q (error %v)", fe.Field, tc.wantField, fe)
			}
			if !strings.Contains(fe.Message, tc.wantText) {
				t.Errorf("message = %q, want it to contain %q", fe.Message, tc.wantText)
			}
			if !strings.Contains(fe.Fix, tc.wantFix) {
				t.Errorf("fix = %q, want it to contain %q", fe.Fix, tc.wantFix)
			}
			if n := len([]rune(fe.Value)); n > MaxValueLength+len("...") {
				t.Errorf("value is %d characters, want at most %d", n, MaxValueLength+len("..."))
			}
			if n := len(fe.Error()); n > 1000 {
				t.Errorf("error text is %d bytes, want at most 1000: %.200s", n, fe.Error())
			}
		})
	}
	if msgs := f.sent.take(); len(msgs) != 0 {
		t.Errorf("rejected requests queued %d messages", len(msgs))
	}
}

func TestHandleAcceptsFieldsAtTheirLimits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		req  Request
	}{
		{"reason of 1000 characters", func() Request {
			r := validStart()
			r.DryRun, r.Reason = true, strings.Repeat("é", MaxReasonLength)
			return r
		}()},
		{"requester without an email", func() Request {
			r := validStart()
			r.DryRun, r.RequestedBy = true, "support team"
			return r
		}()},
		{"list limit 100", Request{Action: ActionList, TenantID: "acme", Limit: MaxListLimit}},
		{"list limit 1", Request{Action: ActionList, TenantID: "acme", Limit: 1}},
		{"list limit left out", Request{Action: ActionList, TenantID: "acme"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.svc.Handle(ctx, tc.req); err != nil {
				t.Errorf("Handle = %v, want success", err)
			}
		})
	}
}

func TestEstimateBasisCountsNouns(t *testing.T) {
	tests := []struct {
		name   string
		calls  int
		after  time.Duration
		emails []string
		want   string
	}{
		{"one call one day", 1, 0, nil, "1 call stored over the 1 day since 2026-03-10"},
		{"two calls two days", 2, 48 * time.Hour, nil, "2 calls stored over the 2 days since 2026-03-10"},
		{"one of one user", 1, 0, []string{"ana@acme.test"}, "; transcripts scaled to 1 of 1 user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			setCallCount(t, f, tc.calls)
			f.now = startTime.Add(tc.after)
			rec, err := f.tenant.GetTenant(ctx)
			if err != nil {
				t.Fatal(err)
			}
			e, err := f.svc.estimate(ctx, f.tenant, rec, startTime.Add(-72*time.Hour), startTime, tc.emails)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.Basis, tc.want) {
				t.Errorf("basis = %q, want it to contain %q", e.Basis, tc.want)
			}
		})
	}
}

func TestStartInitialSupersedesOlderInitialJobs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, err := f.svc.StartInitial(ctx, "acme", f.epoch, 0, "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	support := f.start(t, validStart()).Job.JobID
	// The admin connects again before the first sync, which bumps the epoch.
	f.now = f.now.Add(time.Minute)
	epoch2, err := f.tenant.MarkConnected(ctx, "admin@acme.test", nil, "https://us-1.api.gong.io")
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.svc.StartInitial(ctx, "acme", epoch2, 0, "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		jobID      string
		wantStatus string
		wantError  string
	}{
		{"older initial job", first, store.JobFailed, "superseded by the connection at epoch " + strconv.FormatInt(epoch2, 10)},
		{"newer initial job", second, store.JobQueued, ""},
		{"support job", support, store.JobQueued, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := f.tenant.GetJob(ctx, tc.jobID)
			if err != nil {
				t.Fatal(err)
			}
			if j.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s", j.Status, tc.wantStatus)
			}
			if !strings.Contains(j.LastError, tc.wantError) || (tc.wantError == "" && j.LastError != "") {
				t.Errorf("last error = %q, want %q", j.LastError, tc.wantError)
			}
			if tc.wantError != "" && !strings.Contains(j.LastError, second) {
				t.Errorf("last error = %q, want it to name job %s", j.LastError, second)
			}
		})
	}

	// A retry at the same epoch leaves the newer job alone.
	if _, err := f.svc.StartInitial(ctx, "acme", epoch2, 0, "admin@acme.test"); err != nil {
		t.Fatal(err)
	}
	if j, _ := f.tenant.GetJob(ctx, second); j.Status != store.JobQueued {
		t.Errorf("job of the same epoch = %s, want queued", j.Status)
	}
}
