package gongsim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// User is one Gong user of a simulated company.
type User struct {
	ID        string
	Email     string
	FirstName string
	LastName  string
	Title     string // empty means Gong omits the field
	Phone     string
	ManagerID string
	Active    bool
	Created   time.Time
}

// account is an external customer of a simulated company, with the CRM
// records that calls with it link to.
type account struct {
	name      string
	domain    string
	industry  string
	system    string // Salesforce or HubSpot
	accountID string
	dealID    string
	amount    int
}

// Call record flags.
const (
	flagPrivate uint16 = 1 << iota
	flagImported
	flagPartiesAbsent // imported call whose parties key is missing (else an empty list)
	flagNullTitle
	flagNoTranscript // Gong never produces a transcript (no speech)
	flagAdded        // added through AddCall; details come from spec
)

// callRecord is the compact index entry kept for every call. Everything
// else about the call (parties, CRM context, transcript) is derived from
// seed when a response needs it, so a large company stays small in memory.
type callRecord struct {
	id            string
	primaryUserID string
	seed          uint64
	started       int64 // Unix milliseconds
	offsetMin     int16 // UTC offset, in minutes, used when formatting started
	durationSec   int32
	visibleAt     int64 // Unix seconds; the call is listed from this time on
	transcriptAt  int64 // Unix seconds; 0 means never
	transcript    int8  // 0 follows transcriptAt, 1 forced ready, -1 forced not ready
	flags         uint16
	spec          *CallSpec
}

func (c *callRecord) startTime() time.Time { return time.UnixMilli(c.started).UTC() }

func (c *callRecord) before(o *callRecord) bool {
	if c.started != o.started {
		return c.started < o.started
	}
	return c.id < o.id
}

// company is one simulated Gong company: its users, accounts and calls.
type company struct {
	id          string
	seed        uint64
	workspaceID string
	genUsers    []User // as generated; call details refer to these
	users       []User // current list, sorted by ID, edited by tests
	accounts    []account
	calls       []*callRecord // sorted by (started, id)
	byID        map[string]*callRecord
	ids         map[string]bool // every generated id, to keep ids unique

	requests     map[string]int
	rateLimited  int
	recent       []time.Time // accepted API requests in the last second
	throttleNext int
	throttleWait time.Duration
	failNext     int
	failStatus   int
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func newRand(a, b uint64) *rand.Rand { return rand.New(rand.NewPCG(a, b)) }

// newID returns a fresh numeric id of 19 digits, like Gong's.
func (co *company) newID(r *rand.Rand) string {
	for {
		id := fmt.Sprintf("%d", 1_000_000_000_000_000_000+r.Uint64N(8_000_000_000_000_000_000))
		if !co.ids[id] {
			co.ids[id] = true
			return id
		}
	}
}

// generateCompany builds a company deterministically from the seed and the
// company's id.
func generateCompany(seed int64, spec CompanySpec, end time.Time, cfg *Config) *company {
	co := &company{
		id:       spec.ID,
		seed:     uint64(seed) ^ hashString(spec.ID),
		byID:     map[string]*callRecord{},
		ids:      map[string]bool{},
		requests: map[string]int{},
	}
	r := newRand(co.seed, 1)
	co.workspaceID = co.newID(r)
	co.generateUsers(r, spec.Users, end)
	co.generateAccounts(r)
	co.generateCalls(r, spec, end, cfg)
	return co
}

func (co *company) generateUsers(r *rand.Rand, n int, end time.Time) {
	domain := co.id + ".example.com"
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		local := strings.ToLower(first + "." + last)
		for k := 2; seen[local]; k++ {
			local = strings.ToLower(fmt.Sprintf("%s.%s%d", first, last, k))
		}
		seen[local] = true
		u := User{
			ID:        co.newID(r),
			Email:     local + "@" + domain,
			FirstName: first,
			LastName:  last,
			Active:    r.Float64() > 0.08,
			Created:   end.AddDate(0, 0, -30-r.IntN(900)).Truncate(time.Second),
		}
		if r.Float64() > 0.1 {
			u.Title = jobTitles[r.IntN(len(jobTitles))]
		}
		if r.Float64() > 0.4 {
			u.Phone = fmt.Sprintf("+1 555-01%02d-%04d", r.IntN(100), r.IntN(10000))
		}
		if i > 0 && r.Float64() > 0.2 {
			u.ManagerID = co.genUsers[r.IntN(len(co.genUsers))].ID
		}
		co.genUsers = append(co.genUsers, u)
	}
	co.users = append([]User(nil), co.genUsers...)
	sortUsers(co.users)
}

func sortUsers(us []User) {
	sort.Slice(us, func(i, j int) bool { return us[i].ID < us[j].ID })
}

func (co *company) generateAccounts(r *rand.Rand) {
	for i := 0; i < 40; i++ {
		word := accountWords[r.IntN(len(accountWords))]
		name := word + " " + accountSuffixes[r.IntN(len(accountSuffixes))]
		a := account{
			name:     name,
			domain:   strings.ToLower(strings.ReplaceAll(word, " ", "")) + fmt.Sprintf("%d.example.org", i),
			industry: industries[r.IntN(len(industries))],
			amount:   (5 + r.IntN(200)) * 1000,
		}
		if r.Float64() < 0.65 {
			a.system = "Salesforce"
			a.accountID = salesforceID(r, "001")
			a.dealID = salesforceID(r, "006")
		} else {
			a.system = "HubSpot"
			a.accountID = fmt.Sprintf("%d", 1_000_000_000+r.IntN(9_000_000_000))
			a.dealID = fmt.Sprintf("%d", 10_000_000_000+r.IntN(90_000_000_000))
		}
		co.accounts = append(co.accounts, a)
	}
}

// Offsets used to format "started"; Gong returns times with the offset of
// the recording system, not always UTC.
var startOffsets = []int16{0, 0, 0, -300, -420, 60, 120, 330}

func (co *company) generateCalls(r *rand.Rand, spec CompanySpec, end time.Time, cfg *Config) {
	days := spec.Span.Hours() / 24
	n := int(days*spec.CallsPerDay + 0.5)
	begin := end.Add(-spec.Span)
	for i := 0; i < n; i++ {
		// Spread start times uniformly, then move most of them into working
		// hours (13:00 to 23:00 UTC) of the same day.
		at := begin.Add(time.Duration(r.Int64N(int64(spec.Span))))
		if r.Float64() < 0.85 {
			day := at.Truncate(24 * time.Hour)
			at = day.Add(13*time.Hour + time.Duration(r.Int64N(int64(10*time.Hour))))
			if at.Before(begin) || !at.Before(end) {
				at = begin.Add(time.Duration(r.Int64N(int64(spec.Span))))
			}
		}
		if r.Float64() < 0.3 {
			// Some recording systems report fractional seconds.
			at = at.Truncate(time.Second).Add(time.Duration(r.IntN(1000)) * time.Millisecond)
		} else {
			at = at.Truncate(time.Second)
		}
		c := &callRecord{
			id:          co.newID(r),
			seed:        r.Uint64(),
			started:     at.UnixMilli(),
			offsetMin:   startOffsets[r.IntN(len(startOffsets))],
			durationSec: int32(randomDuration(r) / time.Second),
		}
		co.primaryFor(c, r)
		roll := r.Float64()
		switch {
		case roll < 0.03:
			c.flags |= flagImported | flagPartiesAbsent
		case roll < 0.06:
			c.flags |= flagImported
		}
		if r.Float64() < 0.05 {
			c.flags |= flagPrivate
		}
		if r.Float64() < 0.03 {
			c.flags |= flagNullTitle
		}
		if r.Float64() < 0.01 {
			c.flags |= flagNoTranscript
		}
		co.schedule(c, r, cfg)
		co.insert(c)
	}
}

func (co *company) primaryFor(c *callRecord, r *rand.Rand) {
	if len(co.genUsers) > 0 {
		c.primaryUserID = co.genUsers[r.IntN(len(co.genUsers))].ID
	}
}

// randomDuration returns a call length: most calls last 15 to 60 minutes,
// some are short and a few run up to 5 hours.
func randomDuration(r *rand.Rand) time.Duration {
	roll := r.Float64()
	var minutes float64
	switch {
	case roll < 0.08:
		minutes = 1 + r.Float64()*14
	case roll < 0.95:
		minutes = 15 + r.Float64()*45
	case roll < 0.99:
		minutes = 60 + r.Float64()*60
	default:
		minutes = 120 + r.Float64()*180
	}
	return time.Duration(minutes * float64(time.Minute)).Truncate(time.Second)
}

// schedule sets when the call becomes visible and when its transcript is
// ready. Each call gets its own delays, so a call that started earlier can
// appear later than one that started after it.
func (co *company) schedule(c *callRecord, r *rand.Rand, cfg *Config) {
	endAt := c.started/1000 + int64(c.durationSec)
	c.visibleAt = endAt + int64(scaled(cfg.ProcessingDelay, 0.5+r.Float64()*2.5)/time.Second)
	if c.flags&flagNoTranscript != 0 {
		c.transcriptAt = 0
		return
	}
	delay := scaled(cfg.TranscriptDelay, 0.5+r.Float64()*2.5)
	if r.Float64() < 0.03 {
		delay += 24*time.Hour + time.Duration(r.Int64N(int64(16*time.Hour)))
	}
	c.transcriptAt = c.visibleAt + int64(delay/time.Second)
}

func scaled(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }

// insert adds c keeping calls sorted by (started, id).
func (co *company) insert(c *callRecord) {
	i := sort.Search(len(co.calls), func(i int) bool { return c.before(co.calls[i]) })
	co.calls = append(co.calls, nil)
	copy(co.calls[i+1:], co.calls[i:])
	co.calls[i] = c
	co.byID[c.id] = c
}

func (c *callRecord) visible(now time.Time) bool { return now.Unix() >= c.visibleAt }

func (c *callRecord) transcriptReady(now time.Time) bool {
	switch c.transcript {
	case 1:
		return true
	case -1:
		return false
	}
	return c.transcriptAt != 0 && now.Unix() >= c.transcriptAt
}

// window returns the calls visible at now whose start is in [from, to).
// A zero from or to leaves that side open.
func (co *company) window(from, to, now time.Time) []*callRecord {
	lo := 0
	if !from.IsZero() {
		f := ceilMilli(from)
		lo = sort.Search(len(co.calls), func(i int) bool { return co.calls[i].started >= f })
	}
	hi := len(co.calls)
	if !to.IsZero() {
		t := ceilMilli(to)
		hi = sort.Search(len(co.calls), func(i int) bool { return co.calls[i].started >= t })
	}
	var out []*callRecord
	for _, c := range co.calls[lo:max(lo, hi)] {
		if c.visible(now) {
			out = append(out, c)
		}
	}
	return out
}

// ceilMilli returns t in Unix milliseconds, rounded up.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

// salesforceID returns an 18-character Salesforce id: the object's key
// prefix, 12 case-sensitive base-62 characters, and the 3-character suffix
// that encodes the case of the first 15, as Salesforce's API returns them.
func salesforceID(r *rand.Rand, prefix string) string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	const suffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	id := []byte(prefix)
	for len(id) < 15 {
		id = append(id, base62[r.IntN(len(base62))])
	}
	for chunk := 0; chunk < 3; chunk++ {
		mask := 0
		for i := 0; i < 5; i++ {
			if c := id[chunk*5+i]; c >= 'A' && c <= 'Z' {
				mask |= 1 << i
			}
		}
		id = append(id, suffixAlphabet[mask])
	}
	return string(id)
}
