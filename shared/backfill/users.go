package backfill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dealdesk/gongingest/shared/store"
)

// UsersPerJob is the most users one per-user backfill job covers. Users who
// join together share a job, because every job pages through all of the
// organization's calls of its range whoever it is for, so one job for ten
// new users costs about the list requests of one job for one.
const UsersPerJob = 50

// QueueNewUsers queues a backfill of the last USER_BACKFILL_DAYS days for the
// tenant's active users that have no backfill marker yet, and returns how
// many users it queued. A user's marker is written before the job, so each
// user is queued once even when two runs overlap.
//
// Users who joined no later than the creation of the tenant's initial
// backfill are covered by it, because its windows keep every call with any
// of the organization's users at the time they run. These users get a
// "covered" marker and no job. That includes a user stored at the same
// instant, as a local run with a fixed clock does, whose job would read the
// whole range again. Users who joined later get a job scoped to their
// emails. The engine skips calls already stored with a complete transcript,
// so the job fetches only what is missing.
// A tenant that is not connected is skipped.
func (s *Service) QueueNewUsers(ctx context.Context, tenantID string) (int, error) {
	t, err := s.Store.Tenant(tenantID)
	if err != nil {
		return 0, err
	}
	rec, err := t.GetTenant(ctx)
	if err != nil {
		return 0, fmt.Errorf("backfill: read tenant %s: %w", tenantID, err)
	}
	if !rec.Syncable() {
		return 0, nil
	}
	pending, err := s.usersToBackfill(ctx, t)
	if err != nil {
		return 0, err
	}
	queued := 0
	for start := 0; start < len(pending); start += UsersPerJob {
		n, err := s.queueUsers(ctx, t, rec, pending[start:min(start+UsersPerJob, len(pending))])
		queued += n
		if err != nil {
			return queued, err
		}
	}
	return queued, nil
}

// usersToBackfill returns the active users without a marker who joined
// after the initial backfill began, and marks those who joined before or at
// its start covered.
func (s *Service) usersToBackfill(ctx context.Context, t *store.Tenant) ([]store.User, error) {
	users, err := t.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("backfill: read users of tenant %s: %w", t.ID(), err)
	}
	markers, err := t.UserBackfills(ctx)
	if err != nil {
		return nil, err
	}
	initialStart, err := initialBackfillStart(ctx, t)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var pending []store.User
	for _, u := range users {
		if _, done := markers[u.UserID]; done || !u.Active || u.Email == "" {
			continue
		}
		if !initialStart.IsZero() && !u.JoinedAt.After(initialStart) {
			m := store.UserBackfill{UserID: u.UserID, Email: strings.ToLower(u.Email), Status: store.UserBackfillCovered, At: now}
			if _, err := t.ClaimUserBackfill(ctx, m); err != nil {
				return nil, err
			}
			continue
		}
		pending = append(pending, u)
	}
	return pending, nil
}

// initialBackfillStart returns when the tenant's latest initial backfill
// that did not fail or get cancelled was created; zero when there is none.
func initialBackfillStart(ctx context.Context, t *store.Tenant) (time.Time, error) {
	jobs, err := t.Jobs(ctx, 0)
	if err != nil {
		return time.Time{}, err
	}
	var start time.Time
	for _, j := range jobs {
		if j.Type == store.JobTypeInitial && j.Status != store.JobFailed && j.Status != store.JobCancelled && j.CreatedAt.After(start) {
			start = j.CreatedAt
		}
	}
	return start, nil
}

// queueUsers claims the users' markers and queues one job for those it
// claimed. When the job cannot be queued the markers are removed again, so
// the next run retries.
func (s *Service) queueUsers(ctx context.Context, t *store.Tenant, rec store.TenantRecord, users []store.User) (int, error) {
	now := s.now()
	jobID, err := newJobID(now)
	if err != nil {
		return 0, err
	}
	var emails, ids []string
	for _, u := range users {
		email := strings.ToLower(u.Email)
		m := store.UserBackfill{UserID: u.UserID, Email: email, Status: store.UserBackfillQueued, JobID: jobID, At: now}
		ok, err := t.ClaimUserBackfill(ctx, m)
		if err != nil {
			return 0, errors.Join(err, s.releaseUsers(ctx, t, ids))
		}
		if ok {
			emails = append(emails, email)
			ids = append(ids, u.UserID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	to := now.Truncate(time.Second)
	from := to.Add(-time.Duration(s.Config.UserDays) * day)
	est, err := s.estimate(ctx, t, rec, from, to, emails)
	if err == nil {
		_, err = s.createJob(ctx, t, rec.Epoch, est, newJob{
			ID: jobID, Type: store.JobTypeUsers, From: from, To: to, Emails: emails, UserIDs: ids,
			RequestedBy: "product", Reason: fmt.Sprintf("%d user(s) joined the organization", len(ids)),
		})
	}
	if err != nil {
		return 0, errors.Join(err, s.releaseUsers(ctx, t, ids))
	}
	return len(ids), nil
}

func (s *Service) releaseUsers(ctx context.Context, t *store.Tenant, userIDs []string) error {
	var errs []error
	for _, id := range userIDs {
		if err := t.DeleteUserBackfill(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
