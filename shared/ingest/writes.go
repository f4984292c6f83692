package ingest

import "fmt"

// pageWrites runs the store writes of one page at a time on their own
// goroutine, so the run reads the next page from Gong meanwhile. Only the
// run's pager goroutine calls its methods. The first failure sticks: every
// later call returns it, so the run fails and advances nothing.
type pageWrites struct {
	page int           // number of the page being written, from 1
	done chan struct{} // closed when the writes of page end; nil when none run
	err  error         // result of the writes of page, read after done closed
	// failure is the first failed page's error, kept after wait returns it.
	failure error
}

// start runs write for page number page. The caller must have waited for
// the writes of the previous page.
func (w *pageWrites) start(page int, write func() error) {
	done := make(chan struct{})
	w.page, w.done, w.err = page, done, nil
	go func() {
		defer close(done)
		w.err = write()
	}()
}

// wait blocks until the running writes end and returns their error, or the
// error of an earlier page.
func (w *pageWrites) wait() error {
	if w.done != nil {
		<-w.done
		w.done = nil
		if w.err != nil && w.failure == nil {
			w.failure = fmt.Errorf("store page %d: %w", w.page, w.err)
		}
	}
	return w.failure
}

// failed returns the error of writes that already ended, without waiting for
// writes that still run.
func (w *pageWrites) failed() error {
	if w.done != nil {
		select {
		case <-w.done:
			return w.wait()
		default:
		}
	}
	return w.failure
}
