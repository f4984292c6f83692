// Package calls holds the product's model of an ingested Gong call: its
// metadata, participants, CRM links, media URLs and transcript. The Gong wire
// format lives in package gong; the DynamoDB item format lives in package store.
package calls

import "time"

// MediaURLLifetime is how long Gong's signed audio and video URLs stay valid
// after the response that carried them.
const MediaURLLifetime = 8 * time.Hour

// Call is one Gong call as the product stores it. Times are UTC.
type Call struct {
	TenantID      string
	CallID        string // Gong call id: a numeric string of up to 20 digits
	Title         string // "Untitled call" when Gong sends none
	URL           string // link to the call in Gong's web app
	Scheduled     *time.Time
	Started       time.Time
	DurationSec   int64
	Direction     string // Inbound, Outbound, Conference or Unknown
	System        string // recording or meeting system, such as Zoom
	Scope         string // Internal, External or Unknown
	MediaType     string // Video or Audio
	Language      string // ISO 639-2B code, such as eng
	WorkspaceID   string
	PrimaryUserID string
	IsPrivate     bool
	Participants  []Participant
	CRM           []CRMObject
	Media         Media
	Transcript    TranscriptState
	FirstSeenAt   time.Time // when this product first read the call from Gong
	SyncedAt      time.Time // last time a sync wrote the Gong-owned fields
}

// Affiliation values of a participant.
const (
	AffiliationInternal = "Internal"
	AffiliationExternal = "External"
	AffiliationUnknown  = "Unknown"
)

// Participant is one party of a call. Any field may be empty: imported calls
// and phone participants often lack names and emails.
type Participant struct {
	PartyID     string // id of the party within this call
	Name        string
	Email       string // lower-cased
	Title       string
	Phone       string
	Affiliation string
	Invitee     bool
	Attendee    bool
	GongUserID  string // set when the participant is a Gong user
	SpeakerID   string // joins transcript monologues to this participant
}

// CRM systems and object types the product maps deals by. Gong reports HubSpot
// deals and companies as Opportunity and Account; Deal and Company are
// normalised to those.
const (
	SystemSalesforce = "Salesforce"
	SystemHubSpot    = "HubSpot"

	ObjectOpportunity = "Opportunity"
	ObjectAccount     = "Account"
)

// CRMObject is one CRM record Gong linked to the call. Fields keeps Gong's
// name/value pairs as raw JSON because values are loosely typed.
type CRMObject struct {
	System     string
	ObjectType string
	ObjectID   string
	Timing     string // Now or TimeOfCall
	Name       string // the record's Name field, when Gong sent one
	FieldsJSON string // JSON array of {"name","value"} as Gong sent it
}

// Media holds the signed recording URLs and the time they stop working.
// Recordings are never downloaded or re-hosted.
type Media struct {
	AudioURL  string
	VideoURL  string
	ExpiresAt time.Time // zero when the call has no media URLs
}

// TranscriptStatus values.
const (
	TranscriptPending  = "pending"  // not ready in Gong yet; later runs retry
	TranscriptComplete = "complete" // stored
	TranscriptNone     = "none"     // Gong had none within the retry period
)

// TranscriptState tracks whether the call's transcript is stored.
type TranscriptState struct {
	Status         string
	FirstMissingAt time.Time // first run that found no transcript; bounds retries
	StoredAt       time.Time
	Monologues     int
	Sentences      int
}

// Transcript is a call's speaker-attributed transcript.
type Transcript struct {
	CallID     string
	Monologues []Monologue
}

// UnknownSpeaker labels text whose speaker matches no participant.
const UnknownSpeaker = "Unknown speaker"

// Monologue is a run of consecutive sentences by one speaker.
type Monologue struct {
	SpeakerID   string // Gong's speaker id; empty when Gong sent null
	PartyID     string // resolved participant, empty when unresolved
	SpeakerName string // resolved name, UnknownSpeaker when unresolved
	Topic       *string
	Sentences   []Sentence
}

// Sentence is one transcribed sentence; offsets are milliseconds from the
// start of the call.
type Sentence struct {
	StartMs int64
	EndMs   int64
	Text    string
}

// SkipReason values recorded for calls the product does not ingest.
const (
	SkipNoTenantUser = "no_tenant_user" // no participant is a user of the organization
	SkipPrivate      = "private"        // private in Gong and the tenant excludes private calls
	SkipUserScope    = "outside_scope"  // a scoped backfill asked for other users
)
