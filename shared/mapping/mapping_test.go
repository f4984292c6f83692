package mapping_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/store"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// env is one tenant over kumo with a settable clock.
type env struct {
	tenant *store.Tenant
	now    *time.Time
	mapper *mapping.Mapper
	db     store.API // the DynamoDB client under tenant's store
}

func newEnv(t *testing.T) env {
	t.Helper()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	clients := localaws.StartKumo(t)
	ctx := context.Background()
	if err := store.EnsureTable(ctx, clients.DynamoDB, store.DefaultTableName); err != nil {
		t.Fatalf("create table: %v", err)
	}
	s := store.New(clients.DynamoDB, store.DefaultTableName)
	now := t0
	s.Now = func() time.Time { return now }
	// In-process kumo servers share their tables, so each test gets its own
	// tenant.
	tn, err := s.Tenant(strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, t.Name()))
	if err != nil {
		t.Fatalf("Tenant: %v", err)
	}
	return env{tenant: tn, now: &now, mapper: mapping.New(slog.New(slog.NewJSONHandler(io.Discard, nil))), db: clients.DynamoDB}
}

func (e env) putDeal(t *testing.T, d store.Deal) {
	t.Helper()
	if _, _, err := e.tenant.PutDeal(context.Background(), d); err != nil {
		t.Fatalf("PutDeal %s: %v", d.DealID, err)
	}
	*e.now = e.now.Add(time.Minute) // later deals are more recently updated
}

func (e env) putCall(t *testing.T, c calls.Call) {
	t.Helper()
	if c.Started.IsZero() {
		c.Started = t0
	}
	if _, err := e.tenant.PutCall(context.Background(), c); err != nil {
		t.Fatalf("PutCall %s: %v", c.CallID, err)
	}
}

func sf(objectType, id string) calls.CRMObject {
	return calls.CRMObject{System: calls.SystemSalesforce, ObjectType: objectType, ObjectID: id, Timing: "Now"}
}

func hs(objectType, id string) calls.CRMObject {
	return calls.CRMObject{System: calls.SystemHubSpot, ObjectType: objectType, ObjectID: id, Timing: "Now"}
}

func external(email string) calls.Participant {
	return calls.Participant{Email: email, Affiliation: calls.AffiliationExternal}
}

func TestMapCallRules(t *testing.T) {
	tests := []struct {
		name     string
		deals    []store.Deal
		call     calls.Call
		wantRule string
		wantDeal string
		wantKey  string
	}{
		{
			name:     "opportunity 15 chars on call, 18 on deal",
			deals:    []store.Deal{{DealID: "d1", SalesforceOpportunityID: "006A000001aBcDeIAK", Open: true}},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Opportunity", "006A000001aBcDe")}},
			wantRule: store.RuleCRMOpportunity, wantDeal: "d1", wantKey: "006A000001aBcDeIAK",
		},
		{
			name:     "opportunity 18 chars on call, 15 on deal",
			deals:    []store.Deal{{DealID: "d1", SalesforceOpportunityID: "006A000001aBcDe", Open: true}},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Opportunity", "006A000001ABCDEiak")}},
			wantRule: store.RuleCRMOpportunity, wantDeal: "d1", wantKey: "006A000001aBcDeIAK",
		},
		{
			name:     "opportunity differing in case does not match",
			deals:    []store.Deal{{DealID: "d1", SalesforceOpportunityID: "006A000001aBcDe", Open: true}},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Opportunity", "006A000001abcde")}},
			wantRule: store.RuleUnmapped,
		},
		{
			name:     "opportunity of a closed deal still maps",
			deals:    []store.Deal{{DealID: "won", SalesforceOpportunityID: "006000000000001", Open: false}},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Opportunity", "006000000000001")}},
			wantRule: store.RuleCRMOpportunity, wantDeal: "won", wantKey: "006000000000001AAA",
		},
		{
			name: "opportunity shared by two deals prefers the open one",
			deals: []store.Deal{
				{DealID: "a-closed", SalesforceOpportunityID: "006000000000001", Open: false},
				{DealID: "b-open", SalesforceOpportunityID: "006000000000001", Open: true},
			},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Opportunity", "006000000000001")}},
			wantRule: store.RuleCRMOpportunity, wantDeal: "b-open", wantKey: "006000000000001AAA",
		},
		{
			name: "empty opportunity id is ignored and the account maps",
			deals: []store.Deal{
				{DealID: "blank", Open: true},
				{DealID: "acme", SalesforceAccountID: "001X", Open: true},
			},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Opportunity", ""), sf("Account", "001X")}},
			wantRule: store.RuleCRMAccount, wantDeal: "acme", wantKey: "001X",
		},
		{
			name: "account with one open and one closed deal",
			deals: []store.Deal{
				{DealID: "old", SalesforceAccountID: "001000000000001", Open: false},
				{DealID: "new", SalesforceAccountID: "001000000000001AAA", Open: true},
			},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Account", "001000000000001")}},
			wantRule: store.RuleCRMAccount, wantDeal: "new", wantKey: "001000000000001AAA",
		},
		{
			name: "account with two open deals falls through to emails",
			deals: []store.Deal{
				{DealID: "expansion", SalesforceAccountID: "001000000000001", Open: true},
				{DealID: "renewal", SalesforceAccountID: "001000000000001", Open: true, ContactEmails: []string{"pat@acme.example"}},
			},
			call: calls.Call{
				CRM:          []calls.CRMObject{sf("Account", "001000000000001")},
				Participants: []calls.Participant{external("Pat@Acme.example")},
			},
			wantRule: store.RuleContactEmail, wantDeal: "renewal", wantKey: "pat@acme.example",
		},
		{
			name: "account with only closed deals is unmapped",
			deals: []store.Deal{
				{DealID: "lost", SalesforceAccountID: "001000000000001", Open: false},
			},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Account", "001000000000001")}},
			wantRule: store.RuleUnmapped,
		},
		{
			name:     "HubSpot deal id",
			deals:    []store.Deal{{DealID: "hs", HubSpotDealID: "9001", Open: true}},
			call:     calls.Call{CRM: []calls.CRMObject{hs("Opportunity", "9001")}},
			wantRule: store.RuleCRMOpportunity, wantDeal: "hs", wantKey: "9001",
		},
		{
			name:     "HubSpot company id",
			deals:    []store.Deal{{DealID: "hs", HubSpotCompanyID: "42", Open: true}},
			call:     calls.Call{CRM: []calls.CRMObject{hs("Account", "42")}},
			wantRule: store.RuleCRMAccount, wantDeal: "hs", wantKey: "42",
		},
		{
			name:     "Salesforce id does not match a HubSpot deal",
			deals:    []store.Deal{{DealID: "hs", HubSpotDealID: "9001", Open: true}},
			call:     calls.Call{CRM: []calls.CRMObject{sf("Opportunity", "9001")}},
			wantRule: store.RuleUnmapped,
		},
		{
			name:     "other CRM systems are ignored",
			deals:    []store.Deal{{DealID: "d1", SalesforceOpportunityID: "006000000000001", Open: true}},
			call:     calls.Call{CRM: []calls.CRMObject{{System: "MicrosoftDynamic", ObjectType: "Opportunity", ObjectID: "006000000000001"}}},
			wantRule: store.RuleUnmapped,
		},
		{
			name: "most matching contacts wins",
			deals: []store.Deal{
				{DealID: "one", ContactEmails: []string{"a@x.example"}, Open: true},
				{DealID: "two", ContactEmails: []string{"a@x.example", "b@x.example"}, Open: true},
				{DealID: "three-newest", ContactEmails: []string{"b@x.example"}, Open: true},
			},
			call:     calls.Call{Participants: []calls.Participant{external("a@x.example"), external("b@x.example")}},
			wantRule: store.RuleContactEmail, wantDeal: "two", wantKey: "a@x.example",
		},
		{
			name: "equal matches pick the most recently updated",
			deals: []store.Deal{
				{DealID: "older", ContactEmails: []string{"a@x.example"}, Open: true},
				{DealID: "newer", ContactEmails: []string{"a@x.example"}, Open: true},
			},
			call:     calls.Call{Participants: []calls.Participant{external("a@x.example")}},
			wantRule: store.RuleContactEmail, wantDeal: "newer", wantKey: "a@x.example",
		},
		{
			name:     "contacts of closed deals do not match",
			deals:    []store.Deal{{DealID: "lost", ContactEmails: []string{"a@x.example"}, Open: false}},
			call:     calls.Call{Participants: []calls.Participant{external("a@x.example")}},
			wantRule: store.RuleUnmapped,
		},
		{
			name:  "internal participants are not matched",
			deals: []store.Deal{{DealID: "d1", ContactEmails: []string{"rep@us.example", "sdr@us.example"}, Open: true}},
			call: calls.Call{Participants: []calls.Participant{
				{Email: "rep@us.example", Affiliation: calls.AffiliationInternal},
				{Email: "sdr@us.example", Affiliation: calls.AffiliationUnknown, GongUserID: "5123"},
			}},
			wantRule: store.RuleUnmapped,
		},
		{
			name:     "unknown affiliation counts as external",
			deals:    []store.Deal{{DealID: "d1", ContactEmails: []string{"guest@acme.example"}, Open: true}},
			call:     calls.Call{Participants: []calls.Participant{{Email: "guest@acme.example", Affiliation: calls.AffiliationUnknown}}},
			wantRule: store.RuleContactEmail, wantDeal: "d1", wantKey: "guest@acme.example",
		},
		{
			name:     "participants without emails",
			deals:    []store.Deal{{DealID: "d1", ContactEmails: []string{"a@x.example"}, Open: true}},
			call:     calls.Call{Participants: []calls.Participant{{Name: "Phone caller", Affiliation: calls.AffiliationExternal}}},
			wantRule: store.RuleUnmapped,
		},
		{
			name:     "no participants and no CRM context",
			deals:    []store.Deal{{DealID: "d1", ContactEmails: []string{"a@x.example"}, Open: true}},
			call:     calls.Call{},
			wantRule: store.RuleUnmapped,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			for _, d := range tt.deals {
				e.putDeal(t, d)
			}
			c := tt.call
			c.CallID = "7001"
			e.putCall(t, c)
			got, err := e.mapper.MapCall(ctx, e.tenant, c)
			if err != nil {
				t.Fatalf("MapCall: %v", err)
			}
			if got.Rule != tt.wantRule {
				t.Errorf("rule = %q, want %q", got.Rule, tt.wantRule)
			}
			if got.DealID != tt.wantDeal {
				t.Errorf("deal = %q, want %q", got.DealID, tt.wantDeal)
			}
			if got.Key != tt.wantKey {
				t.Errorf("key = %q, want %q", got.Key, tt.wantKey)
			}
			stored, err := e.tenant.GetMapping(ctx, "7001")
			if err != nil {
				t.Fatalf("GetMapping: %v", err)
			}
			if stored.Rule != got.Rule || stored.DealID != got.DealID || stored.Key != got.Key {
				t.Errorf("stored mapping %+v differs from returned %+v", stored, got)
			}
		})
	}
}

// TestMapCallTieLowestDealID ensures equal matches and equal update times
// fall back to the lowest deal id.
func TestMapCallTieLowestDealID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, id := range []string{"deal-b", "deal-a", "deal-c"} {
		if _, _, err := e.tenant.PutDeal(ctx, store.Deal{DealID: id, ContactEmails: []string{"a@x.example"}, Open: true}); err != nil {
			t.Fatalf("PutDeal: %v", err)
		}
	}
	c := calls.Call{CallID: "1", Started: t0, Participants: []calls.Participant{external("a@x.example")}}
	e.putCall(t, c)
	got, err := e.mapper.MapCall(ctx, e.tenant, c)
	if err != nil {
		t.Fatalf("MapCall: %v", err)
	}
	if got.DealID != "deal-a" {
		t.Errorf("deal = %q, want deal-a", got.DealID)
	}
}

func TestMapCallKeepsManual(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.putDeal(t, store.Deal{DealID: "auto", ContactEmails: []string{"a@x.example"}, Open: true})
	e.putDeal(t, store.Deal{DealID: "chosen", Open: true})
	c := calls.Call{CallID: "1", Started: t0, Participants: []calls.Participant{external("a@x.example")}}
	e.putCall(t, c)
	if _, err := e.tenant.SetManualMapping(ctx, "1", c.Started, "chosen", "user-1"); err != nil {
		t.Fatalf("SetManualMapping: %v", err)
	}
	// A resync writes the call again and maps it again.
	e.putCall(t, c)
	got, err := e.mapper.MapCall(ctx, e.tenant, c)
	if err != nil {
		t.Fatalf("MapCall: %v", err)
	}
	if got.DealID != "chosen" || !got.Manual {
		t.Errorf("after MapCall mapping = %+v, want manual chosen", got)
	}
	e.putDeal(t, store.Deal{DealID: "auto", ContactEmails: []string{"a@x.example", "b@x.example"}, Open: true})
	if _, err := e.mapper.Remap(ctx, e.tenant); err != nil {
		t.Fatalf("Remap: %v", err)
	}
	got, _ = e.tenant.GetMapping(ctx, "1")
	if got.DealID != "chosen" || !got.Manual {
		t.Errorf("after Remap mapping = %+v, want manual chosen", got)
	}
}

func TestMapCallMissingCall(t *testing.T) {
	e := newEnv(t)
	if _, err := e.mapper.MapCall(context.Background(), e.tenant, calls.Call{CallID: "404", Started: t0}); err == nil {
		t.Fatalf("MapCall of a call that is not stored: want an error")
	}
}
