package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// itemQuery selects items of one tenant for queryPages.
type itemQuery struct {
	prefix     string   // sort key prefix; "" selects all of the tenant's items
	projection []string // attributes to read; nil reads whole items
	reverse    bool     // descending sort key order
}

// queryPages pages through the tenant's items that q selects, with
// consistent reads, in ascending sort key order unless q.reverse is set. It
// calls page with each page's items until page returns false or an error.
func (t *Tenant) queryPages(ctx context.Context, q itemQuery, page func([]map[string]types.AttributeValue) (bool, error)) error {
	keyCond := expression.Key(AttrPK).Equal(expression.Value(t.pk))
	if q.prefix != "" {
		keyCond = keyCond.And(expression.Key(AttrSK).BeginsWith(q.prefix))
	}
	b := expression.NewBuilder().WithKeyCondition(keyCond)
	if len(q.projection) > 0 {
		proj := expression.NamesList(expression.Name(q.projection[0]))
		for _, name := range q.projection[1:] {
			proj = proj.AddNames(expression.Name(name))
		}
		b = b.WithProjection(proj)
	}
	expr, err := b.Build()
	if err != nil {
		return fmt.Errorf("build query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(t.s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(t.s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(!q.reverse),
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		more, err := page(out.Items)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// queryPrefix pages through the tenant's items whose sort key starts with
// prefix, with a consistent read, calling fn for each item in key order. A
// nil projection reads whole items.
func (t *Tenant) queryPrefix(ctx context.Context, prefix string, projection []string, fn func(map[string]types.AttributeValue) error) error {
	q := itemQuery{prefix: prefix, projection: projection}
	return t.queryPages(ctx, q, func(items []map[string]types.AttributeValue) (bool, error) {
		for _, item := range items {
			if err := fn(item); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// queryItems decodes each of the tenant's items whose sort key starts with
// prefix into a T, in key order. Decode errors name the item kind, such as
// "user".
func queryItems[T any](ctx context.Context, t *Tenant, prefix, kind string) ([]T, error) {
	var out []T
	err := t.queryPrefix(ctx, prefix, nil, func(item map[string]types.AttributeValue) error {
		var v T
		if err := attributevalue.UnmarshalMap(item, &v); err != nil {
			return fmt.Errorf("decode %s: %w", kind, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// putItemIf writes item on condition cond and reports whether it did: a
// failed condition returns false and no error.
func (t *Tenant) putItemIf(ctx context.Context, item map[string]types.AttributeValue, cond expression.ConditionBuilder) (bool, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return false, fmt.Errorf("build condition: %w", err)
	}
	_, err = t.s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(t.s.table),
		Item:                      item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}
