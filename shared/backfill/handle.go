package backfill

import (
	"context"
	"fmt"
	"time"

	"github.com/dealdesk/gongingest/shared/store"
)

// JobResult is the response to status and cancel.
type JobResult struct {
	Job store.Job `json:"job"`
}

// ListResult is the response to list.
type ListResult struct {
	TenantID string      `json:"tenantId"`
	Jobs     []store.Job `json:"jobs"`
}

// PurgeResult is the response to purge: the counts of items by kind that
// were (or, for a dry run, would be) deleted and kept.
type PurgeResult struct {
	TenantID string            `json:"tenantId"`
	DryRun   bool              `json:"dryRun,omitempty"`
	Counts   store.PurgeCounts `json:"counts"`
	// Connected is set when the tenant is connected: its scheduled syncs go
	// on and store new calls after the purge.
	Connected bool      `json:"connected"`
	PurgedBy  string    `json:"purgedBy,omitempty"`
	PurgedAt  time.Time `json:"purgedAt,omitzero"`
}

// Handle runs one request of the backfill function and returns the value to
// send back as JSON. A rejected request returns a *FieldError.
func (s *Service) Handle(ctx context.Context, req Request) (any, error) {
	switch req.Action {
	case ActionStart:
		return s.Start(ctx, req)
	case ActionStatus:
		id, err := jobIDOf(req)
		if err != nil {
			return nil, err
		}
		j, err := s.Status(ctx, req.TenantID, id)
		return JobResult{Job: j}, err
	case ActionCancel:
		if err := checkTextFields(req); err != nil {
			return nil, err
		}
		id, err := jobIDOf(req)
		if err != nil {
			return nil, err
		}
		j, err := s.Cancel(ctx, req.TenantID, id, req.RequestedBy)
		return JobResult{Job: j}, err
	case ActionList:
		jobs, err := s.List(ctx, req.TenantID, req.Limit)
		return ListResult{TenantID: req.TenantID, Jobs: jobs}, err
	case ActionPurge:
		return s.Purge(ctx, req)
	case "":
		return nil, &FieldError{Field: "action", Message: "is missing", Fix: "set action to start, status, cancel, list or purge"}
	default:
		return nil, &FieldError{Field: "action", Value: TruncateValue(req.Action), Message: "is not a known action", Fix: "use start, status, cancel, list or purge"}
	}
}

// Purge counts (dry run) or deletes the tenant's ingested data: calls,
// transcripts, skips, mappings, sync state and jobs; store.PurgeKeep lists
// what stays. Deleting needs requestedBy, a reason and "confirm" set to the
// tenant id. A connected tenant may be purged: its scheduled syncs go on
// from their look-back window, and its backfills stop at their next window
// because their jobs are deleted. Disconnect first to stop all ingestion.
func (s *Service) Purge(ctx context.Context, req Request) (PurgeResult, error) {
	if err := checkTextFields(req); err != nil {
		return PurgeResult{}, err
	}
	if req.RequestedBy == "" {
		return PurgeResult{}, &FieldError{Field: "requestedBy", Message: "is missing", Fix: "set requestedBy to the email of the person asking for the purge"}
	}
	t, rec, err := s.connectedTenant(ctx, req.TenantID, ActionPurge)
	if err != nil {
		return PurgeResult{}, err
	}
	res := PurgeResult{TenantID: t.ID(), DryRun: req.DryRun, Connected: rec.Syncable()}
	if req.DryRun {
		res.Counts, err = t.CountPurge(ctx)
		return res, err
	}
	if req.Reason == "" {
		return PurgeResult{}, &FieldError{Field: "reason", Message: "is missing", Fix: "set reason to why the data must go, such as a ticket number"}
	}
	if req.Confirm != req.TenantID {
		return PurgeResult{}, &FieldError{
			Field: "confirm", Value: TruncateValue(req.Confirm),
			Message: "does not match tenantId",
			Fix:     fmt.Sprintf("set \"confirm\": %q to delete the tenant's data, or set \"dryRun\": true to count it first", req.TenantID),
		}
	}
	res.Counts, err = t.Purge(ctx, req.RequestedBy, req.Reason)
	if err != nil {
		return res, err
	}
	res.PurgedBy, res.PurgedAt = req.RequestedBy, s.now()
	s.logger().InfoContext(ctx, "tenant purged", "tenant_id", t.ID(), "by", req.RequestedBy,
		"deleted", res.Counts.Deleted(), "connected", res.Connected)
	return res, nil
}
