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
)

// Connection status values of a tenant.
const (
	StatusConnected       = "connected"
	StatusDisconnected    = "disconnected"
	StatusReconnectNeeded = "reconnect_needed"
)

// Settings are the per-tenant options. Zero values mean the product defaults.
type Settings struct {
	IncludePrivate bool `dynamodbav:"includePrivate"` // ingest calls Gong marks private
	BackfillDays   int  `dynamodbav:"backfillDays"`   // initial backfill length; 0 means the default
	DailyBudget    int  `dynamodbav:"dailyBudget"`    // Gong requests a day; 0 means the default
}

// TenantRecord is the item pk=TENANT#<id>, sk=TENANT: the organization's Gong
// connection. Epoch grows by one on every connect; queued work carries the
// epoch it was queued under, so work from before a disconnect is dropped.
type TenantRecord struct {
	TenantID        string    `dynamodbav:"tenantId"`
	Status          string    `dynamodbav:"status"`
	Epoch           int64     `dynamodbav:"epoch"`
	ConnectedBy     string    `dynamodbav:"connectedBy,omitempty"`
	ConnectedAt     time.Time `dynamodbav:"connectedAt,omitempty"`
	StatusChangedAt time.Time `dynamodbav:"statusChangedAt"`
	StatusReason    string    `dynamodbav:"statusReason,omitempty"` // why the status last changed
	GrantedScopes   []string  `dynamodbav:"grantedScopes,omitempty"`
	GongBaseURL     string    `dynamodbav:"gongBaseUrl,omitempty"`
	Settings        Settings  `dynamodbav:"settings"`
}

// Syncable reports whether scheduled and queued work may run for the tenant.
func (r TenantRecord) Syncable() bool { return r.Status == StatusConnected }

// GetTenant returns the tenant's connection record, or ErrNotFound.
func (t *Tenant) GetTenant(ctx context.Context) (TenantRecord, error) {
	var rec TenantRecord
	err := t.getItem(ctx, skTenant, &rec)
	return rec, err
}

// MarkConnected records a new connection and returns the new epoch. The
// settings already stored are kept.
func (t *Tenant) MarkConnected(ctx context.Context, by string, scopes []string, baseURL string) (int64, error) {
	now := t.s.Now().UTC()
	update := expression.Set(expression.Name("status"), expression.Value(StatusConnected)).
		Set(expression.Name("tenantId"), expression.Value(t.id)).
		Set(expression.Name("connectedBy"), expression.Value(by)).
		Set(expression.Name("connectedAt"), expression.Value(now)).
		Set(expression.Name("statusChangedAt"), expression.Value(now)).
		Set(expression.Name("statusReason"), expression.Value("connected by "+by)).
		Set(expression.Name("grantedScopes"), expression.Value(scopes)).
		Set(expression.Name("gongBaseUrl"), expression.Value(baseURL)).
		Set(expression.Name("settings"), expression.IfNotExists(expression.Name("settings"), expression.Value(map[string]any{}))).
		Set(expression.Name(AttrGSI2PK), expression.Value(statusIndexKey(StatusConnected))).
		Set(expression.Name(AttrGSI2SK), expression.Value(t.id)).
		Add(expression.Name("epoch"), expression.Value(1))
	out, err := t.update(ctx, skTenant, update, nil, types.ReturnValueUpdatedNew)
	if err != nil {
		return 0, fmt.Errorf("store: mark tenant %s connected: %w", t.id, err)
	}
	var got struct {
		Epoch int64 `dynamodbav:"epoch"`
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &got); err != nil {
		return 0, fmt.Errorf("store: read epoch of tenant %s: %w", t.id, err)
	}
	return got.Epoch, nil
}

// SetStatus moves the tenant to status (disconnected or reconnect needed) with
// a reason shown to admins and support. It fails with ErrNotFound when the
// tenant has never connected.
func (t *Tenant) SetStatus(ctx context.Context, status, reason string) error {
	now := t.s.Now().UTC()
	update := expression.Set(expression.Name("status"), expression.Value(status)).
		Set(expression.Name("statusChangedAt"), expression.Value(now)).
		Set(expression.Name("statusReason"), expression.Value(reason)).
		Set(expression.Name(AttrGSI2PK), expression.Value(statusIndexKey(status)))
	cond := expression.AttributeExists(expression.Name(AttrPK))
	if _, err := t.update(ctx, skTenant, update, &cond, types.ReturnValueNone); err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("store: set status of tenant %s: %w", t.id, ErrNotFound)
		}
		return fmt.Errorf("store: set status of tenant %s to %s: %w", t.id, status, err)
	}
	return nil
}

// PutSettings replaces the tenant's settings, creating a disconnected tenant
// record when none exists.
func (t *Tenant) PutSettings(ctx context.Context, settings Settings) error {
	av, err := attributevalue.MarshalMap(settings)
	if err != nil {
		return fmt.Errorf("store: encode settings of tenant %s: %w", t.id, err)
	}
	now := t.s.Now().UTC()
	update := expression.Set(expression.Name("settings"), expression.Value(&types.AttributeValueMemberM{Value: av})).
		Set(expression.Name("tenantId"), expression.Value(t.id)).
		Set(expression.Name("status"), expression.IfNotExists(expression.Name("status"), expression.Value(StatusDisconnected))).
		Set(expression.Name("statusChangedAt"), expression.IfNotExists(expression.Name("statusChangedAt"), expression.Value(now))).
		Set(expression.Name(AttrGSI2PK), expression.IfNotExists(expression.Name(AttrGSI2PK), expression.Value(statusIndexKey(StatusDisconnected)))).
		Set(expression.Name(AttrGSI2SK), expression.Value(t.id))
	if _, err := t.update(ctx, skTenant, update, nil, types.ReturnValueNone); err != nil {
		return fmt.Errorf("store: put settings of tenant %s: %w", t.id, err)
	}
	return nil
}

// TenantsWithStatus lists the ids of tenants in the given status, across all
// tenants. Only the scheduler uses it.
func (s *Store) TenantsWithStatus(ctx context.Context, status string) ([]string, error) {
	keyCond := expression.Key(AttrGSI2PK).Equal(expression.Value(statusIndexKey(status)))
	proj := expression.NamesList(expression.Name(AttrGSI2SK))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).WithProjection(proj).Build()
	if err != nil {
		return nil, fmt.Errorf("store: build status query: %w", err)
	}
	input := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexStatus),
		KeyConditionExpression:    expr.KeyCondition(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	var ids []string
	p := dynamodb.NewQueryPaginator(s.db, input)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: list %s tenants: %w", status, err)
		}
		for _, item := range page.Items {
			if v, ok := item[AttrGSI2SK].(*types.AttributeValueMemberS); ok {
				ids = append(ids, v.Value)
			}
		}
	}
	return ids, nil
}

func statusIndexKey(status string) string { return "STATUS#" + status }

// getItem reads the tenant's item sk into out, or returns ErrNotFound.
func (t *Tenant) getItem(ctx context.Context, sk string, out any) error {
	res, err := t.s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.s.table),
		Key:            t.key(sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("store: get %s of tenant %s: %w", sk, t.id, err)
	}
	if len(res.Item) == 0 {
		return fmt.Errorf("store: %s of tenant %s: %w", sk, t.id, ErrNotFound)
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return fmt.Errorf("store: decode %s of tenant %s: %w", sk, t.id, err)
	}
	return nil
}

// update applies an update expression to the tenant's item sk.
func (t *Tenant) update(ctx context.Context, sk string, update expression.UpdateBuilder, cond *expression.ConditionBuilder, rv types.ReturnValue) (*dynamodb.UpdateItemOutput, error) {
	b := expression.NewBuilder().WithUpdate(update)
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build update: %w", err)
	}
	return t.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(t.s.table),
		Key:                       t.key(sk),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              rv,
	})
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
