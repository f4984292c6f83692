package gong

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Body of POST /v2/calls/extensive. The cursor is a top-level body field:
// Gong ignores a cursor in the query string of a POST and repeats page 1.
type extensiveRequest struct {
	Cursor          string          `json:"cursor,omitempty"`
	Filter          callsFilter     `json:"filter"`
	ContentSelector contentSelector `json:"contentSelector"`
}

type callsFilter struct {
	FromDateTime string   `json:"fromDateTime,omitempty"`
	ToDateTime   string   `json:"toDateTime,omitempty"`
	CallIDs      []string `json:"callIds,omitempty"`
}

// contentSelector requests everything the product stores. Without context
// "Extended" Gong returns no CRM field values, and without exposedFields
// it returns no parties or media URLs.
type contentSelector struct {
	Context       string        `json:"context"`
	ContextTiming []string      `json:"contextTiming"`
	ExposedFields exposedFields `json:"exposedFields"`
}

type exposedFields struct {
	Parties bool `json:"parties"`
	Media   bool `json:"media"`
}

var productContentSelector = contentSelector{
	Context:       "Extended",
	ContextTiming: []string{"Now", "TimeOfCall"},
	ExposedFields: exposedFields{Parties: true, Media: true},
}

// formatTime writes t in UTC as ISO-8601 with milliseconds and a Z, the
// precision Gong's filters accept.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// Calls reads the calls that f selects from POST /v2/calls/extensive with
// parties, media URLs and CRM context (Extended, timings Now and
// TimeOfCall), and calls page once per page of at most 100 calls. A window
// without calls gives no page and no error. More than 100 call ids are
// sent in batches of 100. A call returned twice in one read is passed on
// only the first time. A page made only of repeats, or a repeated cursor,
// stops the read with ErrCursorLoop. An error from page stops the read and
// is returned wrapped.
//
// https://help.gong.io/apidocs/retrieve-detailed-call-data-by-various-filters-v2callsextensive-2
func (c *Client) Calls(ctx context.Context, f CallFilter, page func([]Call) error) error {
	filters, err := f.requestFilters()
	if err != nil {
		return err
	}
	p := newPager(EndpointCalls)
	decode := func(ctx context.Context, raw json.RawMessage, at time.Time) (record[Call], bool) {
		var w wireCall
		if !c.decodeRecord(ctx, EndpointCalls, raw, &w) {
			return record[Call]{}, false
		}
		call, badStarted := w.call(at)
		if call.ID == "" {
			c.logger.WarnContext(ctx, "gong call without id skipped", "endpoint", EndpointCalls)
			return record[Call]{}, false
		}
		if badStarted != "" {
			c.logger.WarnContext(ctx, "gong call start time not parseable; left zero", "call_id", call.ID, "started", badStarted)
		}
		return record[Call]{id: call.ID, item: call}, true
	}
	for _, filter := range filters {
		build := func(cursor string) (request, error) {
			body, err := json.Marshal(extensiveRequest{Cursor: cursor, Filter: filter, ContentSelector: productContentSelector})
			if err != nil {
				return request{}, fmt.Errorf("gong %s: encoding request: %w", EndpointCalls, err)
			}
			return request{endpoint: EndpointCalls, method: "POST", path: "/v2/calls/extensive", body: body}, nil
		}
		if err := readPages(ctx, c, p, "calls", build, decode, page); err != nil {
			return err
		}
	}
	return nil
}

// requestFilters validates f and returns the filter of each request: one
// for a window, one per batch of 100 ids for an id list.
func (f CallFilter) requestFilters() ([]callsFilter, error) {
	hasWindow := !f.From.IsZero() || !f.To.IsZero()
	switch {
	case hasWindow && len(f.CallIDs) > 0:
		return nil, fmt.Errorf("gong %s: filter has both a window and %d call ids: set either From/To or CallIDs", EndpointCalls, len(f.CallIDs))
	case hasWindow:
		if f.From.IsZero() || f.To.IsZero() {
			return nil, fmt.Errorf("gong %s: window from %s to %s is open-ended: set both From and To", EndpointCalls, formatTime(f.From), formatTime(f.To))
		}
		if !f.From.Before(f.To) {
			return nil, fmt.Errorf("gong %s: window from %s to %s is empty: From must be before To", EndpointCalls, formatTime(f.From), formatTime(f.To))
		}
		return []callsFilter{{FromDateTime: formatTime(f.From), ToDateTime: formatTime(f.To)}}, nil
	case len(f.CallIDs) > 0:
		ids, err := uniqueIDs(EndpointCalls, f.CallIDs)
		if err != nil {
			return nil, err
		}
		var filters []callsFilter
		for _, batch := range batches(ids, maxPageSize) {
			filters = append(filters, callsFilter{CallIDs: batch})
		}
		return filters, nil
	default:
		return nil, fmt.Errorf("gong %s: filter is empty: set From and To, or CallIDs", EndpointCalls)
	}
}

// uniqueIDs returns ids without duplicates, in their first order, and
// rejects an empty id.
func uniqueIDs(endpoint string, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("gong %s: call id %d of %d is empty: pass Gong call ids only", endpoint, i+1, len(ids))
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// batches splits ids into slices of at most size elements.
func batches(ids []string, size int) [][]string {
	var out [][]string
	for len(ids) > 0 {
		n := min(size, len(ids))
		out = append(out, ids[:n:n])
		ids = ids[n:]
	}
	return out
}
