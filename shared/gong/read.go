package gong

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// record is one decoded item of a page with the id the pager dedupes on.
type record[T any] struct {
	id   string
	item T
}

// readPages sends the request that build returns for the first page, then
// repeats it with each returned cursor until a page has none. Each page's
// records are decoded by decode and the ones new in this pass are passed to
// deliver. A 404 "no records match" ends the read without error.
func readPages[T any](
	ctx context.Context,
	c *Client,
	p *pager,
	key string,
	build func(cursor string) (request, error),
	decode func(ctx context.Context, raw json.RawMessage, at time.Time) (record[T], bool),
	deliver func([]T) error,
) error {
	cursor := ""
	for {
		rq, err := build(cursor)
		if err != nil {
			return err
		}
		resp, err := c.do(ctx, rq)
		if err != nil {
			return err
		}
		if resp.empty {
			return nil
		}
		env, raws, err := decodePage(resp.body, key)
		if err != nil {
			return &APIError{Kind: KindMalformed, Endpoint: p.endpoint, Status: 200, RequestID: string(env.RequestID),
				Err: fmt.Errorf("decoding page %d: %w", p.page+1, err)}
		}
		var recs []record[T]
		for _, raw := range raws {
			if rec, ok := decode(ctx, raw, resp.at); ok {
				recs = append(recs, rec)
			}
		}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.id
		}
		isNew, err := p.fresh(ids)
		if err != nil {
			return err
		}
		var items []T
		for i, r := range recs {
			if isNew[i] {
				items = append(items, r.item)
			} else {
				c.logger.WarnContext(ctx, "gong record repeated within one pass; skipped", "endpoint", p.endpoint, "id", r.id, "page", p.page)
			}
		}
		if len(items) > 0 {
			if err := deliver(items); err != nil {
				return fmt.Errorf("gong %s: handling page %d: %w", p.endpoint, p.page, err)
			}
		}
		next := string(env.Records.Cursor)
		if next == "" {
			return nil
		}
		if err := p.follow(next); err != nil {
			return err
		}
		cursor = next
	}
}

// Users returns every user of the company, following GET /v2/users pages.
//
// https://help.gong.io/apidocs/list-all-users-v2users
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var users []User
	build := func(cursor string) (request, error) {
		rq := request{endpoint: EndpointUsers, method: "GET", path: "/v2/users"}
		if cursor != "" {
			rq.query = url.Values{"cursor": {cursor}}
		}
		return rq, nil
	}
	decode := func(ctx context.Context, raw json.RawMessage, _ time.Time) (record[User], bool) {
		var w wireUser
		if !c.decodeRecord(ctx, EndpointUsers, raw, &w) {
			return record[User]{}, false
		}
		u := w.user()
		if u.ID == "" {
			c.logger.WarnContext(ctx, "gong user without id skipped", "endpoint", EndpointUsers)
			return record[User]{}, false
		}
		return record[User]{id: u.ID, item: u}, true
	}
	deliver := func(page []User) error {
		users = append(users, page...)
		return nil
	}
	err := readPages(ctx, c, newPager(EndpointUsers), "users", build, decode, deliver)
	if err != nil {
		return nil, err
	}
	return users, nil
}

// decodeRecord decodes one raw record into v, logging a tolerated type
// error. It returns false when the record cannot be used at all.
func (c *Client) decodeRecord(ctx context.Context, endpoint string, raw json.RawMessage, v any) bool {
	tolerated, err := decodeRecord(raw, v)
	if err != nil {
		c.logger.WarnContext(ctx, "gong record not decodable; skipped", "endpoint", endpoint, "error", err)
		return false
	}
	if tolerated != nil {
		c.logger.WarnContext(ctx, "gong record has a field of unexpected type; field ignored", "endpoint", endpoint, "error", tolerated)
	}
	return true
}
