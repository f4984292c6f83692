package gong_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/gong"
)

func TestCallsRequestShape(t *testing.T) {
	clock := newFakeClock()
	g := newFakeGong(t, clock, func(n int, r seen) reply { return ok(callsPage(callIDs(0, 2), "")) })
	c := g.client(t)

	if _, _, err := collectCalls(context.Background(), c, window); err != nil {
		t.Fatalf("Calls: %v", err)
	}
	reqs := g.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v2/calls/extensive" {
		t.Errorf("request = %s %s, want POST /v2/calls/extensive", r.Method, r.Path)
	}
	if r.Query != "" {
		t.Errorf("query = %q, want none: POST filters and cursors belong in the body", r.Query)
	}
	if r.Auth != "Bearer "+testToken {
		t.Errorf("Authorization = %q, want the injected client's bearer token", r.Auth)
	}
	var body struct {
		Cursor          *string `json:"cursor"`
		Filter          map[string]any
		ContentSelector struct {
			Context       string
			ContextTiming []string
			ExposedFields map[string]any
		}
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	if body.Cursor != nil {
		t.Errorf("first page sent cursor %q, want none", *body.Cursor)
	}
	wantFilter := map[string]any{"fromDateTime": "2026-02-27T00:00:00.000Z", "toDateTime": "2026-02-28T00:00:00.000Z"}
	if !reflect.DeepEqual(body.Filter, wantFilter) {
		t.Errorf("filter = %v, want %v", body.Filter, wantFilter)
	}
	if body.ContentSelector.Context != "Extended" {
		t.Errorf("contentSelector.context = %q, want Extended", body.ContentSelector.Context)
	}
	if !reflect.DeepEqual(body.ContentSelector.ContextTiming, []string{"Now", "TimeOfCall"}) {
		t.Errorf("contextTiming = %v, want [Now TimeOfCall]", body.ContentSelector.ContextTiming)
	}
	if body.ContentSelector.ExposedFields["parties"] != true {
		t.Errorf("exposedFields.parties = %v, want true", body.ContentSelector.ExposedFields["parties"])
	}
	if body.ContentSelector.ExposedFields["media"] != true {
		t.Errorf("exposedFields.media = %v, want true", body.ContentSelector.ExposedFields["media"])
	}
}

// Ensure a saved watermark reaches the body filter in UTC, never only the
// query string (a POST ignores its query).
func TestCallsWindowFromWatermark(t *testing.T) {
	eastern := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name     string
		from, to time.Time
		wantFrom string
		wantTo   string
	}{
		{"utc watermark", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC), "2026-03-01T00:00:00.000Z", "2026-03-01T06:00:00.000Z"},
		{"offset converted", time.Date(2026, 2, 28, 19, 0, 0, 0, eastern), time.Date(2026, 3, 1, 1, 0, 0, 0, eastern), "2026-03-01T00:00:00.000Z", "2026-03-01T06:00:00.000Z"},
		{"milliseconds kept", time.Date(2026, 3, 1, 0, 0, 0, 197_000_000, time.UTC), time.Date(2026, 3, 1, 0, 0, 1, 0, time.UTC), "2026-03-01T00:00:00.197Z", "2026-03-01T00:00:01.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return gongError(404, noCallsMessage) })
			if _, _, err := collectCalls(context.Background(), g.client(t), gong.CallFilter{From: tt.from, To: tt.to}); err != nil {
				t.Fatalf("Calls: %v", err)
			}
			r := g.requests()[0]
			filter, _ := r.bodyJSON(t)["filter"].(map[string]any)
			if filter["fromDateTime"] != tt.wantFrom {
				t.Errorf("fromDateTime = %v, want %s", filter["fromDateTime"], tt.wantFrom)
			}
			if filter["toDateTime"] != tt.wantTo {
				t.Errorf("toDateTime = %v, want %s", filter["toDateTime"], tt.wantTo)
			}
			if r.Query != "" {
				t.Errorf("query = %q, want none", r.Query)
			}
		})
	}
}

// Ensure the cursor goes in the JSON body and every page is delivered once.
func TestCallsCursorInBody(t *testing.T) {
	all := callIDs(0, 250)
	g := newFakeGong(t, newFakeClock(), func(n int, r seen) reply {
		switch r.cursorInBody(t) {
		case "":
			return ok(callsPage(all[:100], "c1"))
		case "c1":
			return ok(callsPage(all[100:200], "c2"))
		case "c2":
			return ok(callsPage(all[200:], ""))
		}
		return gongError(400, "cursor is invalid")
	})
	calls, pages, err := collectCalls(context.Background(), g.client(t), window)
	if err != nil {
		t.Fatalf("Calls: %v", err)
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	if !reflect.DeepEqual(ids(calls), all) {
		t.Errorf("got %d calls, want the 250 ids in order", len(calls))
	}
	for i, r := range g.requests() {
		if r.Query != "" {
			t.Errorf("request %d query = %q, want the cursor only in the body", i, r.Query)
		}
		filter, _ := r.bodyJSON(t)["filter"].(map[string]any)
		if filter["fromDateTime"] != "2026-02-27T00:00:00.000Z" {
			t.Errorf("request %d changed the filter: %v", i, filter)
		}
	}
}

// Ensure a pager that would loop stops with ErrCursorLoop.
func TestCallsCursorLoop(t *testing.T) {
	a, b := callIDs(0, 100), callIDs(100, 100)
	tests := []struct {
		name      string
		pages     []string // reply per request; the last repeats
		wantErr   bool
		wantPages int
		wantCalls int
	}{
		{"server ignores cursor", []string{callsPage(a, "c1")}, true, 1, 100},
		{"same cursor new ids", []string{callsPage(a, "c1"), callsPage(b, "c1")}, true, 2, 200},
		{"only repeated ids", []string{callsPage(a, "c1"), callsPage(a, "c2")}, true, 1, 100},
		{"partial overlap", []string{callsPage(a, "c1"), callsPage(append(a[50:], b...), "")}, false, 2, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGong(t, newFakeClock(), func(n int, r seen) reply {
				return ok(tt.pages[min(n, len(tt.pages)-1)])
			})
			calls, pages, err := collectCalls(context.Background(), g.client(t), window)
			if got := errors.Is(err, gong.ErrCursorLoop); got != tt.wantErr {
				t.Fatalf("errors.Is(err, ErrCursorLoop) = %v, want %v (err %v)", got, tt.wantErr, err)
			}
			if pages != tt.wantPages {
				t.Errorf("pages = %d, want %d", pages, tt.wantPages)
			}
			if len(calls) != tt.wantCalls {
				t.Errorf("calls = %d, want %d", len(calls), tt.wantCalls)
			}
			if n := len(g.requests()); n > 3 {
				t.Errorf("requests = %d, want the loop caught within 3", n)
			}
		})
	}
}

// Ensure "no calls" 404s are empty results and every other failure is an
// error of the right kind, retried only when retrying can help.
func TestCallsErrorClassification(t *testing.T) {
	tests := []struct {
		name         string
		reply        reply
		wantKind     gong.ErrorKind // 0 means no error
		wantRequests int
		wantScope    string
	}{
		{"404 no calls", gongError(404, noCallsMessage), 0, 1, ""},
		{"401 unauthorized", gongError(401, "Token has expired"), gong.KindUnauthorized, 1, ""},
		{"403 missing scope", gongError(403, "The access token lacks scope api:calls:read:extensive"), gong.KindForbidden, 1, "api:calls:read:extensive"},
		{"404 other body", gongError(404, "Call ID 894411314421502864 was not found"), gong.KindNotFound, 1, ""},
		{"404 without body", reply{status: 404}, gong.KindNotFound, 1, ""},
		{"400 expired cursor", gongError(400, "cursor has expired"), gong.KindInvalidRequest, 1, ""},
		{"405 wrong method", gongError(405, "Method not allowed"), gong.KindInvalidRequest, 1, ""},
		{"500 persists", gongError(500, "An error has occurred"), gong.KindUnavailable, 3, ""},
		{"503 html body", reply{status: 503, body: "<html>down</html>"}, gong.KindUnavailable, 3, ""},
		{"429 persists", reply{status: 429, body: `{"requestId":"r","errors":["limit"]}`, header: map[string]string{"Retry-After": "2"}}, gong.KindRateLimited, 3, ""},
		{"200 not json", ok("<html>proxy</html>"), gong.KindMalformed, 1, ""},
		{"200 calls not array", ok(`{"requestId":"r","records":{},"calls":{"a":1}}`), gong.KindMalformed, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return tt.reply })
			c := g.client(t, gong.WithMaxRetries(2))
			_, pages, err := collectCalls(context.Background(), c, window)
			if n := len(g.requests()); n != tt.wantRequests {
				t.Errorf("requests = %d, want %d", n, tt.wantRequests)
			}
			if pages != 0 {
				t.Errorf("pages = %d, want 0", pages)
			}
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("Calls: %v, want an empty result", err)
				}
				return
			}
			var apiErr *gong.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *gong.APIError", err)
			}
			if apiErr.Kind != tt.wantKind {
				t.Errorf("Kind = %s, want %s", apiErr.Kind, tt.wantKind)
			}
			if apiErr.Endpoint != gong.EndpointCalls {
				t.Errorf("Endpoint = %q, want %q", apiErr.Endpoint, gong.EndpointCalls)
			}
			if apiErr.Status != tt.reply.status {
				t.Errorf("Status = %d, want %d", apiErr.Status, tt.reply.status)
			}
			if apiErr.Scope != tt.wantScope {
				t.Errorf("Scope = %q, want %q", apiErr.Scope, tt.wantScope)
			}
			if tt.reply.status != 200 && strings.HasPrefix(tt.reply.body, "{") && apiErr.RequestID == "" {
				t.Errorf("RequestID is empty, want Gong's requestId")
			}
			if strings.Contains(tt.reply.body, "<html>") && strings.Contains(err.Error(), "<html>") {
				t.Errorf("error echoes a non-JSON body: %v", err)
			}
			assertNoSecret(t, "error", err.Error())
		})
	}
}

// Ensure imported calls, nulls, odd types, unknown fields and loosely typed
// CRM values never fail a page.
func TestCallsTolerantParsing(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return ok(readFixture(t, "extensive_tolerant.json")) })
	calls, pages, err := collectCalls(context.Background(), g.client(t), window)
	if err != nil {
		t.Fatalf("Calls: %v", err)
	}
	if pages != 1 {
		t.Errorf("pages = %d, want 1", pages)
	}
	wantIDs := []string{"7431958204417366514", "7431958204417399021", "7431958204417399022", "7431958204417399023"}
	if !reflect.DeepEqual(ids(calls), wantIDs) {
		t.Fatalf("ids = %v, want %v (the call without an id skipped)", ids(calls), wantIDs)
	}
	full, noParties, imported, odd := calls[0], calls[1], calls[2], calls[3]

	t.Run("times in utc", func(t *testing.T) {
		want := time.Date(2025, 3, 4, 16, 1, 12, 412_000_000, time.UTC)
		if !full.Started.Equal(want) || full.Started.Location() != time.UTC {
			t.Errorf("Started = %v, want %v in UTC", full.Started, want)
		}
		if full.Scheduled == nil || !full.Scheduled.Equal(time.Date(2025, 3, 4, 16, 0, 0, 0, time.UTC)) {
			t.Errorf("Scheduled = %v, want 16:00 UTC", full.Scheduled)
		}
		if noParties.Scheduled != nil {
			t.Errorf("Scheduled = %v, want nil for a null", noParties.Scheduled)
		}
		if want := time.Date(2025, 3, 5, 19, 22, 40, 0, time.UTC); !noParties.Started.Equal(want) {
			t.Errorf("Started = %v, want %v", noParties.Started, want)
		}
		if !odd.Started.IsZero() {
			t.Errorf("unparseable Started = %v, want zero", odd.Started)
		}
		if full.RetrievedAt.IsZero() {
			t.Errorf("RetrievedAt is zero, want the time the page arrived")
		}
	})
	t.Run("metadata", func(t *testing.T) {
		if full.DurationSec != 2780 || noParties.DurationSec != 412 || odd.DurationSec != 95 {
			t.Errorf("durations = %d, %d, %d, want 2780, 412, 95", full.DurationSec, noParties.DurationSec, odd.DurationSec)
		}
		if noParties.Title != "" {
			t.Errorf("null title = %q, want empty", noParties.Title)
		}
		if !noParties.IsPrivate {
			t.Errorf("IsPrivate from string \"true\" = false, want true")
		}
		if full.Purpose != "" {
			t.Errorf("null purpose = %q, want empty", full.Purpose)
		}
		if full.AudioURL == "" || full.VideoURL == "" || noParties.VideoURL != "" {
			t.Errorf("media = %q %q %q, want both URLs for the video call and no video URL for the audio call", full.AudioURL, full.VideoURL, noParties.VideoURL)
		}
	})
	t.Run("parties", func(t *testing.T) {
		if len(noParties.Parties) != 0 || len(imported.Parties) != 0 || len(odd.Parties) != 0 {
			t.Errorf("parties = %d, %d, %d, want none for missing, empty and mistyped parties", len(noParties.Parties), len(imported.Parties), len(odd.Parties))
		}
		if len(full.Parties) != 4 {
			t.Fatalf("parties = %d, want 4", len(full.Parties))
		}
		rep, anonymous, internal, buyer := full.Parties[0], full.Parties[1], full.Parties[2], full.Parties[3]
		if rep.UserID != "5123987712234450981" || rep.SpeakerID != "8841203397712450001" || !reflect.DeepEqual(rep.Methods, []string{"Invitee", "Attendee"}) {
			t.Errorf("rep = %+v", rep)
		}
		if anonymous.SpeakerID != "s2" || anonymous.Name != "" || anonymous.Email != "" || anonymous.Affiliation != "External" {
			t.Errorf("party without name and email = %+v", anonymous)
		}
		if internal.UserID == "" || internal.Email != "" || internal.SpeakerID != "" || internal.Title != "" {
			t.Errorf("internal party without email = %+v", internal)
		}
		if buyer.Phone != "+1 555-010-0199" || len(buyer.Context) != 1 || buyer.Context[0].Objects[0].ObjectType != "Contact" {
			t.Errorf("buyer = %+v", buyer)
		}
	})
	t.Run("crm context", func(t *testing.T) {
		if len(full.Context) != 1 || len(full.Context[0].Objects) != 2 {
			t.Fatalf("context = %+v, want one system with two objects", full.Context)
		}
		opp, acct := full.Context[0].Objects[0], full.Context[0].Objects[1]
		if opp.ObjectType != "Opportunity" || opp.ObjectID != "" || string(opp.Fields[0].Value) != "null" {
			t.Errorf("opportunity = %+v, want empty id and a null Name kept", opp)
		}
		if acct.ObjectID != "001X" || string(acct.Fields[1].Value) != "1200000" || string(acct.Fields[2].Value) != `"false"` {
			t.Errorf("account = %+v, want raw values 1200000 and \"false\"", acct)
		}
		if len(noParties.Context) != 0 || len(odd.Context) != 0 {
			t.Errorf("context of calls without it = %v, %v, want none", noParties.Context, odd.Context)
		}
		if len(imported.Context) != 1 || imported.Context[0].Objects[0].Timing != "TimeOfCall" || imported.Context[0].Objects[0].ObjectType != "Deal" {
			t.Errorf("TimeOfCall-only context = %+v", imported.Context)
		}
	})
}

func TestCallsByIDsBatches(t *testing.T) {
	all := callIDs(0, 250)
	requested := append(append([]string(nil), all...), all[:10]...) // duplicates sent once
	g := newFakeGong(t, newFakeClock(), func(n int, r seen) reply {
		var body struct{ Filter struct{ CallIDs []string } }
		_ = json.Unmarshal(r.Body, &body)
		return ok(callsPage(body.Filter.CallIDs, ""))
	})
	calls, pages, err := collectCalls(context.Background(), g.client(t), gong.CallFilter{CallIDs: requested})
	if err != nil {
		t.Fatalf("Calls: %v", err)
	}
	if pages != 3 || len(calls) != 250 {
		t.Errorf("pages, calls = %d, %d, want 3, 250", pages, len(calls))
	}
	var sizes []int
	for _, r := range g.requests() {
		filter := r.bodyJSON(t)["filter"].(map[string]any)
		if _, ok := filter["fromDateTime"]; ok {
			t.Errorf("id request also sent fromDateTime: %v", filter)
		}
		sizes = append(sizes, len(filter["callIds"].([]any)))
	}
	if !reflect.DeepEqual(sizes, []int{100, 100, 50}) {
		t.Errorf("batch sizes = %v, want [100 100 50]", sizes)
	}
}

func TestCallsFilterValidation(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		filter gong.CallFilter
		want   string
	}{
		{"empty", gong.CallFilter{}, "filter is empty"},
		{"window and ids", gong.CallFilter{From: day, To: day.Add(time.Hour), CallIDs: []string{"1"}}, "either From/To or CallIDs"},
		{"open ended", gong.CallFilter{From: day}, "set both From and To"},
		{"from after to", gong.CallFilter{From: day.Add(time.Hour), To: day}, "From must be before To"},
		{"from equals to", gong.CallFilter{From: day, To: day}, "From must be before To"},
		{"empty id", gong.CallFilter{CallIDs: []string{"1", ""}}, "call id 2 of 2 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return ok(callsPage(nil, "")) })
			_, _, err := collectCalls(context.Background(), g.client(t), tt.filter)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			if n := len(g.requests()); n != 0 {
				t.Errorf("requests = %d, want 0 for invalid input", n)
			}
		})
	}
}

func TestCallsPageCallbackError(t *testing.T) {
	stop := errors.New("store unavailable")
	g := newFakeGong(t, newFakeClock(), func(n int, r seen) reply { return ok(callsPage(callIDs(n*100, 100), "c"+strconv.Itoa(n+1))) })
	err := g.client(t).Calls(context.Background(), window, func([]gong.Call) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("err = %v, want the callback's error wrapped", err)
	}
	if n := len(g.requests()); n != 1 {
		t.Errorf("requests = %d, want 1: no page after a failed callback", n)
	}
}

// pagedGong serves a window of n calls 100 per page with opaque cursors in
// the body, and transcripts for at most 100 call ids per request, rejecting
// empty and oversized id lists like Gong's limit would.
func pagedGong(t *testing.T, n int) *fakeGong {
	all := callIDs(0, n)
	return newFakeGong(t, newFakeClock(), func(_ int, r seen) reply {
		switch r.Path {
		case "/v2/calls/extensive":
			if n == 0 {
				return gongError(404, noCallsMessage)
			}
			start := 0
			if c := r.cursorInBody(t); c != "" {
				start, _ = strconv.Atoi(strings.TrimPrefix(c, "opaque-"))
			}
			end := min(start+100, n)
			next := ""
			if end < n {
				next = fmt.Sprintf("opaque-%d", end)
			}
			return ok(callsPage(all[start:end], next))
		case "/v2/calls/transcript":
			var body struct{ Filter struct{ CallIDs []string } }
			_ = json.Unmarshal(r.Body, &body)
			if len(body.Filter.CallIDs) == 0 || len(body.Filter.CallIDs) > 100 {
				return gongError(400, "filter.callIds must hold 1 to 100 ids")
			}
			return ok(transcriptsPage(body.Filter.CallIDs, ""))
		}
		return gongError(404, "unknown path")
	})
}

// Ensure a window of N calls costs ceil(N/100) extensive pages and
// ceil(N/100) transcript requests.
func TestRequestCountsPerWindow(t *testing.T) {
	for _, n := range []int{0, 1, 99, 100, 101, 250, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			g := pagedGong(t, n)
			c := g.client(t)
			ctx := context.Background()
			calls, _, err := collectCalls(ctx, c, window)
			if err != nil {
				t.Fatalf("Calls: %v", err)
			}
			if len(calls) != n {
				t.Fatalf("calls = %d, want %d", len(calls), n)
			}
			var transcripts int
			err = c.Transcripts(ctx, ids(calls), func(page []gong.CallTranscript) error {
				transcripts += len(page)
				return nil
			})
			if err != nil {
				t.Fatalf("Transcripts: %v", err)
			}
			if transcripts != n {
				t.Errorf("transcripts = %d, want %d", transcripts, n)
			}
			pagesFor := (n + 99) / 100
			wantCalls := int64(max(pagesFor, 1)) // learning that a window is empty costs one request
			got := c.Requests()
			if got[gong.EndpointCalls] != wantCalls {
				t.Errorf("calls/extensive requests = %d, want %d", got[gong.EndpointCalls], wantCalls)
			}
			if got[gong.EndpointTranscripts] != int64(pagesFor) {
				t.Errorf("calls/transcript requests = %d, want %d", got[gong.EndpointTranscripts], pagesFor)
			}
			if got[gong.EndpointUsers] != 0 {
				t.Errorf("users requests = %d, want 0", got[gong.EndpointUsers])
			}
		})
	}
}
