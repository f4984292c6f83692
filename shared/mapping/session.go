package mapping

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

// Limits of a session's memo.
const (
	// maxMemoStrings bounds the strings a session keeps, counting one per
	// lookup key and per deal id it found, and for each deal read six (its
	// id, name and four CRM ids) plus its contact emails. By the limits in
	// store.Deal that is an estimated 4 MB of string data at most, plus map
	// overhead. Past the bound, new results are used but not kept. The same
	// number bounds the lookup items of a preloaded index (see Session).
	maxMemoStrings = 10_000
	// maxViewAge is how long a session uses its memo before it reads the
	// deals generation again and, when a deal changed, drops the memo.
	maxViewAge = 10 * time.Second
)

// Session maps calls of one tenant with a memo of deal lookups, so each
// distinct lookup key is queried at most once and each deal item read at
// most once while the memo holds them. Build one per batch of calls that may
// share a view of the deals, such as one ingest run or one remap pass. Its
// methods are safe for concurrent use, and concurrent lookups of one key that
// the memo can keep share a single Query.
//
// Before its first lookup, and again after each drop of the memo, a session
// preloads the tenant's whole deal lookup index (store.Tenant.DealKeys) when
// it has at most maxMemoStrings items, which costs one Query per 1 MB page.
// With the index loaded, lookups send no Query, and a key absent from the
// index has no deal. A larger index is read for at most that bound and then
// dropped, and the session queries each key as before.
//
// Staleness contract: a deal written while a session runs may be missed by
// calls the session maps until its view is older than maxViewAge, when it
// reads the deals generation and drops the memo if the generation moved.
// Every deal change that can alter a mapping advances that generation, and
// RemapIfStale, at the end of each scheduled sync and after a deal upsert,
// re-evaluates every automatic mapping when the generation is ahead of the
// last finished remap.
//
// NOTE: a remap of the new generation that finishes while a session still
// maps with its older view leaves the calls mapped in that gap (at most
// maxViewAge) stale until the next deal change. The same race existed for
// the time between one call's deal read and its mapping write.
type Session struct {
	m     *Mapper
	t     *store.Tenant
	now   func() time.Time // time.Now; tests replace it
	limit int              // maxMemoStrings; tests lower it

	mu         sync.Mutex
	viewAt     time.Time // when the memo's view was last checked against the deals generation
	generation int64     // deals generation of the memo's view; -1 before the first check
	strings    int       // strings the memo holds; it stops adding at limit
	preload    bool      // whether lookups load the whole index first
	// index is the preloaded lookup index, nil until a lookup starts loading
	// it. Its value is a nil map when the index has more than limit items.
	index   *memoEntry[map[lookupKey][]string]
	dealIDs map[lookupKey]*memoEntry[[]string]
	deals   map[string]*memoEntry[dealRead]
}

// dealRead is the result of reading one deal item.
type dealRead struct {
	deal  store.Deal
	found bool
}

// memoEntry is one memoised store read. done is closed once val and err
// are set; until then other callers wait for it instead of repeating it.
type memoEntry[V any] struct {
	done chan struct{}
	val  V
	err  error
}

func (e *memoEntry[V]) wait(ctx context.Context) (V, error) {
	select {
	case <-e.done:
		return e.val, e.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// Session returns a new session for tenant t.
func (m *Mapper) Session(t *store.Tenant) *Session {
	s := &Session{m: m, t: t, now: time.Now, limit: maxMemoStrings, generation: -1, preload: true}
	s.viewAt = s.now()
	s.resetLocked()
	return s
}

// CallMapper returns the MapCall method of a new session for tenant t. The
// sync engine calls it once per run.
func (m *Mapper) CallMapper(t *store.Tenant) func(ctx context.Context, c calls.Call) (store.Mapping, error) {
	return m.Session(t).MapCall
}

func (s *Session) resetLocked() {
	s.strings = 0
	s.index = nil
	s.dealIDs = map[lookupKey]*memoEntry[[]string]{}
	s.deals = map[string]*memoEntry[dealRead]{}
}

// MapCall evaluates the rules for a stored call and stores the result on it,
// unless the call has a manual mapping. It returns the mapping the call has
// afterwards: the manual one when that won.
func (s *Session) MapCall(ctx context.Context, c calls.Call) (store.Mapping, error) {
	decided, err := s.Decide(ctx, c)
	if err != nil {
		return store.Mapping{}, err
	}
	got, applied, err := s.t.SetAutoMapping(ctx, c.CallID, c.Started, decided)
	if err != nil {
		return store.Mapping{}, fmt.Errorf("mapping: store mapping of call %s: %w", c.CallID, err)
	}
	if !applied {
		s.m.logger.DebugContext(ctx, "manual mapping kept", "tenant_id", s.t.ID(), "call_id", c.CallID, "deal_id", got.DealID)
	}
	return got, nil
}

// Decide evaluates the rules for a call without storing anything. The result
// has Rule set and, unless unmapped, DealID and Key.
func (s *Session) Decide(ctx context.Context, c calls.Call) (store.Mapping, error) {
	if err := s.refresh(ctx); err != nil {
		return store.Mapping{}, err
	}
	opportunities, accounts := crmKeys(c.CRM)

	if got, ok, err := s.byOpportunity(ctx, opportunities); err != nil || ok {
		return got, err
	}
	if got, ok, err := s.byAccount(ctx, accounts); err != nil || ok {
		return got, err
	}
	if got, ok, err := s.byContactEmail(ctx, externalEmails(c.Participants)); err != nil || ok {
		return got, err
	}
	return store.Mapping{Rule: store.RuleUnmapped}, nil
}

// refresh drops the memo when its view is older than maxViewAge and the
// deals generation moved since it was last read. Unless the first index load
// read the generation, the first check drops the memo unconditionally,
// because the view the memo started from was never read.
func (s *Session) refresh(ctx context.Context) error {
	s.mu.Lock()
	due := s.now().Sub(s.viewAt) >= maxViewAge
	s.mu.Unlock()
	if !due {
		return nil
	}
	st, err := s.t.GetRemapState(ctx)
	if err != nil {
		return fmt.Errorf("mapping: read deals generation: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.DealsGeneration != s.generation {
		s.resetLocked()
		s.generation = st.DealsGeneration
	}
	s.viewAt = s.now()
	return nil
}

// lookup returns the ids of the deals whose lookup items carry k, from the
// preloaded index or the memo when they hold them. A failed Query is not
// kept, so a later call repeats it.
func (s *Session) lookup(ctx context.Context, k lookupKey) ([]string, error) {
	if s.preload {
		index, err := s.loadIndex(ctx)
		if err != nil {
			return nil, err
		}
		if index != nil {
			return index[k], nil
		}
	}
	s.mu.Lock()
	if e, ok := s.dealIDs[k]; ok {
		s.mu.Unlock()
		return e.wait(ctx)
	}
	if s.strings >= s.limit {
		s.mu.Unlock()
		return s.t.DealIDsByKey(ctx, k.kind, k.value)
	}
	e := &memoEntry[[]string]{done: make(chan struct{})}
	s.dealIDs[k] = e
	s.strings++
	s.mu.Unlock()

	e.val, e.err = s.t.DealIDsByKey(ctx, k.kind, k.value)

	s.mu.Lock()
	// After a reset the entry is no longer in the memo or in the count.
	if s.dealIDs[k] == e {
		if e.err != nil {
			delete(s.dealIDs, k)
			s.strings--
		} else {
			s.strings += len(e.val)
		}
	}
	s.mu.Unlock()
	close(e.done)
	return e.val, e.err
}

// readDeals returns the deals with the given ids, keyed by id, reading only
// those the memo does not hold, with one GetDeals. Ids without a deal are
// absent from the result.
func (s *Session) readDeals(ctx context.Context, ids []string) (map[string]store.Deal, error) {
	var (
		waits []*memoEntry[dealRead]
		owned = map[string]*memoEntry[dealRead]{}
		fetch []string
	)
	s.mu.Lock()
	for _, id := range ids {
		if e, ok := s.deals[id]; ok {
			waits = append(waits, e)
			continue
		}
		fetch = append(fetch, id)
		if s.strings < s.limit {
			e := &memoEntry[dealRead]{done: make(chan struct{})}
			s.deals[id] = e
			owned[id] = e
			s.strings++
		}
	}
	s.mu.Unlock()

	out := map[string]store.Deal{}
	if len(fetch) > 0 {
		deals, err := s.t.GetDeals(ctx, fetch)
		s.settleDeals(owned, deals, err)
		if err != nil {
			return nil, err
		}
		for id, d := range deals {
			out[id] = d
		}
	}
	for _, e := range waits {
		r, err := e.wait(ctx)
		if err != nil {
			return nil, err
		}
		if r.found {
			out[r.deal.DealID] = r.deal
		}
	}
	return out, nil
}

// settleDeals completes the memo entries this caller created for a GetDeals
// that returned deals or failed with err.
func (s *Session) settleDeals(owned map[string]*memoEntry[dealRead], deals map[string]store.Deal, err error) {
	s.mu.Lock()
	for id, e := range owned {
		if err != nil {
			e.err = err
		} else {
			d, found := deals[id]
			e.val = dealRead{deal: d, found: found}
		}
		if s.deals[id] != e {
			continue // dropped by a reset
		}
		if err != nil {
			delete(s.deals, id)
			s.strings--
		} else {
			s.strings += 5 + len(e.val.deal.ContactEmails)
		}
	}
	s.mu.Unlock()
	for _, e := range owned {
		close(e.done)
	}
}

// loadIndex returns the preloaded lookup index, reading it when the memo has
// none: a nil map when the tenant has more than limit lookup items. Callers
// that arrive during the read wait for it. A failed read is not kept.
func (s *Session) loadIndex(ctx context.Context) (map[lookupKey][]string, error) {
	s.mu.Lock()
	if e := s.index; e != nil {
		s.mu.Unlock()
		return e.wait(ctx)
	}
	e := &memoEntry[map[lookupKey][]string]{done: make(chan struct{})}
	s.index = e
	limit := s.limit
	s.mu.Unlock()

	var generation int64
	generation, e.val, e.err = s.readIndex(ctx, limit)

	s.mu.Lock()
	// After a reset the entry is no longer the session's index.
	if s.index == e {
		switch {
		case e.err != nil:
			s.index = nil
		case s.generation < 0:
			// The memo is empty before the first load, because every
			// lookup waits for the index, so the whole memo is at least
			// as new as this generation.
			s.generation = generation
		}
	}
	s.mu.Unlock()
	close(e.done)
	return e.val, e.err
}

// readIndex reads the deals generation and then the tenant's lookup items.
// Reading the generation first means a deal change the index may miss
// advances the generation past the one returned.
func (s *Session) readIndex(ctx context.Context, limit int) (int64, map[lookupKey][]string, error) {
	st, err := s.t.GetRemapState(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("mapping: read deals generation: %w", err)
	}
	keys, complete, err := s.t.DealKeys(ctx, limit)
	if err != nil {
		return 0, nil, fmt.Errorf("mapping: preload deal lookup index: %w", err)
	}
	if !complete {
		s.m.logger.DebugContext(ctx, "deal lookup index too large to preload, querying per key", "tenant_id", s.t.ID(), "max_items", limit)
		return st.DealsGeneration, nil, nil
	}
	index := make(map[lookupKey][]string, len(keys))
	for _, k := range keys {
		lk := lookupKey{kind: k.Kind, value: k.Value}
		index[lk] = append(index[lk], k.DealID)
	}
	return st.DealsGeneration, index, nil
}
