// Package gongsim is a strict, deterministic simulator of Gong's REST API
// (users, calls, transcripts) and OAuth endpoints, for tests, benchmarks
// and local runs. It serves several companies at once, each under its own
// API base URL, and rejects the request shapes that Gong rejects.
package gongsim

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint names used by the request counters.
const (
	EndpointUsers      = "users"
	EndpointCalls      = "calls"
	EndpointExtensive  = "calls/extensive"
	EndpointTranscript = "calls/transcript"
	EndpointToken      = "oauth/token"
	EndpointAuthorize  = "oauth/authorize"
	EndpointMedia      = "media"
)

// PageSize is the number of records in one page of every list endpoint.
const PageSize = 100

// MaxCallIDs is the maximum number of call ids in one request filter.
// NOTE: Gong documents no limit. The simulator enforces 100, the batch size
// known integrations use, so a client that sends more fails in tests.
const MaxCallIDs = 100

// CompanySpec describes one simulated Gong company. Zero fields take the
// values of the Config.
type CompanySpec struct {
	ID          string // path segment of the company's API base URL: lowercase letters, digits and '-'
	Users       int
	Span        time.Duration
	CallsPerDay float64
}

// Config configures a Sim. The zero value is usable: one company "acme"
// with 40 users and 20 calls a day over the 30 days before now.
type Config struct {
	Seed        int64
	Companies   []CompanySpec // empty: a single company "acme"
	Users       int           // users per company; default 40
	Span        time.Duration // how far back generated calls start; default 30 days
	CallsPerDay float64       // default 20
	End         time.Time     // end of the generated span; zero: Clock() when New runs

	// Clock returns the current time for visibility, token expiry, cursor
	// expiry, media URL expiry and rate limiting. Default time.Now.
	Clock func() time.Time

	ProcessingDelay time.Duration // typical delay from a call's end until it is listed; default 20 minutes
	TranscriptDelay time.Duration // typical delay from listing until the transcript is ready; default 45 minutes

	ClientID     string   // default "gongsim-client"
	ClientSecret string   // default "gongsim-secret"
	RedirectURIs []string // allowed redirect URIs; empty allows any http URL on a loopback host

	AccessTokenTTL       time.Duration // expires_in of issued access tokens; default 24 hours
	CodeTTL              time.Duration // lifetime of authorization codes; default 10 minutes
	CursorTTL            time.Duration // lifetime of page cursors; default 1 hour, a guess because Gong documents none
	MediaURLLifetime     time.Duration // validity of media URLs; default 8 hours
	OmitBaseURLOnRefresh bool          // leave api_base_url_for_customer out of refresh responses

	DisableRateLimit bool
	RateLimit        int           // requests per second per company; default 3
	RetryAfter       time.Duration // fixed Retry-After for 429s; zero: until the window frees, at least 1 second

	// BaseURL is the simulator's own URL, used in token responses, call
	// links and media URLs. Empty: the URL of Start, else the request's host.
	BaseURL string

	Logger *slog.Logger // default: discard
}

var companyIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (cfg *Config) setDefaults() {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if len(cfg.Companies) == 0 {
		cfg.Companies = []CompanySpec{{ID: "acme"}}
	}
	setDuration(&cfg.Span, 30*24*time.Hour)
	setDuration(&cfg.ProcessingDelay, 20*time.Minute)
	setDuration(&cfg.TranscriptDelay, 45*time.Minute)
	setDuration(&cfg.AccessTokenTTL, 24*time.Hour)
	setDuration(&cfg.CodeTTL, 10*time.Minute)
	setDuration(&cfg.CursorTTL, time.Hour)
	setDuration(&cfg.MediaURLLifetime, 8*time.Hour)
	if cfg.Users == 0 {
		cfg.Users = 40
	}
	if cfg.CallsPerDay == 0 {
		cfg.CallsPerDay = 20
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 3
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "gongsim-client"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "gongsim-secret"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.End.IsZero() {
		cfg.End = cfg.Clock()
	}
	cfg.End = cfg.End.UTC().Truncate(time.Second)
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Sim is a running simulation. All methods are safe for concurrent use.
type Sim struct {
	cfg       Config
	signKey   []byte // signs cursors and media URLs; random per Sim
	mu        sync.Mutex
	baseURL   string
	companies map[string]*company
	order     []string
	auth      authState
	requestN  uint64
	total     int
}

// New builds a simulator and generates every company's data. It panics on
// an invalid company id or a repeated one, because that is a mistake in the
// calling test or program.
func New(cfg Config) *Sim {
	cfg.setDefaults()
	s := &Sim{
		cfg:       cfg,
		signKey:   make([]byte, 32),
		companies: map[string]*company{},
		baseURL:   strings.TrimSuffix(cfg.BaseURL, "/"),
	}
	if _, err := rand.Read(s.signKey); err != nil {
		panic(fmt.Sprintf("gongsim: read random key: %v", err))
	}
	s.auth.init()
	for _, spec := range cfg.Companies {
		if !companyIDPattern.MatchString(spec.ID) {
			panic(fmt.Sprintf("gongsim: invalid company id %q: use lowercase letters, digits and '-'", spec.ID))
		}
		if s.companies[spec.ID] != nil {
			panic(fmt.Sprintf("gongsim: company id %q is listed twice", spec.ID))
		}
		if spec.Users == 0 {
			spec.Users = cfg.Users
		}
		if spec.Span == 0 {
			spec.Span = cfg.Span
		}
		if spec.CallsPerDay == 0 {
			spec.CallsPerDay = cfg.CallsPerDay
		}
		s.companies[spec.ID] = generateCompany(cfg.Seed, spec, cfg.End, &s.cfg)
		s.order = append(s.order, spec.ID)
	}
	return s
}

// Server is a simulator listening on 127.0.0.1.
type Server struct {
	*Sim
	URL string // base URL, without a trailing slash
	srv *httptest.Server
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Start serves a new simulator on a free port of 127.0.0.1.
func Start(cfg Config) (*Server, error) {
	sim := New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gongsim: listen on 127.0.0.1: %w", err)
	}
	srv := httptest.NewUnstartedServer(sim.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	sim.mu.Lock()
	if sim.baseURL == "" {
		sim.baseURL = srv.URL
	}
	sim.mu.Unlock()
	return &Server{Sim: sim, URL: srv.URL, srv: srv}, nil
}

// StartTB starts a simulator for a test and closes it when the test ends.
func StartTB(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	srv, err := Start(cfg)
	if err != nil {
		tb.Fatalf("start Gong simulator: %v", err)
	}
	tb.Cleanup(srv.Close)
	return srv
}

// Handler returns the HTTP handler serving the API, OAuth and media URLs.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth2/authorize", s.handleAuthorize)
	mux.HandleFunc("/oauth2/generate-customer-token", s.handleToken)
	mux.HandleFunc("/c/{company}/v2/users", s.api(EndpointUsers, []string{http.MethodGet}, "api:users:read", s.handleUsers))
	mux.HandleFunc("/c/{company}/v2/calls", s.api(EndpointCalls, []string{http.MethodGet, http.MethodPost}, "api:calls:read:basic", s.handleCalls))
	mux.HandleFunc("/c/{company}/v2/calls/extensive", s.api(EndpointExtensive, []string{http.MethodPost}, "api:calls:read:extensive", s.handleExtensive))
	mux.HandleFunc("/c/{company}/v2/calls/transcript", s.api(EndpointTranscript, []string{http.MethodPost}, "api:calls:read:transcript", s.handleTranscript))
	mux.HandleFunc("/media/{company}/{call}/{file}", s.handleMedia)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("No endpoint at %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// CompanyIDs returns the ids of the simulated companies in Config order.
func (s *Sim) CompanyIDs() []string { return append([]string(nil), s.order...) }

// BaseURL returns the API base URL of a company, as token responses send it
// in api_base_url_for_customer.
func (s *Sim) BaseURL(companyID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL + "/c/" + companyID
}

func (s *Sim) now() time.Time { return s.cfg.Clock() }

// requestBase returns the simulator URL as the client reached it.
func (s *Sim) requestBase(r *http.Request) string {
	s.mu.Lock()
	base := s.baseURL
	s.mu.Unlock()
	if base != "" {
		return base
	}
	return "http://" + r.Host
}

func (s *Sim) company(id string) (*company, error) {
	co := s.companies[id]
	if co == nil {
		return nil, fmt.Errorf("gongsim: unknown company %q: use one of %s", id, strings.Join(s.order, ", "))
	}
	return co, nil
}

func (s *Sim) mustCompany(id string) *company {
	co, err := s.company(id)
	if err != nil {
		panic(err.Error())
	}
	return co
}

// Requests returns how many requests each endpoint of a company received,
// rejected ones included. Keys are the Endpoint constants.
func (s *Sim) Requests(companyID string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.mustCompany(companyID).requests {
		out[k] = v
	}
	return out
}

// RateLimited returns how many of a company's requests got a 429.
func (s *Sim) RateLimited(companyID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustCompany(companyID).rateLimited
}

// Total returns the number of requests the simulator received, on every
// endpoint and for every company, OAuth included.
func (s *Sim) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCounters sets every request counter to zero.
func (s *Sim) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total = 0
	for _, co := range s.companies {
		co.requests = map[string]int{}
		co.rateLimited = 0
	}
}

// ThrottleNext makes the next n API requests of a company fail with 429 and
// the given Retry-After (rounded up to whole seconds, at least 1).
func (s *Sim) ThrottleNext(companyID string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	co := s.mustCompany(companyID)
	co.throttleNext, co.throttleWait = n, retryAfter
}

// FailNext makes the next n API requests of a company fail with status
// (a 5xx, or any status a test needs) and a Gong-shaped body.
func (s *Sim) FailNext(companyID string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	co := s.mustCompany(companyID)
	co.failNext, co.failStatus = n, status
}

// Users returns a company's current Gong users, sorted by id.
func (s *Sim) Users(companyID string) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]User(nil), s.mustCompany(companyID).users...)
}

// AddUser adds a Gong user and returns its id. An empty u.ID gets a
// generated one, and a zero Created gets the current clock time.
func (s *Sim) AddUser(companyID string, u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	co := s.mustCompany(companyID)
	if u.ID == "" {
		u.ID = co.newID(newRand(co.seed, uint64(len(co.ids))+7))
	}
	if u.Created.IsZero() {
		u.Created = s.now().UTC().Truncate(time.Second)
	}
	co.users = append(co.users, u)
	sortUsers(co.users)
	return u.ID
}

// UpdateUser changes a Gong user in place. It returns false when the id is
// unknown.
func (s *Sim) UpdateUser(companyID, userID string, change func(*User)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	co := s.mustCompany(companyID)
	for i := range co.users {
		if co.users[i].ID == userID {
			change(&co.users[i])
			co.users[i].ID = userID
			return true
		}
	}
	return false
}

// RemoveUser deletes a Gong user from the users list. Calls keep their
// references to the user, as in Gong.
func (s *Sim) RemoveUser(companyID, userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	co := s.mustCompany(companyID)
	for i := range co.users {
		if co.users[i].ID == userID {
			co.users = append(co.users[:i], co.users[i+1:]...)
			return true
		}
	}
	return false
}

// CallInfo is the ground truth about one simulated call, for tests.
type CallInfo struct {
	ID              string
	Started         time.Time
	Duration        time.Duration
	PrimaryUserID   string
	VisibleAt       time.Time
	TranscriptAt    time.Time // zero when the transcript never becomes ready
	Private         bool
	Imported        bool
	TranscriptReady bool // at the current clock time
	Visible         bool // at the current clock time
}

// Calls returns every call of a company, listed or not yet, ordered by
// start time and id.
func (s *Sim) Calls(companyID string) []CallInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	co := s.mustCompany(companyID)
	out := make([]CallInfo, 0, len(co.calls))
	for _, c := range co.calls {
		out = append(out, c.info(now))
	}
	return out
}

// VisibleCallIDs returns the ids of the calls listed at the current clock
// time whose start is in [from, to), in the order the API pages them.
func (s *Sim) VisibleCallIDs(companyID string, from, to time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, c := range s.mustCompany(companyID).window(from, to, s.now()) {
		ids = append(ids, c.id)
	}
	return ids
}

func (c *callRecord) info(now time.Time) CallInfo {
	ci := CallInfo{
		ID:              c.id,
		Started:         c.startTime(),
		Duration:        time.Duration(c.durationSec) * time.Second,
		PrimaryUserID:   c.primaryUserID,
		VisibleAt:       time.Unix(c.visibleAt, 0).UTC(),
		Private:         c.flags&flagPrivate != 0,
		Imported:        c.flags&flagImported != 0,
		TranscriptReady: c.transcriptReady(now),
		Visible:         c.visible(now),
	}
	if c.transcriptAt != 0 {
		ci.TranscriptAt = time.Unix(c.transcriptAt, 0).UTC()
	}
	return ci
}

// AddCall adds a call, for example one that shows up late, and returns its
// id. It panics when spec.Started is zero or the id is taken.
func (s *Sim) AddCall(companyID string, spec CallSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	co := s.mustCompany(companyID)
	if spec.Started.IsZero() {
		panic("gongsim: AddCall needs CallSpec.Started")
	}
	r := newRand(co.seed, hashString(spec.ID)^uint64(spec.Started.UnixNano())^uint64(len(co.calls)))
	if spec.ID == "" {
		spec.ID = co.newID(r)
	} else if co.byID[spec.ID] != nil {
		panic(fmt.Sprintf("gongsim: call id %q already exists", spec.ID))
	}
	co.ids[spec.ID] = true
	if spec.Duration == 0 {
		spec.Duration = 30 * time.Minute
	}
	c := &callRecord{
		id:          spec.ID,
		seed:        r.Uint64(),
		started:     spec.Started.UnixMilli(),
		durationSec: int32(spec.Duration / time.Second),
		flags:       flagAdded,
		spec:        &spec,
	}
	c.primaryUserID = spec.PrimaryUserID
	if c.primaryUserID == "" && len(co.genUsers) > 0 {
		c.primaryUserID = co.genUsers[0].ID
	}
	if spec.Private {
		c.flags |= flagPrivate
	}
	if spec.Imported {
		c.flags |= flagImported | flagPartiesAbsent
	}
	c.visibleAt = spec.Started.Add(spec.Duration).Unix()
	if !spec.VisibleAt.IsZero() {
		c.visibleAt = spec.VisibleAt.Unix()
	}
	c.transcriptAt = c.visibleAt
	if !spec.TranscriptAt.IsZero() {
		c.transcriptAt = spec.TranscriptAt.Unix()
	}
	if spec.NoTranscript {
		c.transcriptAt = 0
		c.flags |= flagNoTranscript
	}
	co.insert(c)
	return spec.ID
}

// SetTranscriptReady forces a call's transcript to be ready or not ready,
// regardless of its schedule. It returns false when the call is unknown.
func (s *Sim) SetTranscriptReady(companyID, callID string, ready bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCompany(companyID).byID[callID]
	if c == nil {
		return false
	}
	c.transcript = -1
	if ready {
		c.transcript = 1
	}
	return true
}

// SetCallPrivate marks a call private or public. It returns false when the
// call is unknown.
func (s *Sim) SetCallPrivate(companyID, callID string, private bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCompany(companyID).byID[callID]
	if c == nil {
		return false
	}
	c.flags &^= flagPrivate
	if private {
		c.flags |= flagPrivate
	}
	return true
}

// sortRecords orders call copies by (started, id), the paging order.
func sortRecords(cs []callRecord) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].before(&cs[j]) })
}
