package store

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealdesk/gongingest/shared/calls"
)

// Transcript storage limits. DynamoDB rejects items over 400 KB; a chunk
// carries at most ChunkPayloadBytes of compressed data plus about 200 bytes of
// keys and attributes. A whole transcript is written in one transaction, which
// DynamoDB caps at 4 MB, so MaxTranscriptChunks bounds the compressed size at
// 3.5 MB. An 8-hour call (about 72,000 words) compresses to roughly 150 KB.
const (
	ChunkPayloadBytes   = 350_000
	MaxTranscriptChunks = 10
)

// transcriptFormat names the encoding in the chunk items: the binary layout
// written by encodeTranscript, compressed with DEFLATE. The level is not part
// of the format, because any DEFLATE stream inflates the same way, so items
// written at an earlier level still decode.
const transcriptFormat = "bin1+deflate"

// transcriptLevel is the DEFLATE level of new transcripts. On 907 of the
// Gong simulator's transcripts (53.5 MB of JSON, 2-vCPU AMD EPYC, Go 1.26)
// level 1 stored 0.247 of the JSON size against 0.230 at level 9, in 37% of
// level 9's CPU time. Transcripts written before this change used level 9.
// NOTE: measured on simulated text only. Real transcripts may compress
// differently, so check stored/json against the 0.30 target on real data.
const transcriptLevel = flate.BestSpeed

// TranscriptStats describes a stored transcript. JSONBytes is the size of the
// transcript in Gong's JSON shape ({"callId","transcript":[{"speakerId",
// "topic","sentences":[{"start","end","text"}]}]}); StoredBytes is the
// compressed payload across all chunks.
type TranscriptStats struct {
	Chunks      int
	JSONBytes   int64
	StoredBytes int64
}

// transcriptChunk is one transcript item: pk=TENANT#<t>,
// sk=TRANSCRIPT#<callId>#<4-digit chunk>. Every chunk carries the total count
// and the payload checksum, so a reader detects chunks of two different
// writes. Chunk 0 also carries the format and counts.
type transcriptChunk struct {
	CallID     string    `dynamodbav:"callId"`
	Chunk      int       `dynamodbav:"chunk"`
	Chunks     int       `dynamodbav:"chunks"`
	Checksum   string    `dynamodbav:"checksum"`
	Data       []byte    `dynamodbav:"data"`
	Format     string    `dynamodbav:"format,omitempty"`
	JSONBytes  int64     `dynamodbav:"jsonBytes,omitempty"`
	Monologues int       `dynamodbav:"monologues,omitempty"`
	Sentences  int       `dynamodbav:"sentences,omitempty"`
	StoredAt   time.Time `dynamodbav:"storedAt,omitempty"`
}

// attrTranscriptChunks on the call item holds the chunk count of the stored
// transcript, so a rewrite can find the old chunks to delete.
const attrTranscriptChunks = "transcriptChunks"

func transcriptPrefix(callID string) string { return skTranscript + callID + "#" }

func transcriptSK(callID string, chunk int) string {
	return fmt.Sprintf("%s%04d", transcriptPrefix(callID), chunk)
}

// PutTranscript stores a call's transcript, replacing any earlier copy, and
// marks the call's transcript complete. The call must be stored already
// (ErrNotFound otherwise). Chunks, the deletion of chunks left from a longer
// earlier copy, the call's transcript state and the removal of its pending
// item are written in one transaction. It reads the call item first, to learn
// how many chunks the earlier copy has.
func (t *Tenant) PutTranscript(ctx context.Context, tr calls.Transcript) (TranscriptStats, error) {
	return t.putTranscript(ctx, tr, -1)
}

// PutTranscriptOver is PutTranscript for a caller that read the call's
// stored chunk count (CallState.TranscriptChunks), so it skips the read. The
// transaction requires the count to be unchanged. When it changed since, or
// the call is not stored, PutTranscriptOver reads the call item and writes
// as PutTranscript does.
func (t *Tenant) PutTranscriptOver(ctx context.Context, tr calls.Transcript, storedChunks int) (TranscriptStats, error) {
	if storedChunks < 0 {
		return TranscriptStats{}, fmt.Errorf("store: stored chunk count %d of call %s is negative", storedChunks, tr.CallID)
	}
	return t.putTranscript(ctx, tr, storedChunks)
}

// putTranscript writes the transcript. storedChunks is the chunk count the
// caller read, or -1 to read it here.
func (t *Tenant) putTranscript(ctx context.Context, tr calls.Transcript, storedChunks int) (TranscriptStats, error) {
	if err := validateID("call id", tr.CallID); err != nil {
		return TranscriptStats{}, err
	}
	payload, err := compressTranscript(tr)
	if err != nil {
		return TranscriptStats{}, fmt.Errorf("store: encode transcript of call %s of tenant %s: %w", tr.CallID, t.id, err)
	}
	n := (len(payload) + ChunkPayloadBytes - 1) / ChunkPayloadBytes
	if n == 0 {
		n = 1
	}
	if n > MaxTranscriptChunks {
		return TranscriptStats{}, fmt.Errorf("store: transcript of call %s of tenant %s compresses to %d bytes, over the %d-byte limit (%d chunks of %d bytes)",
			tr.CallID, t.id, len(payload), MaxTranscriptChunks*ChunkPayloadBytes, MaxTranscriptChunks, ChunkPayloadBytes)
	}
	jsonBytes, err := gongJSONSize(tr)
	if err != nil {
		return TranscriptStats{}, fmt.Errorf("store: measure transcript of call %s of tenant %s: %w", tr.CallID, t.id, err)
	}

	monologues, sentences := countTranscript(tr)
	now := t.s.Now().UTC()
	sum := sha256.Sum256(payload)
	checksum := hex.EncodeToString(sum[:16])
	var puts []types.TransactWriteItem
	for i := 0; i < n; i++ {
		chunk := transcriptChunk{
			CallID:   tr.CallID,
			Chunk:    i,
			Chunks:   n,
			Checksum: checksum,
			Data:     payload[i*ChunkPayloadBytes : min((i+1)*ChunkPayloadBytes, len(payload))],
		}
		if i == 0 {
			chunk.Format = transcriptFormat
			chunk.JSONBytes = jsonBytes
			chunk.Monologues = monologues
			chunk.Sentences = sentences
			chunk.StoredAt = now
		}
		av, err := marshalMap(chunk)
		if err != nil {
			return TranscriptStats{}, fmt.Errorf("store: encode transcript chunk %d of call %s: %w", i, tr.CallID, err)
		}
		for k, v := range t.key(transcriptSK(tr.CallID, i)) {
			av[k] = v
		}
		puts = append(puts, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(t.s.table), Item: av}})
	}
	state := transcriptAV{Status: calls.TranscriptComplete, StoredAt: now, Monologues: monologues, Sentences: sentences}
	stats := TranscriptStats{Chunks: n, JSONBytes: jsonBytes, StoredBytes: int64(len(payload))}

	if storedChunks >= 0 {
		err := t.writeTranscript(ctx, tr.CallID, puts, state, storedChunks, true)
		if err == nil {
			return stats, nil
		}
		if !isConditionFailed(err) {
			return TranscriptStats{}, fmt.Errorf("store: put transcript of call %s of tenant %s (%d chunks): %w", tr.CallID, t.id, n, err)
		}
		// The call is not stored, or its chunk count changed since the
		// caller read it: read the count and write again.
	}
	var current struct {
		Chunks int `dynamodbav:"transcriptChunks"`
	}
	if err := t.getItemProjected(ctx, CallSK(tr.CallID), []string{"callId", attrTranscriptChunks}, &current); err != nil {
		return TranscriptStats{}, fmt.Errorf("store: transcript of call %s needs the call stored first: %w", tr.CallID, err)
	}
	if err := t.writeTranscript(ctx, tr.CallID, puts, state, current.Chunks, false); err != nil {
		if isConditionFailed(err) {
			return TranscriptStats{}, fmt.Errorf("store: transcript of call %s of tenant %s: call %w", tr.CallID, t.id, ErrNotFound)
		}
		return TranscriptStats{}, fmt.Errorf("store: put transcript of call %s of tenant %s (%d chunks): %w", tr.CallID, t.id, n, err)
	}
	return stats, nil
}

// writeTranscript runs the transaction of putTranscript: the chunk puts,
// deletes of the chunks numbered from len(puts) up to storedChunks, the call's
// transcript state and the deletion of its pending item. With checkChunks the
// transaction also requires the call's chunk count to still be storedChunks.
func (t *Tenant) writeTranscript(ctx context.Context, callID string, puts []types.TransactWriteItem, state transcriptAV, storedChunks int, checkChunks bool) error {
	items := append([]types.TransactWriteItem(nil), puts...)
	for i := len(puts); i < storedChunks; i++ {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(t.s.table), Key: t.key(transcriptSK(callID, i)),
		}})
	}
	expected := -1
	if checkChunks {
		expected = storedChunks
	}
	stateItem, err := t.transcriptStateUpdate(callID, state, len(puts), expected)
	if err != nil {
		return err
	}
	items = append(items, stateItem, types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(t.s.table), Key: t.key(skPending + callID),
	}})
	_, err = t.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// GetTranscript reads a call's stored transcript, or returns ErrNotFound.
func (t *Tenant) GetTranscript(ctx context.Context, callID string) (calls.Transcript, error) {
	if err := validateID("call id", callID); err != nil {
		return calls.Transcript{}, err
	}
	var chunks []transcriptChunk
	err := t.queryPrefix(ctx, transcriptPrefix(callID), nil, func(item map[string]types.AttributeValue) error {
		var c transcriptChunk
		if err := attributevalue.UnmarshalMap(item, &c); err != nil {
			return fmt.Errorf("decode chunk: %w", err)
		}
		chunks = append(chunks, c)
		return nil
	})
	if err != nil {
		return calls.Transcript{}, fmt.Errorf("store: read transcript of call %s of tenant %s: %w", callID, t.id, err)
	}
	if len(chunks) == 0 {
		return calls.Transcript{}, fmt.Errorf("store: transcript of call %s of tenant %s: %w", callID, t.id, ErrNotFound)
	}
	payload, err := joinChunks(chunks)
	if err != nil {
		return calls.Transcript{}, fmt.Errorf("store: transcript of call %s of tenant %s: %w", callID, t.id, err)
	}
	if chunks[0].Format != transcriptFormat {
		return calls.Transcript{}, fmt.Errorf("store: transcript of call %s of tenant %s has unknown format %q", callID, t.id, chunks[0].Format)
	}
	tr, err := decompressTranscript(payload)
	if err != nil {
		return calls.Transcript{}, fmt.Errorf("store: decode transcript of call %s of tenant %s: %w", callID, t.id, err)
	}
	tr.CallID = callID
	return tr, nil
}

// joinChunks checks that the chunks (in key order) form one complete write
// and returns the payload.
func joinChunks(chunks []transcriptChunk) ([]byte, error) {
	want := chunks[0].Chunks
	if len(chunks) != want {
		return nil, fmt.Errorf("found %d chunks, expected %d: the transcript is being rewritten, retry the read", len(chunks), want)
	}
	var payload []byte
	for i, c := range chunks {
		if c.Chunk != i || c.Chunks != want || c.Checksum != chunks[0].Checksum {
			return nil, fmt.Errorf("chunk %d belongs to a different write: the transcript is being rewritten, retry the read", i)
		}
		payload = append(payload, c.Data...)
	}
	sum := sha256.Sum256(payload)
	if hex.EncodeToString(sum[:16]) != chunks[0].Checksum {
		return nil, errors.New("payload checksum mismatch: the stored transcript is corrupt")
	}
	return payload, nil
}

// deleteTranscriptChunks deletes the call's chunks numbered from and above.
func (t *Tenant) deleteTranscriptChunks(ctx context.Context, callID string, from int) error {
	var sks []string
	err := t.queryPrefix(ctx, transcriptPrefix(callID), []string{AttrSK, "chunk"}, func(item map[string]types.AttributeValue) error {
		var c struct {
			SK    string `dynamodbav:"sk"`
			Chunk int    `dynamodbav:"chunk"`
		}
		if err := attributevalue.UnmarshalMap(item, &c); err != nil {
			return err
		}
		if c.Chunk >= from {
			sks = append(sks, c.SK)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sk := range sks {
		if err := t.deleteItem(ctx, sk); err != nil {
			return err
		}
	}
	return nil
}

// getItemProjected reads some attributes of the tenant's item sk into out,
// or returns ErrNotFound.
func (t *Tenant) getItemProjected(ctx context.Context, sk string, names []string, out any) error {
	proj := expression.NamesList(expression.Name(names[0]))
	for _, n := range names[1:] {
		proj = proj.AddNames(expression.Name(n))
	}
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return fmt.Errorf("build projection: %w", err)
	}
	res, err := t.s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(t.s.table),
		Key:                      t.key(sk),
		ProjectionExpression:     expr.Projection(),
		ExpressionAttributeNames: expr.Names(),
		ConsistentRead:           aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("get %s of tenant %s: %w", sk, t.id, err)
	}
	if len(res.Item) == 0 {
		return fmt.Errorf("%s of tenant %s: %w", sk, t.id, ErrNotFound)
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return fmt.Errorf("decode %s of tenant %s: %w", sk, t.id, err)
	}
	return nil
}

func countTranscript(tr calls.Transcript) (monologues, sentences int) {
	for _, m := range tr.Monologues {
		sentences += len(m.Sentences)
	}
	return len(tr.Monologues), sentences
}

// gongJSONSize returns the size of the transcript in Gong's JSON shape.
func gongJSONSize(tr calls.Transcript) (int64, error) {
	type sentence struct {
		Start int64  `json:"start"`
		End   int64  `json:"end"`
		Text  string `json:"text"`
	}
	type monologue struct {
		SpeakerID *string    `json:"speakerId"`
		Topic     *string    `json:"topic"`
		Sentences []sentence `json:"sentences"`
	}
	out := struct {
		CallID     string      `json:"callId"`
		Transcript []monologue `json:"transcript"`
	}{CallID: tr.CallID}
	for _, m := range tr.Monologues {
		gm := monologue{Topic: m.Topic}
		if m.SpeakerID != "" {
			id := m.SpeakerID
			gm.SpeakerID = &id
		}
		for _, s := range m.Sentences {
			gm.Sentences = append(gm.Sentences, sentence{Start: s.StartMs, End: s.EndMs, Text: s.Text})
		}
		out.Transcript = append(out.Transcript, gm)
	}
	b, err := json.Marshal(out)
	return int64(len(b)), err
}

// compressTranscript encodes the transcript's monologues (not its call id,
// which is in the key) and compresses them with DEFLATE at transcriptLevel.
func compressTranscript(tr calls.Transcript) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, transcriptLevel)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(encodeTranscript(tr)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decompressTranscript(payload []byte) (calls.Transcript, error) {
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(payload)))
	if err != nil {
		return calls.Transcript{}, fmt.Errorf("inflate: %w", err)
	}
	return decodeTranscript(raw)
}

// encodeTranscript writes the binary layout, version 1:
//
//	byte    version (1)
//	uvarint length of the structure section
//	structure section, per transcript:
//	  uvarint monologue count, then per monologue:
//	    string speaker id, string party id, string speaker name,
//	    byte 0 (no topic) or 1 followed by string topic,
//	    uvarint sentence count, then per sentence:
//	      varint start minus the previous sentence's end, varint end minus start
//	text section: string per sentence, in order
//
// A string is a uvarint byte length and the bytes. Keeping offsets (small
// deltas) apart from text helps DEFLATE on both.
func encodeTranscript(tr calls.Transcript) []byte {
	var meta, text []byte
	putString := func(b []byte, s string) []byte {
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	meta = binary.AppendUvarint(meta, uint64(len(tr.Monologues)))
	var prevEnd int64
	for _, m := range tr.Monologues {
		meta = putString(meta, m.SpeakerID)
		meta = putString(meta, m.PartyID)
		meta = putString(meta, m.SpeakerName)
		if m.Topic == nil {
			meta = append(meta, 0)
		} else {
			meta = append(meta, 1)
			meta = putString(meta, *m.Topic)
		}
		meta = binary.AppendUvarint(meta, uint64(len(m.Sentences)))
		for _, s := range m.Sentences {
			meta = binary.AppendVarint(meta, s.StartMs-prevEnd)
			meta = binary.AppendVarint(meta, s.EndMs-s.StartMs)
			prevEnd = s.EndMs
			text = putString(text, s.Text)
		}
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(meta)+len(text))
	out = append(out, 1)
	out = binary.AppendUvarint(out, uint64(len(meta)))
	out = append(out, meta...)
	return append(out, text...)
}

// decoder reads the binary layout; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or invalid unsigned varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or invalid varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errors.New("truncated data")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("string of %d bytes exceeds the %d bytes left", n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads an element count and rejects one that the remaining bytes
// cannot hold, so corrupt input cannot force a huge allocation.
func (d *decoder) count() int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("count %d exceeds the %d bytes left", n, len(d.b))
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

func decodeTranscript(raw []byte) (calls.Transcript, error) {
	head := &decoder{b: raw}
	if v := head.byte(); head.err == nil && v != 1 {
		return calls.Transcript{}, fmt.Errorf("unknown transcript layout version %d", v)
	}
	metaLen := head.uvarint()
	if head.err == nil && metaLen > uint64(len(head.b)) {
		head.err = errors.New("structure section exceeds the data")
	}
	if head.err != nil {
		return calls.Transcript{}, head.err
	}
	meta := &decoder{b: head.b[:metaLen]}
	text := &decoder{b: head.b[metaLen:]}
	var tr calls.Transcript
	var prevEnd int64
	for range meta.count() {
		m := calls.Monologue{SpeakerID: meta.string(), PartyID: meta.string(), SpeakerName: meta.string()}
		if meta.byte() == 1 {
			topic := meta.string()
			m.Topic = &topic
		}
		for range meta.count() {
			start := prevEnd + meta.varint()
			end := start + meta.varint()
			prevEnd = end
			m.Sentences = append(m.Sentences, calls.Sentence{StartMs: start, EndMs: end, Text: text.string()})
		}
		tr.Monologues = append(tr.Monologues, m)
	}
	if meta.err != nil {
		return calls.Transcript{}, meta.err
	}
	if text.err != nil {
		return calls.Transcript{}, text.err
	}
	if len(meta.b) != 0 || len(text.b) != 0 {
		return calls.Transcript{}, errors.New("trailing bytes after the transcript")
	}
	return tr, nil
}
