package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/store"
)

// dealSampleSpan is how far back seeding reads calls to find the CRM
// accounts, opportunities and contacts the deals are made from.
const dealSampleSpan = 2 * 24 * time.Hour

// errSampleFull stops the sample read once it has enough calls.
var errSampleFull = errors.New("deal sample complete")

// maxSampleCalls bounds the sample to about one page of calls.
const maxSampleCalls = 100

// seed connects each tenant through OAuth, then stores the organization's
// users and deals built from the Gong company's data, read through the
// Gong API with the new token.
func (w *world) seed(ctx context.Context) error {
	if w.sim != nil {
		fmt.Printf("Gong simulator in process at %s: %d companies, %d days, %g calls a day each (clock %s, simulated)\n",
			w.gongURL, len(w.opts.companies), w.opts.days, w.opts.callsPerDay, w.now().Format(time.RFC3339))
		fmt.Printf("The Gong client paces each company at %g requests a second (-gong-rps; Gong allows 3) in real time;\n", w.opts.gongRPS)
		fmt.Println("the simulator's own rate limit is off because its clock is simulated and does not move during a pass.")
	} else {
		fmt.Printf("Gong simulator at %s (GONG_SIM_URL): companies %s, clock real time; the initial backfill reads %d days\n",
			w.gongURL, strings.Join(w.opts.companies, ","), w.opts.days)
		fmt.Printf("The Gong client paces each company at %g requests a second (-gong-rps).\n", w.opts.gongRPS)
	}
	fmt.Println("Each tenant connects through the simulator's OAuth endpoints and the product's connect service.")
	for _, c := range w.opts.companies {
		if err := w.seedTenant(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) seedTenant(ctx context.Context, company string) error {
	// The organization's users count as having joined when the admin
	// connected, so the initial backfill covers them and no per-user
	// backfill reads the same range again.
	joined := w.now()
	conn, err := w.connectTenant(ctx, company)
	if err != nil {
		return err
	}

	tn, err := w.st.Tenant(tenantOf(company))
	if err != nil {
		return err
	}
	client, err := w.gongClient(ctx, tn.ID())
	if err != nil {
		return err
	}
	users, err := w.seedUsers(ctx, tn, client, company, joined)
	if err != nil {
		return err
	}
	deals, sampled, err := w.seedDeals(ctx, tn, client)
	if err != nil {
		return err
	}

	w.deals[tn.ID()] = deals
	for _, n := range client.Requests() {
		w.setupRequests[tn.ID()] += n
	}
	inGong := ""
	if w.sim != nil {
		inGong = fmt.Sprintf(", %d calls in Gong", len(w.sim.Calls(company)))
	}
	fmt.Printf("  tenant %-12s company %-8s epoch %d, backfill job %s%s, %d organization users, %d deals from %d sampled calls\n",
		tn.ID(), company, conn.Epoch, conn.BackfillJobID, inGong, users, deals, sampled)
	return nil
}

// gongClient returns a Gong client with the tenant's stored token and sets
// the pace of the company's shared limiter, which the engine uses too.
func (w *world) gongClient(ctx context.Context, tenantID string) (*gong.Client, error) {
	hc, baseURL, err := w.tokens.Client(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("build the Gong client of tenant %s: %w", tenantID, err)
	}
	limiter := gong.LimiterFor(baseURL)
	limiter.SetLimit(rate.Limit(w.opts.gongRPS))
	return gong.New(baseURL, hc, gong.WithLimiter(limiter), gong.WithLogger(w.logger))
}

// seedUsers stores the organization's users: two thirds of the company's
// Gong users, every third email in other letter case, plus one user Gong
// does not know. It returns how many it stored.
func (w *world) seedUsers(ctx context.Context, tn *store.Tenant, client *gong.Client, company string, joined time.Time) (int, error) {
	gongUsers, err := client.Users(ctx)
	if err != nil {
		return 0, fmt.Errorf("list the Gong users of %s: %w", company, err)
	}
	sort.Slice(gongUsers, func(i, j int) bool { return gongUsers[i].ID < gongUsers[j].ID })
	n := 0
	for i, u := range gongUsers[:len(gongUsers)*2/3] {
		if u.Email == "" {
			continue
		}
		email := u.Email
		if i%3 == 0 {
			email = strings.ToUpper(email[:1]) + email[1:]
		}
		user := store.User{UserID: fmt.Sprintf("u-%s-%02d", company, i), Email: email,
			Name: strings.TrimSpace(u.FirstName + " " + u.LastName), Active: true, JoinedAt: joined}
		if _, err := tn.PutUser(ctx, user); err != nil {
			return n, err
		}
		n++
	}
	newcomer := store.User{UserID: "u-" + company + "-new", Email: "newcomer@" + company + ".example",
		Name: "New Comer", Active: true, JoinedAt: joined}
	if _, err := tn.PutUser(ctx, newcomer); err != nil {
		return n, err
	}
	return n + 1, nil
}

// seedDeals reads up to maxSampleCalls calls of the last dealSampleSpan,
// as a stand-in for the product's CRM, and stores deals for the accounts
// they name. It returns the number of deals and of sampled calls.
func (w *world) seedDeals(ctx context.Context, tn *store.Tenant, client *gong.Client) (int, int, error) {
	to := w.now().Truncate(time.Second)
	var sample []calls.Call
	err := client.Calls(ctx, gong.CallFilter{From: to.Add(-dealSampleSpan), To: to}, func(page []gong.Call) error {
		for _, gc := range page {
			sample = append(sample, ingest.ConvertCall(tn.ID(), gc, to))
		}
		if len(sample) >= maxSampleCalls {
			return errSampleFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSampleFull) {
		return 0, 0, fmt.Errorf("read the deal sample of tenant %s: %w", tn.ID(), err)
	}
	deals := planDeals(tn.ID(), sample, to)
	for _, d := range deals {
		if _, _, err := tn.PutDeal(ctx, d); err != nil {
			return 0, len(sample), fmt.Errorf("store deal %s of tenant %s: %w", d.DealID, tn.ID(), err)
		}
	}
	return len(deals), len(sample), nil
}

// crmAccount is one customer account named in the CRM context of sampled
// calls.
type crmAccount struct {
	system        string // calls.SystemSalesforce or calls.SystemHubSpot
	accountID     string
	opportunityID string
	dealName      string
	contacts      []string // emails of external participants of its calls
}

// planDeals returns deals for the sample's accounts, so that each mapping
// rule has calls to match. Sorted by account id, the accounts take turns:
// a deal with the opportunity id (rule crm_opportunity), a deal with only
// the account id (crm_account), a deal with only the contacts' emails
// (contact_email), and no deal (unmapped, unless a contact matches).
func planDeals(tenantID string, sample []calls.Call, now time.Time) []store.Deal {
	accounts := sampleAccounts(sample)
	var deals []store.Deal
	for i, a := range accounts {
		d := store.Deal{
			DealID: fmt.Sprintf("deal-%s-%02d", strings.TrimPrefix(tenantID, "org-"), i),
			Name:   a.dealName, Open: true, CreatedAt: now,
		}
		salesforce := a.system == calls.SystemSalesforce
		switch i % 4 {
		case 0:
			if a.opportunityID == "" {
				continue
			}
			if salesforce {
				d.SalesforceOpportunityID, d.SalesforceAccountID = a.opportunityID, a.accountID
			} else {
				d.HubSpotDealID, d.HubSpotCompanyID = a.opportunityID, a.accountID
			}
			d.ContactEmails = a.contacts
		case 1:
			if salesforce {
				d.SalesforceAccountID = a.accountID
			} else {
				d.HubSpotCompanyID = a.accountID
			}
		case 2:
			if len(a.contacts) == 0 {
				continue
			}
			d.ContactEmails = a.contacts
		default:
			continue
		}
		deals = append(deals, d)
	}
	return deals
}

// sampleAccounts collects the Salesforce and HubSpot accounts of the calls'
// CRM context, sorted by account id.
func sampleAccounts(sample []calls.Call) []*crmAccount {
	byID := map[string]*crmAccount{}
	for _, c := range sample {
		var acct, opp *calls.CRMObject
		for i, o := range c.CRM {
			if o.System != calls.SystemSalesforce && o.System != calls.SystemHubSpot {
				continue
			}
			switch o.ObjectType {
			case calls.ObjectAccount:
				acct = &c.CRM[i]
			case calls.ObjectOpportunity:
				opp = &c.CRM[i]
			}
		}
		if acct == nil || acct.ObjectID == "" {
			continue
		}
		a := byID[acct.ObjectID]
		if a == nil {
			a = &crmAccount{system: acct.System, accountID: acct.ObjectID, dealName: acct.Name}
			if a.dealName == "" {
				a.dealName = acct.System + " account " + acct.ObjectID
			}
			byID[acct.ObjectID] = a
		}
		if opp != nil && opp.ObjectID != "" && a.opportunityID == "" {
			a.opportunityID = opp.ObjectID
			if opp.Name != "" {
				a.dealName = opp.Name
			}
		}
		for _, p := range c.Participants {
			external := p.Affiliation != calls.AffiliationInternal && p.GongUserID == ""
			if external && p.Email != "" && !slices.Contains(a.contacts, p.Email) {
				a.contacts = append(a.contacts, p.Email)
			}
		}
	}
	out := make([]*crmAccount, 0, len(byID))
	for _, a := range byID {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].accountID < out[j].accountID })
	return out
}
