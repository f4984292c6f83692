package ingest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// countingDB counts the DynamoDB requests the store sends, by kind, and
// passes each one to the client it wraps.
type countingDB struct {
	store.API
	mu             sync.Mutex
	batchGets      int
	callReads      int // GetItem of CALL# items
	counterUpdates int // UpdateItem that adds to the SYNC item's call counter
	skipDeletes    int // DeleteItem of SKIP# items
	deletes        int // every DeleteItem
}

func (c *countingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.mu.Lock()
	c.batchGets++
	c.mu.Unlock()
	return c.API.BatchGetItem(ctx, in, opts...)
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if strings.HasPrefix(stringAttr(in.Key[store.AttrSK]), store.CallSK("")) {
		c.mu.Lock()
		c.callReads++
		c.mu.Unlock()
	}
	return c.API.GetItem(ctx, in, opts...)
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if stringAttr(in.Key[store.AttrSK]) == "SYNC" && strings.HasPrefix(aws.ToString(in.UpdateExpression), "ADD ") {
		c.mu.Lock()
		c.counterUpdates++
		c.mu.Unlock()
	}
	return c.API.UpdateItem(ctx, in, opts...)
}

func (c *countingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.mu.Lock()
	c.deletes++
	if strings.HasPrefix(stringAttr(in.Key[store.AttrSK]), "SKIP#") {
		c.skipDeletes++
	}
	c.mu.Unlock()
	return c.API.DeleteItem(ctx, in, opts...)
}

// A backfill reads 150 stored calls, 10 of them changed in Gong, and 100 new
// calls. It sends one batch read per 50 calls and one counter update per
// page with new calls. It reads no call item before a transcript write, and
// it deletes a skip record only for the one new call that has one.
func TestPageStoreRequestsBatched(t *testing.T) {
	e := newEnv(t)
	old := e.addMany(150, 30*time.Minute) // started 180 to 31 minutes ago
	e.run(e.syncMessage())
	fresh := e.addMany(100, 200*time.Minute) // started 300 to 201 minutes ago
	for _, id := range old[:10] {
		// A different stored hash makes the next write see a change.
		_, err := e.st.DB().UpdateItem(e.ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(e.st.Table()),
			Key: map[string]types.AttributeValue{
				store.AttrPK: &types.AttributeValueMemberS{Value: e.tenant.PK()},
				store.AttrSK: &types.AttributeValueMemberS{Value: store.CallSK(id)},
			},
			UpdateExpression:          aws.String("SET gongHash = :h"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": &types.AttributeValueMemberS{Value: "stale"}},
		})
		if err != nil {
			t.Fatalf("UpdateItem gongHash of %s: %v", id, err)
		}
	}
	skipped := fresh[40]
	err := e.tenant.PutSkip(e.ctx, store.Skip{CallID: skipped, Reason: calls.SkipNoTenantUser, Started: start, SeenAt: start})
	if err != nil {
		t.Fatalf("PutSkip: %v", err)
	}
	db := &countingDB{API: e.st.DB()}
	st := store.New(db, e.st.Table())
	st.Now = e.clk.Now
	e.engine.Store = st

	sum := e.run(queue.Message{TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindBackfill, JobID: "job-1",
		From: start.Add(-6 * time.Hour), To: start})

	if sum.Ingested != 100 {
		t.Errorf("ingested = %d, want 100", sum.Ingested)
	}
	if sum.Updated != 10 {
		t.Errorf("updated = %d, want 10", sum.Updated)
	}
	n, err := e.tenant.CallCount(e.ctx)
	if err != nil {
		t.Fatalf("CallCount: %v", err)
	}
	if n != 250 {
		t.Errorf("call counter = %d, want 250", n)
	}
	// The 100 new calls are the oldest, so they fill the first page.
	if db.counterUpdates != 1 {
		t.Errorf("counter updates = %d, want 1 (one page with new calls)", db.counterUpdates)
	}
	if db.batchGets != 5 {
		t.Errorf("BatchGetItem requests = %d, want 5 (250 calls, 50 a request)", db.batchGets)
	}
	if db.callReads != 0 {
		t.Errorf("GetItem requests on call items = %d, want 0", db.callReads)
	}
	if db.skipDeletes != 1 {
		t.Errorf("skip deletes = %d, want 1 (only the call with a skip record)", db.skipDeletes)
	}
	if db.deletes != 1 {
		t.Errorf("DeleteItem requests = %d, want 1", db.deletes)
	}
	if _, err := e.tenant.GetSkip(e.ctx, skipped); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("skip record of the ingested call: err = %v, want ErrNotFound", err)
	}
	if sum.TranscriptsStored != 100 {
		t.Errorf("transcripts stored = %d, want 100", sum.TranscriptsStored)
	}
}
