package mapping

import "time"

// MaxViewAge exports maxViewAge to the tests.
const MaxViewAge = maxViewAge

// SetClock replaces the clock the session checks its view age with, and
// starts the view's age at now().
func (s *Session) SetClock(now func() time.Time) {
	s.now = now
	s.viewAt = now()
}

// SetMemoLimit replaces the number of strings the session's memo may hold.
func (s *Session) SetMemoLimit(n int) { s.limit = n }
