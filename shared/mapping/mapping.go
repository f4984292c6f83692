// Package mapping places calls in the product's deal workspaces.
//
// Rules, in order, the first that matches decides:
//
//  1. crm_opportunity: a Salesforce Opportunity or HubSpot Deal that Gong
//     linked to the call is the opportunity of a deal, open or closed.
//     Salesforce ids match across their 15- and 18-character forms.
//  2. crm_account: the Salesforce Accounts and HubSpot Companies linked to the
//     call together have exactly one open deal. With two or more the account
//     is ambiguous and the next rule decides.
//  3. contact_email: emails of the call's external participants (affiliation
//     not Internal and no Gong user id) are contacts of open deals.
//  4. unmapped.
//
// Ties within a rule are broken by, in order: more matching contact emails
// (contact_email only), an open deal before a closed one (crm_opportunity
// only), the most recently updated deal, and the lowest deal id. Empty ids
// and emails never match. A manual assignment or unassignment always wins: it
// is stored with mapManual=true and neither MapCall nor Remap changes it.
package mapping

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

// maxEmailLookups bounds the Queries one call costs for the email rule.
const maxEmailLookups = 100

// Mapper maps calls to deals. The zero value is not usable; build it with New.
type Mapper struct {
	logger *slog.Logger
}

// New returns a Mapper that logs to logger (slog.Default() when nil).
func New(logger *slog.Logger) *Mapper {
	if logger == nil {
		logger = slog.Default()
	}
	return &Mapper{logger: logger}
}

// MapCall evaluates the rules for a stored call and stores the result on it,
// unless the call has a manual mapping. It returns the mapping the call has
// afterwards: the manual one when that won. To map several calls, use one
// Session for all of them, so they share deal lookups.
func (m *Mapper) MapCall(ctx context.Context, t *store.Tenant, c calls.Call) (store.Mapping, error) {
	return m.singleCallSession(t).MapCall(ctx, c)
}

// Decide evaluates the rules for a call without storing anything. See
// Session.Decide.
func (m *Mapper) Decide(ctx context.Context, t *store.Tenant, c calls.Call) (store.Mapping, error) {
	return m.singleCallSession(t).Decide(ctx, c)
}

// singleCallSession returns a session for one call. It queries each key
// instead of preloading the lookup index, because the preload costs a
// GetItem and at least one Query, about what one call's few keys cost, and
// more for a large index.
func (m *Mapper) singleCallSession(t *store.Tenant) *Session {
	s := m.Session(t)
	s.preload = false
	return s
}

// lookupKey is one normalised value to look deals up by.
type lookupKey struct {
	kind, value string
}

// crmKeys returns the call's opportunity and account keys, normalised, in the
// order Gong listed them, without duplicates (Gong may list one object for
// each context timing). Systems other than Salesforce and HubSpot are ignored.
func crmKeys(objects []calls.CRMObject) (opportunities, accounts []lookupKey) {
	for _, o := range objects {
		salesforce := strings.EqualFold(o.System, calls.SystemSalesforce)
		hubspot := strings.EqualFold(o.System, calls.SystemHubSpot)
		if !salesforce && !hubspot {
			continue
		}
		var kind string
		var list *[]lookupKey
		switch {
		case strings.EqualFold(o.ObjectType, calls.ObjectOpportunity) || (hubspot && strings.EqualFold(o.ObjectType, "Deal")):
			kind, list = store.KeyHubSpotDeal, &opportunities
			if salesforce {
				kind = store.KeySalesforceOpportunity
			}
		case strings.EqualFold(o.ObjectType, calls.ObjectAccount) || (hubspot && strings.EqualFold(o.ObjectType, "Company")):
			kind, list = store.KeyHubSpotCompany, &accounts
			if salesforce {
				kind = store.KeySalesforceAccount
			}
		default:
			continue
		}
		k := lookupKey{kind: kind, value: store.NormalizeDealKey(kind, o.ObjectID)}
		if k.value != "" && !slices.Contains(*list, k) {
			*list = append(*list, k)
		}
	}
	return opportunities, accounts
}

// externalEmails returns the lower-cased emails of participants who are not
// internal, in call order, without duplicates. A participant with a Gong user
// id is a user of the Gong company and counts as internal regardless of its
// affiliation.
func externalEmails(participants []calls.Participant) []string {
	var emails []string
	for _, p := range participants {
		if strings.EqualFold(p.Affiliation, calls.AffiliationInternal) || p.GongUserID != "" {
			continue
		}
		e := store.NormalizeDealKey(store.KeyContactEmail, p.Email)
		if e != "" && !slices.Contains(emails, e) {
			emails = append(emails, e)
		}
	}
	return emails
}

// candidate is a deal found by one or more keys.
type candidate struct {
	deal    store.Deal
	keys    []string // matching values, in the order they were looked up
	matches int
}

// findCandidates looks up deals by each key and confirms each hit against the
// deal item, since a lookup item can briefly outlive a change of its deal.
func (s *Session) findCandidates(ctx context.Context, keys []lookupKey) (map[string]*candidate, error) {
	hits := map[string][]string{}
	var ids []string
	for _, k := range keys {
		found, err := s.lookup(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("mapping: look up deals by %s: %w", k.kind, err)
		}
		for _, id := range found {
			if _, seen := hits[id]; !seen {
				ids = append(ids, id)
			}
			hits[id] = append(hits[id], k.kind+"\x00"+k.value)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	deals, err := s.readDeals(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("mapping: read candidate deals: %w", err)
	}
	out := map[string]*candidate{}
	for id, matched := range hits {
		d, ok := deals[id]
		if !ok {
			continue
		}
		for _, km := range matched {
			kind, value, _ := strings.Cut(km, "\x00")
			if !d.HasKey(kind, value) {
				continue
			}
			c := out[id]
			if c == nil {
				c = &candidate{deal: d}
				out[id] = c
			}
			if !slices.Contains(c.keys, value) {
				c.keys = append(c.keys, value)
				c.matches++
			}
		}
	}
	return out, nil
}

// better reports whether a ranks before b: more matches, open before closed
// when preferOpen, most recently updated, lowest deal id.
func better(a, b *candidate, preferOpen bool) bool {
	if a.matches != b.matches {
		return a.matches > b.matches
	}
	if preferOpen && a.deal.Open != b.deal.Open {
		return a.deal.Open
	}
	if !a.deal.UpdatedAt.Equal(b.deal.UpdatedAt) {
		return a.deal.UpdatedAt.After(b.deal.UpdatedAt)
	}
	return a.deal.DealID < b.deal.DealID
}

func best(cands map[string]*candidate, preferOpen bool) *candidate {
	var top *candidate
	for _, c := range cands {
		if top == nil || better(c, top, preferOpen) {
			top = c
		}
	}
	return top
}

func (s *Session) byOpportunity(ctx context.Context, keys []lookupKey) (store.Mapping, bool, error) {
	cands, err := s.findCandidates(ctx, keys)
	if err != nil || len(cands) == 0 {
		return store.Mapping{}, false, err
	}
	// Every candidate matched one opportunity id, so match counts are equal
	// unless Gong linked two of the deal's own ids (Salesforce and HubSpot).
	top := best(cands, true)
	return store.Mapping{DealID: top.deal.DealID, Rule: store.RuleCRMOpportunity, Key: top.keys[0]}, true, nil
}

func (s *Session) byAccount(ctx context.Context, keys []lookupKey) (store.Mapping, bool, error) {
	cands, err := s.findCandidates(ctx, keys)
	if err != nil {
		return store.Mapping{}, false, err
	}
	var open []*candidate
	for _, c := range cands {
		if c.deal.Open {
			open = append(open, c)
		}
	}
	if len(open) != 1 {
		return store.Mapping{}, false, nil
	}
	return store.Mapping{DealID: open[0].deal.DealID, Rule: store.RuleCRMAccount, Key: open[0].keys[0]}, true, nil
}

func (s *Session) byContactEmail(ctx context.Context, emails []string) (store.Mapping, bool, error) {
	if len(emails) > maxEmailLookups {
		emails = emails[:maxEmailLookups]
	}
	keys := make([]lookupKey, len(emails))
	for i, e := range emails {
		keys[i] = lookupKey{kind: store.KeyContactEmail, value: e}
	}
	cands, err := s.findCandidates(ctx, keys)
	if err != nil {
		return store.Mapping{}, false, err
	}
	for id, c := range cands {
		if !c.deal.Open {
			delete(cands, id)
		}
	}
	if len(cands) == 0 {
		return store.Mapping{}, false, nil
	}
	top := best(cands, false)
	return store.Mapping{DealID: top.deal.DealID, Rule: store.RuleContactEmail, Key: top.keys[0]}, true, nil
}
