package gongsim

import (
	"encoding/json"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/store"
)

type transcriptPage struct {
	Records         records `json:"records"`
	CallTranscripts []struct {
		CallID     string `json:"callId"`
		Transcript []struct {
			SpeakerID *string `json:"speakerId"`
			Topic     *string `json:"topic"`
			Sentences []struct {
				Start int64  `json:"start"`
				End   int64  `json:"end"`
				Text  string `json:"text"`
			} `json:"sentences"`
		} `json:"transcript"`
	} `json:"callTranscripts"`
}

func fetchTranscripts(t *testing.T, f *fixture, ids []string) (transcriptPage, int) {
	t.Helper()
	r := send(t, http.MethodPost, f.srv.BaseURL("acme")+"/v2/calls/transcript", f.token.AccessToken, map[string]any{"filter": map[string]any{"callIds": ids}})
	var page transcriptPage
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
	}
	return page, r.status
}

func TestTranscriptLengthAndTiming(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 1, DisableRateLimit: true})
	tests := []struct {
		name     string
		duration time.Duration
	}{
		{name: "short", duration: 5 * time.Minute},
		{name: "typical", duration: 45 * time.Minute},
		{name: "five hours", duration: 5 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := f.srv.AddCall("acme", CallSpec{Started: testNow.Add(-10*time.Hour - tt.duration), Duration: tt.duration})
			page, status := fetchTranscripts(t, f, []string{id})
			if status != http.StatusOK || len(page.CallTranscripts) != 1 {
				t.Fatalf("status %d with %d transcripts", status, len(page.CallTranscripts))
			}
			words := 0
			var last int64
			for _, m := range page.CallTranscripts[0].Transcript {
				for _, s := range m.Sentences {
					words += len(strings.Fields(s.Text))
					if s.Start < last || s.End < s.Start || s.End > tt.duration.Milliseconds() {
						t.Fatalf("sentence [%d, %d] out of order or past the call's end", s.Start, s.End)
					}
					last = s.End
				}
			}
			want := tt.duration.Minutes() * 150
			if float64(words) < want*0.7 || float64(words) > want*1.05 {
				t.Errorf("words = %d, want about %.0f (150 a minute)", words, want)
			}
		})
	}
}

func TestLateCallsAndTranscripts(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 1, DisableRateLimit: true})
	started := testNow.Add(-2 * time.Hour)
	id := f.srv.AddCall("acme", CallSpec{
		Started:      started,
		Duration:     30 * time.Minute,
		VisibleAt:    testNow.Add(time.Hour),
		TranscriptAt: testNow.Add(3 * time.Hour),
	})
	window := windowBody(started.Add(-time.Minute), started.Add(time.Minute), "")
	steps := []struct {
		name             string
		advance          time.Duration
		wantCallStatus   int
		wantTranscriptOK bool
	}{
		{name: "processing", wantCallStatus: http.StatusNotFound},
		{name: "call visible", advance: time.Hour, wantCallStatus: http.StatusOK},
		{name: "transcript ready", advance: 2 * time.Hour, wantCallStatus: http.StatusOK, wantTranscriptOK: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f.clock.Advance(st.advance)
			if r := send(t, http.MethodPost, f.srv.BaseURL("acme")+"/v2/calls/extensive", f.token.AccessToken, window); r.status != st.wantCallStatus {
				t.Errorf("extensive status = %d, want %d", r.status, st.wantCallStatus)
			}
			if _, status := fetchTranscripts(t, f, []string{id}); (status == http.StatusOK) != st.wantTranscriptOK {
				t.Errorf("transcript status = %d, want ready %v", status, st.wantTranscriptOK)
			}
		})
	}
	f.srv.SetTranscriptReady("acme", id, false)
	if _, status := fetchTranscripts(t, f, []string{id}); status != http.StatusNotFound {
		t.Errorf("forced not ready: status %d, want 404", status)
	}
}

func TestDeterministicData(t *testing.T) {
	cfg := Config{Seed: 42, CallsPerDay: 30, End: testNow, Clock: func() time.Time { return testNow }}
	a, b := New(cfg), New(cfg)
	if !reflect.DeepEqual(a.Calls("acme"), b.Calls("acme")) {
		t.Error("same seed gave different calls")
	}
	if !reflect.DeepEqual(a.Users("acme"), b.Users("acme")) {
		t.Error("same seed gave different users")
	}
	cfg.Seed = 43
	if reflect.DeepEqual(a.Calls("acme"), New(cfg).Calls("acme")) {
		t.Error("different seeds gave the same calls")
	}
	ca, cb := a.companies["acme"], b.companies["acme"]
	c := ca.calls[len(ca.calls)/2]
	if !reflect.DeepEqual(ca.transcript(c, ca.details(c)), cb.transcript(cb.byID[c.id], cb.details(cb.byID[c.id]))) {
		t.Error("same seed gave different transcripts")
	}
}

// TestDataVariety checks that a generated company contains every case a
// client must handle.
func TestDataVariety(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 80, Span: 20 * 24 * time.Hour, DisableRateLimit: true})
	seen := map[string]int{}
	from, to := testNow.Add(-21*24*time.Hour), testNow
	cursor := ""
	for {
		r := send(t, http.MethodPost, f.srv.BaseURL("acme")+"/v2/calls/extensive", f.token.AccessToken, windowBody(from, to, cursor))
		if r.status != http.StatusOK {
			t.Fatalf("status %d; body %s", r.status, r.body)
		}
		var page struct {
			Records records          `json:"records"`
			Calls   []map[string]any `json:"calls"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Calls {
			classify(c, seen)
		}
		if page.Records.Cursor == "" {
			break
		}
		cursor = page.Records.Cursor
	}
	for _, kind := range []string{
		"private", "parties absent", "parties empty", "null title", "internal only", "salesforce", "hubspot",
		"no context", "empty object id", "party without email", "party without name", "null speaker",
		"video url", "audio only", "non-UTC start", "fractional start", "party context", "internal without email",
	} {
		if seen[kind] == 0 {
			t.Errorf("no call with %s among %d calls", kind, seen["calls"])
		}
	}
	if n := seen["invalid salesforce id"]; n > 0 {
		t.Errorf("%d Salesforce object ids are not valid 18-character ids", n)
	}
	nullSpeaker, nullTopic := 0, 0
	var ids []string
	for _, c := range f.srv.Calls("acme") {
		if c.Visible && c.TranscriptReady && len(ids) < 100 {
			ids = append(ids, c.ID)
		}
	}
	page, _ := fetchTranscripts(t, f, ids)
	for _, ct := range page.CallTranscripts {
		for _, m := range ct.Transcript {
			if m.SpeakerID == nil {
				nullSpeaker++
			}
			if m.Topic == nil {
				nullTopic++
			}
		}
	}
	if nullSpeaker == 0 || nullTopic == 0 {
		t.Errorf("transcripts: %d null speaker ids and %d null topics, want some of each", nullSpeaker, nullTopic)
	}
}

func classify(c map[string]any, seen map[string]int) {
	seen["calls"]++
	md := c["metaData"].(map[string]any)
	if md["isPrivate"] == true {
		seen["private"]++
	}
	if md["title"] == nil {
		seen["null title"]++
	}
	if md["scope"] == "Internal" {
		seen["internal only"]++
	}
	started := md["started"].(string)
	if !strings.HasSuffix(started, "Z") {
		seen["non-UTC start"]++
	}
	if strings.Contains(started, ".") {
		seen["fractional start"]++
	}
	parties, ok := c["parties"].([]any)
	switch {
	case !ok:
		seen["parties absent"]++
	case len(parties) == 0:
		seen["parties empty"]++
	}
	for _, p := range parties {
		pm := p.(map[string]any)
		if _, ok := pm["emailAddress"]; !ok {
			seen["party without email"]++
			if pm["affiliation"] == "Internal" {
				seen["internal without email"]++
			}
		}
		if _, ok := pm["name"]; !ok {
			seen["party without name"]++
		}
		if pm["speakerId"] == nil {
			seen["null speaker"]++
		}
		if ctx, _ := pm["context"].([]any); len(ctx) > 0 {
			seen["party context"]++
		}
	}
	ctx, _ := c["context"].([]any)
	if len(ctx) == 0 {
		seen["no context"]++
	}
	for _, s := range ctx {
		sm := s.(map[string]any)
		seen[strings.ToLower(sm["system"].(string))]++
		for _, o := range sm["objects"].([]any) {
			id, _ := o.(map[string]any)["objectId"].(string)
			if id == "" {
				seen["empty object id"]++
			} else if sm["system"] == "Salesforce" && (len(id) != 18 || store.NormalizeSalesforceID(id) != id) {
				// The suffix must encode the case of the first 15
				// characters, as in ids Salesforce issues.
				seen["invalid salesforce id"]++
			}
		}
	}
	media, _ := c["media"].(map[string]any)
	if _, ok := media["videoUrl"]; ok {
		seen["video url"]++
	} else if _, ok := media["audioUrl"]; ok {
		seen["audio only"]++
	}
}

func TestMediaURLExpiry(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 1, DisableRateLimit: true})
	id := f.srv.AddCall("acme", CallSpec{Started: testNow.Add(-3 * time.Hour)})
	body := map[string]any{"filter": map[string]any{"callIds": []string{id}}, "contentSelector": map[string]any{"exposedFields": map[string]any{"media": true}}}
	r := send(t, http.MethodPost, f.srv.BaseURL("acme")+"/v2/calls/extensive", f.token.AccessToken, body)
	var page struct {
		Calls []struct {
			Media struct {
				AudioURL string `json:"audioUrl"`
			} `json:"media"`
		} `json:"calls"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Calls) != 1 {
		t.Fatalf("decode page: %v; body %s", err, r.body)
	}
	audio := page.Calls[0].Media.AudioURL
	tests := []struct {
		name    string
		url     string
		advance time.Duration
		want    int
	}{
		{name: "fresh", url: audio, want: http.StatusOK},
		{name: "bad signature", url: strings.Replace(audio, "sig=", "sig=0", 1), want: http.StatusForbidden},
		{name: "just before expiry", url: audio, advance: 8*time.Hour - time.Second, want: http.StatusOK},
		{name: "expired", url: audio, advance: time.Second, want: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Advance(tt.advance)
			if r := send(t, http.MethodGet, tt.url, "", nil); r.status != tt.want {
				t.Errorf("status = %d, want %d", r.status, tt.want)
			}
		})
	}
}

func TestMediaNeedsScope(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 5, DisableRateLimit: true})
	tok := f.srv.IssueTokenWithScopes("acme", []string{"api:calls:read:extensive"})
	body := windowBody(testNow.Add(-5*24*time.Hour), testNow, "")
	m := assertGongError(t, send(t, http.MethodPost, f.srv.BaseURL("acme")+"/v2/calls/extensive", tok.AccessToken, body), http.StatusForbidden)
	if !strings.Contains(firstError(m), "api:calls:read:media-url") {
		t.Errorf("message %q does not name the scope", firstError(m))
	}
}

func TestRequestCounts(t *testing.T) {
	f := newFixture(t, Config{CallsPerDay: 60, DisableRateLimit: true})
	from, to := testNow.Add(-5*24*time.Hour), testNow.Add(-2*time.Hour)
	ids := f.srv.VisibleCallIDs("acme", from, to)
	_, pages := pageIDs(t, f, from, to)
	for start := 0; start < len(ids); start += MaxCallIDs {
		fetchTranscripts(t, f, ids[start:min(len(ids), start+MaxCallIDs)])
	}
	want := (len(ids) + 99) / 100
	got := f.srv.Requests("acme")
	if pages != want || got[EndpointExtensive] != want {
		t.Errorf("extensive requests = %d (pager %d) for %d calls, want %d", got[EndpointExtensive], pages, len(ids), want)
	}
	if got[EndpointTranscript] != want {
		t.Errorf("transcript requests = %d for %d calls, want %d", got[EndpointTranscript], len(ids), want)
	}
	if f.srv.Total() != 2*want {
		t.Errorf("Total = %d, want %d", f.srv.Total(), 2*want)
	}
	f.srv.ResetCounters()
	if f.srv.Total() != 0 || len(f.srv.Requests("acme")) != 0 {
		t.Error("ResetCounters left counts")
	}
}

func TestLargeCompanyStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 10,000 calls")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sim := New(Config{CallsPerDay: 100, Span: 100 * 24 * time.Hour, End: testNow, Clock: func() time.Time { return testNow }})
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := len(sim.Calls("acme")); n != 10000 {
		t.Fatalf("calls = %d, want 10000", n)
	}
	const limit = 16 << 20
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > limit {
		t.Errorf("heap grew by %d bytes for 10,000 calls, want under %d", grown, limit)
	}
	runtime.KeepAlive(sim)
}
