package ingest_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"golang.org/x/time/rate"

	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/gongsim"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

const (
	company  = "acme"
	tenantID = "org-1"
)

// start is the clock time every test begins at.
var start = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// env is one tenant connected to a simulated Gong company, on kumo.
type env struct {
	t        *testing.T
	ctx      context.Context
	clk      *gongsim.ManualClock
	sim      *gongsim.Server
	aws      localaws.Clients
	st       *store.Store
	tenant   *store.Tenant
	epoch    int64
	gong     []gongsim.User // u[0] and u[1] are tenant users, u[2] and u[3] are not
	engine   *ingest.Engine
	queueURL string
	tokens   *staticTokens
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	clk := gongsim.NewManualClock(start)
	sim := gongsim.StartTB(t, gongsim.Config{
		Seed:             7,
		Companies:        []gongsim.CompanySpec{{ID: company, Users: 4, CallsPerDay: 0.001, Span: time.Hour}},
		Clock:            clk.Now,
		DisableRateLimit: true,
	})
	if n := len(sim.Calls(company)); n != 0 {
		t.Fatalf("simulator generated %d calls, want none so tests control every call", n)
	}
	aws := localaws.StartKumo(t)
	// kumo servers in one process share their data, so each test gets its
	// own table and queue.
	name := "t" + strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, t.Name())
	if err := store.EnsureTable(ctx, aws.DynamoDB, name); err != nil {
		t.Fatalf("EnsureTable: %v", err)
	}
	st := store.New(aws.DynamoDB, name)
	st.Now = clk.Now
	e := &env{t: t, ctx: ctx, clk: clk, sim: sim, aws: aws, st: st}
	e.tenant = e.mustTenant(tenantID)
	tok := sim.IssueToken(company)
	e.tokens = &staticTokens{sim: sim}
	epoch, err := e.tenant.MarkConnected(ctx, "admin-1", tok.Scopes, tok.BaseURL)
	if err != nil {
		t.Fatalf("MarkConnected: %v", err)
	}
	rec, err := e.tenant.GetTenant(ctx)
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	if epoch != rec.Epoch || epoch < 1 {
		t.Fatalf("MarkConnected returned epoch %d, stored epoch is %d; want the same positive epoch", epoch, rec.Epoch)
	}
	e.epoch = epoch
	e.gong = sim.Users(company)
	if len(e.gong) < 4 {
		t.Fatalf("simulator has %d users, want 4", len(e.gong))
	}
	// The first user is stored with an upper-case email and no Gong id, so
	// matching must ignore case and the run must link the id.
	for i, u := range e.gong[:2] {
		email := u.Email
		if i == 0 {
			email = strings.ToUpper(email)
		}
		if _, err := e.tenant.PutUser(ctx, store.User{UserID: "user-" + string(rune('a'+i)), Email: email, Name: u.FirstName, Active: true, JoinedAt: start.Add(-30 * 24 * time.Hour)}); err != nil {
			t.Fatalf("PutUser: %v", err)
		}
	}
	out, err := aws.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  awsString(name + ".fifo"),
		Attributes: map[string]string{"FifoQueue": "true"},
	})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	e.queueURL = *out.QueueUrl
	e.engine = &ingest.Engine{
		Store:       st,
		Tokens:      e.tokens,
		Now:         clk.Now,
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Sender:      &queue.Sender{SQS: aws.SQS, QueueURL: e.queueURL},
		GongOptions: []gong.Option{gong.WithLimiter(rate.NewLimiter(rate.Inf, 1))},
	}
	return e
}

func awsString(s string) *string { return &s }

func (e *env) mustTenant(id string) *store.Tenant {
	e.t.Helper()
	t, err := e.st.Tenant(id)
	if err != nil {
		e.t.Fatalf("Tenant(%s): %v", id, err)
	}
	return t
}

// staticTokens hands out a fresh simulator token for every run, as
// tokens.Manager would after refreshing; fail makes Client fail.
type staticTokens struct {
	sim  *gongsim.Server
	fail error
}

func (s *staticTokens) Client(_ context.Context, _ string) (*http.Client, string, error) {
	if s.fail != nil {
		return nil, "", s.fail
	}
	tok := s.sim.IssueToken(company)
	return &http.Client{Transport: bearer{tok.AccessToken}}, tok.BaseURL, nil
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func (e *env) syncMessage() queue.Message {
	return queue.Message{TenantID: tenantID, Epoch: e.epoch, Kind: queue.KindSync, Slot: queue.Slot(e.clk.Now())}
}

// run runs msg and fails the test on an error.
func (e *env) run(msg queue.Message) store.RunSummary {
	e.t.Helper()
	sum, err := e.engine.Run(e.ctx, msg)
	if err != nil {
		e.t.Fatalf("Run(%s): %v", msg.Kind, err)
	}
	return sum
}

// requests returns the simulator's request counts since the last call.
func (e *env) requests() map[string]int {
	got := e.sim.Requests(company)
	e.sim.ResetCounters()
	return got
}

func internal(u gongsim.User) gongsim.PartySpec {
	return gongsim.PartySpec{Name: u.FirstName + " " + u.LastName, Email: u.Email, UserID: u.ID, Speaker: true}
}

func external(name, email string) gongsim.PartySpec {
	return gongsim.PartySpec{Name: name, Email: email, Affiliation: "External", Speaker: true}
}

// addCall adds a call that started ago before now, listed and transcribed
// by now unless the spec says otherwise.
func (e *env) addCall(ago time.Duration, spec gongsim.CallSpec) string {
	spec.Started = e.clk.Now().Add(-ago)
	if spec.Duration == 0 {
		spec.Duration = 10 * time.Minute
	}
	if spec.VisibleAt.IsZero() {
		spec.VisibleAt = spec.Started.Add(spec.Duration)
	}
	return e.sim.AddCall(company, spec)
}

func (e *env) getCall(id string) (callFound bool) {
	e.t.Helper()
	_, err := e.tenant.GetCall(e.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		e.t.Fatalf("GetCall(%s): %v", id, err)
	}
	return true
}

func (e *env) syncState() store.SyncState {
	e.t.Helper()
	st, err := e.tenant.GetSync(e.ctx)
	if err != nil {
		e.t.Fatalf("GetSync: %v", err)
	}
	return st
}

// receive returns the messages waiting on the ingest queue and deletes them.
func (e *env) receive() []queue.Message {
	e.t.Helper()
	var msgs []queue.Message
	for {
		out, err := e.aws.SQS.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: &e.queueURL, MaxNumberOfMessages: 10})
		if err != nil {
			e.t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			return msgs
		}
		for _, m := range out.Messages {
			msg, err := queue.Parse(aws.ToString(m.Body))
			if err != nil {
				e.t.Fatalf("Parse queued message: %v", err)
			}
			msgs = append(msgs, msg)
			if _, err := e.aws.SQS.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &e.queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				e.t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
}
