// Package backfill runs backfill jobs: reading a tenant's Gong history for a
// date range, window by window, through the same queue and engine as the
// scheduled syncs. It also keeps the daily Gong request budget, queues
// backfills for users who join an organization, and purges a tenant's
// ingested data on request.
//
// A job's range is split into windows of whole UTC days (see WindowDays).
// Only the job's next window is ever in the queue: when the engine finishes a
// window it calls OnWindowDone, which records the progress and queues the
// window after it. So cancelling a job or pausing it for the budget needs no
// change to the queue. A job's windows never run side by side with each other
// or with the tenant's syncs, because all of a tenant's messages share one
// FIFO message group.
package backfill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// Defaults of the environment variables the package's settings come from.
const (
	DefaultInitialDays = 90   // BACKFILL_DAYS: initial backfill on connect
	DefaultMaxDays     = 730  // BACKFILL_MAX_DAYS: longest support backfill
	DefaultUserDays    = 90   // USER_BACKFILL_DAYS: backfill for a user who joins
	DefaultDailyBudget = 5000 // DAILY_REQUEST_BUDGET: Gong requests per tenant per day
)

// Sender queues ingest messages; *queue.Sender implements it.
type Sender interface {
	Send(ctx context.Context, msgs ...queue.Message) error
}

// Config holds the settings read from the environment.
type Config struct {
	InitialDays int   // BACKFILL_DAYS
	MaxDays     int   // BACKFILL_MAX_DAYS
	UserDays    int   // USER_BACKFILL_DAYS
	DailyBudget int64 // DAILY_REQUEST_BUDGET
}

// ConfigFromEnv reads the settings with getenv (os.Getenv in the functions),
// using the defaults for unset variables. It rejects values that are not
// positive whole numbers.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{}
	for _, v := range []struct {
		name string
		def  int64
		set  func(int64)
	}{
		{"BACKFILL_DAYS", DefaultInitialDays, func(n int64) { cfg.InitialDays = int(n) }},
		{"BACKFILL_MAX_DAYS", DefaultMaxDays, func(n int64) { cfg.MaxDays = int(n) }},
		{"USER_BACKFILL_DAYS", DefaultUserDays, func(n int64) { cfg.UserDays = int(n) }},
		{"DAILY_REQUEST_BUDGET", DefaultDailyBudget, func(n int64) { cfg.DailyBudget = n }},
	} {
		n := v.def
		if s := getenv(v.name); s != "" {
			var err error
			n, err = strconv.ParseInt(s, 10, 64)
			if err != nil || n <= 0 {
				return Config{}, fmt.Errorf("backfill: %s=%q is invalid: set a whole number above 0 or unset it for %d", v.name, s, v.def)
			}
		}
		v.set(n)
	}
	if cfg.InitialDays > cfg.MaxDays {
		return Config{}, fmt.Errorf("backfill: BACKFILL_DAYS=%d exceeds BACKFILL_MAX_DAYS=%d: lower the first or raise the second", cfg.InitialDays, cfg.MaxDays)
	}
	return cfg, nil
}

// Service starts, tracks, pauses and cancels backfill jobs and purges
// tenants' data. Build it with New; the fields may be changed before use.
type Service struct {
	Store  *store.Store
	Sender Sender
	Budget *Budget
	Config Config
	Logger *slog.Logger
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// New returns a Service over the table and queue with the given settings.
func New(st *store.Store, sender Sender, cfg Config) *Service {
	if cfg.InitialDays <= 0 {
		cfg.InitialDays = DefaultInitialDays
	}
	if cfg.MaxDays <= 0 {
		cfg.MaxDays = DefaultMaxDays
	}
	if cfg.UserDays <= 0 {
		cfg.UserDays = DefaultUserDays
	}
	if cfg.DailyBudget <= 0 {
		cfg.DailyBudget = DefaultDailyBudget
	}
	s := &Service{Store: st, Sender: sender, Config: cfg, Logger: slog.Default(), Now: time.Now}
	s.Budget = &Budget{Store: st, Daily: cfg.DailyBudget, Now: func() time.Time { return s.Now() }}
	return s
}

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// newJobID returns a job id that sorts by creation time, such as
// 20260301T101500Z-3fa9c2.
func newJobID(now time.Time) (string, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("backfill: generate job id: %w", err)
	}
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:]), nil
}
