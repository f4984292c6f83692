package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/store"
)

// maxCallIDLength is the longest call id the read API accepts.
const maxCallIDLength = 128

// validateCallID rejects ids that cannot be Gong call ids before any read.
func validateCallID(id string) *apiError {
	if id == "" || len(id) > maxCallIDLength || !isIDString(id) {
		return badRequest("callId", "call id %.40q is invalid: pass the Gong call id (digits)", id)
	}
	return nil
}

func validateDealID(id string) *apiError {
	if err := store.ValidateDealID(id); err != nil {
		return badRequest("dealId", "deal id %.40q is invalid: use 1 to 128 letters, digits, '-', '_' or '.'", id)
	}
	return nil
}

func isIDString(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

// MappingJSON is a call's deal assignment in responses.
type MappingJSON struct {
	DealID   string     `json:"dealId,omitempty"`
	DealName string     `json:"dealName,omitempty"`
	Rule     string     `json:"rule"`
	Key      string     `json:"key,omitempty"`
	Manual   bool       `json:"manual"`
	MappedAt *time.Time `json:"mappedAt,omitempty"`
	MappedBy string     `json:"mappedBy,omitempty"`
}

func mappingJSON(m store.Mapping) MappingJSON {
	out := MappingJSON{DealID: m.DealID, Rule: m.Rule, Key: m.Key, Manual: m.Manual, MappedBy: m.MappedBy}
	if !m.MappedAt.IsZero() {
		at := m.MappedAt.UTC()
		out.MappedAt = &at
	}
	return out
}

// CallSummaryJSON is one call of a deal listing.
type CallSummaryJSON struct {
	CallID      string      `json:"callId"`
	Title       string      `json:"title"`
	Started     time.Time   `json:"started"`
	DurationSec int64       `json:"durationSec"`
	URL         string      `json:"url,omitempty"`
	Direction   string      `json:"direction,omitempty"`
	Scope       string      `json:"scope,omitempty"`
	System      string      `json:"system,omitempty"`
	Mapping     MappingJSON `json:"mapping"`
}

// DealCallsJSON is the response of GET /deals/{dealId}/calls.
type DealCallsJSON struct {
	DealID     string            `json:"dealId"`
	Calls      []CallSummaryJSON `json:"calls"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

func (a *API) dealCalls(ctx context.Context, c caller, dealID string, query map[string]string) (int, any, error) {
	if e := validateDealID(dealID); e != nil {
		return 0, nil, e
	}
	limit := DefaultPageSize
	if s := query["limit"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			return 0, nil, badRequest("limit", "limit %.20q is invalid: use a whole number from 1 to %d", s, MaxPageSize)
		}
		limit = n
	}
	after := ""
	if token := query["cursor"]; token != "" {
		var e *apiError
		if after, e = decodeCursor(token, c.tenant.ID(), dealID); e != nil {
			return 0, nil, e
		}
	}
	if _, err := c.tenant.GetDeal(ctx, dealID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, notFound("dealId", "deal %s not found", dealID)
		}
		return 0, nil, err
	}
	page, next, err := c.tenant.DealCalls(ctx, dealID, limit, after)
	if err != nil {
		return 0, nil, err
	}
	out := DealCallsJSON{DealID: dealID, Calls: []CallSummaryJSON{}}
	for _, mc := range page {
		out.Calls = append(out.Calls, CallSummaryJSON{
			CallID: mc.Call.CallID, Title: mc.Call.Title, Started: mc.Call.Started.UTC(), DurationSec: mc.Call.DurationSec,
			URL: mc.Call.URL, Direction: mc.Call.Direction, Scope: mc.Call.Scope, System: mc.Call.System,
			Mapping: mappingJSON(mc.Mapping),
		})
	}
	if next != "" {
		out.NextCursor = encodeCursor(c.tenant.ID(), dealID, next)
	}
	return http.StatusOK, out, nil
}

// DealJSON is a deal in requests and responses of PUT /deals/{dealId}.
type DealJSON struct {
	DealID                  string     `json:"dealId"`
	Name                    string     `json:"name"`
	SalesforceOpportunityID string     `json:"salesforceOpportunityId,omitempty"`
	SalesforceAccountID     string     `json:"salesforceAccountId,omitempty"`
	HubSpotDealID           string     `json:"hubspotDealId,omitempty"`
	HubSpotCompanyID        string     `json:"hubspotCompanyId,omitempty"`
	ContactEmails           []string   `json:"contactEmails"`
	Open                    *bool      `json:"open"`
	CreatedAt               *time.Time `json:"createdAt,omitempty"`
	UpdatedAt               *time.Time `json:"updatedAt,omitempty"`
}

// RemapJSON reports the remap a deal upsert ran.
type RemapJSON struct {
	Complete bool `json:"complete"` // false: cut short, the next ingest run finishes it
	Scanned  int  `json:"scanned"`
	Changed  int  `json:"changed"`
}

// PutDealResponseJSON is the response of PUT /deals/{dealId}.
type PutDealResponseJSON struct {
	Deal    DealJSON  `json:"deal"`
	Created bool      `json:"created"`
	Remap   RemapJSON `json:"remap"`
}

func (a *API) putDeal(ctx context.Context, c caller, dealID string, req events.APIGatewayV2HTTPRequest) (int, any, error) {
	if !c.admin {
		return 0, nil, forbidden("writing deals needs the admin role")
	}
	if e := validateDealID(dealID); e != nil {
		return 0, nil, e
	}
	var in DealJSON
	if e := decodeBody(req, &in); e != nil {
		return 0, nil, e
	}
	if in.DealID != "" && in.DealID != dealID {
		return 0, nil, badRequest("dealId", "body dealId %.40q differs from the path's %s: omit it or make them equal", in.DealID, dealID)
	}
	if in.Open == nil {
		return 0, nil, badRequest("open", "open is missing: pass true for an open deal and false for a won or lost one")
	}
	d := store.Deal{
		DealID: dealID, Name: in.Name,
		SalesforceOpportunityID: in.SalesforceOpportunityID, SalesforceAccountID: in.SalesforceAccountID,
		HubSpotDealID: in.HubSpotDealID, HubSpotCompanyID: in.HubSpotCompanyID,
		ContactEmails: in.ContactEmails, Open: *in.Open,
	}
	if in.CreatedAt != nil {
		d.CreatedAt = *in.CreatedAt
	}
	stored, created, err := c.tenant.PutDeal(ctx, d)
	if err != nil {
		if errors.Is(err, store.ErrDealConflict) {
			return 0, nil, err
		}
		// The remaining store errors are validation failures naming the value.
		return 0, nil, badRequest("", "%s", strings.TrimPrefix(err.Error(), "store: "))
	}
	a.logger().InfoContext(ctx, "deal written", "tenant_id", c.tenant.ID(), "deal_id", dealID, "created", created)

	budget := a.RemapBudget
	if budget <= 0 {
		budget = DefaultRemapBudget
	}
	remapCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	stats, err := a.Mapper.RemapIfStale(remapCtx, c.tenant)
	if err != nil {
		// The deal is stored and the generation stays stale, so the next
		// ingest run remaps; the caller need not retry.
		a.logger().ErrorContext(ctx, "remap after deal write failed", "tenant_id", c.tenant.ID(), "deal_id", dealID, "error", err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return status, PutDealResponseJSON{
		Deal:    dealJSON(stored),
		Created: created,
		Remap:   RemapJSON{Complete: err == nil && stats.Complete, Scanned: stats.Scanned, Changed: stats.Changed},
	}, nil
}

func dealJSON(d store.Deal) DealJSON {
	open := d.Open
	created, updated := d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	emails := d.ContactEmails
	if emails == nil {
		emails = []string{}
	}
	return DealJSON{
		DealID: d.DealID, Name: d.Name,
		SalesforceOpportunityID: d.SalesforceOpportunityID, SalesforceAccountID: d.SalesforceAccountID,
		HubSpotDealID: d.HubSpotDealID, HubSpotCompanyID: d.HubSpotCompanyID,
		ContactEmails: emails, Open: &open, CreatedAt: &created, UpdatedAt: &updated,
	}
}

// maxBodyBytes bounds request bodies; a deal with the maximum number of
// contacts fits well inside.
const maxBodyBytes = 256 << 10

func decodeBody(req events.APIGatewayV2HTTPRequest, out any) *apiError {
	body := req.Body
	if req.IsBase64Encoded {
		return badRequest("", "the body is base64-encoded: send it as application/json text")
	}
	if len(body) > maxBodyBytes {
		return badRequest("", "the body is %d bytes: send at most %d", len(body), maxBodyBytes)
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return badRequest("", "the body is not valid JSON for this route: %v", err)
	}
	return nil
}
