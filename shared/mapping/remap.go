package mapping

import (
	"context"
	"errors"
	"fmt"

	"github.com/dealdesk/gongingest/shared/store"
)

// RemapStats summarises one remap run.
type RemapStats struct {
	Generation int64 // deals generation the run evaluated against
	UpToDate   bool  // nothing to do: no deal changed since the last finished remap
	Resumed    bool  // the run continued from a saved position
	Complete   bool  // every call was evaluated and the generation recorded as done
	Scanned    int   // calls without a manual mapping that were read
	Changed    int   // calls whose mapping changed
}

// RemapIfStale runs Remap when a deal changed after the last finished remap,
// and otherwise returns at once with UpToDate set. The read API calls it
// after a deal upsert and the ingest run at its end, so both a slow remap cut
// short by a deadline and one that failed are finished by a later call.
func (m *Mapper) RemapIfStale(ctx context.Context, t *store.Tenant) (RemapStats, error) {
	st, err := t.GetRemapState(ctx)
	if err != nil {
		return RemapStats{}, fmt.Errorf("mapping: read remap state: %w", err)
	}
	if !st.Stale() {
		return RemapStats{Generation: st.DealsGeneration, UpToDate: true, Complete: true}, nil
	}
	return m.remap(ctx, t, st)
}

// Remap evaluates the rules again for every call of the tenant that has no
// manual mapping (unmapped, never evaluated, or mapped automatically) and
// stores each changed result. Manual mappings are not read. The run saves its
// position after each page: when ctx ends between pages, the stats come back
// with Complete false and no error, and the next run for the same deals
// generation resumes there. A deal change during the run starts the next run
// from the beginning.
func (m *Mapper) Remap(ctx context.Context, t *store.Tenant) (RemapStats, error) {
	st, err := t.GetRemapState(ctx)
	if err != nil {
		return RemapStats{}, fmt.Errorf("mapping: read remap state: %w", err)
	}
	return m.remap(ctx, t, st)
}

// errStopped ends a scan between pages when the context is done.
var errStopped = errors.New("mapping: remap stopped")

func (m *Mapper) remap(ctx context.Context, t *store.Tenant, st store.RemapState) (RemapStats, error) {
	stats := RemapStats{Generation: st.DealsGeneration}
	start := ""
	if st.Cursor != "" && st.CursorGeneration == st.DealsGeneration {
		start, stats.Resumed = st.Cursor, true
	}
	log := m.logger.With("tenant_id", t.ID(), "generation", stats.Generation)
	// One session for the pass: a deal changed during it advances the deals
	// generation, so the session drops its memo (see Session) and the next
	// RemapIfStale runs again from the beginning.
	session := m.Session(t)
	err := t.ScanCallsForMapping(ctx, start, func(page []store.CallForMapping, last string) error {
		for _, row := range page {
			stats.Scanned++
			changed, err := m.remapCall(ctx, session, row)
			if err != nil {
				return err
			}
			if changed {
				stats.Changed++
			}
		}
		if last != "" {
			if err := t.SaveRemapProgress(ctx, stats.Generation, last); err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return errStopped
		}
		return nil
	})
	if errors.Is(err, errStopped) || (err != nil && ctx.Err() != nil) {
		log.InfoContext(ctx, "remap stopped before the end; the next run resumes", "scanned", stats.Scanned, "changed", stats.Changed)
		return stats, nil
	}
	if err != nil {
		log.ErrorContext(ctx, "remap failed", "error", err, "scanned", stats.Scanned)
		return stats, fmt.Errorf("mapping: remap tenant %s: %w", t.ID(), err)
	}
	if err := t.FinishRemap(ctx, stats.Generation); err != nil {
		return stats, fmt.Errorf("mapping: remap tenant %s: %w", t.ID(), err)
	}
	stats.Complete = true
	log.InfoContext(ctx, "remap finished", "scanned", stats.Scanned, "changed", stats.Changed, "resumed", stats.Resumed)
	return stats, nil
}

// remapCall decides one call again and stores the result when it differs
// from the stored mapping.
func (m *Mapper) remapCall(ctx context.Context, session *Session, row store.CallForMapping) (bool, error) {
	t := session.t
	decided, err := session.Decide(ctx, row.Call)
	if err != nil {
		return false, fmt.Errorf("mapping: decide call %s: %w", row.Call.CallID, err)
	}
	cur := row.Mapping
	if cur.Rule == decided.Rule && cur.DealID == decided.DealID && cur.Key == decided.Key {
		return false, nil
	}
	got, applied, err := t.SetAutoMapping(ctx, row.Call.CallID, row.Call.Started, decided)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // deleted since the page was read
	}
	if err != nil {
		return false, fmt.Errorf("mapping: store mapping of call %s: %w", row.Call.CallID, err)
	}
	if applied {
		m.logger.DebugContext(ctx, "call remapped", "tenant_id", t.ID(), "call_id", row.Call.CallID,
			"deal_id", got.DealID, "rule", got.Rule, "previous_deal_id", cur.DealID)
	}
	return applied, nil
}
