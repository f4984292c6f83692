package store

import (
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
