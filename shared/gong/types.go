package gong

import (
	"encoding/json"
	"time"
)

// User is one Gong user of the customer's company (GET /v2/users).
type User struct {
	ID          string
	Email       string // as Gong sent it; compare case-insensitively
	FirstName   string
	LastName    string
	Title       string
	PhoneNumber string
	Active      bool
	Created     time.Time // UTC; zero when absent
}

// CallFilter selects calls for POST /v2/calls/extensive: either a window of
// start times [From, To) or a list of call ids, not both.
type CallFilter struct {
	From    time.Time
	To      time.Time
	CallIDs []string
}

// Call is one call from /v2/calls/extensive with the parties, media URLs and
// CRM context the product asks for. Times are UTC.
type Call struct {
	ID            string
	URL           string
	Title         string
	Scheduled     *time.Time // nil when Gong sent none
	Started       time.Time
	DurationSec   int64
	PrimaryUserID string
	Direction     string
	System        string
	Scope         string
	Media         string // Video or Audio
	Language      string
	WorkspaceID   string
	Purpose       string
	MeetingURL    string
	IsPrivate     bool
	Parties       []Party
	Context       []ContextSystem
	AudioURL      string
	VideoURL      string
	// RetrievedAt is the client's clock when the page arrived. Gong's media
	// URLs stop working 8 hours after they are issued.
	RetrievedAt time.Time
}

// Party is one participant of a call. Every field may be empty: imported
// calls have no parties and phone parties often have no email.
type Party struct {
	ID          string
	Email       string
	Name        string
	Title       string
	UserID      string // Gong user id when the party is a Gong user
	SpeakerID   string // empty when Gong sent null
	Affiliation string // Internal, External or Unknown
	Phone       string
	Methods     []string        // Invitee, Attendee
	Context     []ContextSystem // CRM records of the person: Contact, Lead or User
}

// ContextSystem is the CRM context one external system linked to a call.
type ContextSystem struct {
	System  string // Salesforce, HubSpot, ...
	Objects []ContextObject
}

// ContextObject is one CRM record linked to a call.
type ContextObject struct {
	ObjectType string // Opportunity, Account, Deal, Company, Contact, Lead, ...
	ObjectID   string // may be empty
	Timing     string // Now or TimeOfCall
	Fields     []ContextField
}

// ContextField is one CRM field; Value is raw JSON because Gong sends
// strings, numbers, booleans and nulls.
type ContextField struct {
	Name  string
	Value json.RawMessage
}

// CallTranscript is one call's transcript from /v2/calls/transcript.
type CallTranscript struct {
	CallID     string
	Monologues []Monologue
}

// Monologue is a run of sentences by one speaker.
type Monologue struct {
	SpeakerID string  // empty when Gong sent null
	Topic     *string // nil when Gong sent null
	Sentences []Sentence
}

// Sentence is one sentence; offsets are milliseconds from the call's start.
type Sentence struct {
	StartMs int64
	EndMs   int64
	Text    string
}
