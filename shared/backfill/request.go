package backfill

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dealdesk/gongingest/shared/store"
)

// Actions of the backfill function.
const (
	ActionStart  = "start"
	ActionStatus = "status"
	ActionCancel = "cancel"
	ActionList   = "list"
	ActionPurge  = "purge"
)

// Request is the backfill function's payload. Times are RFC 3339 with a UTC
// offset, such as 2026-01-01T00:00:00Z or 2026-01-01T00:00:00+02:00.
type Request struct {
	Action      string   `json:"action"`
	TenantID    string   `json:"tenantId"`
	From        string   `json:"from,omitempty"`
	To          string   `json:"to,omitempty"`
	UserEmails  []string `json:"userEmails,omitempty"`
	DryRun      bool     `json:"dryRun,omitempty"`
	RequestedBy string   `json:"requestedBy,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	JobID       string   `json:"jobId,omitempty"`
	// Confirm must equal TenantID for a purge that deletes.
	Confirm string `json:"confirm,omitempty"`
	// Limit caps the jobs a list returns: 1 to MaxListLimit, or 0 for
	// DefaultListLimit.
	Limit int `json:"limit,omitempty"`
}

// FieldError is a payload field the function rejects, with the value it got
// and what to do instead.
type FieldError struct {
	Field   string `json:"field"`
	Value   string `json:"value"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("backfill: %s %q %s: %s", e.Field, e.Value, e.Message, e.Fix)
}

// AsFieldError returns the *FieldError in err's chain, if any.
func AsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

// FutureSlack is how far past the current time a range may end, to allow
// for clock differences and for "to" written as the current minute.
const FutureSlack = 5 * time.Minute

// MaxUserEmails is the most emails one backfill may be scoped to.
const MaxUserEmails = 100

// startRequest is a validated start request.
type startRequest struct {
	tenant *store.Tenant
	rec    store.TenantRecord
	from   time.Time
	to     time.Time
	emails []string
}

// connectedTenant returns the tenant named by the request for the action; it
// must exist and, for a start, be connected.
func (s *Service) connectedTenant(ctx context.Context, tenantID, action string) (*store.Tenant, store.TenantRecord, error) {
	if tenantID == "" {
		return nil, store.TenantRecord{}, &FieldError{Field: "tenantId", Message: "is missing", Fix: "set tenantId to the organization's id"}
	}
	t, err := s.Store.Tenant(tenantID)
	if err != nil {
		return nil, store.TenantRecord{}, &FieldError{
			Field: "tenantId", Value: TruncateValue(tenantID),
			Message: "is not a valid tenant id",
			Fix:     "use the organization's id: 1 to 128 letters, digits, '-', '_' and '.'",
		}
	}
	rec, err := t.GetTenant(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.TenantRecord{}, &FieldError{Field: "tenantId", Value: tenantID, Message: "is not a known tenant", Fix: unknownTenantFix(action)}
	}
	if err != nil {
		return nil, store.TenantRecord{}, fmt.Errorf("backfill: read tenant %s: %w", tenantID, err)
	}
	if action == ActionStart && !rec.Syncable() {
		return nil, store.TenantRecord{}, &FieldError{
			Field: "tenantId", Value: tenantID,
			Message: fmt.Sprintf("is not connected to Gong (status %s)", rec.Status),
			Fix:     "ask an admin of the organization to connect Gong again, then retry",
		}
	}
	return t, rec, nil
}

// unknownTenantFix returns the fix for a tenant id with no tenant record,
// which exists only once an admin connected Gong.
func unknownTenantFix(action string) string {
	switch action {
	case ActionStart:
		return "check the organization's id; an admin must connect Gong before a backfill"
	case ActionPurge:
		return "check the organization's id. A tenant that never connected Gong has no ingested data to purge"
	default:
		return "check the organization's id. A tenant that never connected Gong has no backfill jobs"
	}
}

// validateStart checks a start request against the tenant and the clock.
func (s *Service) validateStart(ctx context.Context, req Request) (startRequest, error) {
	if err := checkTextFields(req); err != nil {
		return startRequest{}, err
	}
	if req.RequestedBy == "" {
		return startRequest{}, &FieldError{Field: "requestedBy", Message: "is missing", Fix: "set requestedBy to the email of the person asking for the backfill"}
	}
	if req.Reason == "" && !req.DryRun {
		return startRequest{}, &FieldError{Field: "reason", Message: "is missing", Fix: "set reason to why the backfill is needed, such as a ticket number"}
	}
	t, rec, err := s.connectedTenant(ctx, req.TenantID, ActionStart)
	if err != nil {
		return startRequest{}, err
	}
	from, err := parseTime("from", req.From)
	if err != nil {
		return startRequest{}, err
	}
	to, err := parseTime("to", req.To)
	if err != nil {
		return startRequest{}, err
	}
	if err := s.checkRange(from, to, req); err != nil {
		return startRequest{}, err
	}
	emails, err := s.checkEmails(ctx, t, req.UserEmails)
	if err != nil {
		return startRequest{}, err
	}
	return startRequest{tenant: t, rec: rec, from: from, to: to, emails: emails}, nil
}

func (s *Service) checkRange(from, to time.Time, req Request) error {
	now := s.now()
	if from.After(now) {
		return &FieldError{Field: "from", Value: TruncateValue(req.From), Message: "is in the future", Fix: "use a start time in the past"}
	}
	if !from.Before(to) {
		return &FieldError{Field: "from", Value: TruncateValue(req.From), Message: "is not before to " + TruncateValue(req.To), Fix: "set from earlier than to"}
	}
	if to.After(now.Add(FutureSlack)) {
		return &FieldError{
			Field: "to", Value: TruncateValue(req.To),
			Message: "is in the future (now is " + now.Format(time.RFC3339) + ")",
			Fix:     "set to no later than the current time",
		}
	}
	maxDays := s.Config.MaxDays
	if maxDays <= 0 {
		maxDays = DefaultMaxDays
	}
	if to.Sub(from) > time.Duration(maxDays)*day {
		return &FieldError{
			Field: "to", Value: TruncateValue(req.To),
			Message: fmt.Sprintf("makes a range of %.1f days, longer than the maximum of %s", to.Sub(from).Hours()/24, countNoun(int64(maxDays), "day", "days")),
			Fix:     fmt.Sprintf("split the range into backfills of at most %s, or raise BACKFILL_MAX_DAYS", countNoun(int64(maxDays), "day", "days")),
		}
	}
	return nil
}

// offsetless matches an RFC 3339 date-time without its UTC offset.
var offsetless = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$`)

// parseTime parses an RFC 3339 time that carries a UTC offset and returns it
// in UTC.
func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, &FieldError{Field: field, Message: "is missing", Fix: "set " + field + " to an RFC 3339 time with an offset, such as 2026-01-01T00:00:00Z"}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err == nil {
		return t.UTC(), nil
	}
	fe := &FieldError{Field: field, Value: TruncateValue(v), Message: "is not an RFC 3339 time", Fix: "write it like 2026-01-01T00:00:00Z or 2026-01-01T00:00:00+02:00"}
	switch {
	case offsetless.MatchString(v):
		fe.Message = "has no UTC offset, so its instant is ambiguous"
		fe.Fix = "append Z for UTC or the offset meant, such as " + v + "Z or " + v + "+02:00"
	case len(v) == len("2006-01-02") && !strings.Contains(v, "T"):
		fe.Message = "is a date without a time and offset"
		fe.Fix = "write it as " + v + "T00:00:00Z, or with the offset meant"
	}
	return time.Time{}, fe
}

// checkEmails validates and lower-cases the emails and checks each belongs
// to a user of the organization, because calls are ingested only for them.
func (s *Service) checkEmails(ctx context.Context, t *store.Tenant, emails []string) ([]string, error) {
	if len(emails) == 0 {
		return nil, nil
	}
	if len(emails) > MaxUserEmails {
		return nil, &FieldError{
			Field: "userEmails", Value: fmt.Sprintf("%d emails", len(emails)),
			Message: fmt.Sprintf("lists more than %d emails", MaxUserEmails),
			Fix:     "leave userEmails out to backfill all users, or split the list",
		}
	}
	users, err := t.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("backfill: read users of tenant %s: %w", t.ID(), err)
	}
	known := make(map[string]bool, len(users))
	for _, u := range users {
		known[strings.ToLower(u.Email)] = true
	}
	seen := make(map[string]bool, len(emails))
	var out []string
	for i, e := range emails {
		field := fmt.Sprintf("userEmails[%d]", i)
		addr, err := mail.ParseAddress(e)
		if err != nil || addr.Name != "" || addr.Address != strings.TrimSpace(e) {
			return nil, &FieldError{Field: field, Value: TruncateValue(e), Message: "is not a plain email address", Fix: "write the address alone, such as ana@example.com"}
		}
		lower := strings.ToLower(addr.Address)
		if !known[lower] {
			return nil, &FieldError{
				Field: field, Value: TruncateValue(e),
				Message: "is not a user of the organization",
				Fix:     "use the email the user signs in to the product with; calls are ingested only for the organization's users",
			}
		}
		if !seen[lower] {
			seen[lower] = true
			out = append(out, lower)
		}
	}
	return out, nil
}

// jobIDOf returns the request's job id, or a *FieldError when it is missing.
func jobIDOf(req Request) (string, error) {
	if req.JobID == "" {
		return "", &FieldError{Field: "jobId", Message: "is missing", Fix: "set jobId to the id that start returned, or use the list action to find it"}
	}
	if !validJobID(req.JobID) {
		return "", &FieldError{Field: "jobId", Value: TruncateValue(req.JobID), Message: "is not a valid job id", Fix: "set jobId to the id that start returned, or use the list action to find it"}
	}
	return req.JobID, nil
}

// Limits of the free-text fields of a request.
const (
	MaxReasonLength      = 1000 // characters of reason
	MaxRequestedByLength = 256  // characters of requestedBy
	// MaxValueLength is how many characters of a rejected value an error
	// echoes.
	MaxValueLength = 100
)

// TruncateValue returns s cut to MaxValueLength characters, with "..."
// appended when it was longer, so errors and logs echo a bounded value.
func TruncateValue(s string) string {
	if utf8.RuneCountInString(s) <= MaxValueLength {
		return s
	}
	runes := []rune(s)
	return string(runes[:MaxValueLength]) + "..."
}

// checkTextFields checks the lengths of reason and requestedBy, and that a
// requestedBy with an '@' is a plain email address. Whether they are
// required depends on the action.
func checkTextFields(req Request) error {
	if n := utf8.RuneCountInString(req.Reason); n > MaxReasonLength {
		return &FieldError{
			Field: "reason", Value: TruncateValue(req.Reason),
			Message: fmt.Sprintf("is %d characters long, more than the maximum of %d", n, MaxReasonLength),
			Fix:     "shorten reason to a sentence or a ticket number",
		}
	}
	if n := utf8.RuneCountInString(req.RequestedBy); n > MaxRequestedByLength {
		return &FieldError{
			Field: "requestedBy", Value: TruncateValue(req.RequestedBy),
			Message: fmt.Sprintf("is %d characters long, more than the maximum of %d", n, MaxRequestedByLength),
			Fix:     "set requestedBy to the email of the person asking",
		}
	}
	if strings.Contains(req.RequestedBy, "@") {
		addr, err := mail.ParseAddress(req.RequestedBy)
		if err != nil || addr.Name != "" || addr.Address != req.RequestedBy {
			return &FieldError{
				Field: "requestedBy", Value: TruncateValue(req.RequestedBy),
				Message: "contains '@' but is not a plain email address",
				Fix:     "write the address alone, such as support@dealdesk.example",
			}
		}
	}
	return nil
}

// validJobID reports whether id has the form of a job id: 1 to 128 letters,
// digits, '-', '_' or '.', which covers the ids newJobID makes.
func validJobID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}
