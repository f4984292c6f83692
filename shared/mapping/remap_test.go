package mapping_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

// TestRemapDealCreatedLater ensures calls ingested before their deal existed
// move into it once the deal is written.
func TestRemapDealCreatedLater(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c1 := calls.Call{CallID: "1", Started: t0, Participants: []calls.Participant{external("pat@acme.example")}}
	c2 := calls.Call{CallID: "2", Started: t0.Add(time.Hour), CRM: []calls.CRMObject{sf("Opportunity", "006000000000009")}}
	c3 := calls.Call{CallID: "3", Started: t0, Participants: []calls.Participant{external("other@else.example")}}
	for _, c := range []calls.Call{c1, c2, c3} {
		e.putCall(t, c)
		if m, err := e.mapper.MapCall(ctx, e.tenant, c); err != nil || m.Rule != store.RuleUnmapped {
			t.Fatalf("MapCall %s = %+v, %v; want unmapped", c.CallID, m, err)
		}
	}
	stats, err := e.mapper.RemapIfStale(ctx, e.tenant)
	if err != nil || !stats.UpToDate {
		t.Fatalf("RemapIfStale before any deal = %+v, %v; want up to date", stats, err)
	}

	e.putDeal(t, store.Deal{DealID: "acme", SalesforceOpportunityID: "006000000000009AAA", ContactEmails: []string{"pat@acme.example"}, Open: true})
	stats, err = e.mapper.RemapIfStale(ctx, e.tenant)
	if err != nil {
		t.Fatalf("RemapIfStale: %v", err)
	}
	if !stats.Complete || stats.Scanned != 3 || stats.Changed != 2 {
		t.Errorf("stats = %+v, want complete, 3 scanned, 2 changed", stats)
	}
	want := map[string]struct{ deal, rule string }{
		"1": {"acme", store.RuleContactEmail},
		"2": {"acme", store.RuleCRMOpportunity},
		"3": {"", store.RuleUnmapped},
	}
	for id, w := range want {
		m, err := e.tenant.GetMapping(ctx, id)
		if err != nil {
			t.Fatalf("GetMapping %s: %v", id, err)
		}
		if m.DealID != w.deal || m.Rule != w.rule {
			t.Errorf("call %s mapping = %s/%s, want %s/%s", id, m.DealID, m.Rule, w.deal, w.rule)
		}
	}
	page, _, err := e.tenant.DealCalls(ctx, "acme", 10, "")
	if err != nil {
		t.Fatalf("DealCalls: %v", err)
	}
	if len(page) != 2 || page[0].Call.CallID != "2" || page[1].Call.CallID != "1" {
		t.Errorf("deal calls = %v, want [2 1]", callIDs(page))
	}

	stats, err = e.mapper.RemapIfStale(ctx, e.tenant)
	if err != nil || !stats.UpToDate {
		t.Errorf("second RemapIfStale = %+v, %v; want up to date", stats, err)
	}

	// The contact leaves the deal: the call goes back to unmapped.
	e.putDeal(t, store.Deal{DealID: "acme", SalesforceOpportunityID: "006000000000009AAA", Open: true})
	if _, err := e.mapper.RemapIfStale(ctx, e.tenant); err != nil {
		t.Fatalf("RemapIfStale: %v", err)
	}
	if m, _ := e.tenant.GetMapping(ctx, "1"); m.Rule != store.RuleUnmapped || m.DealID != "" {
		t.Errorf("call 1 after contact removed = %+v, want unmapped", m)
	}
	if page, _, _ := e.tenant.DealCalls(ctx, "acme", 10, ""); len(page) != 1 {
		t.Errorf("deal calls after contact removed = %v, want [2]", callIDs(page))
	}
}

// TestRemapResumes ensures a remap that stopped after a page continues from its
// saved position, and that a deal change meanwhile restarts it.
func TestRemapResumes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 450 // more than two scan pages of 200
	for i := 0; i < n; i++ {
		e.putCall(t, calls.Call{CallID: fmt.Sprintf("%04d", i), Started: t0, Participants: []calls.Participant{external("pat@acme.example")}})
	}
	e.putDeal(t, store.Deal{DealID: "acme", ContactEmails: []string{"pat@acme.example"}, Open: true})

	st, err := e.tenant.GetRemapState(ctx)
	if err != nil || !st.Stale() {
		t.Fatalf("state after PutDeal = %+v, %v; want stale", st, err)
	}

	// A run that stopped after its first page saved this position.
	pages := 0
	err = e.tenant.ScanCallsForMapping(ctx, "", func(page []store.CallForMapping, last string) error {
		pages++
		if err := e.tenant.SaveRemapProgress(ctx, st.DealsGeneration, last); err != nil {
			return err
		}
		return errStop
	})
	if err != errStop || pages != 1 {
		t.Fatalf("first page scan: err = %v, pages = %d", err, pages)
	}

	stats, err := e.mapper.RemapIfStale(ctx, e.tenant)
	if err != nil {
		t.Fatalf("RemapIfStale: %v", err)
	}
	if !stats.Resumed || !stats.Complete || stats.Scanned != n-200 {
		t.Errorf("resumed stats = %+v, want resumed and complete with %d scanned", stats, n-200)
	}

	// A deal change after a saved position starts over.
	if err := e.tenant.SaveRemapProgress(ctx, st.DealsGeneration, store.CallSK("0100")); err != nil {
		t.Fatalf("SaveRemapProgress: %v", err)
	}
	e.putDeal(t, store.Deal{DealID: "acme", ContactEmails: []string{"pat@acme.example", "lee@acme.example"}, Open: true})
	stats, err = e.mapper.RemapIfStale(ctx, e.tenant)
	if err != nil {
		t.Fatalf("RemapIfStale after change: %v", err)
	}
	if stats.Resumed || stats.Scanned != n {
		t.Errorf("stats after change = %+v, want a full scan of %d", stats, n)
	}
}

var errStop = fmt.Errorf("stop after one page")

func callIDs(page []store.MappedCall) []string {
	var ids []string
	for _, c := range page {
		ids = append(ids, c.Call.CallID)
	}
	return ids
}
