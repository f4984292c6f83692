package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Skip records a call the product read from Gong and did not ingest, with the
// reason (one of the calls.Skip* values). Item: pk=TENANT#<t>,
// sk=SKIP#<callId>, with the attributes in the dynamodbav tags. JobID is set
// when a backfill job saw the call.
type Skip struct {
	CallID  string    `dynamodbav:"callId"`
	Reason  string    `dynamodbav:"reason"`
	Title   string    `dynamodbav:"title,omitempty"`
	Detail  string    `dynamodbav:"detail,omitempty"`
	Started time.Time `dynamodbav:"started"`
	SeenAt  time.Time `dynamodbav:"seenAt"`
	JobID   string    `dynamodbav:"jobId,omitempty"`
}

// PutSkip creates or replaces the skip record of a call.
func (t *Tenant) PutSkip(ctx context.Context, s Skip) error {
	if err := validateID("call id", s.CallID); err != nil {
		return err
	}
	if s.Reason == "" {
		return fmt.Errorf("store: skip of call %s has no reason: pass one of the calls.Skip values", s.CallID)
	}
	s.Started, s.SeenAt = s.Started.UTC(), s.SeenAt.UTC()
	item, err := marshalMap(s)
	if err != nil {
		return fmt.Errorf("store: encode skip of call %s: %w", s.CallID, err)
	}
	for k, v := range t.key(skSkip + s.CallID) {
		item[k] = v
	}
	if _, err := t.s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.s.table), Item: item}); err != nil {
		return fmt.Errorf("store: put skip of call %s of tenant %s: %w", s.CallID, t.id, err)
	}
	return nil
}

// GetSkip returns the skip record of a call, or ErrNotFound.
func (t *Tenant) GetSkip(ctx context.Context, callID string) (Skip, error) {
	if err := validateID("call id", callID); err != nil {
		return Skip{}, err
	}
	var s Skip
	err := t.getItem(ctx, skSkip+callID, &s)
	return s, err
}

// DeleteSkip removes the skip record of a call; a missing record is not an
// error.
func (t *Tenant) DeleteSkip(ctx context.Context, callID string) error {
	if err := validateID("call id", callID); err != nil {
		return err
	}
	if err := t.deleteItem(ctx, skSkip+callID); err != nil {
		return fmt.Errorf("store: delete skip of call %s of tenant %s: %w", callID, t.id, err)
	}
	return nil
}
