package ingest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/store"
)

// failingDB fails one store write, chosen by failWrite, and passes every
// other request to the DynamoDB client it wraps.
type failingDB struct {
	store.API
	mu         sync.Mutex
	callWrites int // call item updates seen
	transcript int // transcript transactions seen
	failWrite  func(callWrites, transcripts int, sk string) bool
	failed     string // sort key of the write that failed
}

var errInjected = errors.New("injected write failure")

func (f *failingDB) fail(sk string, transcript bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if transcript {
		f.transcript++
	} else {
		f.callWrites++
	}
	if f.failed == "" && f.failWrite(f.callWrites, f.transcript, sk) {
		f.failed = sk
		return true
	}
	return false
}

func (f *failingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if sk := stringAttr(in.Key[store.AttrSK]); strings.HasPrefix(sk, store.CallSK("")) && f.fail(sk, false) {
		return nil, errInjected
	}
	return f.API.UpdateItem(ctx, in, opts...)
}

func (f *failingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put == nil {
			continue
		}
		if sk := stringAttr(it.Put.Item[store.AttrSK]); strings.HasPrefix(sk, "TRANSCRIPT#") && f.fail(sk, true) {
			return nil, errInjected
		}
		break
	}
	return f.API.TransactWriteItems(ctx, in, opts...)
}

func stringAttr(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// A failed write fails the run and leaves the watermark, whether the failure
// surfaces while the next page is read (a call write of page 1) or after the
// last page was read (a transcript write of page 3). Pages are written one at
// a time, so the 50th call write belongs to page 1 and the 201st transcript
// to page 3.
func TestWriteFailureFailsRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failWrite func(callWrites, transcripts int, sk string) bool
		// maxCalls bounds the calls stored: a failure on page 1 stops the
		// run before page 2 is written.
		maxCalls int
	}{
		{
			name:      "CallOnFirstPage",
			failWrite: func(callWrites, _ int, _ string) bool { return callWrites == 50 },
			maxCalls:  99,
		},
		{
			name:      "TranscriptOnLastPage",
			failWrite: func(_, transcripts int, _ string) bool { return transcripts == 201 },
			maxCalls:  250,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.addMany(250, 30*time.Minute)
			db := &failingDB{API: e.st.DB(), failWrite: tc.failWrite}
			st := store.New(db, e.st.Table())
			st.Now = e.clk.Now
			e.engine.Store = st

			sum, err := e.engine.Run(e.ctx, e.syncMessage())

			if db.failed == "" {
				t.Fatal("no write failed; the injection did not match any write")
			}
			if !errors.Is(err, errInjected) {
				t.Errorf("Run error = %v, want the injected failure", err)
			}
			if !strings.Contains(sum.Error, errInjected.Error()) {
				t.Errorf("summary error = %q, want the injected failure", sum.Error)
			}
			state := e.syncState()
			if !state.Watermark.IsZero() {
				t.Errorf("watermark = %s after a failed write, want unset", state.Watermark)
			}
			if !strings.Contains(state.LastError, errInjected.Error()) {
				t.Errorf("last error = %q, want the injected failure", state.LastError)
			}
			n, err := e.tenant.CallCount(e.ctx)
			if err != nil {
				t.Fatalf("CallCount: %v", err)
			}
			if n > tc.maxCalls {
				t.Errorf("stored calls = %d, want at most %d", n, tc.maxCalls)
			}
		})
	}
}
