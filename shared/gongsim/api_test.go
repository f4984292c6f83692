package gongsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAPIAuthorization(t *testing.T) {
	tests := []struct {
		name       string
		token      func(f *fixture) string
		wantStatus int
	}{
		{name: "valid", token: func(f *fixture) string { return f.token.AccessToken }, wantStatus: http.StatusOK},
		{name: "missing", token: func(*fixture) string { return "" }, wantStatus: http.StatusUnauthorized},
		{name: "unknown", token: func(*fixture) string { return "sat_nope" }, wantStatus: http.StatusUnauthorized},
		{name: "other company", token: func(f *fixture) string { return f.srv.IssueToken("globex").AccessToken }, wantStatus: http.StatusUnauthorized},
		{name: "expired", token: func(f *fixture) string { f.srv.ExpireAccessTokens("acme"); return f.token.AccessToken }, wantStatus: http.StatusUnauthorized},
		{name: "expired by clock", token: func(f *fixture) string { f.clock.Advance(25 * time.Hour); return f.token.AccessToken }, wantStatus: http.StatusUnauthorized},
		{name: "revoked", token: func(f *fixture) string { f.srv.RevokeCompany("acme"); return f.token.AccessToken }, wantStatus: http.StatusUnauthorized},
		{
			name: "missing scope",
			token: func(f *fixture) string {
				return f.srv.IssueTokenWithScopes("acme", []string{"api:calls:read:basic"}).AccessToken
			},
			wantStatus: http.StatusForbidden,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{Companies: []CompanySpec{{ID: "acme"}, {ID: "globex"}}, CallsPerDay: 1})
			r := send(t, http.MethodGet, f.srv.BaseURL("acme")+"/v2/users", tt.token(f), nil)
			if tt.wantStatus == http.StatusOK {
				if r.status != http.StatusOK {
					t.Fatalf("status = %d; body %s", r.status, r.body)
				}
				return
			}
			assertGongError(t, r, tt.wantStatus)
		})
	}
}

func TestStrictRequests(t *testing.T) {
	from := testNow.Add(-48 * time.Hour).Format(time.RFC3339)
	to := testNow.Format(time.RFC3339)
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%019d", 1_000_000_000_000_000_000+i)
		}
		return out
	}
	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		wantStatus int
		wantInMsg  string
	}{
		{name: "extensive by GET", method: http.MethodGet, path: "/v2/calls/extensive", wantStatus: http.StatusMethodNotAllowed},
		{name: "transcript by PUT", method: http.MethodPut, path: "/v2/calls/transcript", body: `{"filter":{}}`, wantStatus: http.StatusMethodNotAllowed},
		{name: "users by POST", method: http.MethodPost, path: "/v2/users", body: `{}`, wantStatus: http.StatusMethodNotAllowed},
		{name: "listing by POST calls", method: http.MethodPost, path: "/v2/calls", body: map[string]any{"filter": map[string]any{"fromDateTime": from}}, wantStatus: http.StatusBadRequest},
		{name: "broken JSON", method: http.MethodPost, path: "/v2/calls/extensive", body: `{"filter":`, wantStatus: http.StatusBadRequest, wantInMsg: "Malformed"},
		{name: "unknown member", method: http.MethodPost, path: "/v2/calls/extensive", body: `{"filter":{},"limit":100}`, wantStatus: http.StatusBadRequest, wantInMsg: "limit"},
		{name: "missing filter", method: http.MethodPost, path: "/v2/calls/extensive", body: `{"cursor":"x"}`, wantStatus: http.StatusBadRequest, wantInMsg: "filter"},
		{name: "flat call id", method: http.MethodPost, path: "/v2/calls/transcript", body: `{"call_id":"1234"}`, wantStatus: http.StatusBadRequest},
		{name: "empty callIds", method: http.MethodPost, path: "/v2/calls/transcript", body: map[string]any{"filter": map[string]any{"callIds": []string{}}}, wantStatus: http.StatusBadRequest, wantInMsg: "callIds"},
		{name: "101 callIds", method: http.MethodPost, path: "/v2/calls/transcript", body: map[string]any{"filter": map[string]any{"callIds": ids(101)}}, wantStatus: http.StatusBadRequest, wantInMsg: "callIds"},
		{name: "101 callIds extensive", method: http.MethodPost, path: "/v2/calls/extensive", body: map[string]any{"filter": map[string]any{"callIds": ids(101)}}, wantStatus: http.StatusBadRequest, wantInMsg: "callIds"},
		{name: "duplicate callIds", method: http.MethodPost, path: "/v2/calls/extensive", body: map[string]any{"filter": map[string]any{"callIds": []string{"12", "12"}}}, wantStatus: http.StatusBadRequest, wantInMsg: "duplicate"},
		{name: "numeric callId", method: http.MethodPost, path: "/v2/calls/extensive", body: `{"filter":{"callIds":[12]}}`, wantStatus: http.StatusBadRequest},
		{name: "workspace with callIds", method: http.MethodPost, path: "/v2/calls/transcript", body: map[string]any{"filter": map[string]any{"callIds": []string{"12"}, "workspaceId": "1"}}, wantStatus: http.StatusBadRequest, wantInMsg: "workspaceId"},
		{name: "date without offset", method: http.MethodPost, path: "/v2/calls/extensive", body: map[string]any{"filter": map[string]any{"fromDateTime": "2026-03-01T09:00:00", "toDateTime": to}}, wantStatus: http.StatusBadRequest, wantInMsg: "offset"},
		{name: "date only", method: http.MethodPost, path: "/v2/calls/transcript", body: map[string]any{"filter": map[string]any{"fromDateTime": "2026-03-01"}}, wantStatus: http.StatusBadRequest, wantInMsg: "fromDateTime"},
		{name: "from after to", method: http.MethodPost, path: "/v2/calls/extensive", body: map[string]any{"filter": map[string]any{"fromDateTime": to, "toDateTime": from}}, wantStatus: http.StatusBadRequest},
		{name: "timing without extended", method: http.MethodPost, path: "/v2/calls/extensive", body: map[string]any{"filter": map[string]any{}, "contentSelector": map[string]any{"context": "Basic", "contextTiming": []string{"Now"}}}, wantStatus: http.StatusBadRequest, wantInMsg: "contextTiming"},
		{name: "unknown context", method: http.MethodPost, path: "/v2/calls/extensive", body: map[string]any{"filter": map[string]any{}, "contentSelector": map[string]any{"context": "Full"}}, wantStatus: http.StatusBadRequest},
		{name: "primaryUserIds on transcript", method: http.MethodPost, path: "/v2/calls/transcript", body: map[string]any{"filter": map[string]any{"primaryUserIds": []string{"1"}}}, wantStatus: http.StatusBadRequest},
		{name: "GET calls without dates", method: http.MethodGet, path: "/v2/calls", wantStatus: http.StatusBadRequest},
		{name: "unknown endpoint", method: http.MethodGet, path: "/v2/calls/search", wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{CallsPerDay: 5, DisableRateLimit: true})
			r := send(t, tt.method, f.srv.BaseURL("acme")+tt.path, f.token.AccessToken, tt.body)
			m := assertGongError(t, r, tt.wantStatus)
			if msg := firstError(m); !strings.Contains(msg, tt.wantInMsg) {
				t.Errorf("message %q does not mention %q", msg, tt.wantInMsg)
			}
		})
	}
}

func TestContentTypeRequired(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 5})
	req, err := http.NewRequest(http.MethodPost, f.srv.BaseURL("acme")+"/v2/calls/extensive", strings.NewReader(`{"filter":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.token.AccessToken)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", resp.StatusCode)
	}
}

// pageIDs reads every page of an extensive window and returns the call ids
// and the number of requests.
func pageIDs(t *testing.T, f *fixture, from, to time.Time) ([]string, int) {
	t.Helper()
	var ids []string
	cursor := ""
	for n := 1; ; n++ {
		r := send(t, http.MethodPost, f.srv.BaseURL("acme")+"/v2/calls/extensive", f.token.AccessToken, windowBody(from, to, cursor))
		if r.status == http.StatusNotFound {
			return ids, n
		}
		if r.status != http.StatusOK {
			t.Fatalf("page %d: status %d; body %s", n, r.status, r.body)
		}
		var page callsPage
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if page.Records.CurrentPageSize != len(page.Calls) || len(page.Calls) > PageSize {
			t.Fatalf("page %d: currentPageSize %d with %d calls", n, page.Records.CurrentPageSize, len(page.Calls))
		}
		for _, c := range page.Calls {
			ids = append(ids, c.MetaData.ID)
		}
		if page.Records.Cursor == "" {
			return ids, n
		}
		cursor = page.Records.Cursor
	}
}

type callsPage struct {
	Records struct {
		TotalRecords      int    `json:"totalRecords"`
		CurrentPageSize   int    `json:"currentPageSize"`
		CurrentPageNumber int    `json:"currentPageNumber"`
		Cursor            string `json:"cursor"`
	} `json:"records"`
	Calls []struct {
		MetaData struct {
			ID string `json:"id"`
		} `json:"metaData"`
	} `json:"calls"`
}

func TestExtensivePaging(t *testing.T) {
	tests := []struct {
		name      string
		days      int
		wantPages func(n int) int
	}{
		{name: "one day", days: 1, wantPages: func(n int) int { return max(1, (n+99)/100) }},
		{name: "ten days", days: 10, wantPages: func(n int) int { return (n + 99) / 100 }},
		{name: "empty window", days: 0, wantPages: func(int) int { return 1 }},
	}
	f := newFixture(t, Config{CallsPerDay: 25, DisableRateLimit: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := testNow.Add(-3 * time.Hour)
			from := to.Add(-time.Duration(tt.days) * 24 * time.Hour)
			if tt.days == 0 {
				from, to = testNow.Add(-100*24*time.Hour), testNow.Add(-99*24*time.Hour)
			}
			want := f.srv.VisibleCallIDs("acme", from, to)
			got, requests := pageIDs(t, f, from, to)
			if !slices.Equal(got, want) {
				t.Errorf("paged %d ids, want the %d visible ids in order", len(got), len(want))
			}
			if requests != tt.wantPages(len(want)) {
				t.Errorf("requests = %d for %d calls, want %d", requests, len(want), tt.wantPages(len(want)))
			}
		})
	}
}

func TestCursorHandling(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 40, DisableRateLimit: true, Companies: []CompanySpec{{ID: "acme"}, {ID: "globex"}}})
	from, to := testNow.Add(-10*24*time.Hour), testNow.Add(-3*time.Hour)
	url := f.srv.BaseURL("acme") + "/v2/calls/extensive"
	first := send(t, http.MethodPost, url, f.token.AccessToken, windowBody(from, to, ""))
	var page1 callsPage
	if err := json.Unmarshal(first.body, &page1); err != nil {
		t.Fatal(err)
	}
	cursor := page1.Records.Cursor
	if cursor == "" {
		t.Fatal("first page has no cursor")
	}

	t.Run("query string cursor ignored", func(t *testing.T) {
		r := send(t, http.MethodPost, url+"?cursor="+cursor, f.token.AccessToken, windowBody(from, to, ""))
		var again callsPage
		if err := json.Unmarshal(r.body, &again); err != nil {
			t.Fatal(err)
		}
		if again.Calls[0].MetaData.ID != page1.Calls[0].MetaData.ID || again.Records.Cursor != cursor {
			t.Error("a cursor in the query string changed the page; want page 1 again")
		}
	})
	t.Run("body cursor advances", func(t *testing.T) {
		r := send(t, http.MethodPost, url, f.token.AccessToken, windowBody(from, to, cursor))
		var page2 callsPage
		if err := json.Unmarshal(r.body, &page2); err != nil {
			t.Fatal(err)
		}
		if page2.Records.CurrentPageNumber != 1 {
			t.Errorf("currentPageNumber = %d, want 1", page2.Records.CurrentPageNumber)
		}
		if page2.Calls[0].MetaData.ID == page1.Calls[0].MetaData.ID {
			t.Error("page 2 starts with the first call of page 1")
		}
	})
	rejects := []struct {
		name string
		send func() response
	}{
		{name: "tampered", send: func() response {
			return send(t, http.MethodPost, url, f.token.AccessToken, windowBody(from, to, cursor[:len(cursor)-2]+"xx"))
		}},
		{name: "other request", send: func() response {
			return send(t, http.MethodPost, url, f.token.AccessToken, windowBody(from.Add(time.Hour), to, cursor))
		}},
		{name: "other endpoint", send: func() response {
			body := map[string]any{"cursor": cursor, "filter": map[string]any{"fromDateTime": from.Format(time.RFC3339), "toDateTime": to.Format(time.RFC3339)}}
			return send(t, http.MethodPost, f.srv.BaseURL("acme")+"/v2/calls/transcript", f.token.AccessToken, body)
		}},
		{name: "other company", send: func() response {
			return send(t, http.MethodPost, f.srv.BaseURL("globex")+"/v2/calls/extensive", f.srv.IssueToken("globex").AccessToken, windowBody(from, to, cursor))
		}},
		{name: "expired", send: func() response {
			f.clock.Advance(2 * time.Hour)
			defer f.clock.Advance(-2 * time.Hour)
			return send(t, http.MethodPost, url, f.token.AccessToken, windowBody(from, to, cursor))
		}},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			m := assertGongError(t, tt.send(), http.StatusBadRequest)
			if !strings.Contains(firstError(m), "cursor") {
				t.Errorf("message %q does not mention the cursor", firstError(m))
			}
		})
	}
}

func TestEmptyWindowIsGong404(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 5})
	tests := []struct {
		name string
		path string
		body any
	}{
		{name: "extensive", path: "/v2/calls/extensive", body: windowBody(testNow.Add(-400*24*time.Hour), testNow.Add(-399*24*time.Hour), "")},
		{name: "transcript unknown id", path: "/v2/calls/transcript", body: map[string]any{"filter": map[string]any{"callIds": []string{"1234567890123456789"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Advance(time.Second)
			m := assertGongError(t, send(t, http.MethodPost, f.srv.BaseURL("acme")+tt.path, f.token.AccessToken, tt.body), http.StatusNotFound)
			if got := firstError(m); got != "No calls found corresponding to the provided filters" {
				t.Errorf("message = %q", got)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name           string
		cfg            Config
		throttle       int
		wantRetryAfter string
	}{
		{name: "fourth in a second", wantRetryAfter: "1"},
		{name: "fixed retry after", cfg: Config{RetryAfter: 30 * time.Second}, wantRetryAfter: "30"},
		{name: "forced", throttle: 1, wantRetryAfter: "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.CallsPerDay = 1
			f := newFixture(t, tt.cfg)
			url := f.srv.BaseURL("acme") + "/v2/users"
			if tt.throttle > 0 {
				f.srv.ThrottleNext("acme", tt.throttle, 7*time.Second)
			} else {
				for i := 0; i < 3; i++ {
					if r := send(t, http.MethodGet, url, f.token.AccessToken, nil); r.status != http.StatusOK {
						t.Fatalf("request %d: status %d", i+1, r.status)
					}
					f.clock.Advance(100 * time.Millisecond)
				}
			}
			r := send(t, http.MethodGet, url, f.token.AccessToken, nil)
			assertGongError(t, r, http.StatusTooManyRequests)
			if got := r.header.Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
			}
			f.clock.Advance(time.Second)
			if r := send(t, http.MethodGet, url, f.token.AccessToken, nil); r.status != http.StatusOK {
				t.Errorf("after waiting: status %d, want 200", r.status)
			}
			if got := f.srv.RateLimited("acme"); got != 1 {
				t.Errorf("RateLimited = %d, want 1", got)
			}
		})
	}
}

func TestRateLimitPerCompany(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 1, Companies: []CompanySpec{{ID: "acme"}, {ID: "globex"}}})
	other := f.srv.IssueToken("globex")
	for i := 0; i < 3; i++ {
		send(t, http.MethodGet, f.srv.BaseURL("acme")+"/v2/users", f.token.AccessToken, nil)
	}
	if r := send(t, http.MethodGet, f.srv.BaseURL("globex")+"/v2/users", other.AccessToken, nil); r.status != http.StatusOK {
		t.Errorf("other company: status %d, want 200", r.status)
	}
}

func TestFailNext(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 1, DisableRateLimit: true})
	f.srv.FailNext("acme", 2, http.StatusBadGateway)
	url := f.srv.BaseURL("acme") + "/v2/users"
	for i := 0; i < 2; i++ {
		assertGongError(t, send(t, http.MethodGet, url, f.token.AccessToken, nil), http.StatusBadGateway)
	}
	if r := send(t, http.MethodGet, url, f.token.AccessToken, nil); r.status != http.StatusOK {
		t.Errorf("third request: status %d, want 200", r.status)
	}
}

func TestUsersPagingAndEdits(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 1, Users: 230, DisableRateLimit: true})
	added := f.srv.AddUser("acme", User{Email: "new.rep@acme.example.com", FirstName: "New", LastName: "Rep", Active: true})
	removed := f.srv.Users("acme")[0].ID
	if !f.srv.RemoveUser("acme", removed) {
		t.Fatal("RemoveUser returned false")
	}
	if !f.srv.UpdateUser("acme", added, func(u *User) { u.Title = "Account Executive" }) {
		t.Fatal("UpdateUser returned false")
	}
	var got []string
	pages := 0
	url := f.srv.BaseURL("acme") + "/v2/users"
	cursor := ""
	for {
		u := url
		if cursor != "" {
			u += "?cursor=" + cursor
		}
		r := send(t, http.MethodGet, u, f.token.AccessToken, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d; body %s", r.status, r.body)
		}
		pages++
		var page struct {
			Records records `json:"records"`
			Users   []struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"users"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			got = append(got, u.ID)
			if u.ID == added && u.Title != "Account Executive" {
				t.Errorf("edited user title = %q", u.Title)
			}
		}
		if page.Records.Cursor == "" {
			break
		}
		cursor = page.Records.Cursor
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3 for 230 users", pages)
	}
	if len(got) != 230 || !slices.Contains(got, added) || slices.Contains(got, removed) {
		t.Errorf("got %d users (added present: %v, removed present: %v)", len(got), slices.Contains(got, added), slices.Contains(got, removed))
	}
	if n := f.srv.Requests("acme")[EndpointUsers]; n != 3 {
		t.Errorf("Requests[users] = %d, want 3", n)
	}
}
