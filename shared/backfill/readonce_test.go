package backfill

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// windowsContaining returns the indexes of the windows whose half-open range
// [From, To) contains t.
func windowsContaining(ws []Window, t time.Time) []int {
	var out []int
	for _, w := range ws {
		if !t.Before(w.From) && t.Before(w.To) {
			out = append(out, w.Index)
		}
	}
	return out
}

// callTimes returns start times inside [from, to) that probe the window
// edges: each boundary, a nanosecond before and a millisecond after it, the
// range's ends, and random times.
func callTimes(ws []Window, from, to time.Time, r *rand.Rand) []time.Time {
	probes := []time.Time{from, to.Add(-time.Nanosecond)}
	for _, w := range ws {
		probes = append(probes, w.From, w.From.Add(-time.Nanosecond), w.From.Add(time.Millisecond), w.To.Add(-time.Nanosecond))
	}
	for range 200 {
		probes = append(probes, from.Add(time.Duration(r.Int64N(int64(to.Sub(from))))))
	}
	var out []time.Time
	for _, at := range probes {
		if !at.Before(from) && at.Before(to) {
			out = append(out, at)
		}
	}
	return out
}

func TestWindowsCoverRangeOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		from, to time.Time
		days     int
	}{
		{"30 one-day windows from an hour", base.Add(-30 * day), base, 1},
		{"one-day windows from a fraction of a second", base.Add(-5*day - 1500*time.Millisecond), base.Add(-999 * time.Millisecond), 1},
		{"week windows", base.Add(-90 * day), base, 7},
		{"longest windows", base.Add(-400 * day), base, MaxWindowDays},
		{"range inside one day", base.Add(-time.Hour), base, 1},
		{"range from midnight to midnight", base.Truncate(day).Add(-3 * day), base.Truncate(day), 1},
		{"offset time zone", base.Add(-10 * day).In(time.FixedZone("UTC-7", -7*3600)), base, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := Windows(tc.from, tc.to, tc.days)
			if len(ws) == 0 {
				t.Fatalf("no windows for %s to %s", tc.from, tc.to)
			}
			if !ws[0].From.Equal(tc.from) {
				t.Errorf("first window starts %s, want the range start %s", ws[0].From, tc.from)
			}
			if !ws[len(ws)-1].To.Equal(tc.to) {
				t.Errorf("last window ends %s, want the range end %s", ws[len(ws)-1].To, tc.to)
			}
			for i, w := range ws {
				if !w.From.Before(w.To) {
					t.Errorf("window %d is empty: %s to %s", i, w.From, w.To)
				}
				if i > 0 && !w.From.Equal(ws[i-1].To) {
					t.Errorf("window %d starts %s, want the end of window %d, %s", i, w.From, i-1, ws[i-1].To)
				}
			}
			for _, at := range callTimes(ws, tc.from, tc.to, r) {
				if got := windowsContaining(ws, at); len(got) != 1 {
					t.Errorf("call at %s is in windows %v, want exactly one", at.Format(time.RFC3339Nano), got)
				}
			}
			// The range is half-open: its end belongs to the next sync.
			for _, at := range []time.Time{tc.from.Add(-time.Nanosecond), tc.to} {
				if got := windowsContaining(ws, at); len(got) != 0 {
					t.Errorf("call at %s outside the range is in windows %v", at.Format(time.RFC3339Nano), got)
				}
			}
		})
	}
}

// TestInitialBackfillReadsEachCallOnce runs an initial backfill through
// OnWindowDone the way the engine does, with the scheduler's hooks in
// between, and checks that every call time of the range is read by exactly
// one queued window.
func TestInitialBackfillReadsEachCallOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// A user stored at the instant the backfill starts, as a local run with a
	// fixed clock stores the organization's users, is covered by it.
	f.addUser(t, "u2", "ben@acme.test", f.now)
	jobID, err := f.svc.StartInitial(ctx, "acme", f.epoch, 30, "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.svc.Status(ctx, "acme", jobID)
	if err != nil {
		t.Fatal(err)
	}

	var read []Window
	queuedTimes := map[int]int{}
	for step := 0; ; step++ {
		// The scheduler runs between windows: it queues backfills for new
		// users and re-queues due or stale windows.
		if n, err := f.svc.QueueNewUsers(ctx, "acme"); err != nil || n != 0 {
			t.Fatalf("QueueNewUsers at step %d = %d, %v; want 0 users queued", step, n, err)
		}
		if n, err := f.svc.ResumeDue(ctx); err != nil || n != 0 {
			t.Fatalf("ResumeDue at step %d = %d, %v; want 0 windows queued", step, n, err)
		}
		msgs := f.sent.take()
		if len(msgs) == 0 {
			break
		}
		if len(msgs) != 1 {
			t.Fatalf("step %d: %d messages queued, want 1", step, len(msgs))
		}
		m := msgs[0]
		if m.Kind != queue.KindBackfill || m.JobID != jobID {
			t.Fatalf("step %d queued %s message of job %q, want a backfill window of %s", step, m.Kind, m.JobID, jobID)
		}
		queuedTimes[m.WindowIndex]++
		read = append(read, Window{Index: m.WindowIndex, From: m.From, To: m.To})
		f.now = f.now.Add(time.Minute)
		sum := store.RunSummary{CallsSeen: 40, Ingested: 30, GongRequests: map[string]int64{"calls/extensive": 1}}
		if err := f.svc.OnWindowDone(ctx, "acme", m, sum); err != nil {
			t.Fatalf("OnWindowDone of window %d: %v", m.WindowIndex, err)
		}
		// A second report of the window, as after an SQS redelivery,
		// queues nothing.
		if err := f.svc.OnWindowDone(ctx, "acme", m, sum); err != nil {
			t.Fatalf("repeated OnWindowDone of window %d: %v", m.WindowIndex, err)
		}
		if extra := f.sent.msgs; len(extra) > 1 {
			t.Fatalf("window %d reported twice queued %d messages, want 1", m.WindowIndex, len(extra))
		}
	}

	if len(read) != j.WindowsTotal {
		t.Fatalf("%d windows read, want the job's %d", len(read), j.WindowsTotal)
	}
	for i := range j.WindowsTotal {
		if queuedTimes[i] != 1 {
			t.Errorf("window %d queued %d times, want once", i, queuedTimes[i])
		}
	}
	for _, at := range callTimes(read, j.From, j.To, rand.New(rand.NewPCG(3, 4))) {
		if got := windowsContaining(read, at); len(got) != 1 {
			t.Errorf("call at %s read by windows %v, want exactly one", at.Format(time.RFC3339Nano), got)
		}
	}
	done, err := f.svc.Status(ctx, "acme", jobID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != store.JobDone || done.WindowsDone != j.WindowsTotal {
		t.Errorf("job status %s with %d of %d windows done, want done with all", done.Status, done.WindowsDone, j.WindowsTotal)
	}
	markers, err := f.tenant.UserBackfills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if markers["u2"].Status != store.UserBackfillCovered {
		t.Errorf("marker of the user who joined as the backfill started = %+v, want covered", markers["u2"])
	}

	// Long after the job finished, nothing of it is queued again.
	f.now = f.now.Add(StaleAfter + time.Hour)
	if n, err := f.svc.ResumeDue(ctx); err != nil || n != 0 {
		t.Errorf("ResumeDue after the job finished = %d, %v; want 0", n, err)
	}
	if msgs := f.sent.take(); len(msgs) != 0 {
		t.Errorf("%d messages queued after the job finished", len(msgs))
	}
}
