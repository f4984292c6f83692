package awsenv

import (
	"context"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// kumoExpressionFix is an API option that rewrites DynamoDB expressions into
// a form kumo v0.33.1, the local stand-in, parses the way DynamoDB does.
// Local and Load add it only for loopback endpoints; DynamoDB and DynamoDB
// Local read the rewritten requests with the same meaning.
//
// It works around two kumo behaviours seen in its source:
//   - update clauses are only recognised after a space, but the SDK's
//     expression builder separates SET, REMOVE and ADD clauses with a newline,
//     so every clause after the first is dropped;
//   - attribute name placeholders are substituted with strings.ReplaceAll in
//     map order, so "#1" can clobber "#10" when an expression has more than
//     ten names. Each placeholder gets a "_" suffix, so none is a prefix of
//     another.
func kumoExpressionFix(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("KumoExpressionFix",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			rewriteKumoInput(in.Parameters)
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

var namePlaceholder = regexp.MustCompile(`#[A-Za-z0-9_]+`)

// kumoRewriter renames the placeholders of one names map in its expressions.
type kumoRewriter struct {
	names map[string]string
}

func newKumoRewriter(names map[string]string) (kumoRewriter, map[string]string) {
	if len(names) == 0 {
		return kumoRewriter{}, names
	}
	renamed := make(map[string]string, len(names))
	for k, v := range names {
		renamed[k+"_"] = v
	}
	return kumoRewriter{names: names}, renamed
}

func (r kumoRewriter) expr(s *string) {
	if s == nil {
		return
	}
	out := strings.ReplaceAll(*s, "\n", " ")
	if r.names != nil {
		out = namePlaceholder.ReplaceAllStringFunc(out, func(m string) string {
			if _, ok := r.names[m]; ok {
				return m + "_"
			}
			return m
		})
	}
	*s = out
}

func rewriteKumoInput(params any) {
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		r, names := newKumoRewriter(in.ExpressionAttributeNames)
		r.expr(in.ProjectionExpression)
		in.ExpressionAttributeNames = names
	case *dynamodb.PutItemInput:
		r, names := newKumoRewriter(in.ExpressionAttributeNames)
		r.expr(in.ConditionExpression)
		in.ExpressionAttributeNames = names
	case *dynamodb.DeleteItemInput:
		r, names := newKumoRewriter(in.ExpressionAttributeNames)
		r.expr(in.ConditionExpression)
		in.ExpressionAttributeNames = names
	case *dynamodb.UpdateItemInput:
		r, names := newKumoRewriter(in.ExpressionAttributeNames)
		r.expr(in.UpdateExpression)
		r.expr(in.ConditionExpression)
		in.ExpressionAttributeNames = names
	case *dynamodb.QueryInput:
		r, names := newKumoRewriter(in.ExpressionAttributeNames)
		r.expr(in.KeyConditionExpression)
		r.expr(in.FilterExpression)
		r.expr(in.ProjectionExpression)
		in.ExpressionAttributeNames = names
	case *dynamodb.ScanInput:
		r, names := newKumoRewriter(in.ExpressionAttributeNames)
		r.expr(in.FilterExpression)
		r.expr(in.ProjectionExpression)
		in.ExpressionAttributeNames = names
	case *dynamodb.BatchGetItemInput:
		for table, ka := range in.RequestItems {
			r, names := newKumoRewriter(ka.ExpressionAttributeNames)
			r.expr(ka.ProjectionExpression)
			ka.ExpressionAttributeNames = names
			in.RequestItems[table] = ka
		}
	case *dynamodb.TransactWriteItemsInput:
		for i := range in.TransactItems {
			rewriteKumoTransactItem(&in.TransactItems[i])
		}
	}
}

func rewriteKumoTransactItem(it *types.TransactWriteItem) {
	switch {
	case it.Update != nil:
		r, names := newKumoRewriter(it.Update.ExpressionAttributeNames)
		r.expr(it.Update.UpdateExpression)
		r.expr(it.Update.ConditionExpression)
		it.Update.ExpressionAttributeNames = names
	case it.Put != nil:
		r, names := newKumoRewriter(it.Put.ExpressionAttributeNames)
		r.expr(it.Put.ConditionExpression)
		it.Put.ExpressionAttributeNames = names
	case it.Delete != nil:
		r, names := newKumoRewriter(it.Delete.ExpressionAttributeNames)
		r.expr(it.Delete.ConditionExpression)
		it.Delete.ExpressionAttributeNames = names
	case it.ConditionCheck != nil:
		r, names := newKumoRewriter(it.ConditionCheck.ExpressionAttributeNames)
		r.expr(it.ConditionCheck.ConditionExpression)
		it.ConditionCheck.ExpressionAttributeNames = names
	}
}
