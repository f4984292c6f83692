package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

func sampleCall(id string) calls.Call {
	started := time.Date(2026, 12, 3, 15, 4, 5, 0, time.UTC)
	scheduled := started.Add(-5 * time.Minute)
	return calls.Call{
		CallID:        id,
		Title:         "Renewal review",
		URL:           "https://app.gong.io/call?id=" + id,
		Scheduled:     &scheduled,
		Started:       started,
		DurationSec:   1830,
		Direction:     "Conference",
		System:        "Zoom",
		Scope:         "External",
		MediaType:     "Video",
		Language:      "eng",
		WorkspaceID:   "ws-1",
		PrimaryUserID: "g-1",
		Participants: []calls.Participant{
			{PartyID: "p1", Name: "Ann", Email: "ann@example.com", Affiliation: calls.AffiliationInternal, Attendee: true, GongUserID: "g-1", SpeakerID: "s1"},
			{PartyID: "p2", SpeakerID: "s2", Affiliation: calls.AffiliationExternal},
		},
		CRM: []calls.CRMObject{
			{System: calls.SystemSalesforce, ObjectType: calls.ObjectAccount, ObjectID: "001X", Timing: "Now", Name: "Acme",
				FieldsJSON: `[{"name":"Name","value":"Acme"},{"name":"AnnualRevenue","value":1200000},{"name":"Owner","value":null}]`},
		},
		Media: calls.Media{AudioURL: "https://media.example/a", VideoURL: "https://media.example/v", ExpiresAt: started.Add(calls.MediaURLLifetime)},
	}
}

var _ = addCases(
	suiteCase{"CallIdempotentPut", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		c := sampleCall("1001")
		created, err := tn.PutCall(ctx, c)
		mustNoErr(t, "PutCall", err)
		if !created {
			t.Errorf("first PutCall created = false, want true")
		}
		first := rawItem(t, e, tn, store.CallSK("1001"))
		e.clock.Advance(2 * time.Hour)
		created, err = tn.PutCall(ctx, c)
		mustNoErr(t, "PutCall again", err)
		if created {
			t.Errorf("second PutCall created = true, want false")
		}
		if second := rawItem(t, e, tn, store.CallSK("1001")); !reflect.DeepEqual(first, second) {
			t.Errorf("item changed on an identical resync:\nfirst  %v\nsecond %v", first, second)
		}
		got, err := tn.GetCall(ctx, "1001")
		mustNoErr(t, "GetCall", err)
		want := c
		want.TenantID = tn.ID()
		want.FirstSeenAt = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
		want.SyncedAt = want.FirstSeenAt
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GetCall =\n%+v\nwant\n%+v", got, want)
		}
		n, err := tn.CallCount(ctx)
		mustNoErr(t, "CallCount", err)
		if n != 1 {
			t.Errorf("CallCount = %d, want 1", n)
		}
	}},
	suiteCase{"CallResyncKeepsMapping", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		c := sampleCall("1002")
		_, err := tn.PutCall(ctx, c)
		mustNoErr(t, "PutCall", err)
		mapping := expression.Set(expression.Name("dealId"), expression.Value("D1")).
			Set(expression.Name("mapRule"), expression.Value("manual")).
			Set(expression.Name("mapManual"), expression.Value(true)).
			Set(expression.Name(store.AttrGSI1PK), expression.Value(tn.PK()+"#DEAL#D1")).
			Set(expression.Name(store.AttrGSI1SK), expression.Value("2026-12-03T15:04:05Z#1002"))
		expr, err := expression.NewBuilder().WithUpdate(mapping).Build()
		mustNoErr(t, "build mapping update", err)
		_, err = e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(store.DefaultTableName),
			Key:                       map[string]types.AttributeValue{store.AttrPK: &types.AttributeValueMemberS{Value: tn.PK()}, store.AttrSK: &types.AttributeValueMemberS{Value: store.CallSK("1002")}},
			UpdateExpression:          expr.Update(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
		})
		mustNoErr(t, "write mapping", err)

		e.clock.Advance(time.Hour)
		c.Title = "Renewal review (rescheduled)"
		c.Media = calls.Media{}
		c.Participants = nil
		w, err := tn.WriteCall(ctx, c)
		mustNoErr(t, "WriteCall", err)
		if w.Created || !w.Changed {
			t.Errorf("WriteCall = %+v, want changed, not created", w)
		}
		item := rawItem(t, e, tn, store.CallSK("1002"))
		for _, name := range []string{"dealId", "mapRule", "mapManual", store.AttrGSI1PK, store.AttrGSI1SK} {
			if _, ok := item[name]; !ok {
				t.Errorf("resync removed mapping attribute %s", name)
			}
		}
		for _, name := range []string{"media", "participants"} {
			if _, ok := item[name]; ok {
				t.Errorf("attribute %s still stored after Gong stopped sending it", name)
			}
		}
		got, err := tn.GetCall(ctx, "1002")
		mustNoErr(t, "GetCall", err)
		if got.Title != c.Title {
			t.Errorf("Title = %q, want %q", got.Title, c.Title)
		}
		if !got.SyncedAt.Equal(e.clock.Now()) {
			t.Errorf("SyncedAt = %v, want the time of the changing write %v", got.SyncedAt, e.clock.Now())
		}
		if got.FirstSeenAt.Equal(got.SyncedAt) {
			t.Errorf("FirstSeenAt moved to %v on resync", got.FirstSeenAt)
		}
	}},
	suiteCase{"CallWithoutParties", func(t *testing.T, e *env) {
		ctx := context.Background()
		c := calls.Call{CallID: "1003", Title: "Untitled call", Started: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
		_, err := e.tenant.PutCall(ctx, c)
		mustNoErr(t, "PutCall", err)
		got, err := e.tenant.GetCall(ctx, "1003")
		mustNoErr(t, "GetCall", err)
		if got.Participants != nil || got.CRM != nil || got.Scheduled != nil || !got.Media.ExpiresAt.IsZero() {
			t.Errorf("GetCall = %+v, want no participants, CRM, schedule or media", got)
		}
	}},
	suiteCase{"CallDelete", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		for _, id := range []string{"2001", "2002"} {
			_, err := tn.PutCall(ctx, sampleCall(id))
			mustNoErr(t, "PutCall", err)
		}
		mustNoErr(t, "SetTranscriptState", tn.SetTranscriptState(ctx, "2001", calls.TranscriptState{Status: calls.TranscriptPending}))
		mustNoErr(t, "DeleteCall", tn.DeleteCall(ctx, "2001"))
		mustNoErr(t, "DeleteCall missing", tn.DeleteCall(ctx, "2001"))
		_, err := tn.GetCall(ctx, "2001")
		wantNotFound(t, err)
		pending, err := tn.PendingTranscripts(ctx)
		mustNoErr(t, "PendingTranscripts", err)
		if len(pending) != 0 {
			t.Errorf("PendingTranscripts = %v, want none after DeleteCall", pending)
		}
		n, err := tn.CallCount(ctx)
		mustNoErr(t, "CallCount", err)
		if n != 1 {
			t.Errorf("CallCount = %d, want 1", n)
		}
		n, err = tn.RecountCalls(ctx)
		mustNoErr(t, "RecountCalls", err)
		if n != 1 {
			t.Errorf("RecountCalls = %d, want 1", n)
		}
	}},
)

var _ = addCases(
	suiteCase{"CallUncountedWriteAndCount", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		w, err := tn.WriteCallUncounted(ctx, sampleCall("1101"))
		mustNoErr(t, "WriteCallUncounted", err)
		if !w.Created {
			t.Errorf("WriteCallUncounted created = false, want true")
		}
		n, err := tn.CallCount(ctx)
		mustNoErr(t, "CallCount", err)
		if n != 0 {
			t.Errorf("counter after an uncounted write = %d, want 0", n)
		}
		mustNoErr(t, "AddCallCount", tn.AddCallCount(ctx, 1))
		_, err = tn.WriteCall(ctx, sampleCall("1102"))
		mustNoErr(t, "WriteCall", err)
		n, err = tn.CallCount(ctx)
		mustNoErr(t, "CallCount", err)
		if n != 2 {
			t.Errorf("counter = %d, want 2", n)
		}
	}},
)
