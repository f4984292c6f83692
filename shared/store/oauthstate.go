package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// OAuth state items are the one kind of item outside the tenant partitions,
// because Gong's redirect back to the callback carries only the state value
// and the code, not the tenant. The item is pk=OAUTHSTATE#<hex SHA-256 of the
// state>, sk=OAUTHSTATE, so the state value itself is never stored, and it
// holds the tenant and admin the state was issued to. Reading one is a
// conditional delete, so each state can be used once, and the expiresAt TTL
// attribute lets DynamoDB remove unused ones.
const (
	pkOAuthState = "OAUTHSTATE#"
	skOAuthState = "OAUTHSTATE"
)

// ErrOAuthStateExpired is returned by ConsumeOAuthState for a state whose
// lifetime has passed but which DynamoDB's TTL has not removed yet. The item
// is deleted all the same.
var ErrOAuthStateExpired = errors.New("store: OAuth state expired")

// OAuthState is the record behind one OAuth state value: who started the
// connection and until when the state may be used.
type OAuthState struct {
	TenantID string `dynamodbav:"tenantId"`
	// Subject is the admin's subject claim.
	Subject string `dynamodbav:"subject"`
	// BindingHash is the hex SHA-256 of a value kept in the admin's browser.
	// The callback compares it to check that the same browser returned. It
	// is empty when the flow does not use one.
	BindingHash string    `dynamodbav:"bindingHash,omitempty"`
	CreatedAt   time.Time `dynamodbav:"createdAt"`
	ExpiresAt   time.Time `dynamodbav:"-"`
}

// oauthStateItem is the stored form: the TTL attribute must be a number of
// seconds since the Unix epoch.
type oauthStateItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	StateHash string `dynamodbav:"stateHash"`
	OAuthState
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

// HashOAuthState returns the hex SHA-256 of a state value, the only form of
// it that is stored.
func HashOAuthState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

func oauthStateKey(hash string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pkOAuthState + hash},
		AttrSK: &types.AttributeValueMemberS{Value: skOAuthState},
	}
}

// PutOAuthState stores a new state for the tenant and admin in rec. It fails
// rather than overwrite an existing state with the same value.
func (s *Store) PutOAuthState(ctx context.Context, state string, rec OAuthState) error {
	if state == "" {
		return errors.New("store: OAuth state is empty: generate a random state before storing it")
	}
	if err := ValidateTenantID(rec.TenantID); err != nil {
		return err
	}
	if rec.Subject == "" {
		return fmt.Errorf("store: OAuth state for tenant %s has no admin subject: pass the subject claim of the admin", rec.TenantID)
	}
	if !rec.ExpiresAt.After(rec.CreatedAt) {
		return fmt.Errorf("store: OAuth state for tenant %s expires at %s, not after its creation at %s: set a positive lifetime",
			rec.TenantID, rec.ExpiresAt.Format(time.RFC3339), rec.CreatedAt.Format(time.RFC3339))
	}
	hash := HashOAuthState(state)
	rec.CreatedAt = rec.CreatedAt.UTC()
	item, err := attributevalue.MarshalMap(oauthStateItem{
		PK:         pkOAuthState + hash,
		SK:         skOAuthState,
		StateHash:  hash,
		OAuthState: rec,
		ExpiresAt:  rec.ExpiresAt.Unix(),
	})
	if err != nil {
		return fmt.Errorf("store: encode OAuth state for tenant %s: %w", rec.TenantID, err)
	}
	cond := expression.AttributeNotExists(expression.Name(AttrPK))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("store: build OAuth state condition: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
	})
	if err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("store: OAuth state for tenant %s already exists: generate a new random state", rec.TenantID)
		}
		return fmt.Errorf("store: put OAuth state for tenant %s: %w", rec.TenantID, err)
	}
	return nil
}

// ConsumeOAuthState deletes the state's item and returns what it held. It
// returns ErrNotFound for a state that was never issued or was already
// consumed, and ErrOAuthStateExpired when now is past its expiry. Nothing
// remains stored in either case, so a state works at most once.
func (s *Store) ConsumeOAuthState(ctx context.Context, state string, now time.Time) (OAuthState, error) {
	if state == "" {
		return OAuthState{}, fmt.Errorf("store: OAuth state is empty: %w", ErrNotFound)
	}
	hash := HashOAuthState(state)
	cond := expression.AttributeExists(expression.Name(AttrPK))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return OAuthState{}, fmt.Errorf("store: build OAuth state condition: %w", err)
	}
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      oauthStateKey(hash),
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
		ReturnValues:             types.ReturnValueAllOld,
	})
	if err != nil {
		if isConditionFailed(err) {
			return OAuthState{}, fmt.Errorf("store: OAuth state: %w", ErrNotFound)
		}
		return OAuthState{}, fmt.Errorf("store: consume OAuth state: %w", err)
	}
	return decodeOAuthState(out.Attributes, hash, now)
}

// GetOAuthState returns what the state's item holds without consuming it, so
// a callback can check who returned before it uses the state up. It returns
// ErrNotFound for a state that was never issued or was already consumed, and
// the record with ErrOAuthStateExpired when now is past its expiry.
func (s *Store) GetOAuthState(ctx context.Context, state string, now time.Time) (OAuthState, error) {
	if state == "" {
		return OAuthState{}, fmt.Errorf("store: OAuth state is empty: %w", ErrNotFound)
	}
	hash := HashOAuthState(state)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            oauthStateKey(hash),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return OAuthState{}, fmt.Errorf("store: read OAuth state: %w", err)
	}
	return decodeOAuthState(out.Item, hash, now)
}

// decodeOAuthState returns the record of a state item read under hash.
func decodeOAuthState(attrs map[string]types.AttributeValue, hash string, now time.Time) (OAuthState, error) {
	if len(attrs) == 0 {
		return OAuthState{}, fmt.Errorf("store: OAuth state: %w", ErrNotFound)
	}
	var item oauthStateItem
	if err := attributevalue.UnmarshalMap(attrs, &item); err != nil {
		return OAuthState{}, fmt.Errorf("store: decode OAuth state: %w", err)
	}
	// The key already matched; comparing the stored hash again guards against
	// a backend that matches keys loosely, in constant time like every state
	// comparison.
	if subtle.ConstantTimeCompare([]byte(item.StateHash), []byte(hash)) != 1 {
		return OAuthState{}, fmt.Errorf("store: OAuth state: %w", ErrNotFound)
	}
	rec := item.OAuthState
	rec.ExpiresAt = time.Unix(item.ExpiresAt, 0).UTC()
	// DynamoDB deletes expired items only some time after expiry, so the
	// lifetime is enforced here.
	if !now.Before(rec.ExpiresAt) {
		return rec, fmt.Errorf("store: OAuth state of tenant %s expired at %s: %w",
			rec.TenantID, rec.ExpiresAt.Format(time.RFC3339), ErrOAuthStateExpired)
	}
	return rec, nil
}
