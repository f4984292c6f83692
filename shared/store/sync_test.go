package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

var _ = addCases(
	suiteCase{"SyncWatermarkNeverBackwards", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		st, err := tn.GetSync(ctx)
		mustNoErr(t, "GetSync", err)
		if !st.Watermark.IsZero() {
			t.Errorf("Watermark of a new tenant = %v, want zero", st.Watermark)
		}
		base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
		steps := []struct {
			to, want time.Time
		}{
			{base, base},
			{base.Add(500 * time.Millisecond), base.Add(500 * time.Millisecond)},
			{base, base.Add(500 * time.Millisecond)},
			{base.Add(-time.Hour), base.Add(500 * time.Millisecond)},
			{base.Add(time.Hour), base.Add(time.Hour)},
		}
		for _, s := range steps {
			mustNoErr(t, "AdvanceWatermark", tn.AdvanceWatermark(ctx, s.to))
			st, err := tn.GetSync(ctx)
			mustNoErr(t, "GetSync", err)
			if !st.Watermark.Equal(s.want) {
				t.Errorf("after AdvanceWatermark(%v) watermark = %v, want %v", s.to, st.Watermark, s.want)
			}
		}
	}},
	suiteCase{"SyncCheckpointRunError", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		now := e.clock.Now()
		cp := &store.Checkpoint{RunID: "r1", Kind: "sync", From: now.Add(-6 * time.Hour), To: now, DoneCallIDs: 40, ResumeFrom: now.Add(-time.Hour), PendingTranscriptIDs: []string{"1", "2"}}
		mustNoErr(t, "SaveCheckpoint", tn.SaveCheckpoint(ctx, cp))
		sum := store.RunSummary{RunID: "r1", Kind: "sync", Started: now, Finished: now.Add(time.Minute), DurationMs: 60000, CallsSeen: 10, Ingested: 7,
			Skipped: map[string]int{calls.SkipPrivate: 2, calls.SkipNoTenantUser: 1}, GongRequests: map[string]int64{"calls/extensive": 3}}
		mustNoErr(t, "RecordRun", tn.RecordRun(ctx, sum))
		mustNoErr(t, "RecordError", tn.RecordError(ctx, "gong: 429 rate limited"))
		mustNoErr(t, "MarkDeepRead", tn.MarkDeepRead(ctx, now))
		mustNoErr(t, "MarkUsersRefreshed", tn.MarkUsersRefreshed(ctx, now))
		st, err := tn.GetSync(ctx)
		mustNoErr(t, "GetSync", err)
		if st.Checkpoint == nil || st.Checkpoint.DoneCallIDs != 40 || len(st.Checkpoint.PendingTranscriptIDs) != 2 {
			t.Errorf("Checkpoint = %+v, want the saved one", st.Checkpoint)
		}
		if st.LastRun == nil || st.LastRun.Ingested != 7 || st.LastRun.Skipped[calls.SkipPrivate] != 2 || st.LastRun.GongRequests["calls/extensive"] != 3 {
			t.Errorf("LastRun = %+v, want the recorded summary", st.LastRun)
		}
		if !st.LastSuccessAt.Equal(sum.Finished) || !st.LastRunAt.Equal(sum.Finished) {
			t.Errorf("LastRunAt, LastSuccessAt = %v, %v, want %v", st.LastRunAt, st.LastSuccessAt, sum.Finished)
		}
		if st.LastError != "gong: 429 rate limited" || !st.LastErrorAt.Equal(now) {
			t.Errorf("LastError = %q at %v", st.LastError, st.LastErrorAt)
		}
		if !st.LastDeepAt.Equal(now) || !st.UsersRefreshedAt.Equal(now) {
			t.Errorf("LastDeepAt, UsersRefreshedAt = %v, %v, want %v", st.LastDeepAt, st.UsersRefreshedAt, now)
		}
		mustNoErr(t, "ClearCheckpoint", tn.ClearCheckpoint(ctx))
		st, err = tn.GetSync(ctx)
		mustNoErr(t, "GetSync", err)
		if st.Checkpoint != nil {
			t.Errorf("Checkpoint after clear = %+v, want nil", st.Checkpoint)
		}
	}},
	suiteCase{"SyncClaimSlot", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		claims := []struct {
			slot string
			want bool
		}{{"2026-12-04T10:00:00Z", true}, {"2026-12-04T10:00:00Z", false}, {"2026-12-04T12:00:00Z", true}, {"2026-12-04T10:00:00Z", false}}
		for _, c := range claims {
			got, err := tn.ClaimSlot(ctx, c.slot)
			mustNoErr(t, "ClaimSlot", err)
			if got != c.want {
				t.Errorf("ClaimSlot(%s) = %v, want %v", c.slot, got, c.want)
			}
		}
		other := e.newTenant(t)
		got, err := other.ClaimSlot(ctx, "2026-12-04T10:00:00Z")
		mustNoErr(t, "ClaimSlot other tenant", err)
		if !got {
			t.Errorf("another tenant's claim of the same slot = false, want true")
		}
		st, err := tn.GetSync(ctx)
		mustNoErr(t, "GetSync", err)
		if st.LastSlot != "2026-12-04T12:00:00Z" {
			t.Errorf("LastSlot = %q", st.LastSlot)
		}
	}},
	suiteCase{"Lease", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		acquire := func(owner string, want bool) {
			t.Helper()
			got, err := tn.AcquireLease(ctx, "refresh", owner, 30*time.Second)
			mustNoErr(t, "AcquireLease", err)
			if got != want {
				t.Errorf("AcquireLease(%s) = %v, want %v", owner, got, want)
			}
		}
		acquire("a", true)
		acquire("b", false)
		acquire("a", true)
		e.clock.Advance(31 * time.Second)
		acquire("b", true)
		mustNoErr(t, "ReleaseLease by old owner", tn.ReleaseLease(ctx, "refresh", "a"))
		acquire("a", false)
		mustNoErr(t, "ReleaseLease", tn.ReleaseLease(ctx, "refresh", "b"))
		acquire("a", true)
		item := rawItem(t, e, tn, "LEASE#refresh")
		if _, ok := item[store.AttrTTL]; !ok {
			t.Errorf("lease item has no %s TTL attribute", store.AttrTTL)
		}
	}},
	suiteCase{"Skips", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		s := store.Skip{CallID: "6001", Reason: calls.SkipPrivate, Title: "1:1", Started: e.clock.Now().Add(-time.Hour), SeenAt: e.clock.Now(), JobID: "job-1"}
		mustNoErr(t, "PutSkip", tn.PutSkip(ctx, s))
		got, err := tn.GetSkip(ctx, "6001")
		mustNoErr(t, "GetSkip", err)
		if got != s {
			t.Errorf("GetSkip = %+v, want %+v", got, s)
		}
		mustNoErr(t, "DeleteSkip", tn.DeleteSkip(ctx, "6001"))
		_, err = tn.GetSkip(ctx, "6001")
		wantNotFound(t, err)
		if err := tn.PutSkip(ctx, store.Skip{CallID: "6002"}); err == nil {
			t.Errorf("PutSkip without a reason succeeded, want an error")
		}
	}},
)
