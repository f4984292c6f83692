package gongsim

import (
	"encoding/json"
)

// The types in this file are the simulator's own JSON shapes for Gong's
// responses and requests. They follow Gong's published OpenAPI document
// (version "V2") and deliberately share nothing with the product's client.

// optString is a JSON string that can be absent, null or set. Fields of
// this type use the omitzero option so that "absent" drops the key.
type optString struct {
	state optState
	value string
}

type optState uint8

const (
	optAbsent optState = iota
	optNull
	optSet
)

func someString(v string) optString { return optString{state: optSet, value: v} }

func nullString() optString { return optString{state: optNull} }

func (o optString) IsZero() bool { return o.state == optAbsent }

func (o optString) MarshalJSON() ([]byte, error) {
	if o.state == optSet {
		return json.Marshal(o.value)
	}
	return []byte("null"), nil
}

type errorBody struct {
	RequestID string   `json:"requestId"`
	Errors    []string `json:"errors"`
}

type records struct {
	TotalRecords      int    `json:"totalRecords"`
	CurrentPageSize   int    `json:"currentPageSize"`
	CurrentPageNumber int    `json:"currentPageNumber"`
	Cursor            string `json:"cursor,omitempty"`
}

type usersResponse struct {
	RequestID string     `json:"requestId"`
	Records   records    `json:"records"`
	Users     []wireUser `json:"users"`
}

type wireUser struct {
	ID                  string           `json:"id"`
	EmailAddress        string           `json:"emailAddress"`
	Created             string           `json:"created"`
	Active              bool             `json:"active"`
	EmailAliases        []string         `json:"emailAliases"`
	TrustedEmailAddress optString        `json:"trustedEmailAddress,omitzero"`
	FirstName           string           `json:"firstName"`
	LastName            string           `json:"lastName"`
	Title               optString        `json:"title,omitzero"`
	PhoneNumber         optString        `json:"phoneNumber,omitzero"`
	Extension           optString        `json:"extension,omitzero"`
	PersonalMeetingURLs []string         `json:"personalMeetingUrls"`
	Settings            wireUserSettings `json:"settings"`
	ManagerID           optString        `json:"managerId,omitzero"`
	MeetingConsentURL   optString        `json:"meetingConsentPageUrl,omitzero"`
	SpokenLanguages     []spokenLanguage `json:"spokenLanguages"`
}

type wireUserSettings struct {
	WebConferencesRecorded        bool `json:"webConferencesRecorded"`
	PreventWebConferenceRecording bool `json:"preventWebConferenceRecording"`
	TelephonyCallsImported        bool `json:"telephonyCallsImported"`
	EmailsImported                bool `json:"emailsImported"`
	PreventEmailImport            bool `json:"preventEmailImport"`
	NonRecordedMeetingsImported   bool `json:"nonRecordedMeetingsImported"`
	GongConnectEnabled            bool `json:"gongConnectEnabled"`
}

type spokenLanguage struct {
	Language string `json:"language"`
	Primary  bool   `json:"primary"`
}

type callsResponse struct {
	RequestID string     `json:"requestId"`
	Records   records    `json:"records"`
	Calls     []wireCall `json:"calls"`
}

// basicCallsResponse is the body of GET /v2/calls, whose items are the
// metaData objects of the extensive endpoint.
type basicCallsResponse struct {
	RequestID string         `json:"requestId"`
	Records   records        `json:"records"`
	Calls     []wireMetaData `json:"calls"`
}

// wireCall is one item of /v2/calls/extensive. A nil slice with omitempty
// drops a block that was not requested. Parties uses partiesField so that
// an imported call can carry either no key or an empty list.
type wireCall struct {
	MetaData      wireMetaData       `json:"metaData"`
	Context       *[]wireCallContext `json:"context,omitempty"`
	Parties       *[]wireParty       `json:"parties,omitempty"`
	Content       *wireContent       `json:"content,omitempty"`
	Interaction   *wireInteraction   `json:"interaction,omitempty"`
	Collaboration *wireCollaboration `json:"collaboration,omitempty"`
	Media         *wireMedia         `json:"media,omitempty"`
}

type wireMetaData struct {
	ID              string    `json:"id"`
	URL             string    `json:"url"`
	Title           optString `json:"title"`
	Scheduled       optString `json:"scheduled"`
	Started         string    `json:"started"`
	Duration        int64     `json:"duration"`
	PrimaryUserID   string    `json:"primaryUserId"`
	Direction       string    `json:"direction"`
	System          string    `json:"system"`
	Scope           string    `json:"scope"`
	Media           string    `json:"media"`
	Language        string    `json:"language"`
	WorkspaceID     string    `json:"workspaceId"`
	SDRDisposition  optString `json:"sdrDisposition"`
	ClientUniqueID  optString `json:"clientUniqueId"`
	CustomData      optString `json:"customData"`
	Purpose         optString `json:"purpose"`
	MeetingURL      optString `json:"meetingUrl"`
	IsPrivate       bool      `json:"isPrivate"`
	CalendarEventID optString `json:"calendarEventId"`
}

type wireCallContext struct {
	System  string            `json:"system"`
	Objects []wireContextItem `json:"objects"`
}

type wireContextItem struct {
	ObjectType string             `json:"objectType"`
	ObjectID   string             `json:"objectId"`
	Fields     []wireContextField `json:"fields,omitempty"`
	Timing     string             `json:"timing"`
}

// wireContextField carries a CRM value of any JSON type, null included.
type wireContextField struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

type wireParty struct {
	ID           string            `json:"id"`
	EmailAddress optString         `json:"emailAddress,omitzero"`
	Name         optString         `json:"name,omitzero"`
	Title        optString         `json:"title,omitzero"`
	UserID       optString         `json:"userId,omitzero"`
	SpeakerID    optString         `json:"speakerId"`
	Context      []wireCallContext `json:"context"`
	Affiliation  string            `json:"affiliation"`
	PhoneNumber  optString         `json:"phoneNumber,omitzero"`
	Methods      []string          `json:"methods"`
}

type wireContent struct {
	Structure   []wireNamedDuration `json:"structure,omitempty"`
	Trackers    []wireTracker       `json:"trackers,omitempty"`
	Topics      []wireNamedDuration `json:"topics,omitempty"`
	Brief       string              `json:"brief,omitempty"`
	CallOutcome *wireCallOutcome    `json:"callOutcome,omitempty"`
	KeyPoints   []wireKeyPoint      `json:"keyPoints,omitempty"`
}

type wireNamedDuration struct {
	Name     string `json:"name"`
	Duration int64  `json:"duration"`
}

type wireTracker struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Count       int              `json:"count"`
	Type        string           `json:"type"`
	Occurrences []wireOccurrence `json:"occurrences,omitempty"`
}

type wireOccurrence struct {
	StartTime float64 `json:"startTime"`
	SpeakerID string  `json:"speakerId"`
}

type wireCallOutcome struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	Name     string `json:"name"`
}

type wireKeyPoint struct {
	Text string `json:"text"`
}

type wireInteraction struct {
	Speakers         []wireSpeaker  `json:"speakers,omitempty"`
	InteractionStats []wireStat     `json:"interactionStats,omitempty"`
	Video            []wireVideo    `json:"video,omitempty"`
	Questions        *wireQuestions `json:"questions,omitempty"`
}

type wireSpeaker struct {
	ID       string    `json:"id"`
	UserID   optString `json:"userId"`
	TalkTime float64   `json:"talkTime"`
}

type wireStat struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

type wireVideo struct {
	Name     string  `json:"name"`
	Duration float64 `json:"duration"`
}

type wireQuestions struct {
	CompanyCount    int `json:"companyCount"`
	NonCompanyCount int `json:"nonCompanyCount"`
}

type wireCollaboration struct {
	PublicComments []wireComment `json:"publicComments"`
}

type wireComment struct {
	ID              string  `json:"id"`
	AudioStartTime  float64 `json:"audioStartTime"`
	AudioEndTime    float64 `json:"audioEndTime"`
	CommenterUserID string  `json:"commenterUserId"`
	Comment         string  `json:"comment"`
	Posted          string  `json:"posted"`
	DuringCall      bool    `json:"duringCall"`
}

type wireMedia struct {
	AudioURL string `json:"audioUrl,omitempty"`
	VideoURL string `json:"videoUrl,omitempty"`
}

type transcriptsResponse struct {
	RequestID       string           `json:"requestId"`
	Records         records          `json:"records"`
	CallTranscripts []wireTranscript `json:"callTranscripts"`
}

type wireTranscript struct {
	CallID     string          `json:"callId"`
	Transcript []wireMonologue `json:"transcript"`
}

type wireMonologue struct {
	SpeakerID optString      `json:"speakerId"`
	Topic     optString      `json:"topic"`
	Sentences []wireSentence `json:"sentences"`
}

type wireSentence struct {
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	Text  string `json:"text"`
}

// Requests. Unknown members are rejected because the decoder disallows them.

type extensiveRequest struct {
	Cursor          *string          `json:"cursor"`
	Filter          *callsFilter     `json:"filter"`
	ContentSelector *contentSelector `json:"contentSelector"`
}

type transcriptRequest struct {
	Cursor *string      `json:"cursor"`
	Filter *callsFilter `json:"filter"`
}

type callsFilter struct {
	FromDateTime   *string   `json:"fromDateTime"`
	ToDateTime     *string   `json:"toDateTime"`
	WorkspaceID    *string   `json:"workspaceId"`
	CallIDs        *[]string `json:"callIds"`
	PrimaryUserIDs *[]string `json:"primaryUserIds"`
}

type contentSelector struct {
	Context       *string        `json:"context"`
	ContextTiming []string       `json:"contextTiming"`
	ExposedFields *exposedFields `json:"exposedFields"`
}

type exposedFields struct {
	Parties       bool                  `json:"parties"`
	Media         bool                  `json:"media"`
	Content       *exposedContent       `json:"content"`
	Interaction   *exposedInteraction   `json:"interaction"`
	Collaboration *exposedCollaboration `json:"collaboration"`
}

type exposedContent struct {
	Structure          bool `json:"structure"`
	Topics             bool `json:"topics"`
	Trackers           bool `json:"trackers"`
	TrackerOccurrences bool `json:"trackerOccurrences"`
	PointsOfInterest   bool `json:"pointsOfInterest"`
	Brief              bool `json:"brief"`
	Outline            bool `json:"outline"`
	Highlights         bool `json:"highlights"`
	CallOutcome        bool `json:"callOutcome"`
	KeyPoints          bool `json:"keyPoints"`
}

type exposedInteraction struct {
	Speakers               bool `json:"speakers"`
	Video                  bool `json:"video"`
	PersonInteractionStats bool `json:"personInteractionStats"`
	Questions              bool `json:"questions"`
}

type exposedCollaboration struct {
	PublicComments bool `json:"publicComments"`
}

type tokenResponse struct {
	AccessToken           string `json:"access_token"`
	RefreshToken          string `json:"refresh_token"`
	Scope                 string `json:"scope"`
	TokenType             string `json:"token_type"`
	ExpiresIn             int64  `json:"expires_in"`
	APIBaseURLForCustomer string `json:"api_base_url_for_customer,omitempty"`
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}
