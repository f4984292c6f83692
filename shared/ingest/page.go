package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// page processes one page of calls from Gong. It decides which calls to
// keep, requests their transcripts, and then starts the page's store writes
// in the background, so the Gong client reads the next page while they run.
// Before it starts them, it waits for the previous page's writes, so at most
// one page's writes run at a time. It then checks the tenant and the
// deadline again, so no page is written after a disconnect or past the
// margin. Skipping a call never affects paging: the Gong client asks for the
// next page whatever this returns, unless it is an error.
func (r *run) page(ctx context.Context, page []gong.Call) error {
	if err := r.writes.failed(); err != nil {
		return err
	}
	if err := r.checkTenant(ctx); err != nil {
		return err
	}
	if err := r.checkDeadline(); err != nil {
		return err
	}
	work, err := r.planPage(ctx, page)
	if err != nil {
		return err
	}
	work.transcripts, err = r.requestTranscripts(ctx, work.need, work.participants)
	if err != nil {
		return err
	}
	if err := r.writes.wait(); err != nil {
		return err
	}
	if err := r.checkTenant(ctx); err != nil {
		return err
	}
	if err := r.checkDeadline(); err != nil {
		return err
	}
	work.transcripts.storedChunks = work.storedChunks
	r.pages++
	r.writes.start(r.pages, func() error { return r.writePage(ctx, work) })
	return nil
}

// pageWork is the store work of one page, planned while the previous page's
// writes may still run.
type pageWork struct {
	skips []skippedCall
	kept  []calls.Call
	// need lists the kept calls whose transcript is not final, with the
	// participants that resolve its speakers.
	need         []string
	participants map[string][]calls.Participant
	transcripts  transcriptBatch
	// skipRecords lists the kept calls that had a skip record when the page
	// was planned. Only these can have one to delete, because the run writes
	// skip records only for the calls it skips and the consumer's sync lease
	// keeps other runs of the tenant out.
	skipRecords map[string]bool
	// storedChunks is the stored transcript chunk count of each kept call
	// when the page was planned, so writing its transcript needs no read.
	storedChunks map[string]int
}

// skippedCall is a call of the page that is not ingested, and why.
type skippedCall struct {
	call   calls.Call
	reason string
	stored bool
}

// planPage converts the page's calls, reads their stored transcript states
// and skip records with one batch read, and sorts them into kept and skipped
// calls. It writes nothing.
func (r *run) planPage(ctx context.Context, page []gong.Call) (pageWork, error) {
	var work pageWork
	fetchedAt := r.e.now()
	var fresh []calls.Call
	for _, gc := range page {
		if gc.ID == "" || r.seen[gc.ID] {
			continue
		}
		r.seen[gc.ID] = true
		r.mu.Lock()
		r.sum.CallsSeen++
		r.mu.Unlock()
		fresh = append(fresh, ConvertCall(r.t.ID(), gc, fetchedAt))
	}
	ids := make([]string, len(fresh))
	for i, c := range fresh {
		ids[i] = c.CallID
	}
	states, err := r.t.CallStates(ctx, ids)
	if err != nil {
		return work, fmt.Errorf("read call states: %w", err)
	}

	work.skipRecords = map[string]bool{}
	work.storedChunks = make(map[string]int, len(fresh))
	for _, c := range fresh {
		cs := states[c.CallID]
		// A call stored without a transcript state counts as not stored,
		// as it did when this read returned transcript states only.
		var st calls.TranscriptState
		stored := cs.Transcript != nil
		if stored {
			st = *cs.Transcript
		}
		if r.msg.Kind == queue.KindContinue && stored && final(st) {
			// Written by the interrupted run or an earlier one.
			continue
		}
		if reason := r.classify(c); reason != "" {
			work.skips = append(work.skips, skippedCall{call: c, reason: reason, stored: stored})
			continue
		}
		if stored {
			c.Transcript = st
		} else {
			c.Transcript = calls.TranscriptState{Status: calls.TranscriptPending}
		}
		if cs.Skipped {
			work.skipRecords[c.CallID] = true
		}
		work.storedChunks[c.CallID] = cs.TranscriptChunks
		work.kept = append(work.kept, c)
	}

	work.participants = map[string][]calls.Participant{}
	for _, c := range work.kept {
		if final(c.Transcript) {
			continue
		}
		work.need = append(work.need, c.CallID)
		work.participants[c.CallID] = c.Participants
		if !c.Transcript.FirstMissingAt.IsZero() {
			// Keeps the retry period counting from the first miss.
			r.addPending(store.PendingTranscript{CallID: c.CallID, Started: c.Started, FirstMissingAt: c.Transcript.FirstMissingAt})
		}
	}
	return work, nil
}

// writePage runs the store work of one page: skip records, calls and their
// deal mappings, then the transcripts, which need their calls stored.
func (r *run) writePage(ctx context.Context, work pageWork) error {
	for _, s := range work.skips {
		if err := r.skip(ctx, s.call, s.reason, s.stored); err != nil {
			return err
		}
	}
	if err := r.writeCalls(ctx, work.kept, work.skipRecords); err != nil {
		return err
	}
	return r.storeTranscripts(ctx, work.transcripts)
}

func final(st calls.TranscriptState) bool {
	return st.Status == calls.TranscriptComplete || st.Status == calls.TranscriptNone
}

// classify returns why the call is not ingested, or "" to keep it.
func (r *run) classify(c calls.Call) string {
	if !r.users.includes(c) {
		return calls.SkipNoTenantUser
	}
	if c.IsPrivate && !r.rec.Settings.IncludePrivate {
		return calls.SkipPrivate
	}
	if r.scope != nil && !r.scope.includes(c) {
		return calls.SkipUserScope
	}
	return ""
}

// skip records why a call is not ingested. A stored call that turned private
// is removed. A stored call outside a backfill's user scope or without a
// current user is left as it is, because an earlier run kept it.
func (r *run) skip(ctx context.Context, c calls.Call, reason string, stored bool) error {
	r.mu.Lock()
	r.sum.Skipped[reason]++
	r.mu.Unlock()
	if stored {
		if reason != calls.SkipPrivate {
			return nil
		}
		if err := r.deleteCall(ctx, c.CallID); err != nil {
			return err
		}
	}
	sk := store.Skip{
		CallID: c.CallID, Reason: reason, Title: c.Title, Started: c.Started,
		SeenAt: c.SyncedAt, JobID: r.msg.JobID, Detail: skipDetail(c, reason),
	}
	if err := r.t.PutSkip(ctx, sk); err != nil {
		return fmt.Errorf("record skip of call %s: %w", c.CallID, err)
	}
	return nil
}

func (r *run) deleteCall(ctx context.Context, callID string) error {
	if err := r.t.DeleteCall(ctx, callID); err != nil {
		return fmt.Errorf("remove call %s that turned private: %w", callID, err)
	}
	r.log.Info("stored call turned private and was removed", "call_id", callID)
	return nil
}

func skipDetail(c calls.Call, reason string) string {
	switch reason {
	case calls.SkipNoTenantUser:
		return fmt.Sprintf("none of %d participant(s) is an active user of the organization", len(c.Participants))
	case calls.SkipPrivate:
		return "private in Gong; the organization excludes private calls"
	case calls.SkipUserScope:
		return "no participant is one of the users this backfill reads"
	}
	return ""
}

// writeCalls stores the kept calls and maps them to deals, a few at a time,
// and then adds the calls it created to the tenant's call counter with one
// update. skipRecords lists the calls that have a skip record to delete.
func (r *run) writeCalls(ctx context.Context, kept []calls.Call, skipRecords map[string]bool) error {
	var created atomic.Int64
	err := r.forEach(ctx, len(kept), func(ctx context.Context, i int) error {
		c := kept[i]
		w, err := r.t.WriteCallUncounted(ctx, c)
		if err != nil {
			return fmt.Errorf("write call %s: %w", c.CallID, err)
		}
		if w.Created {
			created.Add(1)
		}
		if w.Created && skipRecords[c.CallID] {
			// A call skipped earlier may qualify now, for example after a
			// user joined; its skip record no longer applies.
			if err := r.t.DeleteSkip(ctx, c.CallID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("clear skip of call %s: %w", c.CallID, err)
			}
		}
		r.mu.Lock()
		switch {
		case w.Created:
			r.sum.Ingested++
		case w.Changed:
			r.sum.Updated++
		}
		r.mu.Unlock()
		if r.mapCall != nil && w.Changed {
			// A mapping failure does not fail the write, because the call
			// itself is stored. NOTE: the call is mapped again only when a
			// later read changes it or a deal change triggers a remap.
			if _, err := r.mapCall(ctx, c); err != nil {
				r.log.Warn("deal mapping failed", "call_id", c.CallID, "error", err)
			}
		}
		return nil
	})
	// The count is added even when a write failed, for the calls created
	// before it. NOTE: it is a second write after the call items, so a crash
	// in between leaves the counter short by the page's new calls until
	// RecountCalls runs.
	if n := created.Load(); n > 0 {
		if cerr := r.t.AddCallCount(ctx, int(n)); cerr != nil {
			return errors.Join(err, fmt.Errorf("count %d new call(s): %w", n, cerr))
		}
	}
	return err
}

// forEach runs fn for 0..n-1 on a few goroutines and returns the first error.
func (r *run) forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	workers := r.e.Workers
	if workers <= 0 {
		workers = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     = make(chan int)
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
