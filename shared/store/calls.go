package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/calls"
)

// callItem holds the Gong-owned attributes of a call item
// (pk=TENANT#<t>, sk=CALL#<callId>). PutCall sets these and nothing else, so
// attributes written by other parts of the product (the deal mapping's dealId,
// mapRule, mapKey, mapManual, mappedAt, gsi1pk and gsi1sk) survive a resync.
// Empty optional attributes are removed rather than stored empty.
type callItem struct {
	CallID        string          `dynamodbav:"callId"`
	Title         string          `dynamodbav:"title"`
	URL           string          `dynamodbav:"url,omitempty"`
	Scheduled     *time.Time      `dynamodbav:"scheduled,omitempty"`
	Started       time.Time       `dynamodbav:"started"`
	DurationSec   int64           `dynamodbav:"durationSec"`
	Direction     string          `dynamodbav:"direction,omitempty"`
	System        string          `dynamodbav:"system,omitempty"`
	Scope         string          `dynamodbav:"scope,omitempty"`
	MediaType     string          `dynamodbav:"mediaType,omitempty"`
	Language      string          `dynamodbav:"language,omitempty"`
	WorkspaceID   string          `dynamodbav:"workspaceId,omitempty"`
	PrimaryUserID string          `dynamodbav:"primaryUserId,omitempty"`
	IsPrivate     bool            `dynamodbav:"isPrivate"`
	Participants  []participantAV `dynamodbav:"participants,omitempty"`
	CRM           []crmObjectAV   `dynamodbav:"crm,omitempty"`
	Media         *mediaAV        `dynamodbav:"media,omitempty"`
}

type participantAV struct {
	PartyID     string `dynamodbav:"partyId,omitempty"`
	Name        string `dynamodbav:"name,omitempty"`
	Email       string `dynamodbav:"email,omitempty"`
	Title       string `dynamodbav:"title,omitempty"`
	Phone       string `dynamodbav:"phone,omitempty"`
	Affiliation string `dynamodbav:"affiliation,omitempty"`
	Invitee     bool   `dynamodbav:"invitee,omitempty"`
	Attendee    bool   `dynamodbav:"attendee,omitempty"`
	GongUserID  string `dynamodbav:"gongUserId,omitempty"`
	SpeakerID   string `dynamodbav:"speakerId,omitempty"`
}

type crmObjectAV struct {
	System     string `dynamodbav:"system"`
	ObjectType string `dynamodbav:"objectType"`
	ObjectID   string `dynamodbav:"objectId,omitempty"`
	Timing     string `dynamodbav:"timing,omitempty"`
	Name       string `dynamodbav:"name,omitempty"`
	FieldsJSON string `dynamodbav:"fields,omitempty"`
}

// mediaAV is nested in the call item, so its expiresAt is not the table's TTL
// attribute: a call item never expires.
type mediaAV struct {
	AudioURL  string    `dynamodbav:"audioUrl,omitempty"`
	VideoURL  string    `dynamodbav:"videoUrl,omitempty"`
	ExpiresAt time.Time `dynamodbav:"expiresAt,omitempty"`
}

// transcriptAV is the call item's transcript map, written only by
// SetTranscriptState and PutTranscript.
type transcriptAV struct {
	Status         string    `dynamodbav:"status"`
	FirstMissingAt time.Time `dynamodbav:"firstMissingAt,omitempty"`
	StoredAt       time.Time `dynamodbav:"storedAt,omitempty"`
	Monologues     int       `dynamodbav:"monologues,omitempty"`
	Sentences      int       `dynamodbav:"sentences,omitempty"`
	Chunks         int       `dynamodbav:"chunks,omitempty"`
}

// callRecord is the whole call item as GetCall reads it.
type callRecord struct {
	callItem
	Transcript  *transcriptAV `dynamodbav:"transcript"`
	FirstSeenAt time.Time     `dynamodbav:"firstSeenAt"`
	SyncedAt    time.Time     `dynamodbav:"syncedAt"`
}

// Attribute names PutCall maintains besides the callItem fields.
const (
	attrGongHash    = "gongHash"    // SHA-256 of the Gong-owned attributes
	attrFirstSeenAt = "firstSeenAt" // set once, when the call is first written
	attrSyncedAt    = "syncedAt"    // last time the Gong-owned attributes changed
	attrTranscript  = "transcript"  // transcript state map
	attrCallCount   = "callCount"   // on the SYNC item
)

// callItemAttrs lists the attribute names of callItem, so PutCall can remove
// the optional ones a resync no longer carries.
var callItemAttrs = func() []string {
	var names []string
	rt := reflect.TypeOf(callItem{})
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("dynamodbav"), ",")
		names = append(names, name)
	}
	return names
}()

// CallWrite is the outcome of WriteCall.
type CallWrite struct {
	Created bool // the call was not stored before
	Changed bool // a Gong-owned attribute changed (always true when Created)
}

// PutCall writes the Gong-owned attributes of a call and reports whether the
// call was new. See WriteCall.
func (t *Tenant) PutCall(ctx context.Context, c calls.Call) (created bool, err error) {
	w, err := t.WriteCall(ctx, c)
	return w.Created, err
}

// WriteCall writes the Gong-owned attributes of a call with one conditional
// UpdateItem. The item keeps a hash of those attributes, and the write happens
// only when the hash differs. So ingesting an unchanged call twice leaves the
// item byte-for-byte identical, syncedAt included, and syncedAt is the last
// time Gong's data for the call changed. firstSeenAt is set on creation only.
// c.FirstSeenAt, c.SyncedAt and c.Transcript are ignored; the transcript state
// belongs to SetTranscriptState and PutTranscript. A new call increments the
// tenant's call counter.
func (t *Tenant) WriteCall(ctx context.Context, c calls.Call) (CallWrite, error) {
	w, err := t.WriteCallUncounted(ctx, c)
	if err != nil || !w.Created {
		return w, err
	}
	// NOTE: the counter is a second write, so a crash between the two leaves
	// it one short until RecountCalls runs.
	return w, t.AddCallCount(ctx, 1)
}

// WriteCallUncounted is WriteCall without the call counter update, for a
// caller that writes many calls and adds the number it created with one
// AddCallCount.
func (t *Tenant) WriteCallUncounted(ctx context.Context, c calls.Call) (CallWrite, error) {
	if err := validateID("call id", c.CallID); err != nil {
		return CallWrite{}, err
	}
	item := toCallItem(c)
	av, err := marshalMap(item)
	if err != nil {
		return CallWrite{}, fmt.Errorf("store: encode call %s of tenant %s: %w", c.CallID, t.id, err)
	}
	hash, err := hashCallItem(item)
	if err != nil {
		return CallWrite{}, fmt.Errorf("store: hash call %s of tenant %s: %w", c.CallID, t.id, err)
	}

	now := t.s.Now().UTC()
	var update expression.UpdateBuilder
	for _, name := range callItemAttrs {
		if v, ok := av[name]; ok {
			update = update.Set(expression.Name(name), expression.Value(v))
		} else {
			update = update.Remove(expression.Name(name))
		}
	}
	update = update.Set(expression.Name(attrGongHash), expression.Value(hash)).
		Set(expression.Name(attrSyncedAt), expression.Value(now)).
		Set(expression.Name(attrFirstSeenAt), expression.IfNotExists(expression.Name(attrFirstSeenAt), expression.Value(now)))
	cond := expression.AttributeNotExists(expression.Name(attrGongHash)).
		Or(expression.Name(attrGongHash).NotEqual(expression.Value(hash)))

	out, err := t.update(ctx, CallSK(c.CallID), update, &cond, types.ReturnValueUpdatedOld)
	if err != nil {
		if isConditionFailed(err) {
			return CallWrite{}, nil // unchanged
		}
		return CallWrite{}, fmt.Errorf("store: put call %s of tenant %s: %w", c.CallID, t.id, err)
	}
	_, existed := out.Attributes["callId"]
	return CallWrite{Created: !existed, Changed: true}, nil
}

// GetCall returns a stored call, or ErrNotFound.
func (t *Tenant) GetCall(ctx context.Context, callID string) (calls.Call, error) {
	if err := validateID("call id", callID); err != nil {
		return calls.Call{}, err
	}
	var rec callRecord
	if err := t.getItem(ctx, CallSK(callID), &rec); err != nil {
		return calls.Call{}, err
	}
	return fromCallRecord(t.id, rec), nil
}

// DeleteCall removes a call with its transcript chunks and pending-transcript
// item, for a stored call that turned private. Deleting a missing call is not
// an error.
func (t *Tenant) DeleteCall(ctx context.Context, callID string) error {
	if err := validateID("call id", callID); err != nil {
		return err
	}
	out, err := t.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:    aws.String(t.s.table),
		Key:          t.key(CallSK(callID)),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return fmt.Errorf("store: delete call %s of tenant %s: %w", callID, t.id, err)
	}
	if err := t.deleteTranscriptChunks(ctx, callID, 0); err != nil {
		return fmt.Errorf("store: delete transcript of call %s of tenant %s: %w", callID, t.id, err)
	}
	if err := t.deleteItem(ctx, skPending+callID); err != nil {
		return fmt.Errorf("store: delete pending transcript of call %s of tenant %s: %w", callID, t.id, err)
	}
	if _, existed := out.Attributes["callId"]; existed {
		return t.AddCallCount(ctx, -1)
	}
	return nil
}

// CallCount returns the number of calls stored for the tenant, as kept by the
// counter on the SYNC item.
func (t *Tenant) CallCount(ctx context.Context) (int, error) {
	var got struct {
		CallCount int `dynamodbav:"callCount"`
	}
	if err := t.getItem(ctx, skSync, &got); err != nil {
		if isNotFound(err) {
			return 0, nil
		}
		return 0, err
	}
	return got.CallCount, nil
}

// RecountCalls counts the tenant's call items with a paged Query and resets
// the counter to that number, repairing any drift.
func (t *Tenant) RecountCalls(ctx context.Context) (int, error) {
	n := 0
	err := t.queryPrefix(ctx, skCall, []string{AttrSK}, func(map[string]types.AttributeValue) error {
		n++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count calls of tenant %s: %w", t.id, err)
	}
	update := expression.Set(expression.Name(attrCallCount), expression.Value(n))
	if _, err := t.update(ctx, skSync, update, nil, types.ReturnValueNone); err != nil {
		return 0, fmt.Errorf("store: save call count of tenant %s: %w", t.id, err)
	}
	return n, nil
}

// AddCallCount adds delta to the tenant's call counter with one UpdateItem.
func (t *Tenant) AddCallCount(ctx context.Context, delta int) error {
	update := expression.Add(expression.Name(attrCallCount), expression.Value(delta))
	if _, err := t.update(ctx, skSync, update, nil, types.ReturnValueNone); err != nil {
		return fmt.Errorf("store: update call count of tenant %s: %w", t.id, err)
	}
	return nil
}

func hashCallItem(item callItem) (string, error) {
	b, err := json.Marshal(item)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func toCallItem(c calls.Call) callItem {
	item := callItem{
		CallID:        c.CallID,
		Title:         c.Title,
		URL:           c.URL,
		Started:       c.Started.UTC(),
		DurationSec:   c.DurationSec,
		Direction:     c.Direction,
		System:        c.System,
		Scope:         c.Scope,
		MediaType:     c.MediaType,
		Language:      c.Language,
		WorkspaceID:   c.WorkspaceID,
		PrimaryUserID: c.PrimaryUserID,
		IsPrivate:     c.IsPrivate,
	}
	if c.Scheduled != nil {
		s := c.Scheduled.UTC()
		item.Scheduled = &s
	}
	for _, p := range c.Participants {
		item.Participants = append(item.Participants, participantAV(p))
	}
	for _, o := range c.CRM {
		item.CRM = append(item.CRM, crmObjectAV(o))
	}
	if c.Media.AudioURL != "" || c.Media.VideoURL != "" {
		item.Media = &mediaAV{AudioURL: c.Media.AudioURL, VideoURL: c.Media.VideoURL, ExpiresAt: c.Media.ExpiresAt.UTC()}
	}
	return item
}

func fromCallRecord(tenantID string, rec callRecord) calls.Call {
	it := rec.callItem
	c := calls.Call{
		TenantID:      tenantID,
		CallID:        it.CallID,
		Title:         it.Title,
		URL:           it.URL,
		Scheduled:     it.Scheduled,
		Started:       it.Started,
		DurationSec:   it.DurationSec,
		Direction:     it.Direction,
		System:        it.System,
		Scope:         it.Scope,
		MediaType:     it.MediaType,
		Language:      it.Language,
		WorkspaceID:   it.WorkspaceID,
		PrimaryUserID: it.PrimaryUserID,
		IsPrivate:     it.IsPrivate,
		FirstSeenAt:   rec.FirstSeenAt,
		SyncedAt:      rec.SyncedAt,
	}
	for _, p := range it.Participants {
		c.Participants = append(c.Participants, calls.Participant(p))
	}
	for _, o := range it.CRM {
		c.CRM = append(c.CRM, calls.CRMObject(o))
	}
	if it.Media != nil {
		c.Media = calls.Media{AudioURL: it.Media.AudioURL, VideoURL: it.Media.VideoURL, ExpiresAt: it.Media.ExpiresAt}
	}
	if rec.Transcript != nil {
		c.Transcript = rec.Transcript.state()
	}
	return c
}

func (tr transcriptAV) state() calls.TranscriptState {
	return calls.TranscriptState{
		Status:         tr.Status,
		FirstMissingAt: tr.FirstMissingAt,
		StoredAt:       tr.StoredAt,
		Monologues:     tr.Monologues,
		Sentences:      tr.Sentences,
	}
}
