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

// transcriptBatch is one transcript request of a run and what Gong returned.
type transcriptBatch struct {
	ids          []string              // call ids requested, in request order
	got          []gong.CallTranscript // returned transcripts that have text
	participants map[string][]calls.Participant
	// storedChunks is the stored chunk count of the calls whose count the
	// run read. Other calls' transcripts are written with a read first.
	storedChunks map[string]int
}

// fetchTranscripts requests the transcripts of ids, whose participants are
// given, together with the pending retries not requested yet in this run,
// and stores them. See requestTranscripts and storeTranscripts.
func (r *run) fetchTranscripts(ctx context.Context, ids []string, participants map[string][]calls.Participant) error {
	batch, err := r.requestTranscripts(ctx, ids, participants)
	if err != nil {
		return err
	}
	return r.storeTranscripts(ctx, batch)
}

// requestTranscripts requests the transcripts of ids, whose participants
// are given, together with the pending retries not requested yet in this
// run, in batches of up to 100 ids. It writes nothing.
func (r *run) requestTranscripts(ctx context.Context, ids []string, participants map[string][]calls.Participant) (transcriptBatch, error) {
	batch := transcriptBatch{participants: participants}
	for _, id := range ids {
		if !r.requested[id] {
			r.requested[id] = true
			batch.ids = append(batch.ids, id)
		}
	}
	retries := r.unrequestedPending()
	sort.Strings(retries)
	for _, id := range retries {
		r.requested[id] = true
		batch.ids = append(batch.ids, id)
	}
	if len(batch.ids) == 0 {
		return batch, nil
	}

	err := r.client.Transcripts(ctx, batch.ids, func(page []gong.CallTranscript) error {
		for _, ct := range page {
			if len(ct.Monologues) > 0 {
				batch.got = append(batch.got, ct)
			}
		}
		return nil
	})
	if err != nil {
		var stop *stopError
		if errors.As(err, &stop) {
			return batch, stop
		}
		return batch, fmt.Errorf("read transcripts of %d call(s): %w", len(batch.ids), err)
	}
	return batch, nil
}

// storeTranscripts stores each transcript of the batch and then drops it
// from the batch, so its memory is freed before the next page's writes.
// Calls left without one stay pending until the retry period ends, then are
// marked as having none.
func (r *run) storeTranscripts(ctx context.Context, batch transcriptBatch) error {
	if len(batch.ids) == 0 {
		return nil
	}
	stored := make(map[string]bool, len(batch.got))
	err := r.forEach(ctx, len(batch.got), func(ctx context.Context, i int) error {
		ct := batch.got[i]
		parts, ok := batch.participants[ct.CallID]
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
		var err error
		if n, ok := batch.storedChunks[ct.CallID]; ok {
			_, err = r.t.PutTranscriptOver(ctx, ResolveTranscript(ct, parts), n)
		} else {
			_, err = r.t.PutTranscript(ctx, ResolveTranscript(ct, parts))
		}
		// Each index is handled by one goroutine, so this write is not racy.
		batch.got[i] = gong.CallTranscript{}
		if err != nil {
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
	for _, id := range batch.ids {
		if stored[id] {
			r.removePending(id)
			continue
		}
		if err := r.markMissing(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// addPending records a transcript retry unless the call already has one.
func (r *run) addPending(p store.PendingTranscript) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.pending[p.CallID]; !ok {
		r.pending[p.CallID] = p
	}
}

// removePending removes the call's transcript retry and returns it.
func (r *run) removePending(callID string) (store.PendingTranscript, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pending[callID]
	delete(r.pending, callID)
	return p, ok
}

// unrequestedPending returns the call ids of the transcript retries not
// requested yet in this run.
func (r *run) unrequestedPending() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.pending))
	for id := range r.pending {
		if !r.requested[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// markMissing records that Gong had no transcript for the call: pending while
// the retry period lasts, none after it.
func (r *run) markMissing(ctx context.Context, callID string) error {
	now := r.e.now()
	first := now
	if p, ok := r.removePending(callID); ok && !p.FirstMissingAt.IsZero() {
		first = p.FirstMissingAt
	}
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
	r.mu.Lock()
	if st.Status == calls.TranscriptNone {
		r.sum.TranscriptsNone++
	} else {
		r.sum.TranscriptsPending++
	}
	r.mu.Unlock()
	if st.Status == calls.TranscriptNone {
		r.log.Info("transcript retry period over, marked as none", "call_id", callID, "first_missing_at", first)
	}
	return nil
}
