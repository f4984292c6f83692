package backfill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// Summary errors the engine reports for a backfill window that did not
// finish (see ingest.Engine).
const (
	pausedPrefix  = "paused:"  // the daily budget ran out; a checkpoint was saved
	droppedPrefix = "dropped:" // the tenant disconnected or reconnected
)

// StaleAfter is how long an active job may go without progress before
// ResumeDue queues its next window again, in case that message was lost
// (for example when queuing it failed after the progress was recorded).
const StaleAfter = 6 * time.Hour

// DedupeWait is how long after a pause a job must wait before it resumes:
// SQS drops a message whose deduplication id it saw in the last five
// minutes, and a resumed window has the same id as the paused one.
const DedupeWait = 5 * time.Minute

// newJob describes a job to create.
type newJob struct {
	ID          string // generated when empty
	Type        string
	From, To    time.Time
	Emails      []string
	UserIDs     []string
	RequestedBy string
	Reason      string
}

// StartResult is the response to a start: the job queued, or for a dry run
// only the estimate and the windows.
type StartResult struct {
	DryRun   bool       `json:"dryRun,omitempty"`
	Job      *store.Job `json:"job,omitempty"`
	Estimate Estimate   `json:"estimate"`
	// Windows lists up to the first 10 windows of a dry run.
	Windows []Window `json:"windows,omitempty"`
}

// Start validates a start request, then either estimates it (dry run, which
// writes nothing) or creates the job and queues its first window.
func (s *Service) Start(ctx context.Context, req Request) (StartResult, error) {
	v, err := s.validateStart(ctx, req)
	if err != nil {
		return StartResult{}, err
	}
	est, err := s.estimate(ctx, v.tenant, v.rec, v.from, v.to, v.emails)
	if err != nil {
		return StartResult{}, err
	}
	if req.DryRun {
		ws := Windows(v.from, v.to, est.WindowDays)
		return StartResult{DryRun: true, Estimate: est, Windows: ws[:min(len(ws), 10)]}, nil
	}
	j, err := s.createJob(ctx, v.tenant, v.rec.Epoch, est, newJob{
		Type: store.JobTypeSupport, From: v.from, To: v.to, Emails: v.emails,
		RequestedBy: req.RequestedBy, Reason: req.Reason,
	})
	if err != nil {
		return StartResult{}, err
	}
	return StartResult{Job: &j, Estimate: est}, nil
}

// StartInitial creates and queues the backfill of a newly connected tenant's
// last `days` days (the tenant's BackfillDays setting, or BACKFILL_DAYS,
// when days is 0 or less). epoch is the connection's epoch.
func (s *Service) StartInitial(ctx context.Context, tenantID string, epoch int64, days int, requestedBy string) (string, error) {
	t, err := s.Store.Tenant(tenantID)
	if err != nil {
		return "", err
	}
	rec, err := t.GetTenant(ctx)
	if err != nil {
		return "", fmt.Errorf("backfill: read tenant %s for its initial backfill: %w", tenantID, err)
	}
	if days <= 0 {
		days = rec.Settings.BackfillDays
	}
	if days <= 0 {
		days = s.Config.InitialDays
	}
	if s.Config.MaxDays > 0 {
		days = min(days, s.Config.MaxDays)
	}
	to := s.now().Truncate(time.Second)
	from := to.Add(-time.Duration(days) * day)
	est, err := s.estimate(ctx, t, rec, from, to, nil)
	if err != nil {
		return "", err
	}
	j, err := s.createJob(ctx, t, epoch, est, newJob{
		Type: store.JobTypeInitial, From: from, To: to, RequestedBy: requestedBy,
		Reason: fmt.Sprintf("initial backfill of %s on connect", countNoun(int64(days), "day", "days")),
	})
	if err != nil {
		return "", err
	}
	s.supersedeInitialJobs(ctx, t, j)
	return j.JobID, nil
}

// supersedeInitialJobs fails the tenant's queued, running or paused initial
// backfills of connections older than the current job's. The engine drops
// their windows for the old epoch, but without this they would show as
// active until ResumeDue fails them after StaleAfter. Errors are logged and
// not returned, because the new backfill is queued and ResumeDue still fails
// the old jobs later.
func (s *Service) supersedeInitialJobs(ctx context.Context, t *store.Tenant, current store.Job) {
	log := s.logger().With("tenant_id", t.ID(), "job_id", current.JobID, "epoch", current.Epoch)
	jobs, err := t.Jobs(ctx, 0)
	if err != nil {
		log.ErrorContext(ctx, "list jobs to supersede older initial backfills", "error", err)
		return
	}
	reason := fmt.Sprintf("%s superseded by the connection at epoch %d, whose initial backfill is job %s",
		droppedPrefix, current.Epoch, current.JobID)
	for _, j := range jobs {
		if j.Type != store.JobTypeInitial || !j.Active() || j.Epoch >= current.Epoch {
			continue
		}
		_, err := t.FailJob(ctx, j.JobID, reason, 0, s.now())
		switch {
		case errors.Is(err, store.ErrJobState) || errors.Is(err, store.ErrNotFound):
			// The job finished or was deleted since it was listed.
		case err != nil:
			log.ErrorContext(ctx, "fail superseded initial backfill", "superseded_job_id", j.JobID, "error", err)
		default:
			log.InfoContext(ctx, "initial backfill superseded", "superseded_job_id", j.JobID, "superseded_epoch", j.Epoch)
		}
	}
}

// createJob stores a queued job and queues its first window. When queuing
// fails the job is marked failed.
func (s *Service) createJob(ctx context.Context, t *store.Tenant, epoch int64, est Estimate, nj newJob) (store.Job, error) {
	now := s.now()
	id := nj.ID
	if id == "" {
		var err error
		if id, err = newJobID(now); err != nil {
			return store.Job{}, err
		}
	}
	kind := queue.KindBackfill
	if len(nj.Emails) > 0 {
		kind = queue.KindUserBackfill
	}
	j := store.Job{
		JobID: id, TenantID: t.ID(), Type: nj.Type, Kind: kind, Epoch: epoch,
		From: nj.From.UTC(), To: nj.To.UTC(), WindowDays: est.WindowDays,
		Emails: nj.Emails, UserIDs: nj.UserIDs, RequestedBy: nj.RequestedBy, Reason: nj.Reason,
		Status: store.JobQueued, WindowsTotal: windowCount(nj.From, nj.To, est.WindowDays),
		EstimatedCalls: est.Calls, EstimatedRequests: est.GongRequests, EstimatedSecondsLeft: est.Seconds,
		CreatedAt: now, UpdatedAt: now,
	}
	if j.WindowsTotal == 0 {
		return store.Job{}, fmt.Errorf("backfill: range %s to %s of tenant %s is empty", j.From.Format(time.RFC3339), j.To.Format(time.RFC3339), t.ID())
	}
	if err := t.CreateJob(ctx, j); err != nil {
		return store.Job{}, err
	}
	if err := s.sendWindow(ctx, j, 0); err != nil {
		if _, ferr := t.FailJob(ctx, j.JobID, "queue the first window: "+err.Error(), 0, s.now()); ferr != nil {
			s.logger().ErrorContext(ctx, "mark job failed", "tenant_id", t.ID(), "job_id", j.JobID, "error", ferr)
		}
		return store.Job{}, err
	}
	s.logger().InfoContext(ctx, "backfill queued", "tenant_id", t.ID(), "job_id", j.JobID, "type", j.Type,
		"from", j.From, "to", j.To, "windows", j.WindowsTotal, "emails", len(j.Emails), "requested_by", j.RequestedBy)
	return j, nil
}

// sendWindow queues window i of the job.
func (s *Service) sendWindow(ctx context.Context, j store.Job, i int) error {
	w := JobWindow(j, i)
	msg := queue.Message{
		TenantID: j.TenantID, Epoch: j.Epoch, Kind: j.Kind, JobID: j.JobID,
		WindowIndex: i, From: w.From, To: w.To, Emails: j.Emails,
	}
	if err := s.Sender.Send(ctx, msg); err != nil {
		return fmt.Errorf("backfill: queue window %d of job %s of tenant %s: %w", i, j.JobID, j.TenantID, err)
	}
	return nil
}

// Status returns the job.
func (s *Service) Status(ctx context.Context, tenantID, jobID string) (store.Job, error) {
	t, _, err := s.connectedTenant(ctx, tenantID, ActionStatus)
	if err != nil {
		return store.Job{}, err
	}
	j, err := t.GetJob(ctx, jobID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Job{}, &FieldError{Field: "jobId", Value: jobID, Message: "is not a job of tenant " + tenantID, Fix: "use the list action to see the tenant's jobs"}
	}
	return j, err
}

// Page sizes of the list action.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// List returns the tenant's latest jobs, newest first: up to limit of them,
// from 1 to MaxListLimit, or DefaultListLimit when limit is 0.
func (s *Service) List(ctx context.Context, tenantID string, limit int) ([]store.Job, error) {
	if limit < 0 || limit > MaxListLimit {
		return nil, &FieldError{
			Field: "limit", Value: strconv.Itoa(limit),
			Message: fmt.Sprintf("is out of range: it must be from 1 to %d", MaxListLimit),
			Fix:     fmt.Sprintf("set limit to a whole number from 1 to %d, or leave it out for the latest %d jobs", MaxListLimit, DefaultListLimit),
		}
	}
	t, _, err := s.connectedTenant(ctx, tenantID, ActionList)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = DefaultListLimit
	}
	jobs, err := t.Jobs(ctx, limit)
	if jobs == nil {
		jobs = []store.Job{}
	}
	return jobs, err
}

// Cancel marks an active job cancelled. The window running now finishes;
// no later window runs.
func (s *Service) Cancel(ctx context.Context, tenantID, jobID, by string) (store.Job, error) {
	if by == "" {
		return store.Job{}, &FieldError{Field: "requestedBy", Message: "is missing", Fix: "set requestedBy to the email of the person cancelling"}
	}
	j, err := s.Status(ctx, tenantID, jobID)
	if err != nil {
		return store.Job{}, err
	}
	t, err := s.Store.Tenant(tenantID)
	if err != nil {
		return store.Job{}, err
	}
	cancelled, err := t.CancelJob(ctx, jobID, by, s.now())
	if errors.Is(err, store.ErrJobState) {
		return store.Job{}, &FieldError{Field: "jobId", Value: jobID, Message: "is already " + j.Status, Fix: "only queued, running or paused jobs can be cancelled"}
	}
	if err != nil {
		return store.Job{}, err
	}
	s.logger().InfoContext(ctx, "backfill cancelled", "tenant_id", tenantID, "job_id", jobID, "by", by)
	return cancelled, nil
}

// Active reports whether the job's windows may run: the job exists and is
// queued or running. The engine checks it before it starts a window, so
// windows of cancelled, failed or deleted jobs are dropped.
func (s *Service) Active(ctx context.Context, tenantID, jobID string) (bool, error) {
	t, err := s.Store.Tenant(tenantID)
	if err != nil {
		return false, err
	}
	j, err := t.GetJob(ctx, jobID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("backfill: read job %s of tenant %s: %w", jobID, tenantID, err)
	}
	return j.Status == store.JobQueued || j.Status == store.JobRunning, nil
}

// OnWindowDone records the outcome of a backfill window the engine ran and
// queues the job's next window. A window paused by the budget pauses the job
// until the next UTC day. A window that failed, or was dropped because the
// tenant's connection changed, fails the job. It ignores messages that are
// not backfill windows, jobs that no longer exist, and windows reported
// twice.
func (s *Service) OnWindowDone(ctx context.Context, tenantID string, msg queue.Message, sum store.RunSummary) error {
	if !msg.IsBackfill() || msg.JobID == "" {
		return nil
	}
	log := s.logger().With("tenant_id", tenantID, "job_id", msg.JobID, "window", msg.WindowIndex)
	t, err := s.Store.Tenant(tenantID)
	if err != nil {
		return err
	}
	j, err := t.GetJob(ctx, msg.JobID)
	if errors.Is(err, store.ErrNotFound) {
		log.WarnContext(ctx, "window finished for a job that does not exist")
		return nil
	}
	if err != nil {
		return fmt.Errorf("backfill: read job %s of tenant %s: %w", msg.JobID, tenantID, err)
	}
	requests := int64(0)
	for _, n := range sum.GongRequests {
		requests += n
	}
	now := s.now()
	switch {
	case strings.HasPrefix(sum.Error, pausedPrefix):
		j, err = t.PauseJob(ctx, j.JobID, msg.WindowIndex, requests, NextUTCDay(now), now)
		if err == nil {
			log.InfoContext(ctx, "backfill paused for the daily budget", "resume_at", j.ResumeAt)
		}
	case sum.Error != "":
		reason := sum.Error
		if !strings.HasPrefix(reason, droppedPrefix) {
			w := JobWindow(j, msg.WindowIndex)
			reason = fmt.Sprintf("window %d (%s to %s) failed: %s; start a backfill from %s to finish the range",
				msg.WindowIndex, w.From.Format(time.RFC3339), w.To.Format(time.RFC3339), sum.Error, w.From.Format(time.RFC3339))
		}
		_, err = t.FailJob(ctx, j.JobID, reason, requests, now)
		if err == nil {
			log.WarnContext(ctx, "backfill failed", "error", reason)
		}
	default:
		return s.recordWindow(ctx, t, j, msg.WindowIndex, sum, requests)
	}
	if errors.Is(err, store.ErrJobState) || errors.Is(err, store.ErrNotFound) {
		log.InfoContext(ctx, "window outcome ignored: the job moved on", "status", j.Status, "outcome", sum.Error)
		return nil
	}
	return err
}

// recordWindow adds a finished window to the job and queues the next one.
func (s *Service) recordWindow(ctx context.Context, t *store.Tenant, j store.Job, i int, sum store.RunSummary, requests int64) error {
	skipped := int64(0)
	for _, n := range sum.Skipped {
		skipped += int64(n)
	}
	done := i+1 >= j.WindowsTotal
	p := store.WindowProgress{
		Index: i, CallsSeen: int64(sum.CallsSeen), CallsIngested: int64(sum.Ingested), CallsUpdated: int64(sum.Updated),
		CallsSkipped: skipped, TranscriptsStored: int64(sum.TranscriptsStored), GongRequests: requests,
		Done: done, At: s.now(),
	}
	if !done {
		p.EstimatedSecondsLeft = s.secondsLeft(ctx, j, i+1, j.GongRequests+requests)
	}
	updated, err := t.RecordWindow(ctx, j.JobID, p)
	if errors.Is(err, store.ErrJobState) || errors.Is(err, store.ErrNotFound) {
		// A window reported twice, or a job cancelled meanwhile: its next
		// window is already queued or must not be.
		s.logger().InfoContext(ctx, "window not recorded: the job moved on", "tenant_id", t.ID(), "job_id", j.JobID, "window", i)
		return nil
	}
	if err != nil {
		return err
	}
	if done {
		s.logger().InfoContext(ctx, "backfill done", "tenant_id", t.ID(), "job_id", j.JobID,
			"calls_ingested", updated.CallsIngested, "gong_requests", updated.GongRequests)
		return nil
	}
	return s.sendWindow(ctx, updated, i+1)
}

// ResumeDue queues the next window of every paused job whose resume time has
// come, and again queues the next window of active jobs with no progress for
// StaleAfter. It returns how many windows it queued. The scheduler calls it
// on each run. A job whose tenant disconnected or reconnected since it was
// queued fails instead.
func (s *Service) ResumeDue(ctx context.Context) (int, error) {
	tenants, err := s.Store.TenantsWithStatus(ctx, store.StatusConnected)
	if err != nil {
		return 0, fmt.Errorf("backfill: list connected tenants: %w", err)
	}
	queued := 0
	var errs []error
	for _, id := range tenants {
		n, err := s.resumeTenant(ctx, id)
		queued += n
		if err != nil {
			s.logger().ErrorContext(ctx, "resume backfills", "tenant_id", id, "error", err)
			errs = append(errs, err)
		}
	}
	return queued, errors.Join(errs...)
}

func (s *Service) resumeTenant(ctx context.Context, tenantID string) (int, error) {
	t, err := s.Store.Tenant(tenantID)
	if err != nil {
		return 0, err
	}
	rec, err := t.GetTenant(ctx)
	if err != nil {
		return 0, fmt.Errorf("backfill: read tenant %s: %w", tenantID, err)
	}
	jobs, err := t.Jobs(ctx, 0)
	if err != nil {
		return 0, err
	}
	now := s.now()
	queued := 0
	var errs []error
	for _, j := range jobs {
		if !j.Active() {
			continue
		}
		due := j.Status == store.JobPaused && !now.Before(j.ResumeAt) && !now.Before(j.PausedAt.Add(DedupeWait))
		stale := j.Status != store.JobPaused && now.Sub(j.UpdatedAt) >= StaleAfter
		if !due && !stale {
			continue
		}
		if j.Epoch != rec.Epoch || !rec.Syncable() {
			if _, err := t.FailJob(ctx, j.JobID, droppedPrefix+" the tenant's Gong connection changed after the job was queued", 0, now); err != nil && !errors.Is(err, store.ErrJobState) {
				errs = append(errs, err)
			}
			continue
		}
		if due {
			j, err = t.ResumeJob(ctx, j.JobID, now)
		} else {
			j, err = t.TouchJob(ctx, j.JobID, now)
		}
		if errors.Is(err, store.ErrJobState) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.sendWindow(ctx, j, j.NextWindow); err != nil {
			errs = append(errs, err)
			continue
		}
		queued++
		s.logger().InfoContext(ctx, "backfill window queued again", "tenant_id", tenantID, "job_id", j.JobID,
			"window", j.NextWindow, "resumed", due, "stale", stale)
	}
	return queued, errors.Join(errs...)
}
