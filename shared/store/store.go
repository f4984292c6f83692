// Package store keeps the product's Gong data in one DynamoDB table.
//
// Every item's partition key starts with the tenant ("TENANT#<id>"), and all
// per-tenant reads and writes go through a *Tenant handle that builds those
// keys itself, so no caller can address another organization's items. The
// only cross-tenant access is the scheduler's query of the sparse status index,
// which returns tenant ids and nothing else.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names of the table. template.yaml declares the same.
const (
	AttrPK      = "pk"
	AttrSK      = "sk"
	AttrGSI1PK  = "gsi1pk" // TENANT#<t>#DEAL#<deal id>: a deal's calls
	AttrGSI1SK  = "gsi1sk" // started time (RFC 3339, UTC) + "#" + call id
	AttrGSI2PK  = "gsi2pk" // STATUS#<connection status>: tenants by status
	AttrGSI2SK  = "gsi2sk" // tenant id
	AttrTTL     = "expiresAt"
	IndexByDeal = "gsi1"
	IndexStatus = "gsi2"
)

// DefaultTableName is used when TABLE_NAME is unset (local runs and tests).
const DefaultTableName = "gong-ingest"

// ErrNotFound is returned when a requested item does not exist.
var ErrNotFound = errors.New("store: not found")

// API is the subset of the DynamoDB client the store uses; *dynamodb.Client
// implements it.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is the table. It is safe for concurrent use.
type Store struct {
	db    API
	table string
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// New returns a Store over the named table.
func New(db API, table string) *Store {
	if table == "" {
		table = DefaultTableName
	}
	return &Store{db: db, table: table, Now: time.Now}
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// DB returns the DynamoDB client.
func (s *Store) DB() API { return s.db }

// Tenant returns a handle whose every key is under the given tenant. It
// rejects ids that could break the key layout.
func (s *Store) Tenant(tenantID string) (*Tenant, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	return &Tenant{s: s, id: tenantID, pk: "TENANT#" + tenantID}, nil
}

// ValidateTenantID checks that an id is 1 to 128 characters of letters,
// digits, '-', '_' or '.', so it cannot contain the '#' key separator.
func ValidateTenantID(id string) error {
	if id == "" {
		return errors.New("store: tenant id is empty: pass the organization's id")
	}
	if len(id) > 128 {
		return fmt.Errorf("store: tenant id %.20q... is %d characters long: use at most 128", id, len(id))
	}
	for _, r := range id {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Errorf("store: tenant id %q contains %q: use only letters, digits, '-', '_' and '.'", id, r)
		}
	}
	return nil
}

// Tenant is a tenant-scoped view of the table. Build it with Store.Tenant.
type Tenant struct {
	s  *Store
	id string
	pk string
}

// ID returns the tenant id.
func (t *Tenant) ID() string { return t.id }

// PK returns the tenant's partition key value.
func (t *Tenant) PK() string { return t.pk }

// Store returns the underlying table.
func (t *Tenant) Store() *Store { return t.s }

// key returns the primary key of the tenant's item with sort key sk.
func (t *Tenant) key(sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: t.pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// Sort key prefixes of the tenant's items. Each item kind's file documents its
// attributes; the README has the whole layout.
const (
	skTenant     = "TENANT"      // connection status and settings
	skSync       = "SYNC"        // watermark, checkpoint, last run summary
	skUser       = "USER#"       // + product user id
	skCall       = "CALL#"       // + Gong call id
	skTranscript = "TRANSCRIPT#" // + Gong call id + "#" + 4-digit chunk number
	skSkip       = "SKIP#"       // + Gong call id
	skLease      = "LEASE#"      // + lease name
	skDeal       = "DEAL#"       // + deal id: a deal workspace of the product
	skDealKey    = "DEALKEY#"    // + key kind + "#" + value + "#" + deal id: deal lookup
	skDealMap    = "DEALMAP"     // deals generation and remap progress
	skPending    = "PENDING#"    // + Gong call id: calls whose transcript is pending
	skSlot       = "SLOT#"       // + scheduler slot: claimed schedule runs, expire by TTL
)

// CallSK returns the sort key of a call item, so other packages can page
// through the tenant's items without building keys by hand.
func CallSK(callID string) string { return skCall + callID }

// isConditionFailed reports whether err is a failed condition check.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return true
			}
		}
	}
	return false
}

// lowerEmail normalises an email address for comparison.
func lowerEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
