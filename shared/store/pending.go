package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/calls"
)

// PendingTranscript is a call whose transcript Gong had not produced yet.
// Item: pk=TENANT#<t>, sk=PENDING#<callId>, attributes callId, started and
// firstMissingAt. The item exists exactly while the call's transcript status
// is pending, so listing pending calls is one small Query.
type PendingTranscript struct {
	CallID         string    `dynamodbav:"callId"`
	Started        time.Time `dynamodbav:"started"`
	FirstMissingAt time.Time `dynamodbav:"firstMissingAt"`
}

// batchGetLimit is DynamoDB's maximum number of keys in one BatchGetItem.
const batchGetLimit = 100

// SetTranscriptState records the transcript status of a stored call (pending,
// complete or none) and creates or deletes the call's PENDING item to match,
// in one transaction. For a pending state with a zero FirstMissingAt the
// stored time is kept, or the current time is used on the first miss. It
// fails with ErrNotFound when the call is not stored.
func (t *Tenant) SetTranscriptState(ctx context.Context, callID string, st calls.TranscriptState) error {
	if err := validateID("call id", callID); err != nil {
		return err
	}
	switch st.Status {
	case calls.TranscriptPending, calls.TranscriptComplete, calls.TranscriptNone:
	default:
		return fmt.Errorf("store: transcript status %q of call %s is invalid: use %q, %q or %q",
			st.Status, callID, calls.TranscriptPending, calls.TranscriptComplete, calls.TranscriptNone)
	}
	var current struct {
		Started    time.Time     `dynamodbav:"started"`
		Transcript *transcriptAV `dynamodbav:"transcript"`
		Chunks     int           `dynamodbav:"transcriptChunks"`
	}
	if err := t.getItemProjected(ctx, CallSK(callID), []string{"started", attrTranscript, attrTranscriptChunks}, &current); err != nil {
		return fmt.Errorf("store: set transcript state of call %s: %w", callID, err)
	}
	state := transcriptAV{
		Status:         st.Status,
		FirstMissingAt: st.FirstMissingAt.UTC(),
		StoredAt:       st.StoredAt.UTC(),
		Monologues:     st.Monologues,
		Sentences:      st.Sentences,
	}
	if st.Status == calls.TranscriptPending && st.FirstMissingAt.IsZero() {
		state.FirstMissingAt = t.s.Now().UTC()
		if current.Transcript != nil && !current.Transcript.FirstMissingAt.IsZero() {
			state.FirstMissingAt = current.Transcript.FirstMissingAt
		}
	}
	stateItem, err := t.transcriptStateUpdate(callID, state, current.Chunks, -1)
	if err != nil {
		return err
	}
	var pendingItem types.TransactWriteItem
	if st.Status == calls.TranscriptPending {
		av, err := marshalMap(PendingTranscript{CallID: callID, Started: current.Started, FirstMissingAt: state.FirstMissingAt})
		if err != nil {
			return fmt.Errorf("store: encode pending transcript of call %s: %w", callID, err)
		}
		for k, v := range t.key(skPending + callID) {
			av[k] = v
		}
		pendingItem.Put = &types.Put{TableName: aws.String(t.s.table), Item: av}
	} else {
		pendingItem.Delete = &types.Delete{TableName: aws.String(t.s.table), Key: t.key(skPending + callID)}
	}
	_, err = t.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{stateItem, pendingItem},
	})
	if err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("store: set transcript state of call %s of tenant %s: call %w", callID, t.id, ErrNotFound)
		}
		return fmt.Errorf("store: set transcript state of call %s of tenant %s: %w", callID, t.id, err)
	}
	return nil
}

// transcriptStateUpdate returns the transaction step that sets the call
// item's transcript map and chunk count, on condition that the call exists.
// When expectedChunks is 0 or more, the condition also requires the stored
// chunk count to equal it (a missing count equals 0).
func (t *Tenant) transcriptStateUpdate(callID string, state transcriptAV, chunks, expectedChunks int) (types.TransactWriteItem, error) {
	av, err := marshalMap(state)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("store: encode transcript state of call %s: %w", callID, err)
	}
	update := expression.Set(expression.Name(attrTranscript), expression.Value(&types.AttributeValueMemberM{Value: av})).
		Set(expression.Name(attrTranscriptChunks), expression.Value(chunks))
	cond := expression.AttributeExists(expression.Name("callId"))
	switch {
	case expectedChunks == 0:
		cond = cond.And(expression.Or(
			expression.AttributeNotExists(expression.Name(attrTranscriptChunks)),
			expression.Name(attrTranscriptChunks).Equal(expression.Value(0)),
		))
	case expectedChunks > 0:
		cond = cond.And(expression.Name(attrTranscriptChunks).Equal(expression.Value(expectedChunks)))
	}
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("store: build transcript state update: %w", err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(t.s.table),
		Key:                       t.key(CallSK(callID)),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// PendingTranscripts lists the tenant's calls whose transcript is pending,
// ordered by call id.
func (t *Tenant) PendingTranscripts(ctx context.Context) ([]PendingTranscript, error) {
	out, err := queryItems[PendingTranscript](ctx, t, skPending, "pending transcript")
	if err != nil {
		return nil, fmt.Errorf("store: list pending transcripts of tenant %s: %w", t.id, err)
	}
	return out, nil
}

// TranscriptStates returns the transcript state of each stored call among
// callIDs, read with BatchGetItem in groups of 100. Calls that are not stored,
// or stored without a transcript state yet, are absent from the map.
func (t *Tenant) TranscriptStates(ctx context.Context, callIDs []string) (map[string]calls.TranscriptState, error) {
	seen := make(map[string]bool, len(callIDs))
	var ids []string
	for _, id := range callIDs {
		if err := validateID("call id", id); err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	proj := expression.NamesList(expression.Name("callId"), expression.Name(attrTranscript))
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return nil, fmt.Errorf("store: build transcript state projection: %w", err)
	}
	out := make(map[string]calls.TranscriptState, len(ids))
	for start := 0; start < len(ids); start += batchGetLimit {
		keys := make([]map[string]types.AttributeValue, 0, batchGetLimit)
		for _, id := range ids[start:min(start+batchGetLimit, len(ids))] {
			keys = append(keys, t.key(CallSK(id)))
		}
		request := map[string]types.KeysAndAttributes{t.s.table: {
			Keys:                     keys,
			ProjectionExpression:     expr.Projection(),
			ExpressionAttributeNames: expr.Names(),
			ConsistentRead:           aws.Bool(true),
		}}
		if err := t.batchGet(ctx, request, func(item map[string]types.AttributeValue) error {
			var rec struct {
				CallID     string        `dynamodbav:"callId"`
				Transcript *transcriptAV `dynamodbav:"transcript"`
			}
			if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
				return fmt.Errorf("decode transcript state: %w", err)
			}
			if rec.Transcript != nil {
				out[rec.CallID] = rec.Transcript.state()
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("store: read transcript states of tenant %s: %w", t.id, err)
		}
	}
	return out, nil
}

// CallState is the stored state of one call id, as CallStates reads it.
type CallState struct {
	Stored bool // the CALL# item exists
	// Transcript is the call's transcript state, nil when the call is not
	// stored or has no state yet.
	Transcript *calls.TranscriptState
	// TranscriptChunks is the chunk count of the stored transcript, 0 when
	// none is stored. Pass it to PutTranscriptOver.
	TranscriptChunks int
	Skipped          bool // a SKIP# item exists
}

// CallStates reads, for each of callIDs, the call item's transcript state and
// chunk count and whether a skip record exists, with BatchGetItem: one
// request per 50 distinct ids, because each id takes two of the 100 keys.
// Every id is in the returned map.
func (t *Tenant) CallStates(ctx context.Context, callIDs []string) (map[string]CallState, error) {
	ids, err := distinctIDs(callIDs)
	if err != nil {
		return nil, err
	}
	names := []string{AttrSK, "callId", attrTranscript, attrTranscriptChunks}
	out := make(map[string]CallState, len(ids))
	for _, id := range ids {
		out[id] = CallState{}
	}
	per := batchGetLimit / 2
	for start := 0; start < len(ids); start += per {
		var sks []string
		for _, id := range ids[start:min(start+per, len(ids))] {
			sks = append(sks, CallSK(id), skSkip+id)
		}
		err := t.batchGetItems(ctx, sks, names, func(item map[string]types.AttributeValue) error {
			var rec struct {
				SK         string        `dynamodbav:"sk"`
				CallID     string        `dynamodbav:"callId"`
				Transcript *transcriptAV `dynamodbav:"transcript"`
				Chunks     int           `dynamodbav:"transcriptChunks"`
			}
			if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
				return fmt.Errorf("decode call state: %w", err)
			}
			if id, ok := strings.CutPrefix(rec.SK, skSkip); ok {
				st := out[id]
				st.Skipped = true
				out[id] = st
				return nil
			}
			id := strings.TrimPrefix(rec.SK, skCall)
			st := out[id]
			st.Stored = true
			st.TranscriptChunks = rec.Chunks
			if rec.Transcript != nil {
				state := rec.Transcript.state()
				st.Transcript = &state
			}
			out[id] = st
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: read call states of tenant %s: %w", t.id, err)
		}
	}
	return out, nil
}

// distinctIDs validates callIDs and returns them without repeats, in order.
func distinctIDs(callIDs []string) ([]string, error) {
	seen := make(map[string]bool, len(callIDs))
	var ids []string
	for _, id := range callIDs {
		if err := validateID("call id", id); err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// batchGetItems reads the projected attributes of the tenant's items sks, at
// most batchGetLimit of them, with one consistent BatchGetItem request and
// its retries. Missing items are left out.
func (t *Tenant) batchGetItems(ctx context.Context, sks []string, names []string, fn func(map[string]types.AttributeValue) error) error {
	proj := expression.NamesList(expression.Name(names[0]))
	for _, n := range names[1:] {
		proj = proj.AddNames(expression.Name(n))
	}
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return fmt.Errorf("build projection: %w", err)
	}
	keys := make([]map[string]types.AttributeValue, 0, len(sks))
	for _, sk := range sks {
		keys = append(keys, t.key(sk))
	}
	request := map[string]types.KeysAndAttributes{t.s.table: {
		Keys:                     keys,
		ProjectionExpression:     expr.Projection(),
		ExpressionAttributeNames: expr.Names(),
		ConsistentRead:           aws.Bool(true),
	}}
	return t.batchGet(ctx, request, fn)
}

// maxBatchAttempts bounds the retries of keys DynamoDB leaves unprocessed.
const maxBatchAttempts = 8

// batchGet runs one BatchGetItem request and retries its unprocessed keys
// with a growing pause, up to maxBatchAttempts requests.
func (t *Tenant) batchGet(ctx context.Context, request map[string]types.KeysAndAttributes, fn func(map[string]types.AttributeValue) error) error {
	pause := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := t.s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
		if err != nil {
			return err
		}
		for _, item := range res.Responses[t.s.table] {
			if err := fn(item); err != nil {
				return err
			}
		}
		if len(res.UnprocessedKeys) == 0 {
			return nil
		}
		if attempt == maxBatchAttempts {
			return fmt.Errorf("keys still unprocessed after %d attempts: the table is throttling, retry later", attempt)
		}
		request = res.UnprocessedKeys
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause *= 2
	}
}
