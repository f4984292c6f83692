package backfill

import (
	"math"
	"time"

	"github.com/dealdesk/gongingest/shared/store"
)

// Window sizing. A window is a whole number of UTC days, chosen so it holds
// about TargetWindowCalls calls at the tenant's recent call rate. Each window
// ends with a part-filled page of calls and of transcripts, which costs as
// much as a full one, so larger windows spend fewer Gong requests per call:
// at 5,000 calls the part pages add about 0.04 requests per 100 calls. A
// window that does not finish within one Lambda run continues in the next,
// from a checkpoint. Without a known rate (no calls stored yet) windows are
// UnknownRateWindowDays long.
const (
	TargetWindowCalls     = 5000
	UnknownRateWindowDays = 7
	MaxWindowDays         = 30
	day                   = 24 * time.Hour
)

// Window is one part of a job's range: [From, To), in UTC.
type Window struct {
	Index int       `json:"index"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// WindowDays returns the window length in days for a tenant that stores
// callsPerDay calls a day: TargetWindowCalls calls, between 1 and
// MaxWindowDays days, or UnknownRateWindowDays when the rate is unknown.
func WindowDays(callsPerDay float64) int {
	if callsPerDay <= 0 {
		return UnknownRateWindowDays
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
