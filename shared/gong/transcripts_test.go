package gong_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dealdesk/gongingest/shared/gong"
)

func collectTranscripts(ctx context.Context, c *gong.Client, callIDs []string) (ts []gong.CallTranscript, pages int, err error) {
	err = c.Transcripts(ctx, callIDs, func(page []gong.CallTranscript) error {
		pages++
		ts = append(ts, page...)
		return nil
	})
	return ts, pages, err
}

func TestTranscriptsBatching(t *testing.T) {
	tests := []struct {
		name      string
		ids       []string
		wantSizes []int
	}{
		{"no ids sends nothing", nil, nil},
		{"one id", callIDs(0, 1), []int{1}},
		{"exactly 100", callIDs(0, 100), []int{100}},
		{"250 ids", callIDs(0, 250), []int{100, 100, 50}},
		{"duplicates sent once", append(callIDs(0, 100), callIDs(0, 5)...), []int{100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGong(t, newFakeClock(), func(n int, r seen) reply {
				var body struct{ Filter struct{ CallIDs []string } }
				_ = json.Unmarshal(r.Body, &body)
				return ok(transcriptsPage(body.Filter.CallIDs, ""))
			})
			c := g.client(t)
			ts, _, err := collectTranscripts(context.Background(), c, tt.ids)
			if err != nil {
				t.Fatalf("Transcripts: %v", err)
			}
			var sizes []int
			for _, r := range g.requests() {
				if r.Method != "POST" || r.Path != "/v2/calls/transcript" || r.Query != "" {
					t.Errorf("request = %s %s?%s, want POST /v2/calls/transcript without a query", r.Method, r.Path, r.Query)
				}
				filter, _ := r.bodyJSON(t)["filter"].(map[string]any)
				ids, _ := filter["callIds"].([]any)
				sizes = append(sizes, len(ids))
			}
			if !reflect.DeepEqual(sizes, tt.wantSizes) {
				t.Errorf("batch sizes = %v, want %v", sizes, tt.wantSizes)
			}
			want := 0
			for _, s := range tt.wantSizes {
				want += s
			}
			if len(ts) != want {
				t.Errorf("transcripts = %d, want %d", len(ts), want)
			}
			if got := c.Requests()[gong.EndpointTranscripts]; got != int64(len(tt.wantSizes)) {
				t.Errorf("Requests()[calls/transcript] = %d, want %d", got, len(tt.wantSizes))
			}
		})
	}
}

// Ensure a page of calls the caller already stored does not end the read:
// skipping known records and following the cursor are independent.
func TestTranscriptsKnownPageKeepsPaging(t *testing.T) {
	p1, p2, p3 := callIDs(0, 2), callIDs(2, 2), callIDs(4, 2)
	g := newFakeGong(t, newFakeClock(), func(n int, r seen) reply {
		switch r.cursorInBody(t) {
		case "":
			return ok(transcriptsPage(p1, "c2"))
		case "c2":
			return ok(transcriptsPage(p2, "c3"))
		case "c3":
			return ok(transcriptsPage(p3, ""))
		}
		return gongError(400, "bad cursor")
	})
	stored := map[string]bool{p2[0]: true, p2[1]: true}
	var ingested []string
	err := g.client(t).Transcripts(context.Background(), append(append(append([]string{}, p1...), p2...), p3...), func(page []gong.CallTranscript) error {
		for _, tr := range page {
			if !stored[tr.CallID] {
				ingested = append(ingested, tr.CallID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Transcripts: %v", err)
	}
	want := append(append([]string{}, p1...), p3...)
	if !reflect.DeepEqual(ingested, want) {
		t.Errorf("ingested = %v, want %v (page 3 read after an all-known page 2)", ingested, want)
	}
	reqs := g.requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d, want 3", len(reqs))
	}
	if c := reqs[2].cursorInBody(t); c != "c3" {
		t.Errorf("third request cursor = %q, want c3 in the body", c)
	}
}

// Ensure null speaker ids, null topics and odd scalar types keep the page.
func TestTranscriptsNulls(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return ok(readFixture(t, "transcript_nulls.json")) })
	ts, _, err := collectTranscripts(context.Background(), g.client(t), []string{"X", "7431958204417399021"})
	if err != nil {
		t.Fatalf("Transcripts: %v", err)
	}
	if len(ts) != 2 {
		t.Fatalf("transcripts = %d, want 2", len(ts))
	}

	x := ts[0]
	if x.CallID != "X" || len(x.Monologues) != 2 {
		t.Fatalf("first transcript = %+v", x)
	}
	first := x.Monologues[0]
	if first.SpeakerID != "" || first.Topic != nil {
		t.Errorf("null speaker and topic = %q, %v, want empty and nil", first.SpeakerID, first.Topic)
	}
	if !reflect.DeepEqual(first.Sentences, []gong.Sentence{{StartMs: 0, EndMs: 1800, Text: "hello"}}) {
		t.Errorf("sentences = %+v, want the text kept", first.Sentences)
	}

	second := x.Monologues[1]
	if second.Topic == nil || *second.Topic != "Pricing" {
		t.Errorf("topic = %v, want Pricing", second.Topic)
	}
	if s := second.Sentences[0]; s.StartMs != 1900 || s.EndMs != 4200 {
		t.Errorf("float and string offsets = %d..%d, want 1900..4200", s.StartMs, s.EndMs)
	}
	if second.Sentences[1].Text != "" {
		t.Errorf("null text = %q, want empty", second.Sentences[1].Text)
	}

	numeric := ts[1]
	if numeric.CallID != "7431958204417399021" || numeric.Monologues[0].SpeakerID != "8841203397712460001" {
		t.Errorf("numeric ids = %q, %q, want their digits as strings", numeric.CallID, numeric.Monologues[0].SpeakerID)
	}
}

func TestTranscriptsNotReady(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return gongError(404, noCallsMessage) })
	ts, pages, err := collectTranscripts(context.Background(), g.client(t), callIDs(0, 3))
	if err != nil {
		t.Fatalf("Transcripts: %v, want no error while Gong has none yet", err)
	}
	if pages != 0 || len(ts) != 0 {
		t.Errorf("pages, transcripts = %d, %d, want 0, 0", pages, len(ts))
	}
}

func TestTranscriptsEmptyID(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return ok(transcriptsPage(nil, "")) })
	_, _, err := collectTranscripts(context.Background(), g.client(t), []string{"1", ""})
	if err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("err = %v, want an empty-id error", err)
	}
	if n := len(g.requests()); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}

func TestTranscriptsLoop(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return ok(transcriptsPage(callIDs(0, 2), "same")) })
	_, pages, err := collectTranscripts(context.Background(), g.client(t), callIDs(0, 2))
	if !errors.Is(err, gong.ErrCursorLoop) {
		t.Errorf("err = %v, want ErrCursorLoop", err)
	}
	if pages != 1 {
		t.Errorf("pages = %d, want 1", pages)
	}
}
