package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Quota items count the Gong requests a tenant spent on one UTC day: item
// sk QUOTA#<yyyy-mm-dd> with the day's total and one counter per request
// kind (attribute "req_<kind>"). Counters only grow, through DynamoDB's
// atomic ADD, and the item expires QuotaRetention after the day ends.
const skQuota = "QUOTA#"

// QuotaRetention is how long a day's quota item is kept after the day ends.
const QuotaRetention = 3 * 24 * time.Hour

// QuotaDayLayout formats a quota day.
const QuotaDayLayout = "2006-01-02"

// QuotaDay returns the UTC day that contains t, as yyyy-mm-dd.
func QuotaDay(t time.Time) string { return t.UTC().Format(QuotaDayLayout) }

// QuotaUsage is one day's Gong request count of a tenant.
type QuotaUsage struct {
	Day    string
	Total  int64
	ByKind map[string]int64
}

// AddQuota adds n requests of the kind to the day's count and returns the
// day's new total.
func (t *Tenant) AddQuota(ctx context.Context, day, kind string, n int64) (int64, error) {
	update, err := t.quotaUpdate(day, kind, n)
	if err != nil {
		return 0, err
	}
	out, err := t.update(ctx, skQuota+day, update, nil, types.ReturnValueUpdatedNew)
	if err != nil {
		return 0, fmt.Errorf("store: add %d %s requests to quota %s of tenant %s: %w", n, kind, day, t.id, err)
	}
	return quotaTotal(out.Attributes)
}

// ReserveQuota adds n requests of the kind to the day's count only if the
// total stays at or below limit. It reports whether it added them and
// returns the day's total after the call.
func (t *Tenant) ReserveQuota(ctx context.Context, day, kind string, n, limit int64) (bool, int64, error) {
	if n > limit {
		used, err := t.QuotaUsed(ctx, day)
		return false, used, err
	}
	update, err := t.quotaUpdate(day, kind, n)
	if err != nil {
		return false, 0, err
	}
	total := expression.Name("total")
	cond := expression.AttributeNotExists(total).Or(total.LessThanEqual(expression.Value(limit - n)))
	out, err := t.update(ctx, skQuota+day, update, &cond, types.ReturnValueUpdatedNew)
	if isConditionFailed(err) {
		used, err := t.QuotaUsed(ctx, day)
		return false, used, err
	}
	if err != nil {
		return false, 0, fmt.Errorf("store: reserve %d %s requests in quota %s of tenant %s: %w", n, kind, day, t.id, err)
	}
	after, err := quotaTotal(out.Attributes)
	return err == nil, after, err
}

// QuotaUsed returns the requests counted on the day; 0 when none were.
func (t *Tenant) QuotaUsed(ctx context.Context, day string) (int64, error) {
	u, err := t.Quota(ctx, day)
	return u.Total, err
}

// Quota returns the day's request counts; zero counts when none were made.
func (t *Tenant) Quota(ctx context.Context, day string) (QuotaUsage, error) {
	u := QuotaUsage{Day: day, ByKind: map[string]int64{}}
	if _, err := time.Parse(QuotaDayLayout, day); err != nil {
		return u, fmt.Errorf("store: quota day %q of tenant %s is not yyyy-mm-dd: pass store.QuotaDay(time)", day, t.id)
	}
	var item map[string]any
	err := t.getItem(ctx, skQuota+day, &item)
	if errors.Is(err, ErrNotFound) {
		return u, nil
	}
	if err != nil {
		return u, err
	}
	for name, v := range item {
		n, ok := v.(float64)
		if !ok {
			continue
		}
		switch {
		case name == "total":
			u.Total = int64(n)
		case strings.HasPrefix(name, "req_"):
			u.ByKind[strings.TrimPrefix(name, "req_")] = int64(n)
		}
	}
	return u, nil
}

func (t *Tenant) quotaUpdate(day, kind string, n int64) (expression.UpdateBuilder, error) {
	d, err := time.Parse(QuotaDayLayout, day)
	if err != nil {
		return expression.UpdateBuilder{}, fmt.Errorf("store: quota day %q of tenant %s is not yyyy-mm-dd: pass store.QuotaDay(time)", day, t.id)
	}
	if !validQuotaKind(kind) {
		return expression.UpdateBuilder{}, fmt.Errorf("store: quota kind %q of tenant %s is invalid: use 1 to 32 lower-case letters, digits or '_'", kind, t.id)
	}
	if n < 0 {
		return expression.UpdateBuilder{}, fmt.Errorf("store: quota of tenant %s cannot go down by %d requests: pass a count of 0 or more", t.id, -n)
	}
	expires := d.Add(24 * time.Hour).Add(QuotaRetention).Unix()
	return expression.Set(expression.Name("day"), expression.Value(day)).
		Set(expression.Name(AttrTTL), expression.Value(expires)).
		Add(expression.Name("total"), expression.Value(n)).
		Add(expression.Name("req_"+kind), expression.Value(n)), nil
}

func validQuotaKind(kind string) bool {
	if kind == "" || len(kind) > 32 {
		return false
	}
	for _, r := range kind {
		if r != '_' && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func quotaTotal(attrs map[string]types.AttributeValue) (int64, error) {
	var got struct {
		Total int64 `dynamodbav:"total"`
	}
	if err := attributevalue.UnmarshalMap(attrs, &got); err != nil {
		return 0, fmt.Errorf("store: decode quota total: %w", err)
	}
	return got.Total, nil
}
