package gongsim

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// CallSpec describes a call added with Sim.AddCall. Zero fields take
// generated or default values, so a test sets only what it checks.
type CallSpec struct {
	ID            string        // empty: a generated 19-digit id
	Started       time.Time     // required
	Duration      time.Duration // zero: 30 minutes
	Title         string        // empty: a generated title
	NullTitle     bool          // send "title": null
	PrimaryUserID string        // empty: the first generated user
	Private       bool
	Imported      bool          // an uploaded call: no parties key at all
	Parties       []PartySpec   // nil: generated parties (none when Imported)
	Context       []ContextSpec // nil: generated CRM context
	NoContext     bool          // send "context": [] even when context is requested
	VisibleAt     time.Time     // zero: when the call ends
	TranscriptAt  time.Time     // zero: VisibleAt
	NoTranscript  bool          // the transcript never becomes ready
}

// PartySpec is one participant of an added call.
type PartySpec struct {
	Name        string // empty: the name key is omitted
	Email       string // empty: the emailAddress key is omitted
	Title       string // empty: the title key is omitted
	UserID      string // Gong user id for internal participants
	Phone       string
	Affiliation string // empty: Internal when UserID is set, else External
	Speaker     bool   // the party gets a speakerId and talks in the transcript
}

// ContextSpec is one CRM object linked to an added call.
type ContextSpec struct {
	System     string         // Salesforce, HubSpot, MicrosoftDynamic or Generic
	ObjectType string         // Opportunity or Account
	ObjectID   string         // may be empty, as Gong sometimes sends
	Fields     map[string]any // sent in key order; values keep their JSON type
}

// callDetails is everything about a call that is derived on demand.
type callDetails struct {
	title           optString
	scheduled       optString
	system          string
	direction       string
	scope           string
	media           string
	language        string
	purpose         optString
	meetingURL      optString
	calendarEventID optString
	sdrDisposition  optString
	clientUniqueID  optString
	customData      optString
	parties         []wireParty
	partiesAbsent   bool
	account         *account
	noContext       bool
	topics          []string
}

func formatTime(t time.Time) string { return t.Format(time.RFC3339) }

func (c *callRecord) startedString() string {
	loc := time.FixedZone("", int(c.offsetMin)*60)
	t := c.startTime().In(loc)
	if t.Nanosecond() != 0 {
		return t.Format("2006-01-02T15:04:05.000Z07:00")
	}
	return t.Format(time.RFC3339)
}

// details derives the call's metadata, parties and CRM account from its
// seed, or from its spec for calls added by tests.
func (co *company) details(c *callRecord) callDetails {
	r := newRand(c.seed, 2)
	var d callDetails
	d.language = "eng"
	if r.Float64() < 0.1 {
		d.language = []string{"fre", "spa", "ger", "ita"}[r.IntN(4)]
	}
	if c.flags&flagNoTranscript != 0 {
		d.language = "zxx"
	}
	d.account = &co.accounts[r.IntN(len(co.accounts))]
	d.topics = pickTopics(r)
	purpose := callPurposes[r.IntN(len(callPurposes))]
	roll := r.Float64()
	switch {
	case c.flags&flagImported != 0:
		d.system, d.direction, d.scope, d.media = "API", "Unknown", "Unknown", "Audio"
		d.scheduled = nullString()
		d.clientUniqueID = someString(fmt.Sprintf("upload-%s", c.id[len(c.id)-8:]))
		d.customData = someString(`{"source":"dialer-export"}`)
		d.partiesAbsent = c.flags&flagPartiesAbsent != 0
		d.parties = []wireParty{}
	case roll < 0.22:
		co.telephony(&d, c, r)
	default:
		co.conference(&d, c, r, purpose)
	}
	if d.title.state == optAbsent {
		d.title = someString(fmt.Sprintf("%s <> %s | %s", d.account.name, titleCase(co.id), purpose))
	}
	if c.flags&flagNullTitle != 0 {
		d.title = nullString()
	}
	if d.purpose.state == optAbsent {
		d.purpose = nullString()
	}
	for _, f := range []*optString{&d.meetingURL, &d.calendarEventID, &d.sdrDisposition, &d.clientUniqueID, &d.customData, &d.scheduled} {
		if f.state == optAbsent {
			*f = nullString()
		}
	}
	if c.spec != nil {
		co.applySpec(&d, c)
	}
	return d
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func pickTopics(r *rand.Rand) []string {
	n := 2 + r.IntN(4)
	out := []string{topicNames[0]}
	for len(out) < n {
		out = append(out, topicNames[1+r.IntN(len(topicNames)-1)])
	}
	return out
}

func (co *company) telephony(d *callDetails, c *callRecord, r *rand.Rand) {
	d.system = []string{"RingCentral", "Outreach", "Aircall"}[r.IntN(3)]
	d.direction = "Outbound"
	if r.Float64() < 0.3 {
		d.direction = "Inbound"
	}
	d.scope, d.media = "External", "Audio"
	d.sdrDisposition = someString([]string{"Connected", "Left voicemail", "No answer"}[r.IntN(3)])
	d.clientUniqueID = someString(fmt.Sprintf("tel-%d", r.Uint32()))
	d.parties = append(d.parties, co.internalParty(r, c.primaryUserID, true))
	ext := co.externalParty(r, d.account)
	if r.Float64() < 0.5 {
		ext.EmailAddress = optString{}
	}
	ext.PhoneNumber = someString(fmt.Sprintf("+1 555-02%02d-%04d", r.IntN(100), r.IntN(10000)))
	d.parties = append(d.parties, ext)
	d.title = someString(fmt.Sprintf("%s call with %s", d.direction, partyLabel(ext)))
	if r.Float64() < 0.2 {
		d.parties = append(d.parties, wireParty{
			ID:          co.partyID(r),
			Name:        someString(fmt.Sprintf("Phone Caller #%d", 1+r.IntN(9))),
			SpeakerID:   nullString(),
			Context:     []wireCallContext{},
			Affiliation: "Unknown",
			Methods:     []string{"Attendee"},
		})
	}
}

func partyLabel(p wireParty) string {
	if p.Name.state == optSet {
		return p.Name.value
	}
	return "an unknown caller"
}

func (co *company) conference(d *callDetails, c *callRecord, r *rand.Rand, purpose string) {
	d.system = []string{"Zoom", "Zoom", "Google Meet", "Microsoft Teams", "WebEx"}[r.IntN(5)]
	d.direction = "Conference"
	d.media = "Video"
	if r.Float64() < 0.2 {
		d.media = "Audio"
	}
	sched := c.startTime().Truncate(15 * time.Minute)
	d.scheduled = someString(formatTime(sched))
	d.meetingURL = someString(fmt.Sprintf("https://meet.example.net/j/%d", r.Uint32()))
	d.calendarEventID = someString(fmt.Sprintf("%x@calendar.example.com", r.Uint64()))
	if r.Float64() < 0.5 {
		d.purpose = someString(purpose)
	}
	internal := 1 + r.IntN(3)
	external := 1 + r.IntN(4)
	d.scope = "External"
	if r.Float64() < 0.1 {
		d.scope = "Internal"
		internal, external = 2+r.IntN(4), 0
		d.title = someString(fmt.Sprintf("%s weekly sync", titleCase(co.id)))
	}
	d.parties = append(d.parties, co.internalParty(r, c.primaryUserID, true))
	for i := 1; i < internal; i++ {
		d.parties = append(d.parties, co.internalParty(r, co.genUsers[r.IntN(len(co.genUsers))].ID, r.Float64() < 0.8))
	}
	for i := 0; i < external; i++ {
		d.parties = append(d.parties, co.externalParty(r, d.account))
	}
}

func (co *company) partyID(r *rand.Rand) string {
	return fmt.Sprintf("%d", 1_000_000_000_000_000_000+r.Uint64N(8_000_000_000_000_000_000))
}

func (co *company) userByID(id string) *User {
	for i := range co.genUsers {
		if co.genUsers[i].ID == id {
			return &co.genUsers[i]
		}
	}
	return nil
}

func (co *company) internalParty(r *rand.Rand, userID string, speaks bool) wireParty {
	p := wireParty{
		ID:          co.partyID(r),
		UserID:      someString(userID),
		SpeakerID:   nullString(),
		Context:     []wireCallContext{},
		Affiliation: "Internal",
		Methods:     []string{"Invitee", "Attendee"},
	}
	if speaks {
		p.SpeakerID = someString(co.partyID(r))
	}
	if u := co.userByID(userID); u != nil {
		p.Name = someString(u.FirstName + " " + u.LastName)
		if r.Float64() > 0.03 {
			p.EmailAddress = someString(u.Email)
		}
		switch {
		case u.Title == "":
		case r.Float64() < 0.1:
			p.Title = nullString()
		default:
			p.Title = someString(u.Title)
		}
	}
	return p
}

func (co *company) externalParty(r *rand.Rand, a *account) wireParty {
	first := firstNames[r.IntN(len(firstNames))]
	last := lastNames[r.IntN(len(lastNames))]
	p := wireParty{
		ID:          co.partyID(r),
		Name:        someString(first + " " + last),
		SpeakerID:   nullString(),
		Context:     []wireCallContext{},
		Affiliation: "External",
		Methods:     []string{"Invitee", "Attendee"},
	}
	if r.Float64() < 0.9 {
		p.EmailAddress = someString(strings.ToLower(first+"."+last) + "@" + a.domain)
	}
	if r.Float64() < 0.03 {
		p.Name = optString{}
	}
	if r.Float64() < 0.4 {
		p.Title = someString(buyerTitles[r.IntN(len(buyerTitles))])
	}
	if r.Float64() < 0.75 {
		p.SpeakerID = someString(co.partyID(r))
	} else {
		p.Methods = []string{"Invitee"}
	}
	if p.EmailAddress.state == optSet && r.Float64() < 0.6 {
		objectType := "Contact"
		if r.Float64() < 0.15 {
			objectType = "Lead"
		}
		p.Context = []wireCallContext{{
			System: a.system,
			Objects: []wireContextItem{{
				ObjectType: objectType,
				ObjectID:   fmt.Sprintf("003%015X", r.Uint64()>>4),
				Fields:     []wireContextField{{Name: "Email", Value: p.EmailAddress.value}},
				Timing:     "Now",
			}},
		}}
	}
	return p
}

func (co *company) applySpec(d *callDetails, c *callRecord) {
	s := c.spec
	if s.Title != "" {
		d.title = someString(s.Title)
	}
	if s.NullTitle {
		d.title = nullString()
	}
	d.noContext = s.NoContext
	if s.Imported {
		d.parties, d.partiesAbsent = nil, true
		return
	}
	if s.Parties == nil {
		return
	}
	r := newRand(c.seed, 3)
	d.parties = []wireParty{}
	for _, ps := range s.Parties {
		p := wireParty{ID: co.partyID(r), SpeakerID: nullString(), Context: []wireCallContext{}, Methods: []string{"Invitee", "Attendee"}}
		setIf(&p.Name, ps.Name)
		setIf(&p.EmailAddress, ps.Email)
		setIf(&p.Title, ps.Title)
		setIf(&p.UserID, ps.UserID)
		setIf(&p.PhoneNumber, ps.Phone)
		p.Affiliation = ps.Affiliation
		if p.Affiliation == "" {
			p.Affiliation = "External"
			if ps.UserID != "" {
				p.Affiliation = "Internal"
			}
		}
		if ps.Speaker {
			p.SpeakerID = someString(co.partyID(r))
		}
		d.parties = append(d.parties, p)
	}
}

func setIf(o *optString, v string) {
	if v != "" {
		*o = someString(v)
	}
}

// callContext returns the CRM context of a call for the requested timings.
// TimeOfCall values differ from Now values in the stage, as they would
// after a deal moved on.
func (co *company) callContext(c *callRecord, d callDetails, timings []string) []wireCallContext {
	out := []wireCallContext{}
	if d.noContext {
		return out
	}
	if c.spec != nil && c.spec.Context != nil {
		bySystem := map[string]int{}
		for _, cs := range c.spec.Context {
			i, ok := bySystem[cs.System]
			if !ok {
				i = len(out)
				bySystem[cs.System] = i
				out = append(out, wireCallContext{System: cs.System, Objects: []wireContextItem{}})
			}
			for _, timing := range timings {
				out[i].Objects = append(out[i].Objects, wireContextItem{
					ObjectType: cs.ObjectType, ObjectID: cs.ObjectID, Fields: specFields(cs.Fields), Timing: timing,
				})
			}
		}
		return out
	}
	r := newRand(c.seed, 4)
	if r.Float64() < 0.2 {
		return out
	}
	a := d.account
	dealID := a.dealID
	if r.Float64() < 0.05 {
		dealID = ""
	}
	ctx := wireCallContext{System: a.system, Objects: []wireContextItem{}}
	stageNow := r.IntN(len(stageNames))
	for _, timing := range timings {
		stage := stageNow
		if timing == "TimeOfCall" && stage > 0 {
			stage--
		}
		ctx.Objects = append(ctx.Objects, co.dealObject(a, dealID, stage, timing), wireContextItem{
			ObjectType: "Account",
			ObjectID:   a.accountID,
			Timing:     timing,
			Fields: []wireContextField{
				{Name: "Name", Value: a.name},
				{Name: "Website", Value: a.domain},
				{Name: "Industry", Value: a.industry},
				{Name: "AnnualRevenue", Value: a.amount * 100},
			},
		})
	}
	return append(out, ctx)
}

func (co *company) dealObject(a *account, dealID string, stage int, timing string) wireContextItem {
	fields := []wireContextField{
		{Name: "Name", Value: a.name + " - New Business"},
		{Name: "Amount", Value: a.amount},
		{Name: "CloseDate", Value: "2026-06-30"},
	}
	if a.system == "Salesforce" {
		fields = append(fields,
			wireContextField{Name: "StageName", Value: stageNames[stage]},
			wireContextField{Name: "Probability", Value: stage * 20},
			wireContextField{Name: "IsClosed", Value: "false"},
			wireContextField{Name: "NextStep__c", Value: nil},
		)
	} else {
		fields = append(fields, wireContextField{Name: "StageName", Value: hubspotStages[stage%len(hubspotStages)]})
	}
	if dealID == "" {
		fields[0].Value = nil
	}
	return wireContextItem{ObjectType: "Opportunity", ObjectID: dealID, Fields: fields, Timing: timing}
}

func specFields(m map[string]any) []wireContextField {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []wireContextField{}
	for _, k := range keys {
		out = append(out, wireContextField{Name: k, Value: m[k]})
	}
	return out
}

// Transcript pacing: 150 words a minute is 400 ms a word.
const msPerWord = 400

// transcript generates the call's monologues from its seed. Speech fills
// the call's duration at about 150 words a minute with short pauses.
func (co *company) transcript(c *callRecord, d callDetails) []wireMonologue {
	r := newRand(c.seed, 5)
	var speakers []string
	for _, p := range d.parties {
		if p.SpeakerID.state == optSet {
			speakers = append(speakers, p.SpeakerID.value)
		}
	}
	if len(speakers) == 0 {
		// Imported calls have no parties, but their audio still has voices.
		speakers = []string{co.partyID(r), co.partyID(r)}
	}
	durMs := int64(c.durationSec) * 1000
	out := []wireMonologue{}
	var t int64 = 500
	last := -1
	for t < durMs {
		s := r.IntN(len(speakers))
		if s == last && len(speakers) > 1 {
			s = (s + 1) % len(speakers)
		}
		last = s
		m := wireMonologue{SpeakerID: someString(speakers[s]), Topic: nullString()}
		if r.Float64() < 0.015 {
			m.SpeakerID = nullString()
		}
		if r.Float64() < 0.75 {
			idx := int(t * int64(len(d.topics)) / max(durMs, 1))
			m.Topic = someString(d.topics[min(idx, len(d.topics)-1)])
		}
		for n := 1 + r.IntN(6); n > 0 && t < durMs; n-- {
			words := 4 + r.IntN(19)
			end := min(t+int64(float64(words*msPerWord)*(0.9+r.Float64()*0.2)), durMs)
			m.Sentences = append(m.Sentences, wireSentence{Start: t, End: end, Text: sentence(r, words)})
			t = end + 100 + r.Int64N(300)
		}
		t += 200 + r.Int64N(500)
		out = append(out, m)
	}
	return out
}

func sentence(r *rand.Rand, words int) string {
	var b strings.Builder
	for i := 0; i < words; i++ {
		w := vocabulary[r.IntN(len(vocabulary))]
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	if r.Float64() < 0.2 {
		b.WriteByte('?')
	} else {
		b.WriteByte('.')
	}
	return b.String()
}
