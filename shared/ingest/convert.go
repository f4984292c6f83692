package ingest

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
)

// UntitledCall is the title of a call Gong sent without one.
const UntitledCall = "Untitled call"

// ConvertCall turns a call from Gong into the product's model. fetchedAt is
// when the response arrived; Gong's media URLs expire calls.MediaURLLifetime
// after it. Transcript state is left zero for the caller to fill.
func ConvertCall(tenantID string, gc gong.Call, fetchedAt time.Time) calls.Call {
	c := calls.Call{
		TenantID:      tenantID,
		CallID:        gc.ID,
		Title:         strings.TrimSpace(gc.Title),
		URL:           gc.URL,
		Started:       gc.Started.UTC(),
		DurationSec:   gc.DurationSec,
		Direction:     gc.Direction,
		System:        gc.System,
		Scope:         gc.Scope,
		MediaType:     gc.Media,
		Language:      gc.Language,
		WorkspaceID:   gc.WorkspaceID,
		PrimaryUserID: gc.PrimaryUserID,
		IsPrivate:     gc.IsPrivate,
		SyncedAt:      fetchedAt.UTC(),
	}
	if c.Title == "" {
		c.Title = UntitledCall
	}
	if gc.Scheduled != nil {
		s := gc.Scheduled.UTC()
		c.Scheduled = &s
	}
	for _, p := range gc.Parties {
		c.Participants = append(c.Participants, convertParty(p))
	}
	c.CRM = convertContext(gc.Context)
	if gc.AudioURL != "" || gc.VideoURL != "" {
		c.Media = calls.Media{
			AudioURL:  gc.AudioURL,
			VideoURL:  gc.VideoURL,
			ExpiresAt: fetchedAt.UTC().Add(calls.MediaURLLifetime),
		}
	}
	return c
}

func convertParty(p gong.Party) calls.Participant {
	out := calls.Participant{
		PartyID:     p.ID,
		Name:        strings.TrimSpace(p.Name),
		Email:       normalizeEmail(p.Email),
		Title:       p.Title,
		Phone:       p.Phone,
		Affiliation: normalizeAffiliation(p.Affiliation),
		GongUserID:  p.UserID,
		SpeakerID:   p.SpeakerID,
	}
	for _, m := range p.Methods {
		switch {
		case strings.EqualFold(m, "Invitee"):
			out.Invitee = true
		case strings.EqualFold(m, "Attendee"):
			out.Attendee = true
		}
	}
	return out
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func normalizeAffiliation(a string) string {
	switch {
	case strings.EqualFold(a, calls.AffiliationInternal):
		return calls.AffiliationInternal
	case strings.EqualFold(a, calls.AffiliationExternal):
		return calls.AffiliationExternal
	default:
		return calls.AffiliationUnknown
	}
}

// convertContext keeps every CRM object Gong linked to the call. System names
// are normalised to calls.SystemSalesforce and calls.SystemHubSpot, and
// HubSpot deals and companies become opportunities and accounts. Objects with
// an empty id are kept as Gong sent them; deal mapping ignores them.
func convertContext(systems []gong.ContextSystem) []calls.CRMObject {
	var out []calls.CRMObject
	for _, sys := range systems {
		system := normalizeSystem(sys.System)
		for _, o := range sys.Objects {
			out = append(out, calls.CRMObject{
				System:     system,
				ObjectType: normalizeObjectType(system, o.ObjectType),
				ObjectID:   strings.TrimSpace(o.ObjectID),
				Timing:     o.Timing,
				Name:       recordName(o.Fields),
				FieldsJSON: fieldsJSON(o.Fields),
			})
		}
	}
	return out
}

func normalizeSystem(s string) string {
	switch {
	case strings.EqualFold(s, calls.SystemSalesforce):
		return calls.SystemSalesforce
	case strings.EqualFold(s, calls.SystemHubSpot):
		return calls.SystemHubSpot
	default:
		return s
	}
}

func normalizeObjectType(system, objectType string) string {
	switch {
	case strings.EqualFold(objectType, calls.ObjectOpportunity):
		return calls.ObjectOpportunity
	case strings.EqualFold(objectType, calls.ObjectAccount):
		return calls.ObjectAccount
	case system == calls.SystemHubSpot && strings.EqualFold(objectType, "Deal"):
		return calls.ObjectOpportunity
	case system == calls.SystemHubSpot && strings.EqualFold(objectType, "Company"):
		return calls.ObjectAccount
	default:
		return objectType
	}
}

// recordName returns the record's display name: the Name field (HubSpot also
// uses dealname), as text whatever JSON type Gong sent.
func recordName(fields []gong.ContextField) string {
	for _, want := range []string{"Name", "dealname"} {
		for _, f := range fields {
			if strings.EqualFold(f.Name, want) {
				if s := jsonText(f.Value); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// jsonText returns a JSON string's value, a number's or boolean's literal
// text, and "" for null or a missing value.
func jsonText(v json.RawMessage) string {
	raw := strings.TrimSpace(string(v))
	if raw == "" || raw == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return strings.TrimSpace(s)
	}
	return raw
}

type wireField struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// fieldsJSON keeps the fields as Gong sent them, values untouched; a missing
// value is written as null.
func fieldsJSON(fields []gong.ContextField) string {
	wire := make([]wireField, 0, len(fields))
	for _, f := range fields {
		v := f.Value
		if len(strings.TrimSpace(string(v))) == 0 || !json.Valid(v) {
			v = json.RawMessage("null")
		}
		wire = append(wire, wireField{Name: f.Name, Value: v})
	}
	b, err := json.Marshal(wire)
	if err != nil {
		// Every value is valid JSON by now, so this cannot happen.
		return "[]"
	}
	return string(b)
}

// ResolveTranscript attributes each monologue to the call participant whose
// speaker id it carries. A null or unmatched speaker id gets
// calls.UnknownSpeaker and keeps its text.
func ResolveTranscript(ct gong.CallTranscript, participants []calls.Participant) calls.Transcript {
	bySpeaker := make(map[string]calls.Participant, len(participants))
	for _, p := range participants {
		if p.SpeakerID != "" {
			bySpeaker[p.SpeakerID] = p
		}
	}
	tr := calls.Transcript{CallID: ct.CallID, Monologues: make([]calls.Monologue, 0, len(ct.Monologues))}
	for _, m := range ct.Monologues {
		mono := calls.Monologue{SpeakerID: m.SpeakerID, SpeakerName: calls.UnknownSpeaker, Topic: m.Topic}
		if p, ok := bySpeaker[m.SpeakerID]; ok && m.SpeakerID != "" {
			mono.PartyID = p.PartyID
			switch {
			case p.Name != "":
				mono.SpeakerName = p.Name
			case p.Email != "":
				mono.SpeakerName = p.Email
			}
		}
		mono.Sentences = make([]calls.Sentence, 0, len(m.Sentences))
		for _, s := range m.Sentences {
			mono.Sentences = append(mono.Sentences, calls.Sentence{StartMs: s.StartMs, EndMs: s.EndMs, Text: s.Text})
		}
		tr.Monologues = append(tr.Monologues, mono)
	}
	return tr
}
