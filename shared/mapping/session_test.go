package mapping_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/store"
)

// countingDB counts the deal lookups (Query by DEALKEY# prefix), deal item
// reads (DEAL# keys in BatchGetItem) and UpdateItem requests the store
// sends, and passes each request to the client it wraps.
type countingDB struct {
	store.API
	mu        sync.Mutex
	lookups   map[string]int // by DEALKEY#<kind>#<value># prefix
	dealReads map[string]int // by DEAL#<dealId> sort key
	updates   int
}

func newCountingDB(db store.API) *countingDB {
	return &countingDB{API: db, lookups: map[string]int{}, dealReads: map[string]int{}}
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.mu.Lock()
	for _, v := range in.ExpressionAttributeValues {
		if s, ok := v.(*types.AttributeValueMemberS); ok && strings.HasPrefix(s.Value, "DEALKEY#") {
			c.lookups[s.Value]++
		}
	}
	c.mu.Unlock()
	return c.API.Query(ctx, in, opts...)
}

func (c *countingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.mu.Lock()
	for _, ka := range in.RequestItems {
		for _, key := range ka.Keys {
			if s, ok := key[store.AttrSK].(*types.AttributeValueMemberS); ok && strings.HasPrefix(s.Value, "DEAL#") {
				c.dealReads[s.Value]++
			}
		}
	}
	c.mu.Unlock()
	return c.API.BatchGetItem(ctx, in, opts...)
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.mu.Lock()
	c.updates++
	c.mu.Unlock()
	return c.API.UpdateItem(ctx, in, opts...)
}

// countedTenant returns the env's tenant over a counting client.
func (e env) countedTenant(t *testing.T) (*store.Tenant, *countingDB) {
	t.Helper()
	db := newCountingDB(e.db)
	st := store.New(db, store.DefaultTableName)
	st.Now = func() time.Time { return *e.now }
	tn, err := st.Tenant(e.tenant.ID())
	if err != nil {
		t.Fatalf("Tenant: %v", err)
	}
	return tn, db
}

// sharedKeyCalls returns n calls that link one of 5 Salesforce accounts and
// have two external participants among 10 emails.
func sharedKeyCalls(n int) []calls.Call {
	out := make([]calls.Call, n)
	for i := range out {
		out[i] = calls.Call{
			CallID:  fmt.Sprint(1000 + i),
			Started: t0.Add(time.Duration(i) * time.Minute),
			CRM:     []calls.CRMObject{sf("Account", fmt.Sprintf("001%012dAAA", i%5))},
			Participants: []calls.Participant{
				external(fmt.Sprintf("c%d@acme.example", i%10)),
				external(fmt.Sprintf("c%d@acme.example", (i+3)%10)),
			},
		}
	}
	return out
}

// putSharedKeyDeals writes deals for accounts 0 to 2 with contacts c0 to c5.
// Accounts 3 and 4 have no deal, so their calls fall through to the email
// rule.
func (e env) putSharedKeyDeals(t *testing.T) {
	t.Helper()
	for i := range 3 {
		e.putDeal(t, store.Deal{
			DealID:              fmt.Sprintf("deal-%d", i),
			SalesforceAccountID: fmt.Sprintf("001%012dAAA", i),
			ContactEmails:       []string{fmt.Sprintf("c%d@acme.example", 2*i), fmt.Sprintf("c%d@acme.example", 2*i+1)},
			Open:                true,
		})
	}
}

// TestSessionQueriesEachKeyOnce maps 200 calls that share 5 account ids and
// 10 contact emails through one session on 8 goroutines. Each distinct
// lookup key costs at most one Query, each deal item is read at most once,
// and the results equal those of a fresh session per call.
func TestSessionQueriesEachKeyOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.putSharedKeyDeals(t)
	cs := sharedKeyCalls(200)
	for _, c := range cs {
		e.putCall(t, c)
	}
	want := map[string]store.Mapping{}
	for _, c := range cs {
		m, err := e.mapper.Decide(ctx, e.tenant, c)
		if err != nil {
			t.Fatalf("Decide %s: %v", c.CallID, err)
		}
		want[c.CallID] = m
	}

	tn, db := e.countedTenant(t)
	session := e.mapper.Session(tn)
	got := make([]store.Mapping, len(cs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				m, err := session.MapCall(ctx, cs[i])
				if err != nil {
					t.Errorf("MapCall %s: %v", cs[i].CallID, err)
				}
				got[i] = m
			}
		}()
	}
	for i := range cs {
		next <- i
	}
	close(next)
	wg.Wait()

	for i, c := range cs {
		w := want[c.CallID]
		if got[i].Rule != w.Rule || got[i].DealID != w.DealID || got[i].Key != w.Key {
			t.Errorf("call %s mapping = %s/%s/%s, want %s/%s/%s", c.CallID, got[i].Rule, got[i].DealID, got[i].Key, w.Rule, w.DealID, w.Key)
		}
	}
	// There are 5 accounts and 10 emails. Calls of accounts 0 to 2 never
	// reach the email rule, but the calls of accounts 3 and 4 list every
	// email.
	if len(db.lookups) > 15 {
		t.Errorf("distinct lookup keys = %d, want at most 15", len(db.lookups))
	}
	for prefix, n := range db.lookups {
		if n > 1 {
			t.Errorf("Queries for %s = %d, want 1", prefix, n)
		}
	}
	if len(db.dealReads) != 3 {
		t.Errorf("distinct deals read = %d, want 3", len(db.dealReads))
	}
	for sk, n := range db.dealReads {
		if n > 1 {
			t.Errorf("reads of %s = %d, want 1", sk, n)
		}
	}
	if db.updates != len(cs) {
		t.Errorf("UpdateItem requests = %d, want %d (one mapping write per call)", db.updates, len(cs))
	}
}

// TestSessionRefreshesAfterViewAge ensures a session keeps its view of the
// deals until the view is MaxViewAge old, and then maps with a deal written
// meanwhile.
func TestSessionRefreshesAfterViewAge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := calls.Call{CallID: "1", Started: t0, Participants: []calls.Participant{external("pat@acme.example")}}
	e.putCall(t, c)
	clock := t0
	session := e.mapper.Session(e.tenant)
	session.SetClock(func() time.Time { return clock })

	if m, err := session.MapCall(ctx, c); err != nil || m.Rule != store.RuleUnmapped {
		t.Fatalf("MapCall before the deal = %+v, %v; want unmapped", m, err)
	}
	e.putDeal(t, store.Deal{DealID: "acme", ContactEmails: []string{"pat@acme.example"}, Open: true})

	clock = clock.Add(mapping.MaxViewAge - time.Second)
	if m, err := session.MapCall(ctx, c); err != nil || m.Rule != store.RuleUnmapped {
		t.Errorf("MapCall with a view younger than MaxViewAge = %+v, %v; want unmapped from the memo", m, err)
	}
	clock = clock.Add(time.Second)
	m, err := session.MapCall(ctx, c)
	if err != nil {
		t.Fatalf("MapCall: %v", err)
	}
	if m.Rule != store.RuleContactEmail || m.DealID != "acme" {
		t.Errorf("MapCall once the view is MaxViewAge old = %+v, want contact_email to acme", m)
	}
}

// TestSessionMemoLimit ensures a session whose memo is full still maps
// correctly and queries again what it could not keep.
func TestSessionMemoLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.putSharedKeyDeals(t)
	cs := sharedKeyCalls(20)
	for _, c := range cs {
		e.putCall(t, c)
	}
	tn, db := e.countedTenant(t)
	session := e.mapper.Session(tn)
	session.SetMemoLimit(2)
	for _, c := range cs {
		got, err := session.MapCall(ctx, c)
		if err != nil {
			t.Fatalf("MapCall %s: %v", c.CallID, err)
		}
		want, err := e.mapper.Decide(ctx, e.tenant, c)
		if err != nil {
			t.Fatalf("Decide %s: %v", c.CallID, err)
		}
		if got.Rule != want.Rule || got.DealID != want.DealID || got.Key != want.Key {
			t.Errorf("call %s mapping = %+v, want %+v", c.CallID, got, want)
		}
	}
	queries := 0
	for _, n := range db.lookups {
		queries += n
	}
	if queries <= len(db.lookups) {
		t.Errorf("Queries = %d for %d distinct keys, want repeats past the memo limit", queries, len(db.lookups))
	}
}

// wantSameMappings fails for each call whose mapping differs from the one a
// single-call Decide returns.
func (e env) wantSameMappings(t *testing.T, cs []calls.Call, got []store.Mapping) {
	t.Helper()
	for i, c := range cs {
		want, err := e.mapper.Decide(context.Background(), e.tenant, c)
		if err != nil {
			t.Fatalf("Decide %s: %v", c.CallID, err)
		}
		if got[i].Rule != want.Rule || got[i].DealID != want.DealID || got[i].Key != want.Key {
			t.Errorf("call %s mapping = %s/%s/%s, want %s/%s/%s", c.CallID, got[i].Rule, got[i].DealID, got[i].Key, want.Rule, want.DealID, want.Key)
		}
	}
}

// mapAll maps the calls in order through one session.
func mapAll(t *testing.T, session *mapping.Session, cs []calls.Call) []store.Mapping {
	t.Helper()
	got := make([]store.Mapping, len(cs))
	for i, c := range cs {
		m, err := session.MapCall(context.Background(), c)
		if err != nil {
			t.Fatalf("MapCall %s: %v", c.CallID, err)
		}
		got[i] = m
	}
	return got
}

// TestSessionPreloadsIndex maps 200 calls over a tenant with 3 deals (9
// lookup items) with one Query for the whole index and no Query per key.
func TestSessionPreloadsIndex(t *testing.T) {
	e := newEnv(t)
	e.putSharedKeyDeals(t)
	cs := sharedKeyCalls(200)
	for _, c := range cs {
		e.putCall(t, c)
	}
	tn, db := e.countedTenant(t)
	got := mapAll(t, e.mapper.Session(tn), cs)

	e.wantSameMappings(t, cs, got)
	if n := db.lookups["DEALKEY#"]; n != 1 {
		t.Errorf("index Queries = %d, want 1", n)
	}
	for prefix, n := range db.lookups {
		if prefix != "DEALKEY#" {
			t.Errorf("Queries for %s = %d, want 0 with the index loaded", prefix, n)
		}
	}
	if len(db.dealReads) != 3 {
		t.Errorf("distinct deals read = %d, want 3", len(db.dealReads))
	}
	for sk, n := range db.dealReads {
		if n > 1 {
			t.Errorf("reads of %s = %d, want 1", sk, n)
		}
	}
}

// TestSessionPreloadsEmptyIndex maps calls over a tenant without deals with
// one Query in all and no deal reads.
func TestSessionPreloadsEmptyIndex(t *testing.T) {
	e := newEnv(t)
	cs := sharedKeyCalls(50)
	for _, c := range cs {
		e.putCall(t, c)
	}
	tn, db := e.countedTenant(t)
	got := mapAll(t, e.mapper.Session(tn), cs)

	for i, m := range got {
		if m.Rule != store.RuleUnmapped {
			t.Errorf("call %s rule = %s, want unmapped", cs[i].CallID, m.Rule)
		}
	}
	if n := db.lookups["DEALKEY#"]; n != 1 {
		t.Errorf("index Queries = %d, want 1", n)
	}
	if len(db.lookups) != 1 {
		t.Errorf("distinct Query prefixes = %d, want 1 (the index)", len(db.lookups))
	}
	if len(db.dealReads) != 0 {
		t.Errorf("distinct deals read = %d, want 0", len(db.dealReads))
	}
}

// TestSessionIndexOverLimit ensures a session whose tenant has more lookup
// items than its limit queries each key and maps as without the index.
func TestSessionIndexOverLimit(t *testing.T) {
	e := newEnv(t)
	e.putSharedKeyDeals(t)
	cs := sharedKeyCalls(200)
	for _, c := range cs {
		e.putCall(t, c)
	}
	tn, db := e.countedTenant(t)
	session := e.mapper.Session(tn)
	session.SetMemoLimit(8) // the 3 deals have 9 lookup items
	got := mapAll(t, session, cs)

	e.wantSameMappings(t, cs, got)
	if n := db.lookups["DEALKEY#"]; n != 1 {
		t.Errorf("index Queries = %d, want 1", n)
	}
	// Only the calls of accounts 3 and 4 reach the email rule, and they list
	// the emails c1 to c4 and c6 to c9.
	if len(db.lookups) != 14 {
		t.Errorf("distinct Query prefixes = %d, want 14 (the index, 5 accounts and 8 emails)", len(db.lookups))
	}
}
