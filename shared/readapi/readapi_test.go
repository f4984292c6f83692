package readapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/readapi"
	"github.com/dealdesk/gongingest/shared/store"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type fixture struct {
	api    *readapi.API
	store  *store.Store
	orgA   string
	orgB   string
	tenant map[string]*store.Tenant
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	clients := localaws.StartKumo(t)
	ctx := context.Background()
	if err := store.EnsureTable(ctx, clients.DynamoDB, store.DefaultTableName); err != nil {
		t.Fatalf("create table: %v", err)
	}
	s := store.New(clients.DynamoDB, store.DefaultTableName)
	s.Now = func() time.Time { return t0 }
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// In-process kumo servers share their tables, so each test names its
	// own organizations.
	f := fixture{
		api:    &readapi.API{Store: s, Mapper: mapping.New(logger), Logger: logger, Now: func() time.Time { return t0.Add(time.Hour) }},
		store:  s,
		orgA:   "orgA-" + t.Name(),
		orgB:   "orgB-" + t.Name(),
		tenant: map[string]*store.Tenant{},
	}
	for _, org := range []string{f.orgA, f.orgB} {
		tn, err := s.Tenant(org)
		if err != nil {
			t.Fatalf("Tenant: %v", err)
		}
		f.tenant[org] = tn
	}
	return f
}

// do sends a request as a member (or admin) of org and decodes the JSON body.
func (f fixture) do(t *testing.T, org, role, method, target, body string) (int, map[string]any) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parse %s: %v", target, err)
	}
	query := map[string]string{}
	for k, v := range u.Query() {
		query[k] = v[0]
	}
	req := events.APIGatewayV2HTTPRequest{
		RouteKey:              "$default",
		RawPath:               u.Path,
		QueryStringParameters: query,
		Body:                  body,
	}
	req.RequestContext.HTTP.Method = method
	if org != "" {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"org_id": org, "sub": "user-" + org, "role": role},
			},
		}
	}
	resp, err := f.api.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, target, resp.Body, err)
	}
	if resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("Content-Type = %q", resp.Headers["Content-Type"])
	}
	return resp.StatusCode, out
}

// seedOrg writes a deal through the API and two calls that map to it.
func (f fixture) seedOrg(t *testing.T, org string) {
	t.Helper()
	ctx := context.Background()
	tn := f.tenant[org]
	for i, id := range []string{"5001", "5002"} {
		c := calls.Call{
			CallID: id, Title: "Call " + id, Started: t0.Add(time.Duration(i) * time.Hour), DurationSec: 600,
			Participants: []calls.Participant{
				{PartyID: "p1", Name: "Alex Rep", Email: "alex@us.example", Affiliation: calls.AffiliationInternal, SpeakerID: "s1", GongUserID: "u1"},
				{PartyID: "p2", Name: "Pat Buyer", Email: "pat@acme.example", Affiliation: calls.AffiliationExternal, SpeakerID: "s2"},
			},
			Media: calls.Media{AudioURL: "https://media.example/a.mp3", ExpiresAt: t0.Add(calls.MediaURLLifetime)},
		}
		if _, err := tn.PutCall(ctx, c); err != nil {
			t.Fatalf("PutCall: %v", err)
		}
		if _, err := f.api.Mapper.MapCall(ctx, tn, c); err != nil {
			t.Fatalf("MapCall: %v", err)
		}
	}
	status, body := f.do(t, org, "admin", "PUT", "/deals/deal-1", `{"name":"Acme","contactEmails":["Pat@Acme.example"],"open":true}`)
	if status != 201 {
		t.Fatalf("PUT /deals/deal-1 = %d %v, want 201", status, body)
	}
	remap := body["remap"].(map[string]any)
	if remap["complete"] != true || remap["changed"] != float64(2) {
		t.Fatalf("remap after deal upsert = %v, want complete with 2 changed", remap)
	}
}

func TestDealCallsListAndCursor(t *testing.T) {
	f := newFixture(t)
	f.seedOrg(t, f.orgA)

	status, body := f.do(t, f.orgA, "", "GET", "/deals/deal-1/calls?limit=1", "")
	if status != 200 {
		t.Fatalf("list = %d %v", status, body)
	}
	list := body["calls"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["callId"] != "5002" {
		t.Fatalf("first page = %v, want the newest call 5002", list)
	}
	mapping := list[0].(map[string]any)["mapping"].(map[string]any)
	if mapping["rule"] != store.RuleContactEmail || mapping["key"] != "pat@acme.example" {
		t.Errorf("mapping = %v, want contact_email by pat@acme.example", mapping)
	}
	cursor, _ := body["nextCursor"].(string)
	if cursor == "" {
		t.Fatalf("first page has no nextCursor: %v", body)
	}
	status, body = f.do(t, f.orgA, "", "GET", "/deals/deal-1/calls?limit=1&cursor="+cursor, "")
	if status != 200 {
		t.Fatalf("second page = %d %v", status, body)
	}
	if list := body["calls"].([]any); len(list) != 1 || list[0].(map[string]any)["callId"] != "5001" {
		t.Errorf("second page = %v, want 5001", list)
	}

	tests := []struct {
		name, target, field string
		status              int
	}{
		{"limit zero", "/deals/deal-1/calls?limit=0", "limit", 400},
		{"limit too large", "/deals/deal-1/calls?limit=101", "limit", 400},
		{"garbage cursor", "/deals/deal-1/calls?cursor=%21%21", "cursor", 400},
		{"cursor of another deal", "/deals/deal-2/calls?cursor=" + cursor, "cursor", 400},
		{"missing deal", "/deals/nope/calls", "dealId", 404},
		{"deal id with a hash", "/deals/a%23b/calls", "dealId", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, f.orgA, "", "GET", tt.target, "")
			if status != tt.status {
				t.Errorf("status = %d, want %d (%v)", status, tt.status, body)
			}
			if body["field"] != tt.field {
				t.Errorf("field = %v, want %s", body["field"], tt.field)
			}
			if msg, _ := body["error"].(string); msg == "" {
				t.Errorf("error message is empty")
			}
		})
	}
}

// TestDealCallsRejectsMalformedPosition sends cursors whose digest is right
// for the listing but whose position or shape is not one the API issued.
func TestDealCallsRejectsMalformedPosition(t *testing.T) {
	f := newFixture(t)
	f.seedOrg(t, f.orgA)
	var logs bytes.Buffer
	f.api.Logger = slog.New(slog.NewJSONHandler(&logs, nil))

	_, body := f.do(t, f.orgA, "", "GET", "/deals/deal-1/calls?limit=1", "")
	valid, _ := body["nextCursor"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(valid)
	if err != nil {
		t.Fatalf("decode nextCursor %q: %v", valid, err)
	}
	var issued struct {
		After   string `json:"a"`
		Binding string `json:"b"`
	}
	if err := json.Unmarshal(raw, &issued); err != nil {
		t.Fatalf("decode nextCursor JSON %s: %v", raw, err)
	}
	encode := func(v any) string {
		return base64.RawURLEncoding.EncodeToString([]byte(mustJSON(t, v)))
	}
	withPosition := func(after any) string {
		return encode(map[string]any{"a": after, "b": issued.Binding})
	}
	started, callID, _ := strings.Cut(issued.After, "#")

	tests := []struct {
		name, cursor string
	}{
		{"position garbage", withPosition("garbage")},
		{"position of 5000 characters", withPosition(strings.Repeat("x", 5000))},
		{"position a number", withPosition(42)},
		{"position empty", withPosition("")},
		{"position without call id", withPosition(started + "#")},
		{"position without time", withPosition("#" + callID)},
		{"position time not UTC", withPosition("2026-03-02T12:00:00+01:00#" + callID)},
		{"position time with fraction", withPosition("2026-03-02T11:00:00.5Z#" + callID)},
		{"position call id with a hash", withPosition(started + "#" + callID + "#x")},
		{"position call id too long", withPosition(started + "#" + strings.Repeat("9", 129))},
		{"binding missing", encode(map[string]any{"a": issued.After})},
		{"unknown field", encode(map[string]any{"a": issued.After, "b": issued.Binding, "t": f.orgB})},
		{"trailing data", base64.RawURLEncoding.EncodeToString(append(raw, []byte(` {}`)...))},
		{"token of 5000 characters", strings.Repeat("A", 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			status, body := f.do(t, f.orgA, "", "GET", "/deals/deal-1/calls?cursor="+url.QueryEscape(tt.cursor), "")
			if status != 400 {
				t.Errorf("status = %d, want 400 (%v)", status, body)
			}
			if body["field"] != "cursor" {
				t.Errorf("field = %v, want cursor", body["field"])
			}
			msg, _ := body["error"].(string)
			if !strings.Contains(msg, "cursor is malformed") && !strings.Contains(msg, "another deal listing") {
				t.Errorf("error = %q, want it to say the cursor is malformed", msg)
			}
			if strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("rejected cursor logged an error: %s", logs.String())
			}
			if n := logs.Len(); n > 1024 {
				t.Errorf("rejected cursor logged %d bytes, want at most 1024", n)
			}
		})
	}

	// The issued cursor still works after the rejected ones.
	if status, body := f.do(t, f.orgA, "", "GET", "/deals/deal-1/calls?limit=1&cursor="+valid, ""); status != 200 {
		t.Errorf("issued cursor = %d %v, want 200", status, body)
	}
}

func TestGetCallDetails(t *testing.T) {
	f := newFixture(t)
	f.seedOrg(t, f.orgA)
	ctx := context.Background()
	tn := f.tenant[f.orgA]
	topic := "Pricing"
	_, err := tn.PutTranscript(ctx, calls.Transcript{CallID: "5001", Monologues: []calls.Monologue{
		{SpeakerID: "s2", SpeakerName: calls.UnknownSpeaker, Topic: &topic, Sentences: []calls.Sentence{{StartMs: 0, EndMs: 900, Text: "Hello"}}},
		{SpeakerID: "", SpeakerName: calls.UnknownSpeaker, Sentences: []calls.Sentence{{StartMs: 1000, EndMs: 1500, Text: "Hi"}}},
	}})
	if err != nil {
		t.Fatalf("PutTranscript: %v", err)
	}

	status, body := f.do(t, f.orgA, "", "GET", "/calls/5001", "")
	if status != 200 {
		t.Fatalf("GET /calls/5001 = %d %v", status, body)
	}
	if n := len(body["participants"].([]any)); n != 2 {
		t.Errorf("participants = %d, want 2", n)
	}
	tr := body["transcript"].(map[string]any)
	if tr["status"] != calls.TranscriptComplete {
		t.Errorf("transcript status = %v, want complete", tr["status"])
	}
	monos := tr["monologues"].([]any)
	if len(monos) != 2 {
		t.Fatalf("monologues = %d, want 2", len(monos))
	}
	if name := monos[0].(map[string]any)["speakerName"]; name != "Pat Buyer" {
		t.Errorf("first speaker = %v, want Pat Buyer", name)
	}
	if name := monos[1].(map[string]any)["speakerName"]; name != calls.UnknownSpeaker {
		t.Errorf("second speaker = %v, want %s", name, calls.UnknownSpeaker)
	}
	media := body["media"].(map[string]any)
	if media["expired"] != false || media["audioUrl"] == "" {
		t.Errorf("media = %v, want a live audio URL", media)
	}
	if m := body["mapping"].(map[string]any); m["dealId"] != "deal-1" || m["dealName"] != "Acme" {
		t.Errorf("mapping = %v, want deal-1 Acme", m)
	}

	// Nine hours after t0 the 8-hour URLs have expired.
	f.api.Now = func() time.Time { return t0.Add(9 * time.Hour) }
	_, body = f.do(t, f.orgA, "", "GET", "/calls/5001", "")
	if media := body["media"].(map[string]any); media["expired"] != true {
		t.Errorf("media after expiry = %v, want expired", media)
	}

	if status, body := f.do(t, f.orgA, "", "GET", "/calls/9999", ""); status != 404 || body["field"] != "callId" {
		t.Errorf("missing call = %d %v, want 404 on callId", status, body)
	}
}

func TestAssignAndExplain(t *testing.T) {
	f := newFixture(t)
	f.seedOrg(t, f.orgA)
	ctx := context.Background()
	tn := f.tenant[f.orgA]
	if err := tn.PutSkip(ctx, store.Skip{CallID: "6001", Reason: calls.SkipPrivate, Title: "Board call", Started: t0, SeenAt: t0}); err != nil {
		t.Fatalf("PutSkip: %v", err)
	}
	if status, _ := f.do(t, f.orgA, "admin", "PUT", "/deals/deal-2", `{"name":"Other","open":true}`); status != 201 {
		t.Fatalf("PUT /deals/deal-2 = %d", status)
	}

	explain := func(id string) map[string]any {
		t.Helper()
		status, body := f.do(t, f.orgA, "", "GET", "/calls/"+id+"/explain", "")
		if status != 200 {
			t.Fatalf("explain %s = %d %v", id, status, body)
		}
		return body
	}
	if e := explain("5001"); e["status"] != readapi.ExplainMapped || e["rule"] != store.RuleContactEmail || e["key"] != "pat@acme.example" {
		t.Errorf("explain mapped = %v", e)
	}
	if e := explain("6001"); e["status"] != readapi.ExplainSkipped || e["reason"] != calls.SkipPrivate || e["skippedAt"] == nil {
		t.Errorf("explain skipped = %v", e)
	}
	if e := explain("7777"); e["status"] != readapi.ExplainNotSynced {
		t.Errorf("explain unknown = %v", e)
	}

	status, body := f.do(t, f.orgA, "", "PUT", "/calls/5001/deal", `{"dealId":"deal-2"}`)
	if status != 200 {
		t.Fatalf("assign = %d %v", status, body)
	}
	if e := explain("5001"); e["status"] != readapi.ExplainManual || e["dealId"] != "deal-2" || e["mappedBy"] != "user-"+f.orgA {
		t.Errorf("explain after assign = %v", e)
	}
	// A deal change and its remap keep the manual assignment.
	if status, _ := f.do(t, f.orgA, "admin", "PUT", "/deals/deal-1", `{"name":"Acme","contactEmails":["pat@acme.example","lee@acme.example"],"open":true}`); status != 200 {
		t.Fatalf("update deal-1 = %d", status)
	}
	if e := explain("5001"); e["dealId"] != "deal-2" {
		t.Errorf("remap moved a manual assignment: %v", e)
	}
	status, body = f.do(t, f.orgA, "", "DELETE", "/calls/5001/deal", "")
	if status != 200 {
		t.Fatalf("unassign = %d %v", status, body)
	}
	if e := explain("5001"); e["status"] != readapi.ExplainManual || e["dealId"] != nil {
		t.Errorf("explain after unassign = %v", e)
	}

	tests := []struct {
		name, method, target, body, field string
		status                            int
	}{
		{"unknown deal", "PUT", "/calls/5002/deal", `{"dealId":"nope"}`, "dealId", 404},
		{"missing deal id", "PUT", "/calls/5002/deal", `{}`, "dealId", 400},
		{"unknown field", "PUT", "/calls/5002/deal", `{"dealId":"deal-2","tenant":"x"}`, "", 400},
		{"not JSON", "PUT", "/calls/5002/deal", `deal-2`, "", 400},
		{"unknown call", "PUT", "/calls/9999/deal", `{"dealId":"deal-2"}`, "callId", 404},
		{"call id with a hash", "GET", "/calls/CALL%23x", "", "callId", 400},
		{"deal write without admin role", "PUT", "/deals/deal-3", `{"open":true}`, "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, f.orgA, "member", tt.method, tt.target, tt.body)
			if status != tt.status {
				t.Errorf("status = %d, want %d (%v)", status, tt.status, body)
			}
			if tt.field != "" && body["field"] != tt.field {
				t.Errorf("field = %v, want %s", body["field"], tt.field)
			}
		})
	}
}

// TestTenantIsolation ensures a user of org B can never read, list, assign or
// explain org A's calls and deals, whatever ids or cursors it sends.
func TestTenantIsolation(t *testing.T) {
	f := newFixture(t)
	f.seedOrg(t, f.orgA)

	// A cursor captured from org A.
	_, body := f.do(t, f.orgA, "", "GET", "/deals/deal-1/calls?limit=1", "")
	cursorA, _ := body["nextCursor"].(string)
	if cursorA == "" {
		t.Fatalf("org A listing has no cursor")
	}

	checks := []struct {
		name, method, target, body string
		status                     int
	}{
		{"read A's call", "GET", "/calls/5001", "", 404},
		{"list A's deal", "GET", "/deals/deal-1/calls", "", 404},
		{"list A's deal with A's cursor", "GET", "/deals/deal-1/calls?cursor=" + cursorA, "", 400},
		{"assign A's call to A's deal", "PUT", "/calls/5001/deal", `{"dealId":"deal-1"}`, 404},
		{"unassign A's call", "DELETE", "/calls/5001/deal", "", 404},
		{"tenant in the body is rejected", "PUT", "/calls/5001/deal", `{"dealId":"deal-1","orgId":"` + f.orgA + `"}`, 400},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			status, body := f.do(t, f.orgB, "admin", c.method, c.target, c.body)
			if status != c.status {
				t.Errorf("status = %d, want %d (%v)", status, c.status, body)
			}
			if strings.Contains(mustJSON(t, body), "Pat Buyer") || strings.Contains(mustJSON(t, body), "pat@acme.example") {
				t.Errorf("response leaks org A data: %v", body)
			}
		})
	}
	status, body := f.do(t, f.orgB, "", "GET", "/calls/5001/explain", "")
	if status != 200 || body["status"] != readapi.ExplainNotSynced || body["title"] != nil {
		t.Errorf("explain of A's call as B = %d %v, want not_synced without details", status, body)
	}

	// Org B creates its own deal with the same id: it sees only its own,
	// empty, listing, and A's cursor is still rejected.
	if status, _ := f.do(t, f.orgB, "admin", "PUT", "/deals/deal-1", `{"name":"B deal","contactEmails":["pat@acme.example"],"open":true}`); status != 201 {
		t.Fatalf("org B deal upsert = %d", status)
	}
	status, body = f.do(t, f.orgB, "", "GET", "/deals/deal-1/calls", "")
	if status != 200 || len(body["calls"].([]any)) != 0 {
		t.Errorf("org B listing = %d %v, want its own empty list", status, body)
	}
	if status, _ := f.do(t, f.orgB, "", "GET", "/deals/deal-1/calls?cursor="+cursorA, ""); status != 400 {
		t.Errorf("org B with A's cursor = %d, want 400", status)
	}
	// Org B's deal write and remap did not touch org A.
	status, body = f.do(t, f.orgA, "", "GET", "/deals/deal-1/calls", "")
	if status != 200 || len(body["calls"].([]any)) != 2 {
		t.Errorf("org A listing after B's writes = %d %v, want 2 calls", status, body)
	}
	if m, _ := f.tenant[f.orgA].GetMapping(context.Background(), "5001"); m.Manual || m.DealID != "deal-1" {
		t.Errorf("org A call mapping changed to %+v", m)
	}
	if d, _ := f.tenant[f.orgA].GetDeal(context.Background(), "deal-1"); d.Name != "Acme" {
		t.Errorf("org A deal renamed to %q", d.Name)
	}

	// Claims decide the tenant: none, empty or malformed are rejected.
	for _, org := range []string{"", "a#b"} {
		if status, _ := f.do(t, org, "admin", "GET", "/calls/5001", ""); status != 403 {
			t.Errorf("org claim %q: status = %d, want 403", org, status)
		}
	}
}

// TestRouteKeyAndPathParameters ensures requests matched by API Gateway's
// route keys use their path parameters.
func TestRouteKeyAndPathParameters(t *testing.T) {
	f := newFixture(t)
	f.seedOrg(t, f.orgA)
	req := events.APIGatewayV2HTTPRequest{
		RouteKey:       readapi.RouteGetCall,
		RawPath:        "/prod/calls/5001",
		PathParameters: map[string]string{"callId": "5001"},
	}
	req.RequestContext.HTTP.Method = "GET"
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"org_id": f.orgA}},
	}
	resp, _ := f.api.Handle(context.Background(), req)
	if resp.StatusCode != 200 {
		t.Errorf("status = %d (%s), want 200", resp.StatusCode, resp.Body)
	}
	req.RouteKey, req.PathParameters = "$default", nil
	req.RawPath = "/prod/nothing"
	if resp, _ := f.api.Handle(context.Background(), req); resp.StatusCode != 404 {
		t.Errorf("unknown route status = %d, want 404", resp.StatusCode)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return string(b)
}
