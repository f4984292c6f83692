package readapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

// ParticipantJSON is a call participant in responses.
type ParticipantJSON struct {
	PartyID     string `json:"partyId,omitempty"`
	Name        string `json:"name,omitempty"`
	Email       string `json:"email,omitempty"`
	Title       string `json:"title,omitempty"`
	Affiliation string `json:"affiliation,omitempty"`
	SpeakerID   string `json:"speakerId,omitempty"`
	GongUserID  string `json:"gongUserId,omitempty"`
}

// CRMObjectJSON is a CRM record Gong linked to the call.
type CRMObjectJSON struct {
	System     string `json:"system"`
	ObjectType string `json:"objectType"`
	ObjectID   string `json:"objectId,omitempty"`
	Name       string `json:"name,omitempty"`
}

// MediaJSON holds the signed recording URLs. Expired is true once ExpiresAt
// has passed; the URLs then no longer work and a later sync refreshes them.
type MediaJSON struct {
	AudioURL  string     `json:"audioUrl,omitempty"`
	VideoURL  string     `json:"videoUrl,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	Expired   bool       `json:"expired"`
}

// SentenceJSON is one transcribed sentence; offsets are milliseconds from
// the start of the call.
type SentenceJSON struct {
	StartMs int64  `json:"startMs"`
	EndMs   int64  `json:"endMs"`
	Text    string `json:"text"`
}

// MonologueJSON is a run of sentences by one speaker.
type MonologueJSON struct {
	SpeakerID   string         `json:"speakerId,omitempty"`
	SpeakerName string         `json:"speakerName"`
	PartyID     string         `json:"partyId,omitempty"`
	Topic       *string        `json:"topic"`
	Sentences   []SentenceJSON `json:"sentences"`
}

// TranscriptJSON is the call's transcript and its state (pending, complete
// or none; empty when the call's transcript was never looked for).
type TranscriptJSON struct {
	Status     string          `json:"status"`
	Monologues []MonologueJSON `json:"monologues"`
}

// CallJSON is the response of GET /calls/{callId}.
type CallJSON struct {
	CallID       string            `json:"callId"`
	Title        string            `json:"title"`
	URL          string            `json:"url,omitempty"`
	Started      time.Time         `json:"started"`
	Scheduled    *time.Time        `json:"scheduled,omitempty"`
	DurationSec  int64             `json:"durationSec"`
	Direction    string            `json:"direction,omitempty"`
	System       string            `json:"system,omitempty"`
	Scope        string            `json:"scope,omitempty"`
	MediaType    string            `json:"mediaType,omitempty"`
	Language     string            `json:"language,omitempty"`
	Participants []ParticipantJSON `json:"participants"`
	CRM          []CRMObjectJSON   `json:"crm"`
	Media        MediaJSON         `json:"media"`
	Transcript   TranscriptJSON    `json:"transcript"`
	Mapping      MappingJSON       `json:"mapping"`
	SyncedAt     time.Time         `json:"syncedAt"`
}

// loadCall reads a call of the caller's tenant or returns a 404.
func loadCall(ctx context.Context, c caller, callID string) (calls.Call, error) {
	if e := validateCallID(callID); e != nil {
		return calls.Call{}, e
	}
	call, err := c.tenant.GetCall(ctx, callID)
	if errors.Is(err, store.ErrNotFound) {
		return calls.Call{}, notFound("callId", "call %s not found", callID)
	}
	return call, err
}

func (a *API) getCall(ctx context.Context, c caller, callID string) (int, any, error) {
	call, err := loadCall(ctx, c, callID)
	if err != nil {
		return 0, nil, err
	}
	m, err := c.tenant.GetMapping(ctx, callID)
	if err != nil {
		return 0, nil, err
	}
	out := CallJSON{
		CallID: call.CallID, Title: call.Title, URL: call.URL, Started: call.Started.UTC(), Scheduled: call.Scheduled,
		DurationSec: call.DurationSec, Direction: call.Direction, System: call.System, Scope: call.Scope,
		MediaType: call.MediaType, Language: call.Language, SyncedAt: call.SyncedAt.UTC(),
		Participants: []ParticipantJSON{}, CRM: []CRMObjectJSON{},
		Transcript: TranscriptJSON{Status: call.Transcript.Status, Monologues: []MonologueJSON{}},
		Mapping:    mappingJSON(m),
	}
	for _, p := range call.Participants {
		out.Participants = append(out.Participants, ParticipantJSON{
			PartyID: p.PartyID, Name: p.Name, Email: p.Email, Title: p.Title,
			Affiliation: p.Affiliation, SpeakerID: p.SpeakerID, GongUserID: p.GongUserID,
		})
	}
	for _, o := range call.CRM {
		out.CRM = append(out.CRM, CRMObjectJSON{System: o.System, ObjectType: o.ObjectType, ObjectID: o.ObjectID, Name: o.Name})
	}
	out.Media = mediaJSON(call.Media, a.now())
	if m.DealID != "" {
		if d, err := c.tenant.GetDeal(ctx, m.DealID); err == nil {
			out.Mapping.DealName = d.Name
		} else if !errors.Is(err, store.ErrNotFound) {
			return 0, nil, err
		}
	}
	if call.Transcript.Status == calls.TranscriptComplete {
		tr, err := c.tenant.GetTranscript(ctx, callID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, nil, err
		}
		out.Transcript.Monologues = monologuesJSON(tr.Monologues, call.Participants)
	}
	return http.StatusOK, out, nil
}

func mediaJSON(m calls.Media, now time.Time) MediaJSON {
	out := MediaJSON{AudioURL: m.AudioURL, VideoURL: m.VideoURL}
	if !m.ExpiresAt.IsZero() {
		at := m.ExpiresAt.UTC()
		out.ExpiresAt = &at
		out.Expired = !now.Before(m.ExpiresAt)
	}
	return out
}

// monologuesJSON resolves each monologue's speaker against the call's
// current participants: name, else email, else the name stored at ingest,
// else calls.UnknownSpeaker.
func monologuesJSON(monologues []calls.Monologue, participants []calls.Participant) []MonologueJSON {
	bySpeaker := map[string]calls.Participant{}
	for _, p := range participants {
		if p.SpeakerID != "" {
			bySpeaker[p.SpeakerID] = p
		}
	}
	out := make([]MonologueJSON, 0, len(monologues))
	for _, mono := range monologues {
		mj := MonologueJSON{SpeakerID: mono.SpeakerID, PartyID: mono.PartyID, Topic: mono.Topic, Sentences: make([]SentenceJSON, 0, len(mono.Sentences))}
		p, found := bySpeaker[mono.SpeakerID]
		switch {
		case found && p.Name != "":
			mj.SpeakerName, mj.PartyID = p.Name, p.PartyID
		case found && p.Email != "":
			mj.SpeakerName, mj.PartyID = p.Email, p.PartyID
		case mono.SpeakerName != "":
			mj.SpeakerName = mono.SpeakerName
		default:
			mj.SpeakerName = calls.UnknownSpeaker
		}
		for _, s := range mono.Sentences {
			mj.Sentences = append(mj.Sentences, SentenceJSON{StartMs: s.StartMs, EndMs: s.EndMs, Text: s.Text})
		}
		out = append(out, mj)
	}
	return out
}

// AssignJSON is the request body of PUT /calls/{callId}/deal.
type AssignJSON struct {
	DealID string `json:"dealId"`
}

// AssignmentJSON is the response of PUT and DELETE /calls/{callId}/deal.
type AssignmentJSON struct {
	CallID  string      `json:"callId"`
	Mapping MappingJSON `json:"mapping"`
}

func (a *API) assign(ctx context.Context, c caller, callID string, req events.APIGatewayV2HTTPRequest) (int, any, error) {
	if e := validateCallID(callID); e != nil {
		return 0, nil, e
	}
	var in AssignJSON
	if e := decodeBody(req, &in); e != nil {
		return 0, nil, e
	}
	if in.DealID == "" {
		return 0, nil, badRequest("dealId", "dealId is missing: pass the deal to assign the call to, or use DELETE to unassign")
	}
	if e := validateDealID(in.DealID); e != nil {
		return 0, nil, e
	}
	return a.setManual(ctx, c, callID, in.DealID)
}

func (a *API) unassign(ctx context.Context, c caller, callID string) (int, any, error) {
	return a.setManual(ctx, c, callID, "")
}

func (a *API) setManual(ctx context.Context, c caller, callID, dealID string) (int, any, error) {
	call, err := loadCall(ctx, c, callID)
	if err != nil {
		return 0, nil, err
	}
	m, err := c.tenant.SetManualMapping(ctx, callID, call.Started, dealID, c.subject)
	switch {
	case errors.Is(err, store.ErrDealNotFound):
		return 0, nil, notFound("dealId", "deal %s not found", dealID)
	case errors.Is(err, store.ErrNotFound):
		return 0, nil, notFound("callId", "call %s not found", callID)
	case err != nil:
		return 0, nil, err
	}
	a.logger().InfoContext(ctx, "call assigned by hand", "tenant_id", c.tenant.ID(), "call_id", callID, "deal_id", dealID, "subject", c.subject)
	out := AssignmentJSON{CallID: callID, Mapping: mappingJSON(m)}
	if dealID != "" {
		if d, err := c.tenant.GetDeal(ctx, dealID); err == nil {
			out.Mapping.DealName = d.Name
		}
	}
	return http.StatusOK, out, nil
}

// Explain statuses.
const (
	ExplainNotSynced = "not_synced" // no call and no skip record: not read from Gong yet
	ExplainSkipped   = "skipped"    // read from Gong and not ingested
	ExplainMapped    = "mapped"     // in a deal by an automatic rule
	ExplainUnmapped  = "unmapped"   // ingested, no rule matched (or not evaluated yet)
	ExplainManual    = "manual"     // assigned or unassigned by hand
)

// ExplainJSON is the response of GET /calls/{callId}/explain.
type ExplainJSON struct {
	CallID    string     `json:"callId"`
	Status    string     `json:"status"`
	Message   string     `json:"message"`
	Reason    string     `json:"reason,omitempty"`    // skipped: a skip reason code
	SkippedAt *time.Time `json:"skippedAt,omitempty"` // skipped: when a sync last saw the call
	Title     string     `json:"title,omitempty"`
	Started   *time.Time `json:"started,omitempty"`
	DealID    string     `json:"dealId,omitempty"`
	DealName  string     `json:"dealName,omitempty"`
	Rule      string     `json:"rule,omitempty"`
	Key       string     `json:"key,omitempty"`
	MappedAt  *time.Time `json:"mappedAt,omitempty"`
	MappedBy  string     `json:"mappedBy,omitempty"`
}

var skipMessages = map[string]string{
	calls.SkipNoTenantUser: "skipped: no participant is a user of this organization in the product",
	calls.SkipPrivate:      "skipped: the call is private in Gong and this organization excludes private calls",
	calls.SkipUserScope:    "skipped: a backfill limited to other users read the call",
}

var ruleMessages = map[string]string{
	store.RuleCRMOpportunity: "mapped: Gong linked the call to the deal's CRM opportunity or deal",
	store.RuleCRMAccount:     "mapped: the call's CRM account or company has exactly one open deal",
	store.RuleContactEmail:   "mapped: external participants are contacts of the deal",
}

func (a *API) explain(ctx context.Context, c caller, callID string) (int, any, error) {
	if e := validateCallID(callID); e != nil {
		return 0, nil, e
	}
	out := ExplainJSON{CallID: callID}
	call, err := c.tenant.GetCall(ctx, callID)
	if errors.Is(err, store.ErrNotFound) {
		skip, serr := c.tenant.GetSkip(ctx, callID)
		if errors.Is(serr, store.ErrNotFound) {
			out.Status = ExplainNotSynced
			out.Message = "not synced yet: no sync has read this call from Gong for this organization"
			return http.StatusOK, out, nil
		}
		if serr != nil {
			return 0, nil, serr
		}
		out.Status, out.Reason, out.Title = ExplainSkipped, skip.Reason, skip.Title
		out.Message = skipMessages[skip.Reason]
		if out.Message == "" {
			out.Message = "skipped: " + skip.Reason
		}
		if skip.Detail != "" {
			out.Message += " (" + skip.Detail + ")"
		}
		out.SkippedAt = timePtr(skip.SeenAt)
		out.Started = timePtr(skip.Started)
		return http.StatusOK, out, nil
	}
	if err != nil {
		return 0, nil, err
	}
	m, err := c.tenant.GetMapping(ctx, callID)
	if err != nil {
		return 0, nil, err
	}
	out.Title, out.Started = call.Title, timePtr(call.Started)
	out.DealID, out.Rule, out.Key, out.MappedAt, out.MappedBy = m.DealID, m.Rule, m.Key, timePtr(m.MappedAt), m.MappedBy
	switch {
	case m.Manual && m.DealID != "":
		out.Status, out.Message = ExplainManual, "assigned to the deal by hand; syncs and remaps keep it"
	case m.Manual:
		out.Status, out.Message = ExplainManual, "unassigned by hand; syncs and remaps keep it out of every deal"
	case m.DealID != "":
		out.Status, out.Message = ExplainMapped, ruleMessages[m.Rule]
	case m.Rule == "":
		out.Status, out.Message = ExplainUnmapped, "ingested; deal mapping has not run for this call yet"
	default:
		out.Status, out.Message = ExplainUnmapped, "ingested; no CRM id, account or contact email matched a deal"
	}
	if m.DealID != "" {
		if d, err := c.tenant.GetDeal(ctx, m.DealID); err == nil {
			out.DealName = d.Name
		}
	}
	return http.StatusOK, out, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
