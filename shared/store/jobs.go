package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Sort key prefixes of backfill items.
const (
	skJob          = "JOB#"    // + job id: one backfill job and its progress
	skUserBackfill = "USERBF#" // + product user id: the user's history was backfilled or is covered
)

// Backfill job status values. Queued, running and paused jobs are active:
// their windows may still run.
const (
	JobQueued    = "queued"    // created; the first window is in the queue
	JobRunning   = "running"   // at least one window finished, more follow
	JobPaused    = "paused"    // the daily request budget ran out; resumes at ResumeAt
	JobDone      = "done"      // every window finished
	JobCancelled = "cancelled" // support cancelled it; no further window runs
	JobFailed    = "failed"    // a window failed or the tenant's connection changed
)

// Backfill job types: why the job exists.
const (
	JobTypeInitial = "initial" // queued when the organization connected Gong
	JobTypeSupport = "support" // queued by support through the backfill function
	JobTypeUsers   = "users"   // queued for users who joined the organization
)

// ErrJobState is returned when a job update's condition fails: the job is
// not in a status that allows the change, or the window is not the job's
// next window.
var ErrJobState = errors.New("store: job is not in the required state")

// Job is a backfill job, item sk JOB#<job id>. Its range [From, To) is split
// into windows of WindowDays UTC days, as the backfill package describes. The
// windows run one after another, and NextWindow is the index of the next.
type Job struct {
	JobID    string `dynamodbav:"jobId" json:"jobId"`
	TenantID string `dynamodbav:"tenantId" json:"tenantId"`
	Type     string `dynamodbav:"type" json:"type"`
	// Kind is the queue message kind of the job's windows: backfill or
	// user_backfill.
	Kind       string    `dynamodbav:"kind" json:"kind"`
	Epoch      int64     `dynamodbav:"epoch" json:"epoch"`
	From       time.Time `dynamodbav:"from" json:"from,omitzero"`
	To         time.Time `dynamodbav:"to" json:"to,omitzero"`
	WindowDays int       `dynamodbav:"windowDays" json:"windowDays"`
	// Emails limits the job to calls with these participants; empty means
	// all of the organization's calls.
	Emails      []string `dynamodbav:"emails,omitempty" json:"emails,omitempty"`
	UserIDs     []string `dynamodbav:"userIds,omitempty" json:"userIds,omitempty"`
	RequestedBy string   `dynamodbav:"requestedBy" json:"requestedBy"`
	Reason      string   `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	Status      string   `dynamodbav:"status" json:"status"`

	WindowsTotal      int   `dynamodbav:"windowsTotal" json:"windowsTotal"`
	WindowsDone       int   `dynamodbav:"windowsDone" json:"windowsDone"`
	NextWindow        int   `dynamodbav:"nextWindow" json:"nextWindow"`
	CallsSeen         int64 `dynamodbav:"callsSeen" json:"callsSeen"`
	CallsIngested     int64 `dynamodbav:"callsIngested" json:"callsIngested"`
	CallsUpdated      int64 `dynamodbav:"callsUpdated" json:"callsUpdated"`
	CallsSkipped      int64 `dynamodbav:"callsSkipped" json:"callsSkipped"`
	TranscriptsStored int64 `dynamodbav:"transcriptsStored" json:"transcriptsStored"`
	GongRequests      int64 `dynamodbav:"gongRequests" json:"gongRequests"`

	// Estimates made when the job was created, and the time left as of
	// UpdatedAt (including waits for the daily budget).
	EstimatedCalls       int64 `dynamodbav:"estimatedCalls" json:"estimatedCalls"`
	EstimatedRequests    int64 `dynamodbav:"estimatedRequests" json:"estimatedRequests"`
	EstimatedSecondsLeft int64 `dynamodbav:"estimatedSecondsLeft" json:"estimatedSecondsLeft"`

	CreatedAt   time.Time `dynamodbav:"createdAt" json:"createdAt,omitzero"`
	UpdatedAt   time.Time `dynamodbav:"updatedAt" json:"updatedAt,omitzero"`
	FinishedAt  time.Time `dynamodbav:"finishedAt,omitempty" json:"finishedAt,omitzero"`
	PausedAt    time.Time `dynamodbav:"pausedAt,omitempty" json:"pausedAt,omitzero"`
	ResumeAt    time.Time `dynamodbav:"resumeAt,omitempty" json:"resumeAt,omitzero"`
	Resumes     int       `dynamodbav:"resumes" json:"resumes"`
	LastError   string    `dynamodbav:"lastError,omitempty" json:"lastError,omitempty"`
	CancelledBy string    `dynamodbav:"cancelledBy,omitempty" json:"cancelledBy,omitempty"`
}

// Active reports whether the job's windows may still run.
func (j Job) Active() bool {
	return j.Status == JobQueued || j.Status == JobRunning || j.Status == JobPaused
}

type jobItem struct {
	PK string `dynamodbav:"pk" json:"pk"`
	SK string `dynamodbav:"sk" json:"sk"`
	Job
}

// CreateJob stores a new job. It fails rather than overwrite a job with the
// same id.
func (t *Tenant) CreateJob(ctx context.Context, j Job) error {
	if j.JobID == "" {
		return fmt.Errorf("store: job for tenant %s has no id: generate one before storing it", t.id)
	}
	j.TenantID = t.id
	item, err := attributevalue.MarshalMap(jobItem{PK: t.pk, SK: skJob + j.JobID, Job: j})
	if err != nil {
		return fmt.Errorf("store: encode job %s of tenant %s: %w", j.JobID, t.id, err)
	}
	created, err := t.putItemIf(ctx, item, expression.AttributeNotExists(expression.Name(AttrPK)))
	if err != nil {
		return fmt.Errorf("store: put job %s of tenant %s: %w", j.JobID, t.id, err)
	}
	if !created {
		return fmt.Errorf("store: job %s of tenant %s already exists", j.JobID, t.id)
	}
	return nil
}

// GetJob returns the job, or ErrNotFound.
func (t *Tenant) GetJob(ctx context.Context, jobID string) (Job, error) {
	var j Job
	err := t.getItem(ctx, skJob+jobID, &j)
	return j, err
}

// Jobs returns up to limit of the tenant's jobs, newest first (job ids begin
// with their creation time). A limit of 0 or less returns all of them.
func (t *Tenant) Jobs(ctx context.Context, limit int) ([]Job, error) {
	var jobs []Job
	err := t.queryPages(ctx, itemQuery{prefix: skJob, reverse: true}, func(items []map[string]types.AttributeValue) (bool, error) {
		for _, item := range items {
			var j Job
			if err := attributevalue.UnmarshalMap(item, &j); err != nil {
				return false, fmt.Errorf("decode job: %w", err)
			}
			jobs = append(jobs, j)
			if limit > 0 && len(jobs) >= limit {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list jobs of tenant %s: %w", t.id, err)
	}
	return jobs, nil
}

// WindowProgress is the counts one finished window adds to its job.
type WindowProgress struct {
	Index             int
	CallsSeen         int64
	CallsIngested     int64
	CallsUpdated      int64
	CallsSkipped      int64
	TranscriptsStored int64
	GongRequests      int64
	// Done marks the job's last window: the job becomes done.
	Done bool
	// EstimatedSecondsLeft replaces the job's estimate.
	EstimatedSecondsLeft int64
	At                   time.Time
}

// RecordWindow adds a finished window's counts to the job and moves
// NextWindow past it. The update applies only when the job is queued or
// running and p.Index is its next window, so a window reported twice counts
// once. Otherwise it returns ErrJobState. It returns the updated job.
func (t *Tenant) RecordWindow(ctx context.Context, jobID string, p WindowProgress) (Job, error) {
	status := JobRunning
	if p.Done {
		status = JobDone
	}
	update := expression.Set(expression.Name("status"), expression.Value(status)).
		Set(expression.Name("nextWindow"), expression.Value(p.Index+1)).
		Set(expression.Name("windowsDone"), expression.Value(p.Index+1)).
		Set(expression.Name("updatedAt"), expression.Value(p.At.UTC())).
		Set(expression.Name("estimatedSecondsLeft"), expression.Value(p.EstimatedSecondsLeft)).
		Add(expression.Name("callsSeen"), expression.Value(p.CallsSeen)).
		Add(expression.Name("callsIngested"), expression.Value(p.CallsIngested)).
		Add(expression.Name("callsUpdated"), expression.Value(p.CallsUpdated)).
		Add(expression.Name("callsSkipped"), expression.Value(p.CallsSkipped)).
		Add(expression.Name("transcriptsStored"), expression.Value(p.TranscriptsStored)).
		Add(expression.Name("gongRequests"), expression.Value(p.GongRequests))
	if p.Done {
		update = update.Set(expression.Name("finishedAt"), expression.Value(p.At.UTC()))
	}
	cond := jobStatusIn(JobQueued, JobRunning).And(expression.Name("nextWindow").Equal(expression.Value(p.Index)))
	return t.updateJob(ctx, jobID, "record window", update, cond)
}

// PauseJob marks the job paused at its window index until resumeAt, adding
// the requests the interrupted window used. The window stays the job's next
// window, so resuming runs it again from the engine's checkpoint.
func (t *Tenant) PauseJob(ctx context.Context, jobID string, index int, requests int64, resumeAt, at time.Time) (Job, error) {
	update := expression.Set(expression.Name("status"), expression.Value(JobPaused)).
		Set(expression.Name("pausedAt"), expression.Value(at.UTC())).
		Set(expression.Name("resumeAt"), expression.Value(resumeAt.UTC())).
		Set(expression.Name("updatedAt"), expression.Value(at.UTC())).
		Add(expression.Name("gongRequests"), expression.Value(requests))
	cond := jobStatusIn(JobQueued, JobRunning).And(expression.Name("nextWindow").Equal(expression.Value(index)))
	return t.updateJob(ctx, jobID, "pause", update, cond)
}

// ResumeJob moves a paused job back to running and counts the resume. The
// caller queues the job's next window.
func (t *Tenant) ResumeJob(ctx context.Context, jobID string, at time.Time) (Job, error) {
	update := expression.Set(expression.Name("status"), expression.Value(JobRunning)).
		Set(expression.Name("updatedAt"), expression.Value(at.UTC())).
		Remove(expression.Name("resumeAt")).
		Add(expression.Name("resumes"), expression.Value(1))
	return t.updateJob(ctx, jobID, "resume", update, jobStatusIn(JobPaused))
}

// TouchJob sets the job's UpdatedAt while it is queued or running, when its
// next window is queued again without progress.
func (t *Tenant) TouchJob(ctx context.Context, jobID string, at time.Time) (Job, error) {
	update := expression.Set(expression.Name("updatedAt"), expression.Value(at.UTC()))
	return t.updateJob(ctx, jobID, "touch", update, jobStatusIn(JobQueued, JobRunning))
}

// CancelJob marks an active job cancelled by the named person.
func (t *Tenant) CancelJob(ctx context.Context, jobID, by string, at time.Time) (Job, error) {
	update := expression.Set(expression.Name("status"), expression.Value(JobCancelled)).
		Set(expression.Name("cancelledBy"), expression.Value(by)).
		Set(expression.Name("updatedAt"), expression.Value(at.UTC())).
		Set(expression.Name("finishedAt"), expression.Value(at.UTC())).
		Set(expression.Name("estimatedSecondsLeft"), expression.Value(0)).
		Remove(expression.Name("resumeAt"))
	return t.updateJob(ctx, jobID, "cancel", update, jobStatusIn(JobQueued, JobRunning, JobPaused))
}

// FailJob marks an active job failed with the reason, adding the requests
// the failed window used.
func (t *Tenant) FailJob(ctx context.Context, jobID, reason string, requests int64, at time.Time) (Job, error) {
	update := expression.Set(expression.Name("status"), expression.Value(JobFailed)).
		Set(expression.Name("lastError"), expression.Value(reason)).
		Set(expression.Name("updatedAt"), expression.Value(at.UTC())).
		Set(expression.Name("finishedAt"), expression.Value(at.UTC())).
		Set(expression.Name("estimatedSecondsLeft"), expression.Value(0)).
		Remove(expression.Name("resumeAt")).
		Add(expression.Name("gongRequests"), expression.Value(requests))
	return t.updateJob(ctx, jobID, "fail", update, jobStatusIn(JobQueued, JobRunning, JobPaused))
}

// updateJob applies a conditional update to an existing job and returns the
// job as updated. A failed condition returns ErrJobState, a missing job
// ErrNotFound.
func (t *Tenant) updateJob(ctx context.Context, jobID, what string, update expression.UpdateBuilder, cond expression.ConditionBuilder) (Job, error) {
	cond = expression.AttributeExists(expression.Name(AttrPK)).And(cond)
	out, err := t.update(ctx, skJob+jobID, update, &cond, types.ReturnValueAllNew)
	if isConditionFailed(err) {
		if _, getErr := t.GetJob(ctx, jobID); errors.Is(getErr, ErrNotFound) {
			return Job{}, fmt.Errorf("store: %s job %s of tenant %s: %w", what, jobID, t.id, ErrNotFound)
		}
		return Job{}, fmt.Errorf("store: %s job %s of tenant %s: %w", what, jobID, t.id, ErrJobState)
	}
	if err != nil {
		return Job{}, fmt.Errorf("store: %s job %s of tenant %s: %w", what, jobID, t.id, err)
	}
	var j Job
	if err := attributevalue.UnmarshalMap(out.Attributes, &j); err != nil {
		return Job{}, fmt.Errorf("store: decode job %s of tenant %s: %w", jobID, t.id, err)
	}
	return j, nil
}

func jobStatusIn(statuses ...string) expression.ConditionBuilder {
	ops := make([]expression.OperandBuilder, 0, len(statuses)-1)
	for _, s := range statuses[1:] {
		ops = append(ops, expression.Value(s))
	}
	return expression.Name("status").In(expression.Value(statuses[0]), ops...)
}

// UserBackfill is the marker item sk USERBF#<user id>: the user's history
// was queued for backfill (Status queued, JobID set) or is covered by the
// organization's initial backfill (Status covered). A user with a marker is
// never backfilled again.
type UserBackfill struct {
	UserID string    `dynamodbav:"userId" json:"userId"`
	Email  string    `dynamodbav:"email" json:"email"`
	Status string    `dynamodbav:"status" json:"status"`
	JobID  string    `dynamodbav:"jobId,omitempty" json:"jobId,omitempty"`
	At     time.Time `dynamodbav:"at" json:"at,omitzero"`
}

// UserBackfill marker status values.
const (
	UserBackfillQueued  = "queued"
	UserBackfillCovered = "covered"
)

type userBackfillItem struct {
	PK string `dynamodbav:"pk" json:"pk"`
	SK string `dynamodbav:"sk" json:"sk"`
	UserBackfill
}

// ClaimUserBackfill stores the user's marker unless one exists, and reports
// whether it did, so two concurrent runs queue a user once.
func (t *Tenant) ClaimUserBackfill(ctx context.Context, m UserBackfill) (bool, error) {
	if m.UserID == "" {
		return false, fmt.Errorf("store: user backfill marker for tenant %s has no user id", t.id)
	}
	item, err := attributevalue.MarshalMap(userBackfillItem{PK: t.pk, SK: skUserBackfill + m.UserID, UserBackfill: m})
	if err != nil {
		return false, fmt.Errorf("store: encode user backfill marker %s of tenant %s: %w", m.UserID, t.id, err)
	}
	claimed, err := t.putItemIf(ctx, item, expression.AttributeNotExists(expression.Name(AttrPK)))
	if err != nil {
		return false, fmt.Errorf("store: put user backfill marker %s of tenant %s: %w", m.UserID, t.id, err)
	}
	return claimed, nil
}

// UserBackfills returns the tenant's user backfill markers by user id.
func (t *Tenant) UserBackfills(ctx context.Context) (map[string]UserBackfill, error) {
	out := make(map[string]UserBackfill)
	markers, err := queryItems[UserBackfill](ctx, t, skUserBackfill, "user backfill marker")
	if err != nil {
		return nil, fmt.Errorf("store: list user backfill markers of tenant %s: %w", t.id, err)
	}
	for _, m := range markers {
		out[m.UserID] = m
	}
	return out, nil
}

// DeleteUserBackfill removes the user's marker, so a later run queues the
// user again.
func (t *Tenant) DeleteUserBackfill(ctx context.Context, userID string) error {
	_, err := t.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(t.s.table),
		Key:       t.key(skUserBackfill + userID),
	})
	if err != nil {
		return fmt.Errorf("store: delete user backfill marker %s of tenant %s: %w", userID, t.id, err)
	}
	return nil
}
