package backfill

import (
	"math"
	"time"

	"github.com/dealdesk/gongingest/shared/store"
)

// Window sizing. A window is a whole number of UTC days, chosen so it holds
// about TargetWindowCalls calls at the tenant's recent call rate: few enough
// for one engine run to list, store and fetch transcripts for well within a
// Lambda's time limit, and enough that a quiet tenant's backfill is not
// spread over hundreds of nearly empty windows, each of which costs at least
// one Gong request. Without a known rate (no calls stored yet) windows are
// one day.
const (
	TargetWindowCalls = 500
	MaxWindowDays     = 30
	day               = 24 * time.Hour
)

// Window is one part of a job's range: [From, To), in UTC.
type Window struct {
	Index int       `json:"index"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// WindowDays returns the window length in days for a tenant that stores
// callsPerDay calls a day: TargetWindowCalls calls, between 1 and
// MaxWindowDays days.
func WindowDays(callsPerDay float64) int {
	if callsPerDay <= 0 {
		return 1
	}
	days := int(math.Floor(TargetWindowCalls / callsPerDay))
	return min(max(days, 1), MaxWindowDays)
}

// Windows splits [from, to) into windows whose boundaries are UTC midnights
// every `days` days, counted from the UTC midnight at or before from. The
// first and last windows may be shorter. Because the boundaries are in UTC,
// daylight saving changes in the requester's offset do not move them.
func Windows(from, to time.Time, days int) []Window {
	n := windowCount(from, to, days)
	out := make([]Window, n)
	for i := range out {
		out[i] = windowAt(from, to, days, i)
	}
	return out
}

func windowCount(from, to time.Time, days int) int {
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) {
		return 0
	}
	if days < 1 {
		days = 1
	}
	span := time.Duration(days) * day
	origin := from.Truncate(day)
	return int((to.Sub(origin) + span - 1) / span)
}

func windowAt(from, to time.Time, days, i int) Window {
	from, to = from.UTC(), to.UTC()
	if days < 1 {
		days = 1
	}
	span := time.Duration(days) * day
	origin := from.Truncate(day)
	w := Window{Index: i, From: origin.Add(time.Duration(i) * span), To: origin.Add(time.Duration(i+1) * span)}
	if w.From.Before(from) {
		w.From = from
	}
	if w.To.After(to) {
		w.To = to
	}
	return w
}

// JobWindow returns window i of the job.
func JobWindow(j store.Job, i int) Window {
	return windowAt(j.From, j.To, j.WindowDays, i)
}

// NextUTCDay returns the UTC midnight after t: when a new day's budget begins.
func NextUTCDay(t time.Time) time.Time {
	return t.UTC().Truncate(day).Add(day)
}
