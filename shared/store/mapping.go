package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/calls"
)

// Mapping rules: why a call sits in a deal workspace, or does not.
const (
	RuleCRMOpportunity = "crm_opportunity" // Gong linked the call to the deal's opportunity or HubSpot deal
	RuleCRMAccount     = "crm_account"     // the call's account or company has exactly one open deal
	RuleContactEmail   = "contact_email"   // external participants are contacts of the deal
	RuleManual         = "manual"          // a person assigned or unassigned the call
	RuleUnmapped       = "unmapped"        // no rule matched
)

// Mapping is a call's deal assignment. It is stored on the call item
// (pk=TENANT#<t>, sk=CALL#<callId>) in the attributes dealId, mapRule, mapKey,
// mapManual, mappedAt and mappedBy; a mapped call also carries
// gsi1pk=TENANT#<t>#DEAL#<dealId> and gsi1sk=<started, RFC 3339 UTC>#<callId>
// so a deal's calls can be listed newest first. PutCall never writes these
// attributes, and automatic mapping never overwrites a manual one.
type Mapping struct {
	DealID   string    `dynamodbav:"dealId,omitempty"`   // empty when unmapped
	Rule     string    `dynamodbav:"mapRule,omitempty"`  // one of the Rule constants; empty when never evaluated
	Key      string    `dynamodbav:"mapKey,omitempty"`   // the CRM id or email that decided
	Manual   bool      `dynamodbav:"mapManual"`          // set by a person; automatic mapping leaves it alone
	MappedAt time.Time `dynamodbav:"mappedAt"`           // when this mapping was written
	MappedBy string    `dynamodbav:"mappedBy,omitempty"` // user who assigned a manual mapping
}

// mappingRecord is Mapping as read from a call item, with the index key.
type mappingRecord struct {
	Mapping
	GSI1SK string `dynamodbav:"gsi1sk,omitempty"`
}

// mappingAttrs are the call item attributes the mapping owns.
var mappingAttrs = []string{"dealId", "mapRule", "mapKey", "mapManual", "mappedAt", "mappedBy", AttrGSI1PK, AttrGSI1SK}

// ErrDealNotFound is returned when a call is assigned to a deal the tenant
// does not have. errors.Is(err, ErrNotFound) holds for it too.
var ErrDealNotFound = fmt.Errorf("store: deal %w", ErrNotFound)

// DealIndexPK returns the gsi1pk of the tenant's calls mapped to a deal.
func (t *Tenant) DealIndexPK(dealID string) string { return t.pk + "#DEAL#" + dealID }

// DealIndexSK returns the gsi1sk of a mapped call. The time has a fixed width
// (seconds, UTC), so the string order is the time order.
func DealIndexSK(started time.Time, callID string) string {
	return started.UTC().Format(time.RFC3339) + "#" + callID
}

// GetMapping returns the mapping stored on a call, or ErrNotFound when the
// call is not stored. A stored call never evaluated has an empty Rule.
func (t *Tenant) GetMapping(ctx context.Context, callID string) (Mapping, error) {
	rec, err := t.getMappingRecord(ctx, callID)
	return rec.Mapping, err
}

func (t *Tenant) getMappingRecord(ctx context.Context, callID string) (mappingRecord, error) {
	if err := validateID("call id", callID); err != nil {
		return mappingRecord{}, err
	}
	names := append([]string{AttrPK}, mappingAttrs...)
	proj := expression.NamesList(expression.Name(names[0]))
	for _, n := range names[1:] {
		proj = proj.AddNames(expression.Name(n))
	}
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return mappingRecord{}, fmt.Errorf("store: build mapping read: %w", err)
	}
	out, err := t.s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(t.s.table),
		Key:                      t.key(CallSK(callID)),
		ProjectionExpression:     expr.Projection(),
		ExpressionAttributeNames: expr.Names(),
		ConsistentRead:           aws.Bool(true),
	})
	if err != nil {
		return mappingRecord{}, fmt.Errorf("store: read mapping of call %s of tenant %s: %w", callID, t.id, err)
	}
	if len(out.Item) == 0 {
		return mappingRecord{}, fmt.Errorf("store: call %s of tenant %s: %w", callID, t.id, ErrNotFound)
	}
	var rec mappingRecord
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return mappingRecord{}, fmt.Errorf("store: decode mapping of call %s of tenant %s: %w", callID, t.id, err)
	}
	return rec, nil
}

// mappingUpdate builds the update that stores m on the call.
func (t *Tenant) mappingUpdate(callID string, started time.Time, m Mapping) expression.UpdateBuilder {
	update := expression.Set(expression.Name("mapRule"), expression.Value(m.Rule)).
		Set(expression.Name("mapManual"), expression.Value(m.Manual)).
		Set(expression.Name("mappedAt"), expression.Value(m.MappedAt))
	setOrRemove := func(name, value string) {
		if value == "" {
			update = update.Remove(expression.Name(name))
		} else {
			update = update.Set(expression.Name(name), expression.Value(value))
		}
	}
	setOrRemove("dealId", m.DealID)
	setOrRemove("mapKey", m.Key)
	setOrRemove("mappedBy", m.MappedBy)
	if m.DealID == "" {
		setOrRemove(AttrGSI1PK, "")
		setOrRemove(AttrGSI1SK, "")
	} else {
		setOrRemove(AttrGSI1PK, t.DealIndexPK(m.DealID))
		setOrRemove(AttrGSI1SK, DealIndexSK(started, callID))
	}
	return update
}

// SetAutoMapping stores an automatic mapping decision on a stored call, unless
// the call has a manual mapping. It returns the mapping the call has
// afterwards and whether m was applied. A call that is not stored gets
// ErrNotFound: mapping never creates a call item. The write is one
// conditional UpdateItem, so it cannot overwrite a manual assignment made
// concurrently. When the manual mapping names a deal, its index sort key is
// refreshed from started, because Gong can move a call's start time.
func (t *Tenant) SetAutoMapping(ctx context.Context, callID string, started time.Time, m Mapping) (Mapping, bool, error) {
	if err := validateID("call id", callID); err != nil {
		return Mapping{}, false, err
	}
	switch m.Rule {
	case RuleCRMOpportunity, RuleCRMAccount, RuleContactEmail:
		if err := ValidateDealID(m.DealID); err != nil {
			return Mapping{}, false, err
		}
	case RuleUnmapped:
		m.DealID, m.Key = "", ""
	default:
		return Mapping{}, false, fmt.Errorf("store: mapping rule %q is not automatic: use SetManualMapping for manual assignments", m.Rule)
	}
	m.Manual, m.MappedBy = false, ""
	if m.MappedAt.IsZero() {
		m.MappedAt = t.s.Now().UTC()
	}
	cond := expression.AttributeExists(expression.Name(AttrPK)).And(
		expression.AttributeNotExists(expression.Name("mapManual")).
			Or(expression.Name("mapManual").Equal(expression.Value(false))))
	_, err := t.update(ctx, CallSK(callID), t.mappingUpdate(callID, started, m), &cond, types.ReturnValueNone)
	if err == nil {
		return m, true, nil
	}
	if !isConditionFailed(err) {
		return Mapping{}, false, fmt.Errorf("store: map call %s of tenant %s: %w", callID, t.id, err)
	}
	rec, err := t.getMappingRecord(ctx, callID)
	if err != nil {
		return Mapping{}, false, err
	}
	if !rec.Manual {
		return Mapping{}, false, fmt.Errorf("store: map call %s of tenant %s: the call changed during the write; retry", callID, t.id)
	}
	if rec.DealID != "" && !started.IsZero() && rec.GSI1SK != DealIndexSK(started, callID) {
		if err := t.refreshManualIndexKey(ctx, callID, started, rec.Mapping); err != nil {
			return Mapping{}, false, err
		}
	}
	return rec.Mapping, false, nil
}

func (t *Tenant) refreshManualIndexKey(ctx context.Context, callID string, started time.Time, m Mapping) error {
	update := expression.Set(expression.Name(AttrGSI1SK), expression.Value(DealIndexSK(started, callID)))
	cond := expression.Name("mapManual").Equal(expression.Value(true)).
		And(expression.Name("dealId").Equal(expression.Value(m.DealID)))
	_, err := t.update(ctx, CallSK(callID), update, &cond, types.ReturnValueNone)
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: refresh index key of call %s of tenant %s: %w", callID, t.id, err)
	}
	return nil
}

// SetManualMapping assigns a stored call to one of the tenant's deals, or
// unassigns it when dealID is empty, on behalf of the user by. The mapping is
// marked manual, so syncs and remaps keep it. The deal's existence and the
// write are checked in one transaction: it fails with ErrDealNotFound when
// the tenant has no such deal and ErrNotFound when the call is not stored.
// started is the call's start time, used for the deal index sort key.
func (t *Tenant) SetManualMapping(ctx context.Context, callID string, started time.Time, dealID, by string) (Mapping, error) {
	if err := validateID("call id", callID); err != nil {
		return Mapping{}, err
	}
	m := Mapping{DealID: dealID, Rule: RuleManual, Manual: true, MappedAt: t.s.Now().UTC(), MappedBy: by}
	var items []types.TransactWriteItem
	if dealID != "" {
		if err := ValidateDealID(dealID); err != nil {
			return Mapping{}, err
		}
		exists, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(AttrPK))).Build()
		if err != nil {
			return Mapping{}, fmt.Errorf("store: build deal check: %w", err)
		}
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                aws.String(t.s.table),
			Key:                      t.key(skDeal + dealID),
			ConditionExpression:      exists.Condition(),
			ExpressionAttributeNames: exists.Names(),
		}})
	}
	expr, err := expression.NewBuilder().
		WithUpdate(t.mappingUpdate(callID, started, m)).
		WithCondition(expression.AttributeExists(expression.Name(AttrPK))).
		Build()
	if err != nil {
		return Mapping{}, fmt.Errorf("store: build manual mapping: %w", err)
	}
	items = append(items, types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(t.s.table),
		Key:                       t.key(CallSK(callID)),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}})
	_, err = t.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return m, nil
	}
	if !isConditionFailed(err) {
		return Mapping{}, fmt.Errorf("store: assign call %s of tenant %s to deal %q: %w", callID, t.id, dealID, err)
	}
	// Find which condition failed; the deal is checked first.
	if dealID != "" {
		if _, derr := t.GetDeal(ctx, dealID); errors.Is(derr, ErrNotFound) {
			return Mapping{}, fmt.Errorf("store: assign call %s of tenant %s: deal %s: %w", callID, t.id, dealID, ErrDealNotFound)
		}
	}
	return Mapping{}, fmt.Errorf("store: assign call %s of tenant %s: %w", callID, t.id, ErrNotFound)
}

// MappedCall is a call listed under a deal, with its mapping.
type MappedCall struct {
	Call    calls.Call
	Mapping Mapping
}

// DealCalls lists the calls mapped to a deal, newest first, at most limit
// (1 to 100) per page. after is the index sort key of the last call of the
// previous page, or "" for the first page. next is the value to pass for the
// following page, and "" after the last. The index is eventually consistent,
// so a mapping written a moment ago may be missing from the list.
func (t *Tenant) DealCalls(ctx context.Context, dealID string, limit int, after string) (page []MappedCall, next string, err error) {
	if err := ValidateDealID(dealID); err != nil {
		return nil, "", err
	}
	if limit < 1 || limit > 100 {
		return nil, "", fmt.Errorf("store: page size %d is out of range: use 1 to 100", limit)
	}
	gsiPK := t.DealIndexPK(dealID)
	keyCond := expression.Key(AttrGSI1PK).Equal(expression.Value(gsiPK))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, "", fmt.Errorf("store: build deal calls query: %w", err)
	}
	input := &dynamodb.QueryInput{
		TableName:                 aws.String(t.s.table),
		IndexName:                 aws.String(IndexByDeal),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
	}
	if after != "" {
		_, callID, ok := strings.Cut(after, "#")
		if !ok || validateID("call id", callID) != nil {
			return nil, "", fmt.Errorf("store: page position %q is invalid: pass the value a previous page returned", after)
		}
		input.ExclusiveStartKey = map[string]types.AttributeValue{
			AttrPK:     &types.AttributeValueMemberS{Value: t.pk},
			AttrSK:     &types.AttributeValueMemberS{Value: CallSK(callID)},
			AttrGSI1PK: &types.AttributeValueMemberS{Value: gsiPK},
			AttrGSI1SK: &types.AttributeValueMemberS{Value: after},
		}
	}
	out, err := t.s.db.Query(ctx, input)
	if err != nil {
		return nil, "", fmt.Errorf("store: list calls of deal %s of tenant %s: %w", dealID, t.id, err)
	}
	for _, raw := range out.Items {
		var rec callRecord
		var m Mapping
		if err := attributevalue.UnmarshalMap(raw, &rec); err != nil {
			return nil, "", fmt.Errorf("store: decode call of deal %s of tenant %s: %w", dealID, t.id, err)
		}
		if err := attributevalue.UnmarshalMap(raw, &m); err != nil {
			return nil, "", fmt.Errorf("store: decode mapping of call %s of tenant %s: %w", rec.CallID, t.id, err)
		}
		page = append(page, MappedCall{Call: fromCallRecord(t.id, rec), Mapping: m})
	}
	// The position is the last item's own index sort key, so it does not
	// depend on which attributes the store returns in LastEvaluatedKey.
	if len(out.LastEvaluatedKey) > 0 && len(out.Items) > 0 {
		if v, ok := out.Items[len(out.Items)-1][AttrGSI1SK].(*types.AttributeValueMemberS); ok {
			next = v.Value
		}
	}
	return page, next, nil
}

// CallForMapping is the part of a stored call that mapping reads: CallID,
// Started, Participants and CRM of Call are set, the rest is empty.
type CallForMapping struct {
	Call    calls.Call
	Mapping Mapping
}

// ScanCallsForMapping pages through the tenant's calls that have no manual
// mapping, in call id order, reading only the attributes mapping needs. It
// starts after the call sort key startAfter ("" for the beginning) and calls
// fn once per page with the last sort key read, which is a resume position.
func (t *Tenant) ScanCallsForMapping(ctx context.Context, startAfter string, fn func(page []CallForMapping, last string) error) error {
	keyCond := expression.Key(AttrPK).Equal(expression.Value(t.pk)).
		And(expression.Key(AttrSK).BeginsWith(skCall))
	filter := expression.AttributeNotExists(expression.Name("mapManual")).
		Or(expression.Name("mapManual").Equal(expression.Value(false)))
	proj := expression.NamesList(expression.Name(AttrSK), expression.Name("callId"), expression.Name("started"),
		expression.Name("participants"), expression.Name("crm"))
	for _, n := range mappingAttrs {
		proj = proj.AddNames(expression.Name(n))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).WithFilter(filter).WithProjection(proj).Build()
	if err != nil {
		return fmt.Errorf("store: build call scan: %w", err)
	}
	input := &dynamodb.QueryInput{
		TableName:                 aws.String(t.s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(200),
	}
	if startAfter != "" {
		if !strings.HasPrefix(startAfter, skCall) {
			return fmt.Errorf("store: resume position %q is not a call sort key", startAfter)
		}
		input.ExclusiveStartKey = t.key(startAfter)
	}
	p := dynamodb.NewQueryPaginator(t.s.db, input)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("store: read calls of tenant %s for mapping: %w", t.id, err)
		}
		page := make([]CallForMapping, 0, len(out.Items))
		for _, raw := range out.Items {
			var row struct {
				CallID       string          `dynamodbav:"callId"`
				Started      time.Time       `dynamodbav:"started"`
				Participants []participantAV `dynamodbav:"participants"`
				CRM          []crmObjectAV   `dynamodbav:"crm"`
			}
			var m Mapping
			if err := attributevalue.UnmarshalMap(raw, &row); err != nil {
				return fmt.Errorf("store: decode call of tenant %s for mapping: %w", t.id, err)
			}
			if err := attributevalue.UnmarshalMap(raw, &m); err != nil {
				return fmt.Errorf("store: decode mapping of call %s of tenant %s: %w", row.CallID, t.id, err)
			}
			c := calls.Call{TenantID: t.id, CallID: row.CallID, Started: row.Started}
			for _, p := range row.Participants {
				c.Participants = append(c.Participants, calls.Participant(p))
			}
			for _, o := range row.CRM {
				c.CRM = append(c.CRM, calls.CRMObject(o))
			}
			page = append(page, CallForMapping{Call: c, Mapping: m})
		}
		last := ""
		if v, ok := out.LastEvaluatedKey[AttrSK].(*types.AttributeValueMemberS); ok {
			last = v.Value
		} else if n := len(out.Items); n > 0 {
			last = CallSK(page[n-1].Call.CallID)
		}
		if err := fn(page, last); err != nil {
			return err
		}
	}
	return nil
}

// RemapState is the item pk=TENANT#<t>, sk=DEALMAP. Every deal change that
// can alter a mapping adds one to DealsGeneration. A remap that finishes
// records the generation it started from in RemappedGeneration. A remap in
// progress saves its position as Cursor, so the next run resumes there while
// the generation is unchanged.
type RemapState struct {
	DealsGeneration    int64     `dynamodbav:"dealsGeneration"`
	DealsChangedAt     time.Time `dynamodbav:"dealsChangedAt"`
	RemappedGeneration int64     `dynamodbav:"remappedGeneration"`
	RemappedAt         time.Time `dynamodbav:"remappedAt"`
	Cursor             string    `dynamodbav:"remapCursor,omitempty"`
	CursorGeneration   int64     `dynamodbav:"remapCursorGeneration,omitempty"`
}

// Stale reports whether deals changed after the last finished remap.
func (s RemapState) Stale() bool { return s.DealsGeneration > s.RemappedGeneration }

// GetRemapState returns the tenant's remap state; the zero value when no deal
// was ever written.
func (t *Tenant) GetRemapState(ctx context.Context) (RemapState, error) {
	var st RemapState
	err := t.getItem(ctx, skDealMap, &st)
	if errors.Is(err, ErrNotFound) {
		return RemapState{}, nil
	}
	return st, err
}

func (t *Tenant) markDealsChanged(ctx context.Context, at time.Time) error {
	update := expression.Add(expression.Name("dealsGeneration"), expression.Value(1)).
		Set(expression.Name("dealsChangedAt"), expression.Value(at))
	if _, err := t.update(ctx, skDealMap, update, nil, types.ReturnValueNone); err != nil {
		return fmt.Errorf("store: record deal change of tenant %s: %w", t.id, err)
	}
	return nil
}

// notRemappedCondition holds while the generation has not been finished.
func notRemappedCondition(generation int64) expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name("remappedGeneration")).
		Or(expression.Name("remappedGeneration").LessThan(expression.Value(generation)))
}

// SaveRemapProgress records that a remap of the given generation has
// evaluated every call up to the sort key cursor. It does nothing once that
// generation is finished.
func (t *Tenant) SaveRemapProgress(ctx context.Context, generation int64, cursor string) error {
	update := expression.Set(expression.Name("remapCursor"), expression.Value(cursor)).
		Set(expression.Name("remapCursorGeneration"), expression.Value(generation))
	cond := notRemappedCondition(generation)
	if _, err := t.update(ctx, skDealMap, update, &cond, types.ReturnValueNone); err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: save remap progress of tenant %s: %w", t.id, err)
	}
	return nil
}

// FinishRemap records that every call was evaluated against the deals of the
// given generation and clears the saved position. An older generation than
// the one recorded is ignored.
func (t *Tenant) FinishRemap(ctx context.Context, generation int64) error {
	update := expression.Set(expression.Name("remappedGeneration"), expression.Value(generation)).
		Set(expression.Name("remappedAt"), expression.Value(t.s.Now().UTC())).
		Remove(expression.Name("remapCursor")).
		Remove(expression.Name("remapCursorGeneration"))
	cond := notRemappedCondition(generation)
	if _, err := t.update(ctx, skDealMap, update, &cond, types.ReturnValueNone); err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: finish remap of tenant %s: %w", t.id, err)
	}
	return nil
}
