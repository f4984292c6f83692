package gongsim

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// handleUsers serves GET /v2/users with the cursor in the query string.
func (s *Sim) handleUsers(w http.ResponseWriter, r *http.Request, req *apiRequest) error {
	q := r.URL.Query()
	avatars := q.Get("includeAvatars")
	if avatars != "" && avatars != "true" && avatars != "false" {
		return badRequest("includeAvatars: invalid boolean %q", avatars)
	}
	s.mu.Lock()
	users := append([]User(nil), req.co.users...)
	s.mu.Unlock()
	var cursor *string
	if q.Has("cursor") {
		c := q.Get("cursor")
		cursor = &c
	}
	want := cursorState{Endpoint: EndpointUsers, Company: req.companyID, Request: requestHash(avatars == "true")}
	pi, err := s.paginate(func(i int) (int64, string) { return 0, users[i].ID }, len(users), cursor, want, req.now)
	if err != nil {
		return err
	}
	resp := usersResponse{RequestID: req.requestID, Records: pi.records, Users: []wireUser{}}
	for _, u := range users[pi.start:pi.end] {
		resp.Users = append(resp.Users, toWireUser(u, req))
	}
	s.writeOK(w, req.requestID, resp)
	return nil
}

func toWireUser(u User, req *apiRequest) wireUser {
	wu := wireUser{
		ID:                  u.ID,
		EmailAddress:        u.Email,
		Created:             formatTime(u.Created),
		Active:              u.Active,
		EmailAliases:        []string{},
		FirstName:           u.FirstName,
		LastName:            u.LastName,
		PersonalMeetingURLs: []string{},
		Settings: wireUserSettings{
			WebConferencesRecorded: u.Active,
			TelephonyCallsImported: u.Phone != "",
			GongConnectEnabled:     true,
		},
		SpokenLanguages: []spokenLanguage{{Language: "en-US", Primary: true}},
	}
	setIf(&wu.Title, u.Title)
	setIf(&wu.PhoneNumber, u.Phone)
	setIf(&wu.ManagerID, u.ManagerID)
	return wu
}

// handleCalls serves GET /v2/calls, which lists calls by date range with
// the cursor in the query string. In Gong, POST /v2/calls uploads a call.
// The simulator does not support uploads, so it rejects every POST the way
// Gong rejects a body without the upload fields.
func (s *Sim) handleCalls(w http.ResponseWriter, r *http.Request, req *apiRequest) error {
	if r.Method == http.MethodPost {
		return badRequest("clientUniqueId: must not be null; actualStart: must not be null; parties: must not be empty")
	}
	q := r.URL.Query()
	for _, name := range []string{"fromDateTime", "toDateTime"} {
		if !q.Has(name) {
			return badRequest("%s: required query parameter is missing", name)
		}
	}
	f := &callsFilter{}
	from, to := q.Get("fromDateTime"), q.Get("toDateTime")
	f.FromDateTime, f.ToDateTime = &from, &to
	if q.Has("workspaceId") {
		ws := q.Get("workspaceId")
		f.WorkspaceID = &ws
	}
	fq, err := validateFilter(f, req.co, false)
	if err != nil {
		return err
	}
	var cursor *string
	if q.Has("cursor") {
		c := q.Get("cursor")
		cursor = &c
	}
	s.mu.Lock()
	calls := req.co.selectCalls(fq, req.now)
	s.mu.Unlock()
	if len(calls) == 0 {
		return &apiError{status: http.StatusNotFound, msg: noCallsMessage}
	}
	want := cursorState{Endpoint: EndpointCalls, Company: req.companyID, Request: requestHash(from, to, f.WorkspaceID)}
	pi, err := s.paginate(recordKeys(calls), len(calls), cursor, want, req.now)
	if err != nil {
		return err
	}
	resp := basicCallsResponse{RequestID: req.requestID, Records: pi.records, Calls: []wireMetaData{}}
	for i := pi.start; i < pi.end; i++ {
		c := &calls[i]
		resp.Calls = append(resp.Calls, s.metaData(req, c, req.co.details(c)))
	}
	s.writeOK(w, req.requestID, resp)
	return nil
}

func recordKeys(calls []callRecord) func(int) (int64, string) {
	return func(i int) (int64, string) { return calls[i].started, calls[i].id }
}

// handleExtensive serves POST /v2/calls/extensive. The cursor is read from
// the JSON body only; a cursor in the query string is ignored, as by Gong.
func (s *Sim) handleExtensive(w http.ResponseWriter, r *http.Request, req *apiRequest) error {
	var body extensiveRequest
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	fq, err := validateFilter(body.Filter, req.co, false)
	if err != nil {
		return err
	}
	sel, err := validateSelector(body.ContentSelector)
	if err != nil {
		return err
	}
	if sel.media && !containsString(req.scopes, "api:calls:read:media-url") {
		return &apiError{status: http.StatusForbidden, msg: "Access denied: media URLs need the scope api:calls:read:media-url"}
	}
	s.mu.Lock()
	calls := req.co.selectCalls(fq, req.now)
	s.mu.Unlock()
	if len(calls) == 0 {
		return &apiError{status: http.StatusNotFound, msg: noCallsMessage}
	}
	want := cursorState{Endpoint: EndpointExtensive, Company: req.companyID, Request: requestHash(body.Filter, body.ContentSelector)}
	pi, err := s.paginate(recordKeys(calls), len(calls), body.Cursor, want, req.now)
	if err != nil {
		return err
	}
	resp := callsResponse{RequestID: req.requestID, Records: pi.records, Calls: []wireCall{}}
	for i := pi.start; i < pi.end; i++ {
		resp.Calls = append(resp.Calls, s.extensiveCall(req, &calls[i], sel))
	}
	s.writeOK(w, req.requestID, resp)
	return nil
}

// selection is a validated contentSelector.
type selection struct {
	context       string // None, Basic or Extended
	timings       []string
	parties       bool
	media         bool
	content       exposedContent
	interaction   exposedInteraction
	collaboration bool
	hasContent    bool
	hasInteract   bool
}

func validateSelector(cs *contentSelector) (selection, error) {
	sel := selection{context: "None", timings: []string{"Now"}}
	if cs == nil {
		return sel, nil
	}
	if cs.Context != nil {
		switch *cs.Context {
		case "None", "Basic", "Extended":
			sel.context = *cs.Context
		default:
			return sel, badRequest("contentSelector.context: invalid value %q: use None, Basic or Extended", *cs.Context)
		}
	}
	if cs.ContextTiming != nil {
		if sel.context != "Extended" {
			return sel, badRequest("contentSelector.contextTiming: allowed only with context Extended")
		}
		if len(cs.ContextTiming) == 0 {
			return sel, badRequest("contentSelector.contextTiming: must not be empty")
		}
		sel.timings = nil
		for _, t := range cs.ContextTiming {
			if t != "Now" && t != "TimeOfCall" {
				return sel, badRequest("contentSelector.contextTiming: invalid value %q: use Now or TimeOfCall", t)
			}
			if !slices.Contains(sel.timings, t) {
				sel.timings = append(sel.timings, t)
			}
		}
	}
	ef := cs.ExposedFields
	if ef == nil {
		return sel, nil
	}
	sel.parties, sel.media = ef.Parties, ef.Media
	if ef.Content != nil {
		sel.content = *ef.Content
		sel.hasContent = true
		if ef.Content.TrackerOccurrences && !ef.Content.Trackers {
			return sel, badRequest("contentSelector.exposedFields.content.trackerOccurrences: requires trackers")
		}
	}
	if ef.Interaction != nil {
		sel.interaction = *ef.Interaction
		sel.hasInteract = true
	}
	if ef.Collaboration != nil {
		sel.collaboration = ef.Collaboration.PublicComments
	}
	return sel, nil
}

func (s *Sim) metaData(req *apiRequest, c *callRecord, d callDetails) wireMetaData {
	return wireMetaData{
		ID:              c.id,
		URL:             fmt.Sprintf("%s/c/%s/call?id=%s", req.base, req.companyID, c.id),
		Title:           d.title,
		Scheduled:       d.scheduled,
		Started:         c.startedString(),
		Duration:        int64(c.durationSec),
		PrimaryUserID:   c.primaryUserID,
		Direction:       d.direction,
		System:          d.system,
		Scope:           d.scope,
		Media:           d.media,
		Language:        d.language,
		WorkspaceID:     req.co.workspaceID,
		SDRDisposition:  d.sdrDisposition,
		ClientUniqueID:  d.clientUniqueID,
		CustomData:      d.customData,
		Purpose:         d.purpose,
		MeetingURL:      d.meetingURL,
		IsPrivate:       c.flags&flagPrivate != 0,
		CalendarEventID: d.calendarEventID,
	}
}

func (s *Sim) extensiveCall(req *apiRequest, c *callRecord, sel selection) wireCall {
	d := req.co.details(c)
	out := wireCall{MetaData: s.metaData(req, c, d)}
	if sel.context != "None" {
		ctx := req.co.callContext(c, d, sel.timings)
		if sel.context == "Basic" {
			for i := range ctx {
				for j := range ctx[i].Objects {
					ctx[i].Objects[j].Fields = nil
				}
			}
		}
		out.Context = &ctx
	}
	if sel.parties && !d.partiesAbsent {
		parties := d.parties
		if sel.context == "None" {
			parties = slices.Clone(parties)
			for i := range parties {
				parties[i].Context = []wireCallContext{}
			}
		}
		out.Parties = &parties
	}
	if sel.hasContent {
		out.Content = contentFor(c, d, sel.content)
	}
	if sel.hasInteract {
		out.Interaction = interactionFor(c, d, sel.interaction)
	}
	if sel.collaboration {
		out.Collaboration = collaborationFor(c, req.now)
	}
	if sel.media {
		out.Media = s.mediaFor(req, c, d)
	}
	return out
}

func contentFor(c *callRecord, d callDetails, want exposedContent) *wireContent {
	r := newRand(c.seed, 7)
	out := &wireContent{}
	share := int64(c.durationSec) / int64(len(d.topics))
	if want.Topics {
		for _, t := range d.topics {
			out.Topics = append(out.Topics, wireNamedDuration{Name: t, Duration: share})
		}
	}
	if want.Structure {
		out.Structure = []wireNamedDuration{{Name: "Introduction", Duration: share}, {Name: "Main", Duration: int64(c.durationSec) - share}}
	}
	if want.Trackers {
		tr := wireTracker{ID: strconv.FormatUint(r.Uint64()>>1, 10), Name: "Pricing", Count: 1 + r.IntN(5), Type: "KEYWORD"}
		if want.TrackerOccurrences {
			for i := 0; i < tr.Count; i++ {
				tr.Occurrences = append(tr.Occurrences, wireOccurrence{StartTime: float64(r.IntN(int(c.durationSec) + 1)), SpeakerID: firstSpeaker(d)})
			}
		}
		out.Trackers = []wireTracker{tr}
	}
	if want.Brief {
		out.Brief = fmt.Sprintf("The call covered %s.", strings.ToLower(strings.Join(d.topics, ", ")))
	}
	if want.KeyPoints {
		out.KeyPoints = []wireKeyPoint{{Text: "The customer asked for a follow-up on " + strings.ToLower(d.topics[len(d.topics)-1]) + "."}}
	}
	if want.CallOutcome {
		out.CallOutcome = &wireCallOutcome{ID: "NEXT_STEPS_SET", Category: "Answered", Name: "Next steps set"}
	}
	return out
}

func firstSpeaker(d callDetails) string {
	for _, p := range d.parties {
		if p.SpeakerID.state == optSet {
			return p.SpeakerID.value
		}
	}
	return ""
}

func interactionFor(c *callRecord, d callDetails, want exposedInteraction) *wireInteraction {
	r := newRand(c.seed, 8)
	out := &wireInteraction{}
	if want.Speakers {
		var speaking []wireParty
		for _, p := range d.parties {
			if p.SpeakerID.state == optSet {
				speaking = append(speaking, p)
			}
		}
		for _, p := range speaking {
			uid := p.UserID
			if uid.state == optAbsent {
				uid = nullString()
			}
			out.Speakers = append(out.Speakers, wireSpeaker{ID: p.ID, UserID: uid, TalkTime: float64(c.durationSec) * 0.9 / float64(len(speaking))})
		}
	}
	if want.PersonInteractionStats {
		out.InteractionStats = []wireStat{{Name: "Talk Ratio", Value: 0.3 + r.Float64()*0.4}, {Name: "Interactivity", Value: r.Float64() * 10}}
	}
	if want.Video && d.media == "Video" {
		out.Video = []wireVideo{{Name: "WebcamPrimaryUser", Duration: float64(c.durationSec) * 0.8}}
	}
	if want.Questions {
		out.Questions = &wireQuestions{CompanyCount: r.IntN(15), NonCompanyCount: r.IntN(10)}
	}
	return out
}

func collaborationFor(c *callRecord, now time.Time) *wireCollaboration {
	r := newRand(c.seed, 9)
	out := &wireCollaboration{PublicComments: []wireComment{}}
	if r.Float64() < 0.1 {
		at := float64(r.IntN(int(c.durationSec) + 1))
		out.PublicComments = append(out.PublicComments, wireComment{
			ID:              strconv.FormatUint(r.Uint64()>>1, 10),
			AudioStartTime:  at,
			AudioEndTime:    at + 15,
			CommenterUserID: c.primaryUserID,
			Comment:         "Good handling of the pricing question.",
			Posted:          formatTime(time.Unix(c.visibleAt, 0).UTC()),
		})
	}
	return out
}

// mediaFor returns signed media URLs that expire MediaURLLifetime after
// this request.
func (s *Sim) mediaFor(req *apiRequest, c *callRecord, d callDetails) *wireMedia {
	expires := req.now.Add(s.cfg.MediaURLLifetime).Unix()
	out := &wireMedia{AudioURL: s.mediaURL(req.base, req.companyID, c.id, "audio.mp3", expires)}
	if d.media == "Video" {
		out.VideoURL = s.mediaURL(req.base, req.companyID, c.id, "video.mp4", expires)
	}
	return out
}

func (s *Sim) mediaSignature(companyID, callID, file string, expires int64) string {
	return hex.EncodeToString(s.sign([]byte(fmt.Sprintf("%s/%s/%s/%d", companyID, callID, file, expires))))
}

func (s *Sim) mediaURL(base, companyID, callID, file string, expires int64) string {
	return fmt.Sprintf("%s/media/%s/%s/%s?expires=%d&sig=%s", base, companyID, callID, file, expires, s.mediaSignature(companyID, callID, file, expires))
}

// handleMedia serves the signed media URLs: a few bytes of fake audio or
// video before the expiry, 403 after it or with a wrong signature.
func (s *Sim) handleMedia(w http.ResponseWriter, r *http.Request) {
	companyID, callID, file := r.PathValue("company"), r.PathValue("call"), r.PathValue("file")
	s.mu.Lock()
	s.countGlobal(companyID, EndpointMedia)
	s.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "media URLs accept GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	expires, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	sig := r.URL.Query().Get("sig")
	if err != nil || !hmac.Equal([]byte(sig), []byte(s.mediaSignature(companyID, callID, file, expires))) {
		http.Error(w, "signature does not match", http.StatusForbidden)
		return
	}
	if s.now().Unix() >= expires {
		http.Error(w, "request has expired", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	if strings.HasSuffix(file, ".mp4") {
		w.Header().Set("Content-Type", "video/mp4")
	}
	_, _ = w.Write([]byte("gongsim media " + callID))
}

// handleTranscript serves POST /v2/calls/transcript: transcripts of the
// matching calls whose transcript is ready, 100 calls a page.
func (s *Sim) handleTranscript(w http.ResponseWriter, r *http.Request, req *apiRequest) error {
	var body transcriptRequest
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	fq, err := validateFilter(body.Filter, req.co, true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	all := req.co.selectCalls(fq, req.now)
	s.mu.Unlock()
	calls := all[:0]
	for _, c := range all {
		if c.transcriptReady(req.now) {
			calls = append(calls, c)
		}
	}
	if len(calls) == 0 {
		return &apiError{status: http.StatusNotFound, msg: noCallsMessage}
	}
	want := cursorState{Endpoint: EndpointTranscript, Company: req.companyID, Request: requestHash(body.Filter)}
	pi, err := s.paginate(recordKeys(calls), len(calls), body.Cursor, want, req.now)
	if err != nil {
		return err
	}
	resp := transcriptsResponse{RequestID: req.requestID, Records: pi.records, CallTranscripts: []wireTranscript{}}
	for i := pi.start; i < pi.end; i++ {
		c := &calls[i]
		resp.CallTranscripts = append(resp.CallTranscripts, wireTranscript{CallID: c.id, Transcript: req.co.transcript(c, req.co.details(c))})
	}
	s.writeOK(w, req.requestID, resp)
	return nil
}
