package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// User is one member of the organization in this product, written by the rest
// of the product and read by ingestion to decide which calls to keep. Item:
// pk=TENANT#<t>, sk=USER#<userId>, with the attributes in the dynamodbav tags.
// Email is stored lower-cased. GongUserID is the member's Gong user id once
// known, so calls match by Gong id as well as by email.
type User struct {
	UserID     string    `dynamodbav:"userId"`
	Email      string    `dynamodbav:"email"`
	Name       string    `dynamodbav:"name,omitempty"`
	GongUserID string    `dynamodbav:"gongUserId,omitempty"`
	Active     bool      `dynamodbav:"active"`
	JoinedAt   time.Time `dynamodbav:"joinedAt"`
	UpdatedAt  time.Time `dynamodbav:"updatedAt"`
}

// PutUser creates or updates a user and reports whether it was created. An
// empty GongUserID keeps the stored one, and a zero JoinedAt keeps the stored
// join time (or sets the current time on creation).
func (t *Tenant) PutUser(ctx context.Context, u User) (created bool, err error) {
	if err := validateID("user id", u.UserID); err != nil {
		return false, err
	}
	email := lowerEmail(u.Email)
	if email == "" {
		return false, fmt.Errorf("store: user %s of tenant %s has no email: pass the user's email address", u.UserID, t.id)
	}
	now := t.s.Now().UTC()
	update := expression.Set(expression.Name("userId"), expression.Value(u.UserID)).
		Set(expression.Name("email"), expression.Value(email)).
		Set(expression.Name("active"), expression.Value(u.Active)).
		Set(expression.Name("updatedAt"), expression.Value(now))
	if u.Name != "" {
		update = update.Set(expression.Name("name"), expression.Value(u.Name))
	} else {
		update = update.Remove(expression.Name("name"))
	}
	if u.GongUserID != "" {
		update = update.Set(expression.Name("gongUserId"), expression.Value(u.GongUserID))
	}
	if !u.JoinedAt.IsZero() {
		update = update.Set(expression.Name("joinedAt"), expression.Value(u.JoinedAt.UTC()))
	} else {
		update = update.Set(expression.Name("joinedAt"), expression.IfNotExists(expression.Name("joinedAt"), expression.Value(now)))
	}
	out, err := t.update(ctx, skUser+u.UserID, update, nil, types.ReturnValueUpdatedOld)
	if err != nil {
		return false, fmt.Errorf("store: put user %s of tenant %s: %w", u.UserID, t.id, err)
	}
	_, existed := out.Attributes["userId"]
	return !existed, nil
}

// SetUserGongID records the Gong user id matched to a user. It fails with
// ErrNotFound when the user does not exist.
func (t *Tenant) SetUserGongID(ctx context.Context, userID, gongUserID string) error {
	if err := validateID("user id", userID); err != nil {
		return err
	}
	update := expression.Set(expression.Name("gongUserId"), expression.Value(gongUserID)).
		Set(expression.Name("updatedAt"), expression.Value(t.s.Now().UTC()))
	cond := expression.AttributeExists(expression.Name("userId"))
	if _, err := t.update(ctx, skUser+userID, update, &cond, types.ReturnValueNone); err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("store: user %s of tenant %s: %w", userID, t.id, ErrNotFound)
		}
		return fmt.Errorf("store: set Gong user id of user %s of tenant %s: %w", userID, t.id, err)
	}
	return nil
}

// DeleteUser removes a user. Deleting a missing user is not an error.
func (t *Tenant) DeleteUser(ctx context.Context, userID string) error {
	if err := validateID("user id", userID); err != nil {
		return err
	}
	if err := t.deleteItem(ctx, skUser+userID); err != nil {
		return fmt.Errorf("store: delete user %s of tenant %s: %w", userID, t.id, err)
	}
	return nil
}

// Users returns all users of the tenant, active or not, ordered by user id.
func (t *Tenant) Users(ctx context.Context) ([]User, error) {
	users, err := queryItems[User](ctx, t, skUser, "user")
	if err != nil {
		return nil, fmt.Errorf("store: list users of tenant %s: %w", t.id, err)
	}
	return users, nil
}

// deleteItem deletes the tenant's item sk; a missing item is not an error.
func (t *Tenant) deleteItem(ctx context.Context, sk string) error {
	_, err := t.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(t.s.table),
		Key:       t.key(sk),
	})
	return err
}

// validateID checks an id that becomes part of a sort key: it must be
// non-empty, at most 256 bytes and free of the '#' separator.
func validateID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("store: %s is empty: pass a non-empty id", what)
	case len(id) > 256:
		return fmt.Errorf("store: %s %.20q... is %d bytes long: use at most 256", what, id, len(id))
	}
	for _, r := range id {
		if r == '#' {
			return fmt.Errorf("store: %s %q contains '#': ids must not contain the key separator", what, id)
		}
	}
	return nil
}

// marshalMap encodes v as an item, leaving out zero times tagged omitempty.
func marshalMap(v any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) {
		o.OmitEmptyTime = true
	})
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
