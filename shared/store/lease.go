package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// lease is the item pk=TENANT#<t>, sk=LEASE#<name>. expiresAt is the table's
// TTL attribute (Unix seconds), so DynamoDB eventually deletes abandoned
// leases; the acquire condition does not rely on that deletion.
type lease struct {
	Name       string    `dynamodbav:"name"`
	Owner      string    `dynamodbav:"owner"`
	ExpiresAt  int64     `dynamodbav:"expiresAt"` // Unix seconds
	AcquiredAt time.Time `dynamodbav:"acquiredAt"`
}

// AcquireLease takes the tenant's lease name for owner for ttl and reports
// whether it did. It succeeds when the lease is free, expired, or already held
// by owner (which extends it). Expiry has one-second resolution and is
// rounded up.
func (t *Tenant) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := validateID("lease name", name); err != nil {
		return false, err
	}
	if owner == "" {
		return false, fmt.Errorf("store: lease %s has an empty owner: pass a unique owner id", name)
	}
	if ttl <= 0 {
		return false, fmt.Errorf("store: lease %s ttl %s is not positive: pass a positive duration", name, ttl)
	}
	now := t.s.Now().UTC()
	expires := now.Add(ttl)
	expiresSec := expires.Unix()
	if expires.Nanosecond() > 0 {
		expiresSec++
	}
	item, err := marshalMap(lease{Name: name, Owner: owner, ExpiresAt: expiresSec, AcquiredAt: now})
	if err != nil {
		return false, fmt.Errorf("store: encode lease %s: %w", name, err)
	}
	for k, v := range t.key(skLease + name) {
		item[k] = v
	}
	cond := expression.AttributeNotExists(expression.Name(AttrPK)).
		Or(expression.Name(AttrTTL).LessThanEqual(expression.Value(now.Unix()))).
		Or(expression.Name("owner").Equal(expression.Value(owner)))
	acquired, err := t.putItemIf(ctx, item, cond)
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %s of tenant %s: %w", name, t.id, err)
	}
	return acquired, nil
}

// ReleaseLease frees the lease if owner still holds it. Releasing a lease
// that expired or passed to another owner is not an error.
func (t *Tenant) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := validateID("lease name", name); err != nil {
		return err
	}
	cond := expression.Name("owner").Equal(expression.Value(owner))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("store: build lease condition: %w", err)
	}
	_, err = t.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(t.s.table),
		Key:                       t.key(skLease + name),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: release lease %s of tenant %s: %w", name, t.id, err)
	}
	return nil
}
