package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
)

// backend is one DynamoDB implementation the store suite runs on. kumo is
// fast; DynamoDB Local also enforces the 400 KB item limit and rejects
// malformed expressions (such as unused attribute names), which kumo accepts.
type backend struct {
	name   string
	strict bool // enforces item size and expression validation
	start  func(testing.TB) localaws.Clients
}

var backends = []backend{
	{name: "kumo", start: localaws.StartKumo},
	{name: "dynamodb-local", strict: true, start: localaws.StartDynamoDBLocal},
}

// env is what one suite case gets: a table on one backend, a store with its
// own clock, and a fresh tenant.
type env struct {
	backend backend
	db      *dynamodb.Client
	store   *store.Store
	tenant  *store.Tenant
	clock   *testClock
}

// testClock is a settable clock for store.Store.Now.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time          { return c.now }
func (c *testClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

var tenantSeq atomic.Int64

// newTenant returns a handle on a tenant id no other case uses.
func (e *env) newTenant(t *testing.T) *store.Tenant {
	t.Helper()
	tn, err := e.store.Tenant(fmt.Sprintf("org-%d", tenantSeq.Add(1)))
	if err != nil {
		t.Fatalf("Tenant: %v", err)
	}
	return tn
}

type suiteCase struct {
	name string
	run  func(t *testing.T, e *env)
}

// suiteCases are filled in by the *_test.go files of each item kind.
var suiteCases []suiteCase

func addCases(cases ...suiteCase) bool {
	suiteCases = append(suiteCases, cases...)
	return true
}

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// TestStoreSuite runs every store case on kumo and on DynamoDB Local.
func TestStoreSuite(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			clients := b.start(t)
			ctx := context.Background()
			if err := store.EnsureTable(ctx, clients.DynamoDB, store.DefaultTableName); err != nil {
				t.Fatalf("EnsureTable: %v", err)
			}
			for _, tc := range suiteCases {
				t.Run(tc.name, func(t *testing.T) {
					clock := &testClock{now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
					s := store.New(clients.DynamoDB, store.DefaultTableName)
					s.Now = clock.Now
					e := &env{backend: b, db: clients.DynamoDB, store: s, clock: clock}
					e.tenant = e.newTenant(t)
					tc.run(t, e)
				})
			}
		})
	}
}

// rawItem reads an item as DynamoDB stores it.
func rawItem(t *testing.T, e *env, tn *store.Tenant, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := e.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(store.DefaultTableName),
		Key: map[string]types.AttributeValue{
			store.AttrPK: &types.AttributeValueMemberS{Value: tn.PK()},
			store.AttrSK: &types.AttributeValueMemberS{Value: sk},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem %s: %v", sk, err)
	}
	return out.Item
}

// rawItems returns the tenant's items whose sort key starts with prefix.
func rawItems(t *testing.T, e *env, tn *store.Tenant, prefix string) []map[string]types.AttributeValue {
	t.Helper()
	keyCond := expression.Key(store.AttrPK).Equal(expression.Value(tn.PK())).
		And(expression.Key(store.AttrSK).BeginsWith(prefix))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		t.Fatalf("build query: %v", err)
	}
	out, err := e.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(store.DefaultTableName),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("Query %s: %v", prefix, err)
	}
	return out.Items
}

// itemSize estimates an item's size the way DynamoDB counts it: attribute
// name lengths plus value sizes (numbers counted by their digits).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("error = %v, want store.ErrNotFound", err)
	}
}

func mustNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
