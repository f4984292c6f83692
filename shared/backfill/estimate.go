package backfill

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/dealdesk/gongingest/shared/store"
)

// callsPerPage is how many calls one page of Gong's calls list and one
// transcript request carry.
const callsPerPage = 100

// Estimate is the expected cost of a backfill. It is computed from the store
// alone and spends no Gong requests. The call rate is the tenant's stored call
// count over the days its stored history covers. Calls of the range inside
// that history are taken as stored with their transcripts, so they cost list
// requests only. For a tenant with no stored
// calls the rate is unknown and the estimate counts only the one list
// request every window costs.
type Estimate struct {
	Calls       int64   `json:"calls"`
	CallsPerDay float64 `json:"callsPerDay"`
	Basis       string  `json:"basis"`
	Windows     int     `json:"windows"`
	WindowDays  int     `json:"windowDays"`
	// Gong requests: pages of the calls list, and transcript batches for the
	// calls not stored yet.
	ListRequests       int64 `json:"listRequests"`
	TranscriptRequests int64 `json:"transcriptRequests"`
	GongRequests       int64 `json:"gongRequests"`
	// Seconds includes the waits for the next UTC day once the backfill
	// share of the day's budget is spent.
	Seconds  int64  `json:"seconds"`
	Duration string `json:"duration"`
	Budget   Usage  `json:"budget"`
}

// callRate returns the tenant's stored calls per day and the start of its
// stored history, with a sentence saying where the figures come from.
func (s *Service) callRate(ctx context.Context, t *store.Tenant, rec store.TenantRecord, now time.Time) (float64, time.Time, string, error) {
	count, err := t.CallCount(ctx)
	if err != nil {
		return 0, time.Time{}, "", fmt.Errorf("backfill: count calls of tenant %s: %w", t.ID(), err)
	}
	jobs, err := t.Jobs(ctx, 0)
	if err != nil {
		return 0, time.Time{}, "", err
	}
	// The stored history starts at the earliest finished backfill over all
	// users, or at the connection when there is none.
	since := rec.ConnectedAt
	for _, j := range jobs {
		if j.Status == store.JobDone && len(j.Emails) == 0 && (since.IsZero() || j.From.Before(since)) {
			since = j.From
		}
	}
	if count == 0 || since.IsZero() {
		return 0, since, "no calls stored yet, so the call count is unknown and the estimate counts one list request per window", nil
	}
	days := math.Max(now.Sub(since).Hours()/24, 1)
	rate := float64(count) / days
	basis := fmt.Sprintf("%s stored over the %s since %s", countNoun(int64(count), "call", "calls"),
		countNoun(int64(math.Round(days)), "day", "days"), since.Format(time.DateOnly))
	return rate, since, basis, nil
}

// estimate computes the cost of backfilling [from, to) for the tenant,
// scoped to emails when set.
func (s *Service) estimate(ctx context.Context, t *store.Tenant, rec store.TenantRecord, from, to time.Time, emails []string) (Estimate, error) {
	now := s.now()
	rate, since, basis, err := s.callRate(ctx, t, rec, now)
	if err != nil {
		return Estimate{}, err
	}
	share := 1.0
	if len(emails) > 0 && rate > 0 {
		users, err := t.Users(ctx)
		if err != nil {
			return Estimate{}, fmt.Errorf("backfill: read users of tenant %s: %w", t.ID(), err)
		}
		share = math.Min(1, float64(len(emails))/math.Max(1, float64(len(users))))
		basis += fmt.Sprintf("; transcripts scaled to %d of %s", len(emails), countNoun(int64(len(users)), "user", "users"))
	}
	e := Estimate{CallsPerDay: math.Round(rate*10) / 10, Basis: basis, WindowDays: WindowDays(rate)}
	for _, w := range Windows(from, to, e.WindowDays) {
		calls := rate * w.To.Sub(w.From).Hours() / 24
		fresh := calls
		if !since.IsZero() && rate > 0 {
			stored := overlap(w.From, w.To, since, now)
			fresh = calls * (1 - stored.Hours()/w.To.Sub(w.From).Hours())
		}
		e.Windows++
		e.Calls += int64(math.Round(calls))
		e.ListRequests += max(1, pages(calls))
		e.TranscriptRequests += pages(fresh * share)
	}
	e.GongRequests = e.ListRequests + e.TranscriptRequests
	if s.Budget != nil {
		e.Budget, err = s.Budget.Usage(ctx, t.ID())
		if err != nil {
			return Estimate{}, err
		}
	}
	d := Duration(e.GongRequests, e.Budget.Used, e.Budget.Limits.Backfill, now)
	e.Seconds = int64(d / time.Second)
	e.Duration = d.Round(time.Second).String()
	return e, nil
}

// pages returns the requests needed for n calls at callsPerPage a request.
func pages(n float64) int64 {
	if n <= 0 {
		return 0
	}
	return int64(math.Ceil(math.Round(n) / callsPerPage))
}

// overlap returns how much of [a1, a2) lies inside [b1, b2).
func overlap(a1, a2, b1, b2 time.Time) time.Duration {
	start, end := a1, a2
	if b1.After(start) {
		start = b1
	}
	if b2.Before(end) {
		end = b2
	}
	if !start.Before(end) {
		return 0
	}
	return end.Sub(start)
}

// secondsLeft estimates the time left of a job once `done` of its windows
// finished, from the requests the finished windows used on average, or from
// the job's first estimate before any finished.
func (s *Service) secondsLeft(ctx context.Context, j store.Job, done int, requests int64) int64 {
	left := int64(j.WindowsTotal - done)
	if left <= 0 {
		return 0
	}
	var need int64
	if done > 0 {
		need = int64(math.Ceil(float64(requests) / float64(done) * float64(left)))
	} else {
		need = j.EstimatedRequests
	}
	var u Usage
	if s.Budget != nil {
		var err error
		if u, err = s.Budget.Usage(ctx, j.TenantID); err != nil {
			s.logger().WarnContext(ctx, "read budget for the time estimate", "tenant_id", j.TenantID, "job_id", j.JobID, "error", err)
		}
	}
	return int64(Duration(need, u.Used, u.Limits.Backfill, s.now()) / time.Second)
}

// countNoun returns n followed by the singular or the plural noun, such as
// "1 call" or "2 calls".
func countNoun(n int64, singular, plural string) string {
	if n == 1 {
		return "1 " + singular
	}
	return fmt.Sprintf("%d %s", n, plural)
}
