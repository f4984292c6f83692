package store_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/store"
)

var _ = addCases(
	suiteCase{"quota counts by day and kind", func(t *testing.T, e *env) {
		ctx := context.Background()
		day := store.QuotaDay(e.clock.now)
		if used, err := e.tenant.QuotaUsed(ctx, day); err != nil || used != 0 {
			t.Fatalf("QuotaUsed of an unused day = %d, %v", used, err)
		}
		for _, tc := range []struct {
			kind string
			n    int64
			want int64
		}{{"sync", 3, 3}, {"backfill", 5, 8}, {"sync", 2, 10}} {
			total, err := e.tenant.AddQuota(ctx, day, tc.kind, tc.n)
			if err != nil || total != tc.want {
				t.Fatalf("AddQuota(%s, %d) = %d, %v; want %d", tc.kind, tc.n, total, err, tc.want)
			}
		}
		u, err := e.tenant.Quota(ctx, day)
		if err != nil || u.Total != 10 || u.ByKind["sync"] != 5 || u.ByKind["backfill"] != 5 {
			t.Errorf("Quota = %+v, %v", u, err)
		}
		other := store.QuotaDay(e.clock.now.Add(24 * time.Hour))
		if used, _ := e.tenant.QuotaUsed(ctx, other); used != 0 {
			t.Errorf("next day used = %d, want 0", used)
		}
		item := rawItem(t, e, e.tenant, "QUOTA#"+day)
		ttl, ok := item[store.AttrTTL].(*types.AttributeValueMemberN)
		wantTTL := e.clock.now.UTC().Truncate(24 * time.Hour).Add(24*time.Hour + store.QuotaRetention).Unix()
		if !ok || ttl.Value != strconv.FormatInt(wantTTL, 10) {
			t.Errorf("quota TTL = %v, want the number %d", item[store.AttrTTL], wantTTL)
		}
	}},
	suiteCase{"quota reserve stops at limit", func(t *testing.T, e *env) {
		ctx := context.Background()
		day := store.QuotaDay(e.clock.now)
		for _, tc := range []struct {
			n, limit int64
			ok       bool
			total    int64
		}{{6, 10, true, 6}, {5, 10, false, 6}, {4, 10, true, 10}, {1, 10, false, 10}, {20, 10, false, 10}, {1, 12, true, 11}} {
			ok, total, err := e.tenant.ReserveQuota(ctx, day, "backfill", tc.n, tc.limit)
			if err != nil || ok != tc.ok || total != tc.total {
				t.Errorf("ReserveQuota(%d, limit %d) = %v, %d, %v; want %v, %d", tc.n, tc.limit, ok, total, err, tc.ok, tc.total)
			}
		}
	}},
	suiteCase{"quota rejects bad day and kind", func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, err := e.tenant.AddQuota(ctx, "2026-13-01", "sync", 1); err == nil {
			t.Errorf("AddQuota accepted month 13")
		}
		if _, err := e.tenant.AddQuota(ctx, store.QuotaDay(e.clock.now), "Sync Calls", 1); err == nil {
			t.Errorf("AddQuota accepted kind with spaces")
		}
		if _, err := e.tenant.AddQuota(ctx, store.QuotaDay(e.clock.now), "sync", -1); err == nil {
			t.Errorf("AddQuota accepted a negative count")
		}
	}},
	suiteCase{"job updates follow status", func(t *testing.T, e *env) {
		ctx := context.Background()
		now := e.clock.now
		j := store.Job{JobID: "20261204T100000Z-abcdef", Type: store.JobTypeSupport, Kind: "backfill", Epoch: 1,
			From: now.Add(-48 * time.Hour), To: now, WindowDays: 1, WindowsTotal: 2, Status: store.JobQueued, CreatedAt: now, UpdatedAt: now}
		if err := e.tenant.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		if err := e.tenant.CreateJob(ctx, j); err == nil {
			t.Errorf("CreateJob overwrote a job")
		}
		got, err := e.tenant.RecordWindow(ctx, j.JobID, store.WindowProgress{Index: 0, CallsIngested: 4, GongRequests: 2, At: now})
		if err != nil || got.Status != store.JobRunning || got.NextWindow != 1 || got.CallsIngested != 4 {
			t.Fatalf("RecordWindow 0 = %+v, %v", got, err)
		}
		if _, err := e.tenant.RecordWindow(ctx, j.JobID, store.WindowProgress{Index: 0, At: now}); !errors.Is(err, store.ErrJobState) {
			t.Errorf("repeated RecordWindow error = %v, want ErrJobState", err)
		}
		got, err = e.tenant.PauseJob(ctx, j.JobID, 1, 3, now.Add(time.Hour), now)
		if err != nil || got.Status != store.JobPaused || got.GongRequests != 5 {
			t.Fatalf("PauseJob = %+v, %v", got, err)
		}
		got, err = e.tenant.ResumeJob(ctx, j.JobID, now)
		if err != nil || got.Status != store.JobRunning || got.Resumes != 1 || !got.ResumeAt.IsZero() {
			t.Fatalf("ResumeJob = %+v, %v", got, err)
		}
		got, err = e.tenant.RecordWindow(ctx, j.JobID, store.WindowProgress{Index: 1, Done: true, At: now})
		if err != nil || got.Status != store.JobDone || got.WindowsDone != 2 {
			t.Fatalf("last RecordWindow = %+v, %v", got, err)
		}
		if _, err := e.tenant.CancelJob(ctx, j.JobID, "s", now); !errors.Is(err, store.ErrJobState) {
			t.Errorf("CancelJob of a done job error = %v, want ErrJobState", err)
		}
		if _, err := e.tenant.CancelJob(ctx, "missing", "s", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CancelJob of a missing job error = %v, want ErrNotFound", err)
		}
		jobs, err := e.tenant.Jobs(ctx, 0)
		if err != nil || len(jobs) != 1 {
			t.Errorf("Jobs = %v, %v", jobs, err)
		}
	}},
	suiteCase{"purge deletes in batches", func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, err := e.tenant.MarkConnected(ctx, "admin", nil, ""); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 60; i++ {
			if err := e.tenant.PutSkip(ctx, store.Skip{CallID: strconv.Itoa(1000 + i), Reason: "private", Started: e.clock.now, SeenAt: e.clock.now}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.tenant.AddQuota(ctx, store.QuotaDay(e.clock.now), "sync", 1); err != nil {
			t.Fatal(err)
		}
		counts, err := e.tenant.Purge(ctx, "support", "test")
		if err != nil || counts.Delete["skips"] != 60 || counts.Keep["quota_days"] != 1 || counts.Keep["tenant"] != 1 {
			t.Fatalf("Purge = %+v, %v", counts, err)
		}
		if left := rawItems(t, e, e.tenant, "SKIP#"); len(left) != 0 {
			t.Errorf("%d skips left after the purge", len(left))
		}
		last, err := e.tenant.LastPurge(ctx)
		if err != nil || last.By != "support" || last.Deleted["skips"] != 60 {
			t.Errorf("LastPurge = %+v, %v", last, err)
		}
	}},
)
