package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// SyncState is the tenant's item pk=TENANT#<t>, sk=SYNC: how far ingestion
// has read, the checkpoint of a run in progress, the last run's summary and
// error, and the stored-call counter (callCount, read with CallCount).
type SyncState struct {
	Watermark        time.Time   `dynamodbav:"watermark,omitempty"` // calls started before it are stored
	LastDeepAt       time.Time   `dynamodbav:"lastDeepAt,omitempty"`
	UsersRefreshedAt time.Time   `dynamodbav:"usersRefreshedAt,omitempty"`
	LastRunAt        time.Time   `dynamodbav:"lastRunAt,omitempty"`
	LastSuccessAt    time.Time   `dynamodbav:"lastSuccessAt,omitempty"`
	LastError        string      `dynamodbav:"lastError,omitempty"`
	LastErrorAt      time.Time   `dynamodbav:"lastErrorAt,omitempty"`
	LastSlot         string      `dynamodbav:"lastSlot,omitempty"`
	Checkpoint       *Checkpoint `dynamodbav:"checkpoint,omitempty"`
	LastRun          *RunSummary `dynamodbav:"lastRun,omitempty"`
}

// Checkpoint is the progress of a run that stopped before its deadline, so
// its continuation resumes instead of starting over.
type Checkpoint struct {
	RunID                string    `dynamodbav:"runId"`
	Kind                 string    `dynamodbav:"kind"`
	JobID                string    `dynamodbav:"jobId,omitempty"`
	From                 time.Time `dynamodbav:"from"`
	To                   time.Time `dynamodbav:"to"`
	DoneCallIDs          int       `dynamodbav:"doneCallIds"`
	ResumeFrom           time.Time `dynamodbav:"resumeFrom,omitempty"`
	PendingTranscriptIDs []string  `dynamodbav:"pendingTranscriptIds,omitempty"`
}

// RunSummary is the outcome of one ingestion run, logged and kept as the
// tenant's last run.
type RunSummary struct {
	RunID              string           `dynamodbav:"runId"`
	Kind               string           `dynamodbav:"kind"`
	JobID              string           `dynamodbav:"jobId,omitempty"`
	Started            time.Time        `dynamodbav:"started"`
	Finished           time.Time        `dynamodbav:"finished"`
	DurationMs         int64            `dynamodbav:"durationMs"`
	From               time.Time        `dynamodbav:"from,omitempty"`
	To                 time.Time        `dynamodbav:"to,omitempty"`
	CallsSeen          int              `dynamodbav:"callsSeen"`
	Ingested           int              `dynamodbav:"ingested"`
	Updated            int              `dynamodbav:"updated"`
	Skipped            map[string]int   `dynamodbav:"skipped,omitempty"`
	TranscriptsStored  int              `dynamodbav:"transcriptsStored"`
	TranscriptsPending int              `dynamodbav:"transcriptsPending"`
	TranscriptsNone    int              `dynamodbav:"transcriptsNone"`
	GongRequests       map[string]int64 `dynamodbav:"gongRequests,omitempty"`
	Error              string           `dynamodbav:"error,omitempty"`
}

// slotRetention is how long a claimed scheduler slot is remembered; a
// duplicate delivery of a schedule event arrives well within it.
const slotRetention = 7 * 24 * time.Hour

// sortableTime formats t in UTC with fixed-width nanoseconds, so string order
// is time order (RFC 3339 with trimmed fractions is not) and the value still
// parses as RFC 3339.
func sortableTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// GetSync returns the tenant's sync state; the zero value when none is stored.
func (t *Tenant) GetSync(ctx context.Context) (SyncState, error) {
	var st SyncState
	if err := t.getItem(ctx, skSync, &st); err != nil && !isNotFound(err) {
		return SyncState{}, err
	}
	return st, nil
}

// AdvanceWatermark moves the watermark to `to` unless it is already at or
// after it. The watermark never moves backwards, and an earlier `to` is not
// an error.
func (t *Tenant) AdvanceWatermark(ctx context.Context, to time.Time) error {
	if to.IsZero() {
		return fmt.Errorf("store: watermark of tenant %s: zero time: pass the end of the window just written", t.id)
	}
	value := sortableTime(to)
	update := expression.Set(expression.Name("watermark"), expression.Value(value))
	cond := expression.AttributeNotExists(expression.Name("watermark")).
		Or(expression.Name("watermark").LessThan(expression.Value(value)))
	if _, err := t.update(ctx, skSync, update, &cond, types.ReturnValueNone); err != nil {
		if isConditionFailed(err) {
			return nil
		}
		return fmt.Errorf("store: advance watermark of tenant %s to %s: %w", t.id, value, err)
	}
	return nil
}

// SaveCheckpoint stores the progress of the run in progress, replacing any
// earlier checkpoint.
func (t *Tenant) SaveCheckpoint(ctx context.Context, cp *Checkpoint) error {
	if cp == nil {
		return fmt.Errorf("store: checkpoint of tenant %s is nil: use ClearCheckpoint to remove it", t.id)
	}
	return t.setSyncMap(ctx, "checkpoint", cp, nil)
}

// ClearCheckpoint removes the checkpoint; a missing one is not an error.
func (t *Tenant) ClearCheckpoint(ctx context.Context) error {
	update := expression.Remove(expression.Name("checkpoint"))
	if _, err := t.update(ctx, skSync, update, nil, types.ReturnValueNone); err != nil {
		return fmt.Errorf("store: clear checkpoint of tenant %s: %w", t.id, err)
	}
	return nil
}

// RecordRun stores the run's summary as the last run and sets lastRunAt to
// its finish time, plus lastSuccessAt when the run has no error. It leaves
// lastError alone: RecordError sets that.
func (t *Tenant) RecordRun(ctx context.Context, sum RunSummary) error {
	finished := sum.Finished.UTC()
	if finished.IsZero() {
		finished = t.s.Now().UTC()
	}
	extra := expression.Set(expression.Name("lastRunAt"), expression.Value(finished))
	if sum.Error == "" {
		extra = extra.Set(expression.Name("lastSuccessAt"), expression.Value(finished))
	}
	return t.setSyncMap(ctx, "lastRun", sum, &extra)
}

// RecordError stores the tenant's latest sync error with the current time.
func (t *Tenant) RecordError(ctx context.Context, msg string) error {
	update := expression.Set(expression.Name("lastError"), expression.Value(msg)).
		Set(expression.Name("lastErrorAt"), expression.Value(t.s.Now().UTC()))
	if _, err := t.update(ctx, skSync, update, nil, types.ReturnValueNone); err != nil {
		return fmt.Errorf("store: record error of tenant %s: %w", t.id, err)
	}
	return nil
}

// MarkDeepRead records the time of the last deep re-read of older calls.
func (t *Tenant) MarkDeepRead(ctx context.Context, at time.Time) error {
	return t.setSyncTime(ctx, "lastDeepAt", at)
}

// MarkUsersRefreshed records the time the Gong user list was last read.
func (t *Tenant) MarkUsersRefreshed(ctx context.Context, at time.Time) error {
	return t.setSyncTime(ctx, "usersRefreshedAt", at)
}

// ClaimSlot reports whether this is the first claim of the scheduler slot for
// the tenant, so a schedule event delivered twice syncs the tenant once. Each
// claim is an item pk=TENANT#<t>, sk=SLOT#<slot> created on condition that it
// does not exist, and deleted by TTL after 7 days. The slot is any string
// without '#', such as the schedule event's time.
func (t *Tenant) ClaimSlot(ctx context.Context, slot string) (bool, error) {
	if err := validateID("slot", slot); err != nil {
		return false, err
	}
	now := t.s.Now().UTC()
	item := t.key(skSlot + slot)
	item["claimedAt"] = &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)}
	item[AttrTTL] = &types.AttributeValueMemberN{Value: fmt.Sprint(now.Add(slotRetention).Unix())}
	claimed, err := t.putItemIf(ctx, item, expression.AttributeNotExists(expression.Name(AttrPK)))
	if err != nil {
		return false, fmt.Errorf("store: claim slot %s of tenant %s: %w", slot, t.id, err)
	}
	if !claimed {
		return false, nil
	}
	update := expression.Set(expression.Name("lastSlot"), expression.Value(slot))
	if _, err := t.update(ctx, skSync, update, nil, types.ReturnValueNone); err != nil {
		return true, fmt.Errorf("store: record slot %s of tenant %s: %w", slot, t.id, err)
	}
	return true, nil
}

func (t *Tenant) setSyncTime(ctx context.Context, attr string, at time.Time) error {
	update := expression.Set(expression.Name(attr), expression.Value(at.UTC()))
	if _, err := t.update(ctx, skSync, update, nil, types.ReturnValueNone); err != nil {
		return fmt.Errorf("store: set %s of tenant %s: %w", attr, t.id, err)
	}
	return nil
}

// setSyncMap stores v as the map attribute attr of the SYNC item, with the
// optional extra SET actions in the same update.
func (t *Tenant) setSyncMap(ctx context.Context, attr string, v any, extra *expression.UpdateBuilder) error {
	av, err := marshalMap(v)
	if err != nil {
		return fmt.Errorf("store: encode %s of tenant %s: %w", attr, t.id, err)
	}
	update := expression.Set(expression.Name(attr), expression.Value(&types.AttributeValueMemberM{Value: av}))
	if extra != nil {
		update = *extra
		update = update.Set(expression.Name(attr), expression.Value(&types.AttributeValueMemberM{Value: av}))
	}
	if _, err := t.update(ctx, skSync, update, nil, types.ReturnValueNone); err != nil {
		return fmt.Errorf("store: save %s of tenant %s: %w", attr, t.id, err)
	}
	return nil
}
