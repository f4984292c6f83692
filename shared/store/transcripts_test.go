package store_test

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

// commonWords are frequent words of spoken business English. The generator
// draws from them and from made-up names with a Zipf distribution, as a rough
// stand-in for meeting speech.
var commonWords = strings.Fields(`the I you to and a that it of we is so yeah in know like this
	for have be on just what think do they but are with can was not going if about our
	there right so um uh okay then get at one would or your all me them because really
	more some out it's that's don't we're I'm you're they're here how time when up now
	need want see go make also pricing contract renewal quarter budget team customer
	integration security review timeline proposal discount legal procurement pilot users
	seats license onboarding support data reporting dashboard forecast pipeline deal
	next steps follow call meeting week month year Monday Friday email send share deck
	demo question questions great good sure absolutely exactly definitely probably maybe
	understand sense makes happy help working process approval sign signed decision
	manager director VP CFO CTO stakeholders champion competitor current vendor price
	cost value ROI implementation migration API SSO SAML compliance SOC audit terms`)

// syntheticTranscript builds a deterministic transcript of about words words
// spread over duration, with 2 to 6 speakers, null speaker ids and topics.
func syntheticTranscript(callID string, words int, duration time.Duration, seed int64) calls.Transcript {
	rng := rand.New(rand.NewSource(seed))
	vocab := append([]string(nil), commonWords...)
	syllables := []string{"ka", "ro", "tel", "vi", "an", "mer", "sol", "dex", "ra", "qu", "zen", "lo", "tri", "bo", "nex"}
	for i := 0; i < 1500; i++ {
		w := ""
		for j := 0; j < 2+rng.Intn(3); j++ {
			w += syllables[rng.Intn(len(syllables))]
		}
		vocab = append(vocab, w)
	}
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1))
	speakers := []string{"", "6432345678901234567", "7432345678901234567", "8432345678901234567", "9432345678901234567"}
	topics := []string{"Introduction", "Pricing", "Security", "Next steps"}
	msPerWord := duration.Milliseconds() / int64(words)
	var tr calls.Transcript
	tr.CallID = callID
	var at int64
	for written := 0; written < words; {
		m := calls.Monologue{SpeakerID: speakers[rng.Intn(len(speakers))]}
		if m.SpeakerID == "" {
			m.SpeakerName = calls.UnknownSpeaker
		} else {
			m.PartyID = "p" + m.SpeakerID[:3]
			m.SpeakerName = "Speaker " + m.SpeakerID[:2]
		}
		if rng.Intn(5) == 0 {
			topic := topics[rng.Intn(len(topics))]
			m.Topic = &topic
		}
		for s := 0; s < 1+rng.Intn(6) && written < words; s++ {
			n := 3 + rng.Intn(18)
			ws := make([]string, n)
			for i := range ws {
				ws[i] = vocab[zipf.Uint64()]
			}
			ws[0] = strings.ToUpper(ws[0][:1]) + ws[0][1:]
			text := strings.Join(ws, " ") + []string{".", ".", "?", "!"}[rng.Intn(4)]
			start := at + int64(rng.Intn(400))
			end := start + int64(n)*msPerWord
			m.Sentences = append(m.Sentences, calls.Sentence{StartMs: start, EndMs: end, Text: text})
			at = end
			written += n
		}
		tr.Monologues = append(tr.Monologues, m)
	}
	return tr
}

// noisyTranscript builds a transcript of random letters, which DEFLATE cannot
// shrink much, so it needs several chunks.
func noisyTranscript(callID string, textBytes int) calls.Transcript {
	rng := rand.New(rand.NewSource(7))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
	m := calls.Monologue{SpeakerID: "1", SpeakerName: "A"}
	for i := 0; i*1000 < textBytes; i++ {
		b := make([]byte, 1000)
		for j := range b {
			b[j] = letters[rng.Intn(len(letters))]
		}
		m.Sentences = append(m.Sentences, calls.Sentence{StartMs: int64(i) * 1000, EndMs: int64(i)*1000 + 900, Text: string(b)})
	}
	return calls.Transcript{CallID: callID, Monologues: []calls.Monologue{m}}
}

var _ = addCases(
	suiteCase{"TranscriptEightHourRoundTrip", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		_, err := tn.PutCall(ctx, sampleCall("3001"))
		mustNoErr(t, "PutCall", err)
		tr := syntheticTranscript("3001", 72_000, 8*time.Hour, 1)
		stats, err := tn.PutTranscript(ctx, tr)
		mustNoErr(t, "PutTranscript", err)
		ratio := float64(stats.StoredBytes) / float64(stats.JSONBytes)
		t.Logf("8-hour transcript: Gong JSON %d bytes, stored %d bytes in %d chunk(s), ratio %.3f", stats.JSONBytes, stats.StoredBytes, stats.Chunks, ratio)
		if ratio >= 0.30 {
			t.Errorf("stored/JSON ratio = %.3f, want below 0.30", ratio)
		}
		if stats.Chunks != 1 {
			t.Errorf("Chunks = %d, want 1 for an 8-hour call", stats.Chunks)
		}
		got, err := tn.GetTranscript(ctx, "3001")
		mustNoErr(t, "GetTranscript", err)
		if !reflect.DeepEqual(got, tr) {
			t.Errorf("GetTranscript differs from what was stored")
		}
		states, err := tn.TranscriptStates(ctx, []string{"3001"})
		mustNoErr(t, "TranscriptStates", err)
		st := states["3001"]
		if st.Status != calls.TranscriptComplete || st.Monologues != len(tr.Monologues) || !st.StoredAt.Equal(e.clock.Now()) {
			t.Errorf("state = %+v, want complete with %d monologues stored at %v", st, len(tr.Monologues), e.clock.Now())
		}
	}},
	suiteCase{"TranscriptChunksAndRewrite", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		_, err := tn.PutCall(ctx, sampleCall("3002"))
		mustNoErr(t, "PutCall", err)
		big := noisyTranscript("3002", 900_000)
		stats, err := tn.PutTranscript(ctx, big)
		mustNoErr(t, "PutTranscript of a large transcript", err)
		if stats.Chunks < 2 {
			t.Fatalf("Chunks = %d, want several for %d stored bytes", stats.Chunks, stats.StoredBytes)
		}
		items := rawItems(t, e, tn, "TRANSCRIPT#3002#")
		if len(items) != stats.Chunks {
			t.Errorf("stored %d chunk items, want %d", len(items), stats.Chunks)
		}
		largest := 0
		for _, item := range items {
			largest = max(largest, itemSize(item))
		}
		t.Logf("largest transcript item: %d bytes (%s)", largest, e.backend.name)
		if largest >= 400*1024 {
			t.Errorf("largest item is %d bytes, want under 400 KB", largest)
		}
		got, err := tn.GetTranscript(ctx, "3002")
		mustNoErr(t, "GetTranscript", err)
		if !reflect.DeepEqual(got, big) {
			t.Errorf("large transcript differs after the round trip")
		}
		small := syntheticTranscript("3002", 500, 3*time.Minute, 2)
		stats, err = tn.PutTranscript(ctx, small)
		mustNoErr(t, "PutTranscript rewrite", err)
		if stats.Chunks != 1 {
			t.Errorf("rewrite Chunks = %d, want 1", stats.Chunks)
		}
		if items := rawItems(t, e, tn, "TRANSCRIPT#3002#"); len(items) != 1 {
			t.Errorf("after the shorter rewrite %d chunk items remain, want 1", len(items))
		}
		got, err = tn.GetTranscript(ctx, "3002")
		mustNoErr(t, "GetTranscript after rewrite", err)
		if !reflect.DeepEqual(got, small) {
			t.Errorf("rewritten transcript differs after the round trip")
		}
	}},
	suiteCase{"TranscriptNullsAndMissingCall", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		_, err := tn.PutTranscript(ctx, calls.Transcript{CallID: "3999"})
		wantNotFound(t, err)
		_, err = tn.GetTranscript(ctx, "3999")
		wantNotFound(t, err)
		_, err = tn.PutCall(ctx, sampleCall("3003"))
		mustNoErr(t, "PutCall", err)
		empty := ""
		tr := calls.Transcript{CallID: "3003", Monologues: []calls.Monologue{
			{SpeakerName: calls.UnknownSpeaker, Sentences: []calls.Sentence{{StartMs: 0, EndMs: 1800, Text: "hello"}}},
			{SpeakerID: "s1", PartyID: "p1", SpeakerName: "Ann", Topic: &empty, Sentences: []calls.Sentence{{StartMs: 1700, EndMs: 1600, Text: "überlap ✓"}}},
		}}
		_, err = tn.PutTranscript(ctx, tr)
		mustNoErr(t, "PutTranscript", err)
		got, err := tn.GetTranscript(ctx, "3003")
		mustNoErr(t, "GetTranscript", err)
		if !reflect.DeepEqual(got, tr) {
			t.Errorf("GetTranscript = %+v, want %+v", got, tr)
		}
	}},
	suiteCase{"PendingTranscripts", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		_, err := tn.PutCall(ctx, sampleCall("4001"))
		mustNoErr(t, "PutCall", err)
		first := e.clock.Now()
		mustNoErr(t, "set pending", tn.SetTranscriptState(ctx, "4001", calls.TranscriptState{Status: calls.TranscriptPending}))
		e.clock.Advance(2 * time.Hour)
		mustNoErr(t, "set pending again", tn.SetTranscriptState(ctx, "4001", calls.TranscriptState{Status: calls.TranscriptPending}))
		pending, err := tn.PendingTranscripts(ctx)
		mustNoErr(t, "PendingTranscripts", err)
		want := []store.PendingTranscript{{CallID: "4001", Started: sampleCall("4001").Started, FirstMissingAt: first}}
		if !reflect.DeepEqual(pending, want) {
			t.Errorf("PendingTranscripts = %+v, want %+v", pending, want)
		}
		_, err = tn.PutTranscript(ctx, syntheticTranscript("4001", 200, time.Minute, 3))
		mustNoErr(t, "PutTranscript", err)
		pending, err = tn.PendingTranscripts(ctx)
		mustNoErr(t, "PendingTranscripts after store", err)
		if len(pending) != 0 {
			t.Errorf("PendingTranscripts after PutTranscript = %+v, want none", pending)
		}
		_, err = tn.PutCall(ctx, sampleCall("4002"))
		mustNoErr(t, "PutCall", err)
		mustNoErr(t, "set pending", tn.SetTranscriptState(ctx, "4002", calls.TranscriptState{Status: calls.TranscriptPending}))
		mustNoErr(t, "set none", tn.SetTranscriptState(ctx, "4002", calls.TranscriptState{Status: calls.TranscriptNone, FirstMissingAt: first}))
		pending, err = tn.PendingTranscripts(ctx)
		mustNoErr(t, "PendingTranscripts after none", err)
		if len(pending) != 0 {
			t.Errorf("PendingTranscripts after status none = %+v, want none", pending)
		}
		wantNotFound(t, tn.SetTranscriptState(ctx, "4999", calls.TranscriptState{Status: calls.TranscriptPending}))
		if err := tn.SetTranscriptState(ctx, "4002", calls.TranscriptState{Status: "ready"}); err == nil {
			t.Errorf("SetTranscriptState with status ready succeeded, want an error")
		}
	}},
	suiteCase{"TranscriptStatesBatches", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		var ids []string
		for i := 0; i < 130; i++ {
			id := fmt.Sprint(5000 + i)
			ids = append(ids, id)
			_, err := tn.PutCall(ctx, sampleCall(id))
			mustNoErr(t, "PutCall", err)
			if i%2 == 0 {
				mustNoErr(t, "SetTranscriptState", tn.SetTranscriptState(ctx, id, calls.TranscriptState{Status: calls.TranscriptNone}))
			}
		}
		states, err := tn.TranscriptStates(ctx, append(append(ids, ids[:5]...), "5999"))
		mustNoErr(t, "TranscriptStates", err)
		if len(states) != 65 {
			t.Errorf("TranscriptStates returned %d states, want 65 (calls with a state)", len(states))
		}
		if states["5000"].Status != calls.TranscriptNone {
			t.Errorf("state of 5000 = %+v, want none", states["5000"])
		}
		if _, ok := states["5001"]; ok {
			t.Errorf("call 5001 without a state is in the map")
		}
	}},
	suiteCase{"ItemLimitEnforced", func(t *testing.T, e *env) {
		if !e.backend.strict {
			t.Skip("kumo does not enforce the 400 KB item limit")
		}
		_, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{
			TableName: aws.String(store.DefaultTableName),
			Item: map[string]types.AttributeValue{
				store.AttrPK: &types.AttributeValueMemberS{Value: e.tenant.PK()},
				store.AttrSK: &types.AttributeValueMemberS{Value: "OVERSIZE"},
				"data":       &types.AttributeValueMemberB{Value: make([]byte, 401*1024)},
			},
		})
		if err == nil {
			t.Fatalf("DynamoDB Local accepted a 401 KB item; the size checks above prove nothing")
		}
	}},
)

var _ = addCases(
	suiteCase{"CallStatesReadsCallsAndSkips", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		// 60 ids take two BatchGetItem requests of 50 ids each.
		var ids []string
		for i := 0; i < 60; i++ {
			ids = append(ids, fmt.Sprint(6000+i))
		}
		_, err := tn.PutCall(ctx, sampleCall("6000"))
		mustNoErr(t, "PutCall 6000", err)
		_, err = tn.PutCall(ctx, sampleCall("6059"))
		mustNoErr(t, "PutCall 6059", err)
		_, err = tn.PutTranscript(ctx, syntheticTranscript("6059", 500, 3*time.Minute, 3))
		mustNoErr(t, "PutTranscript 6059", err)
		skip := store.Skip{CallID: "6001", Reason: calls.SkipPrivate, Started: e.clock.Now(), SeenAt: e.clock.Now()}
		mustNoErr(t, "PutSkip", tn.PutSkip(ctx, skip))

		states, err := tn.CallStates(ctx, append(ids, "6000"))
		mustNoErr(t, "CallStates", err)

		if len(states) != 60 {
			t.Errorf("CallStates returned %d entries, want 60", len(states))
		}
		if st := states["6000"]; !st.Stored || st.Transcript != nil || st.Skipped || st.TranscriptChunks != 0 {
			t.Errorf("state of 6000 = %+v, want stored without transcript state or skip", st)
		}
		if st := states["6001"]; st.Stored || !st.Skipped {
			t.Errorf("state of 6001 = %+v, want a skip record only", st)
		}
		st := states["6059"]
		if !st.Stored || st.TranscriptChunks != 1 {
			t.Errorf("state of 6059 = %+v, want stored with 1 chunk", st)
		}
		if st.Transcript == nil || st.Transcript.Status != calls.TranscriptComplete {
			t.Errorf("transcript state of 6059 = %+v, want complete", st.Transcript)
		}
		if st := states["6030"]; st != (store.CallState{}) {
			t.Errorf("state of 6030 = %+v, want empty", st)
		}
	}},
	suiteCase{"TranscriptOverShrinkDeletesChunks", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		_, err := tn.PutCall(ctx, sampleCall("3010"))
		mustNoErr(t, "PutCall", err)
		big, err := tn.PutTranscriptOver(ctx, noisyTranscript("3010", 900_000), 0)
		mustNoErr(t, "PutTranscriptOver of a new call", err)
		if big.Chunks < 2 {
			t.Fatalf("Chunks = %d, want several", big.Chunks)
		}
		states, err := tn.CallStates(ctx, []string{"3010"})
		mustNoErr(t, "CallStates", err)
		if got := states["3010"].TranscriptChunks; got != big.Chunks {
			t.Errorf("CallStates chunk count = %d, want %d", got, big.Chunks)
		}

		small := syntheticTranscript("3010", 500, 3*time.Minute, 2)
		stats, err := tn.PutTranscriptOver(ctx, small, big.Chunks)
		mustNoErr(t, "PutTranscriptOver with the stored count", err)
		if stats.Chunks != 1 {
			t.Errorf("rewrite Chunks = %d, want 1", stats.Chunks)
		}
		if items := rawItems(t, e, tn, "TRANSCRIPT#3010#"); len(items) != 1 {
			t.Errorf("after the shorter rewrite %d chunk items remain, want 1", len(items))
		}
		got, err := tn.GetTranscript(ctx, "3010")
		mustNoErr(t, "GetTranscript", err)
		if !reflect.DeepEqual(got, small) {
			t.Errorf("rewritten transcript differs after the round trip")
		}
	}},
	suiteCase{"TranscriptOverStaleCountRereads", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		_, err := tn.PutCall(ctx, sampleCall("3011"))
		mustNoErr(t, "PutCall", err)
		big, err := tn.PutTranscript(ctx, noisyTranscript("3011", 900_000))
		mustNoErr(t, "PutTranscript", err)

		// A count of 0 read before the large transcript was written.
		small := syntheticTranscript("3011", 500, 3*time.Minute, 2)
		_, err = tn.PutTranscriptOver(ctx, small, 0)
		mustNoErr(t, "PutTranscriptOver with a stale count", err)
		if items := rawItems(t, e, tn, "TRANSCRIPT#3011#"); len(items) != 1 {
			t.Errorf("after a rewrite over %d chunks, %d chunk items remain, want 1", big.Chunks, len(items))
		}
		got, err := tn.GetTranscript(ctx, "3011")
		mustNoErr(t, "GetTranscript", err)
		if !reflect.DeepEqual(got, small) {
			t.Errorf("rewritten transcript differs after the round trip")
		}

		_, err = tn.PutTranscriptOver(ctx, syntheticTranscript("3012", 50, time.Minute, 4), 0)
		wantNotFound(t, err)
	}},
)
