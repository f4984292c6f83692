package ingest

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/store"
)

// fetchTranscripts requests the transcripts of ids, whose participants are
// given, together with the pending retries not requested yet in this run, in
// batches of up to 100 ids. Each transcript Gong returns is stored. Calls
// left without one stay pending until the retry period ends, then are marked
// as having none.
func (r *run) fetchTranscripts(ctx context.Context, ids []string, participants map[string][]calls.Participant) error {
	var batch []string
	for _, id := range ids {
		if !r.requested[id] {
			r.requested[id] = true
			batch = append(batch, id)
		}
	}
	retries := make([]string, 0, len(r.pending))
	for id := range r.pending {
		if !r.requested[id] {
			retries = append(retries, id)
		}
	}
	sort.Strings(retries)
	for _, id := range retries {
		r.requested[id] = true
		batch = append(batch, id)
	}
	if len(batch) == 0 {
		return nil
	}

	var got []gong.CallTranscript
	err := r.client.Transcripts(ctx, batch, func(page []gong.CallTranscript) error {
		for _, ct := range page {
			if len(ct.Monologues) > 0 {
				got = append(got, ct)
			}
		}
		return nil
	})
	if err != nil {
		var stop *stopError
		if errors.As(err, &stop) {
			return stop
		}
		return fmt.Errorf("read transcripts of %d call(s): %w", len(batch), err)
	}

	stored := make(map[string]bool, len(got))
	err = r.forEach(ctx, len(got), func(ctx context.Context, i int) error {
		ct := got[i]
		parts, ok := participants[ct.CallID]
		if !ok {
			c, err := r.t.GetCall(ctx, ct.CallID)
			if errors.Is(err, store.ErrNotFound) {
				// Removed since it was queued, for example after turning
				// private.
				return nil
			}
			if err != nil {
				return fmt.Errorf("read participants of call %s: %w", ct.CallID, err)
			}
			parts = c.Participants
		}
		if _, err := r.t.PutTranscript(ctx, ResolveTranscript(ct, parts)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return fmt.Errorf("write transcript of call %s: %w", ct.CallID, err)
		}
		r.mu.Lock()
		stored[ct.CallID] = true
		r.sum.TranscriptsStored++
		r.mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range batch {
		if stored[id] {
			delete(r.pending, id)
			continue
		}
		if err := r.markMissing(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// markMissing records that Gong had no transcript for the call: pending while
// the retry period lasts, none after it.
func (r *run) markMissing(ctx context.Context, callID string) error {
	now := r.e.now()
	first := now
	if p, ok := r.pending[callID]; ok && !p.FirstMissingAt.IsZero() {
		first = p.FirstMissingAt
	}
	delete(r.pending, callID)
	st := calls.TranscriptState{Status: calls.TranscriptPending, FirstMissingAt: first}
	if r.retryExpired(first, now) {
		st.Status = calls.TranscriptNone
	}
	if err := r.t.SetTranscriptState(ctx, callID, st); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("record missing transcript of call %s: %w", callID, err)
	}
	if st.Status == calls.TranscriptNone {
		r.sum.TranscriptsNone++
		r.log.Info("transcript retry period over, marked as none", "call_id", callID, "first_missing_at", first)
	} else {
		r.sum.TranscriptsPending++
	}
	return nil
}
