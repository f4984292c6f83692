package gong

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// The wire types mirror Gong's JSON. Scalars use the flex types below, which
// accept null, a missing key and the wrong JSON type without failing, so one
// odd field never rejects a page. A field that holds an array or object of
// the wrong shape is skipped by encoding/json, which reports it as an
// *json.UnmarshalTypeError after decoding the rest, and decodeRecord logs it.

// flexString accepts a string, number or boolean and keeps its text. Ids
// arrive as strings, but a number is kept digit for digit. Null, objects
// and arrays become "".
type flexString string

func (s *flexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || data[0] == 'n' || data[0] == '{' || data[0] == '[':
		*s = ""
	case data[0] == '"':
		var v string
		if json.Unmarshal(data, &v) != nil {
			*s = ""
			return nil
		}
		*s = flexString(v)
	default:
		*s = flexString(data) // number or boolean literal, as sent
	}
	return nil
}

// flexInt accepts an integer, a float (truncated), or a numeric string.
// Anything else becomes 0.
type flexInt int64

func (n *flexInt) UnmarshalJSON(data []byte) error {
	text := strings.Trim(string(bytes.TrimSpace(data)), `"`)
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		*n = flexInt(i)
		return nil
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) &&
		f < math.MaxInt64 && f > math.MinInt64 {
		*n = flexInt(f)
		return nil
	}
	*n = 0
	return nil
}

// flexBool accepts true/false as booleans or strings. Anything else is false.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	text := strings.ToLower(strings.Trim(string(bytes.TrimSpace(data)), `"`))
	*b = text == "true"
	return nil
}

// flexTime accepts ISO-8601 date-times with Z or a numeric offset and
// optional fractional seconds, and epoch seconds as a number. The result is
// in UTC. Raw keeps the text when it could not be parsed, so that the
// caller can log it.
type flexTime struct {
	Time time.Time
	Raw  string
}

var timeLayouts = []string{
	time.RFC3339Nano,                      // 2018-02-18T02:30:00.123-07:00 and Z
	"2006-01-02T15:04:05.999999999Z0700",  // offset without a colon
	"2006-01-02T15:04:05.999999999Z07",    // hour-only offset
	"2006-01-02 15:04:05.999999999Z07:00", // space separator
	"2006-01-02T15:04:05.999999999",       // no offset: read as UTC
	"2006-01-02",                          // date only: midnight UTC
}

func (t *flexTime) UnmarshalJSON(data []byte) error {
	*t = flexTime{}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] == 'n' || data[0] == '{' || data[0] == '[' {
		return nil
	}
	if data[0] != '"' {
		// The OpenAPI examples show epoch seconds such as 1518863400.0.
		if f, err := strconv.ParseFloat(string(data), 64); err == nil && f > 0 && f < 1e11 {
			sec, frac := math.Modf(f)
			t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
			return nil
		}
		t.Raw = string(data)
		return nil
	}
	var text string
	if json.Unmarshal(data, &text) != nil {
		t.Raw = string(data)
		return nil
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	for _, layout := range timeLayouts {
		if parsed, err := time.Parse(layout, text); err == nil {
			t.Time = parsed.UTC()
			return nil
		}
	}
	t.Raw = text
	return nil
}

// pageEnvelope is the part of every list response the pager needs.
type pageEnvelope struct {
	RequestID flexString `json:"requestId"`
	Records   struct {
		Cursor flexString `json:"cursor"`
	} `json:"records"`
}

// decodePage splits a list response into its cursor and the raw records
// under key ("calls", "callTranscripts" or "users"). It fails only when the
// body is not a JSON object or the records are not an array.
func decodePage(body []byte, key string) (env pageEnvelope, records []json.RawMessage, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return env, nil, err
	}
	// Type errors inside the envelope are tolerated: a cursor of the wrong
	// type reads as "" and ends paging.
	if err := json.Unmarshal(body, &env); err != nil && !isTypeError(err) {
		return env, nil, err
	}
	raw, ok := top[key]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return env, nil, nil
	}
	if err := json.Unmarshal(raw, &records); err != nil {
		return env, nil, errors.New(`"` + key + `" is not an array`)
	}
	return env, records, nil
}

func isTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// decodeRecord decodes one record into v. It returns the first tolerated
// type error, if any, for logging. Every other field is still decoded.
func decodeRecord(raw json.RawMessage, v any) (tolerated error, err error) {
	err = json.Unmarshal(raw, v)
	if err != nil && isTypeError(err) {
		return err, nil
	}
	return nil, err
}

type wireUser struct {
	ID           flexString `json:"id"`
	EmailAddress flexString `json:"emailAddress"`
	FirstName    flexString `json:"firstName"`
	LastName     flexString `json:"lastName"`
	Title        flexString `json:"title"`
	PhoneNumber  flexString `json:"phoneNumber"`
	Active       flexBool   `json:"active"`
	Created      flexTime   `json:"created"`
}

func (w wireUser) user() User {
	return User{
		ID:          string(w.ID),
		Email:       strings.TrimSpace(string(w.EmailAddress)),
		FirstName:   string(w.FirstName),
		LastName:    string(w.LastName),
		Title:       string(w.Title),
		PhoneNumber: string(w.PhoneNumber),
		Active:      bool(w.Active),
		Created:     w.Created.Time,
	}
}

type wireCall struct {
	MetaData struct {
		ID            flexString `json:"id"`
		URL           flexString `json:"url"`
		Title         flexString `json:"title"`
		Scheduled     flexTime   `json:"scheduled"`
		Started       flexTime   `json:"started"`
		Duration      flexInt    `json:"duration"`
		PrimaryUserID flexString `json:"primaryUserId"`
		Direction     flexString `json:"direction"`
		System        flexString `json:"system"`
		Scope         flexString `json:"scope"`
		Media         flexString `json:"media"`
		Language      flexString `json:"language"`
		WorkspaceID   flexString `json:"workspaceId"`
		Purpose       flexString `json:"purpose"`
		MeetingURL    flexString `json:"meetingUrl"`
		IsPrivate     flexBool   `json:"isPrivate"`
	} `json:"metaData"`
	Context []wireContextSystem `json:"context"`
	Parties []wireParty         `json:"parties"`
	Media   struct {
		AudioURL flexString `json:"audioUrl"`
		VideoURL flexString `json:"videoUrl"`
	} `json:"media"`
}

type wireParty struct {
	ID           flexString          `json:"id"`
	EmailAddress flexString          `json:"emailAddress"`
	Name         flexString          `json:"name"`
	Title        flexString          `json:"title"`
	UserID       flexString          `json:"userId"`
	SpeakerID    flexString          `json:"speakerId"`
	Affiliation  flexString          `json:"affiliation"`
	PhoneNumber  flexString          `json:"phoneNumber"`
	Methods      []flexString        `json:"methods"`
	Context      []wireContextSystem `json:"context"`
}

type wireContextSystem struct {
	System  flexString `json:"system"`
	Objects []struct {
		ObjectType flexString `json:"objectType"`
		ObjectID   flexString `json:"objectId"`
		Timing     flexString `json:"timing"`
		Fields     []struct {
			Name  flexString      `json:"name"`
			Value json.RawMessage `json:"value"`
		} `json:"fields"`
	} `json:"objects"`
}

// call converts the wire call. unparsedStarted is the raw started value
// when it was present but unparseable, so that the caller can log it.
func (w wireCall) call(retrievedAt time.Time) (c Call, unparsedStarted string) {
	m := w.MetaData
	c = Call{
		ID:            string(m.ID),
		URL:           string(m.URL),
		Title:         string(m.Title),
		Started:       m.Started.Time,
		DurationSec:   int64(m.Duration),
		PrimaryUserID: string(m.PrimaryUserID),
		Direction:     string(m.Direction),
		System:        string(m.System),
		Scope:         string(m.Scope),
		Media:         string(m.Media),
		Language:      string(m.Language),
		WorkspaceID:   string(m.WorkspaceID),
		Purpose:       string(m.Purpose),
		MeetingURL:    string(m.MeetingURL),
		IsPrivate:     bool(m.IsPrivate),
		AudioURL:      string(w.Media.AudioURL),
		VideoURL:      string(w.Media.VideoURL),
		RetrievedAt:   retrievedAt.UTC(),
	}
	if !m.Scheduled.Time.IsZero() {
		s := m.Scheduled.Time
		c.Scheduled = &s
	}
	for _, p := range w.Parties {
		if party, ok := p.party(); ok {
			c.Parties = append(c.Parties, party)
		}
	}
	c.Context = contextSystems(w.Context)
	return c, m.Started.Raw
}

// party converts the wire party. It returns ok false for an element that
// carried nothing at all, such as a null or a value of the wrong type.
func (w wireParty) party() (p Party, ok bool) {
	p = Party{
		ID:          string(w.ID),
		Email:       strings.TrimSpace(string(w.EmailAddress)),
		Name:        string(w.Name),
		Title:       string(w.Title),
		UserID:      string(w.UserID),
		SpeakerID:   string(w.SpeakerID),
		Affiliation: string(w.Affiliation),
		Phone:       string(w.PhoneNumber),
		Context:     contextSystems(w.Context),
	}
	for _, m := range w.Methods {
		if m != "" {
			p.Methods = append(p.Methods, string(m))
		}
	}
	empty := p.ID == "" && p.Email == "" && p.Name == "" && p.UserID == "" && p.SpeakerID == "" && p.Phone == ""
	return p, !empty
}

func contextSystems(in []wireContextSystem) []ContextSystem {
	var out []ContextSystem
	for _, s := range in {
		sys := ContextSystem{System: string(s.System)}
		for _, o := range s.Objects {
			obj := ContextObject{
				ObjectType: string(o.ObjectType),
				ObjectID:   string(o.ObjectID),
				Timing:     string(o.Timing),
			}
			for _, f := range o.Fields {
				value := f.Value
				if len(value) == 0 {
					value = json.RawMessage("null")
				}
				obj.Fields = append(obj.Fields, ContextField{Name: string(f.Name), Value: value})
			}
			sys.Objects = append(sys.Objects, obj)
		}
		if sys.System == "" && len(sys.Objects) == 0 {
			continue
		}
		out = append(out, sys)
	}
	return out
}

type wireTranscript struct {
	CallID     flexString `json:"callId"`
	Transcript []struct {
		SpeakerID flexString  `json:"speakerId"`
		Topic     *flexString `json:"topic"`
		Sentences []struct {
			Start flexInt    `json:"start"`
			End   flexInt    `json:"end"`
			Text  flexString `json:"text"`
		} `json:"sentences"`
	} `json:"transcript"`
}

func (w wireTranscript) transcript() CallTranscript {
	t := CallTranscript{CallID: string(w.CallID)}
	for _, m := range w.Transcript {
		mono := Monologue{SpeakerID: string(m.SpeakerID)}
		if m.Topic != nil {
			topic := string(*m.Topic)
			mono.Topic = &topic
		}
		for _, s := range m.Sentences {
			mono.Sentences = append(mono.Sentences, Sentence{StartMs: int64(s.Start), EndMs: int64(s.End), Text: string(s.Text)})
		}
		t.Monologues = append(t.Monologues, mono)
	}
	return t
}
