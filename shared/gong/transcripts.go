package gong

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Body of POST /v2/calls/transcript. The cursor is a top-level body field.
type transcriptRequest struct {
	Cursor string           `json:"cursor,omitempty"`
	Filter transcriptFilter `json:"filter"`
}

type transcriptFilter struct {
	CallIDs []string `json:"callIds"`
}

// Transcripts reads the transcripts of callIDs from POST
// /v2/calls/transcript in batches of at most 100 ids and calls page once
// per page. Calls whose transcript Gong has not produced yet are absent
// from the pages, and a batch without any transcript gives no page. No
// request is sent for an empty callIDs. Duplicate ids are sent once. An
// error from page stops the read and is returned wrapped.
//
// https://help.gong.io/apidocs/retrieve-transcripts-of-calls-v2callstranscript
func (c *Client) Transcripts(ctx context.Context, callIDs []string, page func([]CallTranscript) error) error {
	ids, err := uniqueIDs(EndpointTranscripts, callIDs)
	if err != nil {
		return err
	}
	p := newPager(EndpointTranscripts)
	decode := func(ctx context.Context, raw json.RawMessage, _ time.Time) (record[CallTranscript], bool) {
		var w wireTranscript
		if !c.decodeRecord(ctx, EndpointTranscripts, raw, &w) {
			return record[CallTranscript]{}, false
		}
		t := w.transcript()
		if t.CallID == "" {
			c.logger.WarnContext(ctx, "gong transcript without call id skipped", "endpoint", EndpointTranscripts)
			return record[CallTranscript]{}, false
		}
		return record[CallTranscript]{id: t.CallID, item: t}, true
	}
	for _, batch := range batches(ids, maxPageSize) {
		build := func(cursor string) (request, error) {
			body, err := json.Marshal(transcriptRequest{Cursor: cursor, Filter: transcriptFilter{CallIDs: batch}})
			if err != nil {
				return request{}, fmt.Errorf("gong %s: encoding request: %w", EndpointTranscripts, err)
			}
			return request{endpoint: EndpointTranscripts, method: "POST", path: "/v2/calls/transcript", body: body}, nil
		}
		if err := readPages(ctx, c, p, "callTranscripts", build, decode, page); err != nil {
			return err
		}
	}
	return nil
}
