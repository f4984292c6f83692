package store_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
)

// newDealTenant returns a tenant handle over a fresh kumo table whose clock
// is the returned pointer.
func newDealTenant(t *testing.T, tenantID string) (*store.Tenant, *time.Time) {
	t.Helper()
	// In-process kumo servers share their tables, so each test gets its own
	// tenant.
	tenantID += "-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	clients := localaws.StartKumo(t)
	if err := store.EnsureTable(context.Background(), clients.DynamoDB, store.DefaultTableName); err != nil {
		t.Fatalf("create table: %v", err)
	}
	db := clients.DynamoDB
	s := store.New(db, store.DefaultTableName)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	tn, err := s.Tenant(tenantID)
	if err != nil {
		t.Fatalf("Tenant: %v", err)
	}
	return tn, &now
}

func TestNormalizeSalesforceID(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"15 characters", "001A000001aBcDe", "001A000001aBcDeIAK"},
		{"18 characters kept", "001A000001aBcDeIAK", "001A000001aBcDeIAK"},
		{"18 characters lower-case suffix", "001A000001aBcDeiak", "001A000001aBcDeIAK"},
		{"18 characters upper-cased restores case", "001A000001ABCDEIAK", "001A000001aBcDeIAK"},
		{"all digits", "006000000000001", "006000000000001AAA"},
		{"spaces trimmed", "  006000000000001 ", "006000000000001AAA"},
		{"empty", "", ""},
		{"short id unchanged", "001X", "001X"},
		{"non-alphanumeric unchanged", "001A000001aBc-e", "001A000001aBc-e"},
		{"bad suffix unchanged", "001A000001aBcDe999", "001A000001aBcDe999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.NormalizeSalesforceID(tt.in); got != tt.want {
				t.Errorf("NormalizeSalesforceID(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestNormalizeSalesforceIDCaseSensitive ensures two 15-character ids that
// differ only in case stay different records.
func TestNormalizeSalesforceIDCaseSensitive(t *testing.T) {
	a := store.NormalizeSalesforceID("001A000001abcde")
	b := store.NormalizeSalesforceID("001A000001ABCDE")
	if a == b {
		t.Fatalf("ids differing in case normalised to the same %q", a)
	}
}

func TestPutDealNormalizesAndLooksUp(t *testing.T) {
	tn, now := newDealTenant(t, "acme")
	ctx := context.Background()
	d, created, err := tn.PutDeal(ctx, store.Deal{
		DealID:                  "deal-1",
		Name:                    " Acme renewal ",
		SalesforceOpportunityID: "006A000001aBcDe",
		SalesforceAccountID:     "001A000001aBcDe",
		HubSpotDealID:           " 9001 ",
		ContactEmails:           []string{"Pat@Acme.example", "pat@acme.example", "", "lee@acme.example"},
		Open:                    true,
	})
	if err != nil {
		t.Fatalf("PutDeal: %v", err)
	}
	if !created {
		t.Errorf("created = false, want true")
	}
	if d.SalesforceOpportunityID != "006A000001aBcDeIAK" {
		t.Errorf("opportunity id = %q, want the 18-character form", d.SalesforceOpportunityID)
	}
	if want := []string{"lee@acme.example", "pat@acme.example"}; !slices.Equal(d.ContactEmails, want) {
		t.Errorf("contact emails = %v, want %v", d.ContactEmails, want)
	}
	if d.Name != "Acme renewal" || d.HubSpotDealID != "9001" {
		t.Errorf("name/hubspot id = %q/%q, want trimmed", d.Name, d.HubSpotDealID)
	}
	if !d.CreatedAt.Equal(*now) || !d.UpdatedAt.Equal(*now) {
		t.Errorf("timestamps = %v/%v, want %v", d.CreatedAt, d.UpdatedAt, *now)
	}

	lookups := []struct{ kind, value string }{
		{store.KeySalesforceOpportunity, "006A000001aBcDe"},
		{store.KeySalesforceOpportunity, "006A000001ABCDEIAK"},
		{store.KeySalesforceAccount, "001A000001aBcDeIAK"},
		{store.KeyHubSpotDeal, "9001"},
		{store.KeyContactEmail, "PAT@acme.example"},
	}
	for _, l := range lookups {
		ids, err := tn.DealIDsByKey(ctx, l.kind, l.value)
		if err != nil {
			t.Fatalf("DealIDsByKey(%s, %s): %v", l.kind, l.value, err)
		}
		if !slices.Equal(ids, []string{"deal-1"}) {
			t.Errorf("DealIDsByKey(%s, %s) = %v, want [deal-1]", l.kind, l.value, ids)
		}
	}
	if ids, _ := tn.DealIDsByKey(ctx, store.KeyHubSpotCompany, ""); len(ids) != 0 {
		t.Errorf("empty company id matched %v", ids)
	}
	if ids, _ := tn.DealIDsByKey(ctx, store.KeySalesforceOpportunity, "006a000001abcde"); len(ids) != 0 {
		t.Errorf("opportunity id differing in case matched %v", ids)
	}
}

func TestPutDealRemovesOldKeys(t *testing.T) {
	tn, now := newDealTenant(t, "acme")
	ctx := context.Background()
	if _, _, err := tn.PutDeal(ctx, store.Deal{DealID: "d1", ContactEmails: []string{"a@x.example", "b@x.example"}, HubSpotCompanyID: "77", Open: true}); err != nil {
		t.Fatalf("PutDeal: %v", err)
	}
	first, _ := tn.GetRemapState(ctx)
	*now = now.Add(time.Hour)
	d, created, err := tn.PutDeal(ctx, store.Deal{DealID: "d1", Name: "renamed", ContactEmails: []string{"b@x.example", "c@x.example"}, Open: true})
	if err != nil {
		t.Fatalf("PutDeal again: %v", err)
	}
	if created {
		t.Errorf("created = true on update, want false")
	}
	if d.CreatedAt.Equal(d.UpdatedAt) {
		t.Errorf("createdAt %v was replaced on update", d.CreatedAt)
	}
	for _, k := range []struct {
		kind, value string
		want        bool
	}{
		{store.KeyContactEmail, "a@x.example", false},
		{store.KeyContactEmail, "b@x.example", true},
		{store.KeyContactEmail, "c@x.example", true},
		{store.KeyHubSpotCompany, "77", false},
	} {
		ids, err := tn.DealIDsByKey(ctx, k.kind, k.value)
		if err != nil {
			t.Fatalf("DealIDsByKey: %v", err)
		}
		if got := len(ids) == 1; got != k.want {
			t.Errorf("lookup %s %s found %v, want found=%v", k.kind, k.value, ids, k.want)
		}
	}
	second, _ := tn.GetRemapState(ctx)
	if second.DealsGeneration != first.DealsGeneration+1 {
		t.Errorf("generation %d -> %d, want one step", first.DealsGeneration, second.DealsGeneration)
	}

	// A rename alone does not change how calls map.
	if _, _, err := tn.PutDeal(ctx, store.Deal{DealID: "d1", Name: "renamed again", ContactEmails: []string{"c@x.example", "b@x.example"}, Open: true}); err != nil {
		t.Fatalf("PutDeal rename: %v", err)
	}
	third, _ := tn.GetRemapState(ctx)
	if third.DealsGeneration != second.DealsGeneration {
		t.Errorf("rename advanced the generation to %d", third.DealsGeneration)
	}

	if err := tn.DeleteDeal(ctx, "d1"); err != nil {
		t.Fatalf("DeleteDeal: %v", err)
	}
	if _, err := tn.GetDeal(ctx, "d1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDeal after delete: err = %v, want ErrNotFound", err)
	}
	if ids, _ := tn.DealIDsByKey(ctx, store.KeyContactEmail, "b@x.example"); len(ids) != 0 {
		t.Errorf("lookup after delete found %v", ids)
	}
}

func TestPutDealRejectsBadInput(t *testing.T) {
	tn, _ := newDealTenant(t, "acme")
	ctx := context.Background()
	many := make([]string, store.MaxDealContacts+1)
	for i := range many {
		many[i] = "p" + string(rune('a'+i%26)) + time.Duration(i).String() + "@x.example"
	}
	tests := []struct {
		name string
		deal store.Deal
	}{
		{"empty id", store.Deal{}},
		{"hash in id", store.Deal{DealID: "a#b"}},
		{"email without at", store.Deal{DealID: "d", ContactEmails: []string{"nobody"}}},
		{"too many contacts", store.Deal{DealID: "d", ContactEmails: many}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := tn.PutDeal(ctx, tt.deal); err == nil {
				t.Errorf("PutDeal accepted %+v", tt.deal.DealID)
			}
		})
	}
}

func putTestCall(t *testing.T, tn *store.Tenant, id string, started time.Time) {
	t.Helper()
	if _, err := tn.PutCall(context.Background(), calls.Call{CallID: id, Title: "call " + id, Started: started}); err != nil {
		t.Fatalf("PutCall %s: %v", id, err)
	}
}

func TestManualMappingWinsOverAuto(t *testing.T) {
	tn, _ := newDealTenant(t, "acme")
	ctx := context.Background()
	started := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	putTestCall(t, tn, "100", started)
	for _, id := range []string{"d1", "d2"} {
		if _, _, err := tn.PutDeal(ctx, store.Deal{DealID: id, Open: true}); err != nil {
			t.Fatalf("PutDeal: %v", err)
		}
	}

	got, applied, err := tn.SetAutoMapping(ctx, "100", started, store.Mapping{DealID: "d1", Rule: store.RuleContactEmail, Key: "a@x.example"})
	if err != nil || !applied || got.DealID != "d1" {
		t.Fatalf("SetAutoMapping = %+v, %v, %v; want d1 applied", got, applied, err)
	}
	if _, err := tn.SetManualMapping(ctx, "100", started, "d2", "user-1"); err != nil {
		t.Fatalf("SetManualMapping: %v", err)
	}
	got, applied, err = tn.SetAutoMapping(ctx, "100", started, store.Mapping{DealID: "d1", Rule: store.RuleCRMOpportunity, Key: "x"})
	if err != nil {
		t.Fatalf("SetAutoMapping over manual: %v", err)
	}
	if applied {
		t.Errorf("automatic mapping was applied over a manual one")
	}
	if got.DealID != "d2" || !got.Manual || got.MappedBy != "user-1" {
		t.Errorf("mapping after auto attempt = %+v, want manual d2 by user-1", got)
	}
	page, _, err := tn.DealCalls(ctx, "d2", 10, "")
	if err != nil || len(page) != 1 || page[0].Call.CallID != "100" {
		t.Fatalf("DealCalls(d2) = %+v, %v; want call 100", page, err)
	}
	if page, _, _ := tn.DealCalls(ctx, "d1", 10, ""); len(page) != 0 {
		t.Errorf("DealCalls(d1) = %d calls, want 0", len(page))
	}

	// Manual unassignment also wins.
	if _, err := tn.SetManualMapping(ctx, "100", started, "", "user-2"); err != nil {
		t.Fatalf("unassign: %v", err)
	}
	if _, applied, _ := tn.SetAutoMapping(ctx, "100", started, store.Mapping{DealID: "d1", Rule: store.RuleCRMAccount, Key: "x"}); applied {
		t.Errorf("automatic mapping was applied over a manual unassignment")
	}
	m, err := tn.GetMapping(ctx, "100")
	if err != nil || m.DealID != "" || m.Rule != store.RuleManual {
		t.Errorf("GetMapping = %+v, %v; want manual without deal", m, err)
	}
	if page, _, _ := tn.DealCalls(ctx, "d2", 10, ""); len(page) != 0 {
		t.Errorf("unassigned call still listed under d2")
	}
}

func TestManualMappingErrors(t *testing.T) {
	tn, _ := newDealTenant(t, "acme")
	ctx := context.Background()
	started := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	putTestCall(t, tn, "100", started)
	if _, _, err := tn.PutDeal(ctx, store.Deal{DealID: "d1", Open: true}); err != nil {
		t.Fatalf("PutDeal: %v", err)
	}
	if _, err := tn.SetManualMapping(ctx, "100", started, "missing", "u"); !errors.Is(err, store.ErrDealNotFound) {
		t.Errorf("assign to missing deal: err = %v, want ErrDealNotFound", err)
	}
	_, err := tn.SetManualMapping(ctx, "999", started, "d1", "u")
	if !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDealNotFound) {
		t.Errorf("assign missing call: err = %v, want ErrNotFound only", err)
	}
	if _, err := tn.GetMapping(ctx, "999"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetMapping of missing call: err = %v, want ErrNotFound", err)
	}
	if _, _, err := tn.SetAutoMapping(ctx, "999", started, store.Mapping{Rule: store.RuleUnmapped}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetAutoMapping of missing call: err = %v, want ErrNotFound", err)
	}
	if _, err := tn.GetCall(ctx, "999"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a mapping write created call 999")
	}
}

func TestDealCallsPagesNewestFirst(t *testing.T) {
	tn, _ := newDealTenant(t, "acme")
	ctx := context.Background()
	if _, _, err := tn.PutDeal(ctx, store.Deal{DealID: "d1", Open: true}); err != nil {
		t.Fatalf("PutDeal: %v", err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := 0; i < 5; i++ {
		id := string(rune('1'+i)) + "00"
		started := base.Add(time.Duration(i) * time.Hour)
		putTestCall(t, tn, id, started)
		if _, _, err := tn.SetAutoMapping(ctx, id, started, store.Mapping{DealID: "d1", Rule: store.RuleContactEmail, Key: "a@x.example"}); err != nil {
			t.Fatalf("SetAutoMapping: %v", err)
		}
		want = append([]string{id}, want...)
	}
	var got []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		page, next, err := tn.DealCalls(ctx, "d1", 2, after)
		if err != nil {
			t.Fatalf("DealCalls: %v", err)
		}
		for _, c := range page {
			got = append(got, c.Call.CallID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
}

func TestRemapStateGenerations(t *testing.T) {
	tn, _ := newDealTenant(t, "acme")
	ctx := context.Background()
	st, err := tn.GetRemapState(ctx)
	if err != nil || st.Stale() {
		t.Fatalf("initial state %+v, %v; want not stale", st, err)
	}
	if _, _, err := tn.PutDeal(ctx, store.Deal{DealID: "d1", Open: true}); err != nil {
		t.Fatalf("PutDeal: %v", err)
	}
	st, _ = tn.GetRemapState(ctx)
	if !st.Stale() || st.DealsGeneration != 1 {
		t.Fatalf("after PutDeal state %+v, want generation 1 stale", st)
	}
	if err := tn.SaveRemapProgress(ctx, 1, store.CallSK("5")); err != nil {
		t.Fatalf("SaveRemapProgress: %v", err)
	}
	st, _ = tn.GetRemapState(ctx)
	if st.Cursor != store.CallSK("5") || st.CursorGeneration != 1 {
		t.Errorf("progress %+v, want cursor CALL#5 generation 1", st)
	}
	if err := tn.FinishRemap(ctx, 1); err != nil {
		t.Fatalf("FinishRemap: %v", err)
	}
	st, _ = tn.GetRemapState(ctx)
	if st.Stale() || st.Cursor != "" {
		t.Errorf("after FinishRemap state %+v, want up to date without cursor", st)
	}
	// An older generation finishing late does not move it back.
	if err := tn.FinishRemap(ctx, 0); err != nil {
		t.Fatalf("FinishRemap old: %v", err)
	}
	if st, _ = tn.GetRemapState(ctx); st.RemappedGeneration != 1 {
		t.Errorf("remapped generation moved back to %d", st.RemappedGeneration)
	}
}
