package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PurgeKeep lists the sort keys (exact, or prefixes ending in '#') of the
// items a purge keeps: the connection record, the items the rest of the
// product owns (users, deals, their lookup keys and the deals generation),
// and the bookkeeping that must survive a purge. Today's request counts
// (QUOTA#) keep the daily budget honest, leases (LEASE#) are held by running
// work and expire by themselves, and user backfill markers (USERBF#) keep
// purged history from being fetched again. Every other item of the tenant is
// ingested data or ingestion state, and a purge deletes it. Call-to-deal
// mappings are attributes of the call items, so they go with the calls.
var PurgeKeep = []string{skTenant, skUser, skDeal, skDealKey, skDealMap, skQuota, skLease, skUserBackfill}

// purgeKinds names the item kinds in purge counts by sort key prefix.
// Unlisted prefixes are counted under their own lower-cased prefix.
var purgeKinds = map[string]string{
	skTenant:       "tenant",
	skSync:         "sync_state",
	skUser:         "users",
	skCall:         "calls",
	skTranscript:   "transcripts",
	skSkip:         "skips",
	skLease:        "leases",
	skPending:      "pending_transcripts",
	skSlot:         "schedule_slots",
	skJob:          "jobs",
	skQuota:        "quota_days",
	skUserBackfill: "user_backfill_markers",
	skDeal:         "deals",
	skDealKey:      "deal_keys",
	skDealMap:      "deal_generation",
}

// PurgeCounts are the tenant's items by kind: those a purge deletes and those
// it keeps.
type PurgeCounts struct {
	Delete map[string]int `json:"delete" dynamodbav:"delete"`
	Keep   map[string]int `json:"keep" dynamodbav:"keep"`
}

// Deleted returns the number of items in Delete.
func (c PurgeCounts) Deleted() int {
	n := 0
	for _, v := range c.Delete {
		n += v
	}
	return n
}

// PurgeRecord is who last purged the tenant's data and when, kept on the
// tenant record.
type PurgeRecord struct {
	By      string         `dynamodbav:"lastPurgeBy"`
	Reason  string         `dynamodbav:"lastPurgeReason"`
	At      time.Time      `dynamodbav:"lastPurgeAt"`
	Deleted map[string]int `dynamodbav:"lastPurgeDeleted"`
}

// purgeKind returns the kind name of a sort key and whether a purge keeps it.
func purgeKind(sk string) (string, bool) {
	prefix := sk
	if i := strings.IndexByte(sk, '#'); i >= 0 {
		prefix = sk[:i+1]
	}
	keep := false
	for _, k := range PurgeKeep {
		if prefix == k {
			keep = true
			break
		}
	}
	kind, ok := purgeKinds[prefix]
	if !ok {
		kind = strings.ToLower(strings.TrimSuffix(prefix, "#"))
	}
	return kind, keep
}

// CountPurge counts the tenant's items by kind without changing anything.
func (t *Tenant) CountPurge(ctx context.Context) (PurgeCounts, error) {
	counts := PurgeCounts{Delete: map[string]int{}, Keep: map[string]int{}}
	err := t.pagePartitionKeys(ctx, func(keys []map[string]types.AttributeValue) error {
		for _, key := range keys {
			kind, keep := purgeKind(skOf(key))
			if keep {
				counts.Keep[kind]++
			} else {
				counts.Delete[kind]++
			}
		}
		return nil
	})
	if err != nil {
		return PurgeCounts{}, fmt.Errorf("store: count items of tenant %s: %w", t.id, err)
	}
	return counts, nil
}

// Purge deletes every item of the tenant except those PurgeKeep names, then
// records who purged, why and when on the tenant record. It returns the
// counts of what it deleted and kept. Work still running while it deletes
// (an ingest window in progress) may write new items; those remain.
func (t *Tenant) Purge(ctx context.Context, by, reason string) (PurgeCounts, error) {
	counts := PurgeCounts{Delete: map[string]int{}, Keep: map[string]int{}}
	err := t.pagePartitionKeys(ctx, func(keys []map[string]types.AttributeValue) error {
		var doomed []map[string]types.AttributeValue
		for _, key := range keys {
			kind, keep := purgeKind(skOf(key))
			if keep {
				counts.Keep[kind]++
				continue
			}
			counts.Delete[kind]++
			doomed = append(doomed, key)
		}
		return t.s.purgeDelete(ctx, doomed)
	})
	if err != nil {
		return counts, fmt.Errorf("store: purge tenant %s after deleting about %d items: %w", t.id, counts.Deleted(), err)
	}
	rec := PurgeRecord{By: by, Reason: reason, At: t.s.Now().UTC(), Deleted: counts.Delete}
	update := expression.Set(expression.Name("lastPurgeBy"), expression.Value(rec.By)).
		Set(expression.Name("lastPurgeReason"), expression.Value(rec.Reason)).
		Set(expression.Name("lastPurgeAt"), expression.Value(rec.At)).
		Set(expression.Name("lastPurgeDeleted"), expression.Value(rec.Deleted))
	cond := expression.AttributeExists(expression.Name(AttrPK))
	if _, err := t.update(ctx, skTenant, update, &cond, types.ReturnValueNone); err != nil {
		if isConditionFailed(err) {
			return counts, fmt.Errorf("store: record purge on tenant %s: %w", t.id, ErrNotFound)
		}
		return counts, fmt.Errorf("store: record purge on tenant %s: %w", t.id, err)
	}
	return counts, nil
}

// LastPurge returns the tenant's last purge; the zero value when it was never
// purged.
func (t *Tenant) LastPurge(ctx context.Context) (PurgeRecord, error) {
	var rec PurgeRecord
	err := t.getItem(ctx, skTenant, &rec)
	return rec, err
}

// pagePartitionKeys pages through the keys of all of the tenant's items.
func (t *Tenant) pagePartitionKeys(ctx context.Context, page func([]map[string]types.AttributeValue) error) error {
	q := itemQuery{projection: []string{AttrPK, AttrSK}}
	return t.queryPages(ctx, q, func(keys []map[string]types.AttributeValue) (bool, error) {
		return true, page(keys)
	})
}

func skOf(key map[string]types.AttributeValue) string {
	if v, ok := key[AttrSK].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// purgeBatchSize is the most requests DynamoDB accepts in one BatchWriteItem.
const purgeBatchSize = 25

// purgeAttempts bounds the attempts at items DynamoDB leaves unprocessed.
const purgeAttempts = 8

// purgeDelete deletes the items with the given keys in batches of 25,
// retrying the items DynamoDB leaves unprocessed with exponential backoff
// (50 ms doubling, 8 attempts per batch).
func (s *Store) purgeDelete(ctx context.Context, keys []map[string]types.AttributeValue) error {
	for start := 0; start < len(keys); start += purgeBatchSize {
		batch := keys[start:min(start+purgeBatchSize, len(keys))]
		reqs := make([]types.WriteRequest, 0, len(batch))
		for _, k := range batch {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		if err := s.purgeWrite(ctx, reqs); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) purgeWrite(ctx context.Context, reqs []types.WriteRequest) error {
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.table: reqs},
		})
		if err != nil {
			return fmt.Errorf("batch write %d items: %w", len(reqs), err)
		}
		reqs = out.UnprocessedItems[s.table]
		if len(reqs) == 0 {
			return nil
		}
		if attempt == purgeAttempts {
			return fmt.Errorf("batch write: %d items still unprocessed after %d attempts: retry the purge later", len(reqs), attempt)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("batch write: %d items unprocessed: %w", len(reqs), ctx.Err())
		case <-timer.C:
		}
		wait *= 2
	}
}
