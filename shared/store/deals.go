package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Deal is a deal workspace of the product, written by the rest of the product
// through PutDeal. Calls are mapped to deals by the package mapping.
//
// Item pk=TENANT#<t>, sk=DEAL#<dealId>, attributes:
//
//	dealId                  string   letters, digits, '-', '_' or '.', at most 128 characters
//	name                    string
//	salesforceOpportunityId string   18-character form when the id has 15 or 18 characters
//	salesforceAccountId     string   same normalisation
//	hubspotDealId           string
//	hubspotCompanyId        string
//	contactEmails           []string lower-cased, sorted, without duplicates
//	open                    bool     false once the deal is won or lost
//	createdAt, updatedAt    string   RFC 3339 UTC
//	version                 number   grows by one on every write; guards concurrent writers
//	lookupKeys              []string sort keys of the deal's lookup items
//
// Every non-empty id and every contact email also has a lookup item
// pk=TENANT#<t>, sk=DEALKEY#<kind>#<value>#<dealId> with attributes dealId,
// keyKind, keyValue and dealVersion, so mapping finds deals by a Query on the
// prefix DEALKEY#<kind>#<value># and never scans. Kinds are sfopp, sfacct,
// hsdeal, hscomp and email.
type Deal struct {
	DealID                  string    `dynamodbav:"dealId"`
	Name                    string    `dynamodbav:"name"`
	SalesforceOpportunityID string    `dynamodbav:"salesforceOpportunityId,omitempty"`
	SalesforceAccountID     string    `dynamodbav:"salesforceAccountId,omitempty"`
	HubSpotDealID           string    `dynamodbav:"hubspotDealId,omitempty"`
	HubSpotCompanyID        string    `dynamodbav:"hubspotCompanyId,omitempty"`
	ContactEmails           []string  `dynamodbav:"contactEmails,omitempty"`
	Open                    bool      `dynamodbav:"open"`
	CreatedAt               time.Time `dynamodbav:"createdAt"`
	UpdatedAt               time.Time `dynamodbav:"updatedAt"`
}

// dealItem is the stored form of a deal.
type dealItem struct {
	Deal
	Version    int64    `dynamodbav:"version"`
	LookupKeys []string `dynamodbav:"lookupKeys,omitempty"`
}

// Kinds of deal lookup keys.
const (
	KeySalesforceOpportunity = "sfopp"
	KeySalesforceAccount     = "sfacct"
	KeyHubSpotDeal           = "hsdeal"
	KeyHubSpotCompany        = "hscomp"
	KeyContactEmail          = "email"
)

// Limits of a deal's fields.
const (
	MaxDealContacts  = 500
	maxDealNameLen   = 1024
	maxDealKeyLen    = 320 // 64-character local part, '@' and 255-character domain
	dealWriteRetries = 3
)

// ErrDealConflict is returned when concurrent writers kept changing the same
// deal; the caller may retry.
var ErrDealConflict = errors.New("store: deal changed concurrently")

// ValidateDealID checks that a deal id is 1 to 128 characters of letters,
// digits, '-', '_' or '.', so it cannot break the key layout.
func ValidateDealID(id string) error {
	if id == "" {
		return errors.New("store: deal id is empty: pass the deal workspace's id")
	}
	if len(id) > 128 {
		return fmt.Errorf("store: deal id %.20q... is %d characters long: use at most 128", id, len(id))
	}
	for _, r := range id {
		if !isIDRune(r) {
			return fmt.Errorf("store: deal id %q contains %q: use only letters, digits, '-', '_' and '.'", id, r)
		}
	}
	return nil
}

func isIDRune(r rune) bool {
	return r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}

// salesforceSuffixAlphabet maps a 5-bit case mask to a Salesforce id suffix
// character.
const salesforceSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// NormalizeSalesforceID returns the 18-character form of a Salesforce record
// id. A 15-character id is case-sensitive; Salesforce appends three characters
// that encode, five characters at a time, which letters are upper-case. An
// 18-character id whose letters lost their case (some tools upper-case ids)
// gets that case restored from its suffix, so both forms of one record
// normalise to the same string. Other values are returned trimmed and
// unchanged: they only ever match the identical string. Empty input returns "".
func NormalizeSalesforceID(id string) string {
	id = strings.TrimSpace(id)
	if !isAlphanumeric(id) {
		return id
	}
	switch len(id) {
	case 15:
		return id + salesforceSuffix(id)
	case 18:
		base := []byte(id[:15])
		for chunk := 0; chunk < 3; chunk++ {
			mask := strings.IndexByte(salesforceSuffixAlphabet, upperASCII(id[15+chunk]))
			if mask < 0 {
				return id
			}
			for i := 0; i < 5; i++ {
				c := base[chunk*5+i]
				if mask&(1<<i) != 0 {
					base[chunk*5+i] = upperASCII(c)
				} else {
					base[chunk*5+i] = lowerASCII(c)
				}
			}
		}
		return string(base) + salesforceSuffix(string(base))
	}
	return id
}

// salesforceSuffix computes the three checksum characters of a 15-character
// Salesforce id.
func salesforceSuffix(id15 string) string {
	var suffix [3]byte
	for chunk := 0; chunk < 3; chunk++ {
		mask := 0
		for i := 0; i < 5; i++ {
			if c := id15[chunk*5+i]; c >= 'A' && c <= 'Z' {
				mask |= 1 << i
			}
		}
		suffix[chunk] = salesforceSuffixAlphabet[mask]
	}
	return string(suffix[:])
}

func isAlphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return s != ""
}

func upperASCII(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c - 'A' + 'a'
	}
	return c
}

// NormalizeDealKey returns the form in which a value of the given key kind is
// stored and compared: Salesforce ids in their 18-character form, emails
// lower-cased, HubSpot ids trimmed. An empty result never matches anything.
func NormalizeDealKey(kind, value string) string {
	switch kind {
	case KeySalesforceOpportunity, KeySalesforceAccount:
		return NormalizeSalesforceID(value)
	case KeyContactEmail:
		return lowerEmail(value)
	default:
		return strings.TrimSpace(value)
	}
}

// dealKeySK returns the sort key of a lookup item.
func dealKeySK(kind, value, dealID string) string {
	return dealKeyPrefix(kind, value) + dealID
}

func dealKeyPrefix(kind, value string) string {
	return skDealKey + kind + "#" + value + "#"
}

// normalize validates the deal and returns it in stored form.
func (d Deal) normalize() (Deal, error) {
	if err := ValidateDealID(d.DealID); err != nil {
		return Deal{}, err
	}
	d.Name = strings.TrimSpace(d.Name)
	if len(d.Name) > maxDealNameLen {
		return Deal{}, fmt.Errorf("store: name of deal %s is %d bytes long: use at most %d", d.DealID, len(d.Name), maxDealNameLen)
	}
	d.SalesforceOpportunityID = NormalizeDealKey(KeySalesforceOpportunity, d.SalesforceOpportunityID)
	d.SalesforceAccountID = NormalizeDealKey(KeySalesforceAccount, d.SalesforceAccountID)
	d.HubSpotDealID = NormalizeDealKey(KeyHubSpotDeal, d.HubSpotDealID)
	d.HubSpotCompanyID = NormalizeDealKey(KeyHubSpotCompany, d.HubSpotCompanyID)
	for _, id := range []string{d.SalesforceOpportunityID, d.SalesforceAccountID, d.HubSpotDealID, d.HubSpotCompanyID} {
		if len(id) > maxDealKeyLen {
			return Deal{}, fmt.Errorf("store: CRM id %.20q... of deal %s is too long: use at most %d characters", id, d.DealID, maxDealKeyLen)
		}
	}
	emails := make([]string, 0, len(d.ContactEmails))
	for _, e := range d.ContactEmails {
		e = lowerEmail(e)
		if e == "" {
			continue
		}
		if len(e) > maxDealKeyLen || !strings.Contains(e, "@") {
			return Deal{}, fmt.Errorf("store: contact email %.40q of deal %s is invalid: pass an address such as name@example.com", e, d.DealID)
		}
		emails = append(emails, e)
	}
	slices.Sort(emails)
	emails = slices.Compact(emails)
	if len(emails) > MaxDealContacts {
		return Deal{}, fmt.Errorf("store: deal %s has %d contact emails: use at most %d", d.DealID, len(emails), MaxDealContacts)
	}
	d.ContactEmails = emails
	if len(d.ContactEmails) == 0 {
		d.ContactEmails = nil
	}
	return d, nil
}

// lookupKeys returns the sort keys of the deal's lookup items, sorted.
func (d Deal) lookupKeys() []string {
	var keys []string
	add := func(kind, value string) {
		if value != "" {
			keys = append(keys, dealKeySK(kind, value, d.DealID))
		}
	}
	add(KeySalesforceOpportunity, d.SalesforceOpportunityID)
	add(KeySalesforceAccount, d.SalesforceAccountID)
	add(KeyHubSpotDeal, d.HubSpotDealID)
	add(KeyHubSpotCompany, d.HubSpotCompanyID)
	for _, e := range d.ContactEmails {
		add(KeyContactEmail, e)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// HasKey reports whether the deal currently carries the normalised value of
// the given key kind. Mapping uses it to confirm what a lookup item found.
func (d Deal) HasKey(kind, value string) bool {
	if value == "" {
		return false
	}
	switch kind {
	case KeySalesforceOpportunity:
		return d.SalesforceOpportunityID == value
	case KeySalesforceAccount:
		return d.SalesforceAccountID == value
	case KeyHubSpotDeal:
		return d.HubSpotDealID == value
	case KeyHubSpotCompany:
		return d.HubSpotCompanyID == value
	case KeyContactEmail:
		_, found := slices.BinarySearch(d.ContactEmails, value)
		return found
	}
	return false
}

// mappingFieldsEqual reports whether two deals map calls the same way.
func (d Deal) mappingFieldsEqual(o Deal) bool {
	return d.Open == o.Open && slices.Equal(d.lookupKeys(), o.lookupKeys())
}

// GetDeal returns the tenant's deal, or ErrNotFound.
func (t *Tenant) GetDeal(ctx context.Context, dealID string) (Deal, error) {
	item, err := t.getDealItem(ctx, dealID)
	return item.Deal, err
}

func (t *Tenant) getDealItem(ctx context.Context, dealID string) (dealItem, error) {
	if err := ValidateDealID(dealID); err != nil {
		return dealItem{}, err
	}
	var item dealItem
	err := t.getItem(ctx, skDeal+dealID, &item)
	return item, err
}

// GetDeals returns the tenant's deals with the given ids, keyed by id. Ids
// without a deal are absent from the result.
func (t *Tenant) GetDeals(ctx context.Context, dealIDs []string) (map[string]Deal, error) {
	ids := slices.Clone(dealIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	deals := make(map[string]Deal, len(ids))
	for start := 0; start < len(ids); start += 100 {
		chunk := ids[start:min(start+100, len(ids))]
		keys := make([]map[string]types.AttributeValue, 0, len(chunk))
		for _, id := range chunk {
			if err := ValidateDealID(id); err != nil {
				return nil, err
			}
			keys = append(keys, t.key(skDeal+id))
		}
		request := map[string]types.KeysAndAttributes{t.s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(request) > 0; attempt++ {
			if attempt == 5 {
				return nil, fmt.Errorf("store: read deals of tenant %s: DynamoDB left keys unprocessed after 5 attempts", t.id)
			}
			out, err := t.s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
			if err != nil {
				return nil, fmt.Errorf("store: read deals of tenant %s: %w", t.id, err)
			}
			for _, raw := range out.Responses[t.s.table] {
				var d Deal
				if err := attributevalue.UnmarshalMap(raw, &d); err != nil {
					return nil, fmt.Errorf("store: decode deal of tenant %s: %w", t.id, err)
				}
				deals[d.DealID] = d
			}
			request = out.UnprocessedKeys
			if err := dealBackoff(ctx, attempt, len(request)); err != nil {
				return nil, err
			}
		}
	}
	return deals, nil
}

// DealIDsByKey returns the ids of the tenant's deals whose lookup items carry
// the value of the given kind; the value is normalised first. An empty value
// matches nothing. A lookup item can briefly outlive a change of its deal, so
// callers confirm each hit with Deal.HasKey.
func (t *Tenant) DealIDsByKey(ctx context.Context, kind, value string) ([]string, error) {
	value = NormalizeDealKey(kind, value)
	if value == "" {
		return nil, nil
	}
	var ids []string
	err := t.queryPrefix(ctx, dealKeyPrefix(kind, value), []string{"dealId", "keyValue"}, func(raw map[string]types.AttributeValue) error {
		var row struct {
			DealID   string `dynamodbav:"dealId"`
			KeyValue string `dynamodbav:"keyValue"`
		}
		if err := attributevalue.UnmarshalMap(raw, &row); err != nil {
			return fmt.Errorf("decode deal lookup: %w", err)
		}
		// The value may itself contain '#', so the prefix alone could
		// match a longer value.
		if row.KeyValue == value {
			ids = append(ids, row.DealID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: look up deals by %s of tenant %s: %w", kind, t.id, err)
	}
	return ids, nil
}

// PutDeal creates or replaces the tenant's deal and returns it as stored. The
// deal's fields are normalised (see Deal). CreatedAt is kept from the stored
// deal, or taken from d on creation (now when zero); UpdatedAt is always now.
// When the ids, contact emails or open state change, PutDeal advances the
// tenant's deals generation, so a later remap re-evaluates the calls.
//
// The writes are ordered so that readers never match a deal by a key it does
// not have. New lookup items are written first, then the deal item under an
// optimistic version check. Last, lookup items the deal no longer has are
// deleted, each only when no newer write of the deal put it back.
func (t *Tenant) PutDeal(ctx context.Context, d Deal) (stored Deal, created bool, err error) {
	d, err = d.normalize()
	if err != nil {
		return Deal{}, false, err
	}
	for attempt := 0; attempt < dealWriteRetries; attempt++ {
		stored, created, err = t.putDealOnce(ctx, d)
		if !errors.Is(err, ErrDealConflict) {
			return stored, created, err
		}
	}
	return Deal{}, false, fmt.Errorf("store: put deal %s of tenant %s after %d attempts: %w", d.DealID, t.id, dealWriteRetries, ErrDealConflict)
}

func (t *Tenant) putDealOnce(ctx context.Context, d Deal) (Deal, bool, error) {
	old, err := t.getDealItem(ctx, d.DealID)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Deal{}, false, err
	}
	now := t.s.Now().UTC()
	d.UpdatedAt = now
	switch {
	case exists:
		d.CreatedAt = old.CreatedAt
	case d.CreatedAt.IsZero():
		d.CreatedAt = now
	default:
		d.CreatedAt = d.CreatedAt.UTC()
	}
	item := dealItem{Deal: d, Version: old.Version + 1, LookupKeys: d.lookupKeys()}
	added, removed := diffSorted(old.LookupKeys, item.LookupKeys)

	if err := t.putDealKeys(ctx, d.DealID, item.Version, added); err != nil {
		return Deal{}, false, err
	}
	if err := t.putDealItem(ctx, item, old.Version, exists); err != nil {
		return Deal{}, false, err
	}
	for _, sk := range removed {
		if err := t.deleteDealKey(ctx, sk, item.Version); err != nil {
			return Deal{}, false, err
		}
	}
	if !exists || !old.mappingFieldsEqual(d) {
		if err := t.markDealsChanged(ctx, now); err != nil {
			return Deal{}, false, err
		}
	}
	return d, !exists, nil
}

// putDealKeys writes lookup items in batches of 25.
func (t *Tenant) putDealKeys(ctx context.Context, dealID string, version int64, sks []string) error {
	for start := 0; start < len(sks); start += 25 {
		var writes []types.WriteRequest
		for _, sk := range sks[start:min(start+25, len(sks))] {
			kind, value := parseDealKeySK(sk, dealID)
			item := t.key(sk)
			item["dealId"] = &types.AttributeValueMemberS{Value: dealID}
			item["keyKind"] = &types.AttributeValueMemberS{Value: kind}
			item["keyValue"] = &types.AttributeValueMemberS{Value: value}
			item["dealVersion"] = &types.AttributeValueMemberN{Value: fmt.Sprint(version)}
			writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		}
		request := map[string][]types.WriteRequest{t.s.table: writes}
		for attempt := 0; len(request) > 0; attempt++ {
			if attempt == 5 {
				return fmt.Errorf("store: write lookup items of deal %s of tenant %s: DynamoDB left items unprocessed after 5 attempts", dealID, t.id)
			}
			out, err := t.s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: request})
			if err != nil {
				return fmt.Errorf("store: write lookup items of deal %s of tenant %s: %w", dealID, t.id, err)
			}
			request = out.UnprocessedItems
			if err := dealBackoff(ctx, attempt, len(request)); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseDealKeySK splits DEALKEY#<kind>#<value>#<dealId>; the value may
// contain '#'.
func parseDealKeySK(sk, dealID string) (kind, value string) {
	rest := strings.TrimSuffix(strings.TrimPrefix(sk, skDealKey), "#"+dealID)
	kind, value, _ = strings.Cut(rest, "#")
	return kind, value
}

// putDealItem writes the deal item if its stored version is still oldVersion.
func (t *Tenant) putDealItem(ctx context.Context, item dealItem, oldVersion int64, exists bool) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("store: encode deal %s of tenant %s: %w", item.DealID, t.id, err)
	}
	for k, v := range t.key(skDeal + item.DealID) {
		av[k] = v
	}
	cond := expression.AttributeNotExists(expression.Name(AttrPK))
	if exists {
		cond = expression.Name("version").Equal(expression.Value(oldVersion))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("store: build deal write: %w", err)
	}
	_, err = t.s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(t.s.table),
		Item:                      av,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return ErrDealConflict
	}
	if err != nil {
		return fmt.Errorf("store: write deal %s of tenant %s: %w", item.DealID, t.id, err)
	}
	return nil
}

// deleteDealKey deletes a lookup item unless a write of the deal newer than
// version put it back.
func (t *Tenant) deleteDealKey(ctx context.Context, sk string, version int64) error {
	cond := expression.Name("dealVersion").LessThan(expression.Value(version))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("store: build lookup delete: %w", err)
	}
	_, err = t.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(t.s.table),
		Key:                       t.key(sk),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: delete lookup item %s of tenant %s: %w", sk, t.id, err)
	}
	return nil
}

// DeleteDeal deletes the tenant's deal and its lookup items and advances the
// deals generation. Calls mapped to it automatically are unmapped or mapped
// elsewhere by the next remap; manual assignments keep the deal id. Deleting
// a missing deal is not an error.
func (t *Tenant) DeleteDeal(ctx context.Context, dealID string) error {
	old, err := t.getDealItem(ctx, dealID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cond := expression.Name("version").Equal(expression.Value(old.Version))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("store: build deal delete: %w", err)
	}
	_, err = t.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(t.s.table),
		Key:                       t.key(skDeal + dealID),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return fmt.Errorf("store: delete deal %s of tenant %s: %w", dealID, t.id, ErrDealConflict)
	}
	if err != nil {
		return fmt.Errorf("store: delete deal %s of tenant %s: %w", dealID, t.id, err)
	}
	for _, sk := range old.LookupKeys {
		if err := t.deleteDealKey(ctx, sk, old.Version+1); err != nil {
			return err
		}
	}
	return t.markDealsChanged(ctx, t.s.Now().UTC())
}

// diffSorted returns the elements only in b (added) and only in a (removed).
func diffSorted(a, b []string) (added, removed []string) {
	for _, s := range b {
		if !slices.Contains(a, s) {
			added = append(added, s)
		}
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			removed = append(removed, s)
		}
	}
	return added, removed
}

// dealBackoff waits before retrying unprocessed batch items.
func dealBackoff(ctx context.Context, attempt, pending int) error {
	if pending == 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("store: retry unprocessed items: %w", ctx.Err())
	case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		return nil
	}
}

// DealKey is one lookup item of a deal: the deal carries Value of key kind
// Kind.
type DealKey struct {
	Kind   string `dynamodbav:"keyKind"`
	Value  string `dynamodbav:"keyValue"`
	DealID string `dynamodbav:"dealId"`
}

// DealKeys returns all of the tenant's deal lookup items, in sort key order,
// with one consistent Query per 1 MB page. When the tenant has more than
// maxItems of them, it stops after the page that passed maxItems and returns
// complete=false with no keys. Each key's deal id is the same string value
// for all keys of one deal.
func (t *Tenant) DealKeys(ctx context.Context, maxItems int) (keys []DealKey, complete bool, err error) {
	dealIDs := map[string]string{}
	q := itemQuery{prefix: skDealKey, projection: []string{"keyKind", "keyValue", "dealId"}}
	complete = true
	err = t.queryPages(ctx, q, func(items []map[string]types.AttributeValue) (bool, error) {
		if len(keys)+len(items) > maxItems {
			complete = false
			return false, nil
		}
		for _, raw := range items {
			var k DealKey
			if err := attributevalue.UnmarshalMap(raw, &k); err != nil {
				return false, fmt.Errorf("decode deal lookup: %w", err)
			}
			if id, ok := dealIDs[k.DealID]; ok {
				k.DealID = id
			} else {
				dealIDs[k.DealID] = k.DealID
			}
			keys = append(keys, k)
		}
		return true, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: read deal lookup items of tenant %s: %w", t.id, err)
	}
	if !complete {
		return nil, false, nil
	}
	return keys, true, nil
}
