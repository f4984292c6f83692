package store

import (
	"bytes"
	"compress/flate"
	"reflect"
	"testing"

	"github.com/dealdesk/gongingest/shared/calls"
)

func TestDecodeTranscriptRejectsCorruptData(t *testing.T) {
	topic := "Pricing"
	good := encodeTranscript(calls.Transcript{Monologues: []calls.Monologue{
		{SpeakerID: "1", SpeakerName: "Ann", Topic: &topic, Sentences: []calls.Sentence{{StartMs: 5, EndMs: 900, Text: "hello there"}}},
	}})
	if _, err := decodeTranscript(good); err != nil {
		t.Fatalf("decode of valid data: %v", err)
	}
	cases := map[string][]byte{
		"Empty":        {},
		"WrongVersion": append([]byte{9}, good[1:]...),
		"Truncated":    good[:len(good)-3],
		"Trailing":     append(append([]byte{}, good...), 'x'),
		"HugeCount":    {1, 3, 0xff, 0xff, 0x7f},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeTranscript(data); err == nil {
				t.Errorf("decode succeeded, want an error")
			}
		})
	}
}

// Transcripts stored before the level changed were compressed at level 9.
func TestDecompressTranscriptAtAnyLevel(t *testing.T) {
	topic := "Pricing"
	want := calls.Transcript{Monologues: []calls.Monologue{
		{SpeakerID: "1", PartyID: "p1", SpeakerName: "Ann", Topic: &topic, Sentences: []calls.Sentence{
			{StartMs: 5, EndMs: 900, Text: "hello there"},
			{StartMs: 950, EndMs: 2000, Text: "hello there again"},
		}},
	}}
	for _, level := range []int{flate.BestCompression, flate.DefaultCompression, transcriptLevel} {
		var buf bytes.Buffer
		w, err := flate.NewWriter(&buf, level)
		if err != nil {
			t.Fatalf("flate.NewWriter(level %d): %v", level, err)
		}
		if _, err := w.Write(encodeTranscript(want)); err != nil {
			t.Fatalf("compress at level %d: %v", level, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("close at level %d: %v", level, err)
		}
		got, err := decompressTranscript(buf.Bytes())
		if err != nil {
			t.Fatalf("decompress level %d payload: %v", level, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("level %d payload decoded to %+v, want %+v", level, got, want)
		}
	}
}
