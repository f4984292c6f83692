package gong

import "fmt"

// pager guards one pass over a paged endpoint against loops: a cursor that
// comes back twice, or a page that holds only records already returned in
// this pass. Gong repeats page 1 forever when a POST cursor is not read, so
// both signs mean the pass would never end or would duplicate data.
type pager struct {
	endpoint string
	page     int // pages received so far
	cursors  map[string]bool
	seen     map[string]bool
}

func newPager(endpoint string) *pager {
	return &pager{endpoint: endpoint, cursors: map[string]bool{}, seen: map[string]bool{}}
}

// fresh records the ids of a received page and returns which of them are
// new in this pass. It returns ErrCursorLoop when the page is non-empty and
// every id was already returned.
func (p *pager) fresh(ids []string) ([]bool, error) {
	p.page++
	isNew := make([]bool, len(ids))
	newCount := 0
	for i, id := range ids {
		if !p.seen[id] {
			p.seen[id] = true
			isNew[i] = true
			newCount++
		}
	}
	if len(ids) > 0 && newCount == 0 {
		return nil, fmt.Errorf("gong %s: page %d repeats %d records already returned in this pass: %w", p.endpoint, p.page, len(ids), ErrCursorLoop)
	}
	return isNew, nil
}

// follow records the cursor the next request will send. It returns
// ErrCursorLoop when the cursor was already followed in this pass.
func (p *pager) follow(cursor string) error {
	if p.cursors[cursor] {
		return fmt.Errorf("gong %s: page %d returned a cursor already followed in this pass: %w", p.endpoint, p.page, ErrCursorLoop)
	}
	p.cursors[cursor] = true
	return nil
}
