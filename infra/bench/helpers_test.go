package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealdesk/gongingest/shared/backfill"
	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/gongsim"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

const (
	company  = "acme"
	tenantID = "org-acme"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
	os.Setenv("AWS_REGION", "us-east-1")
	if os.Getenv(childEnv) != "" {
		// The process is the engine side of BenchmarkBackfill, started by
		// startBackfillChild; it never runs the benchmarks.
		os.Exit(runBackfillChild())
	}
	os.Exit(m.Run())
}

// tableCount makes table and queue names unique, because kumo servers in one
// process share their tables and queues.
var tableCount atomic.Int64

// world is one tenant connected to one simulated Gong company, with the
// store, queue, backfill service, engine and consumer wired as the Lambda
// functions wire them (see infra/localrun).
type world struct {
	ctx      context.Context
	now      func() time.Time
	sim      *gongsim.Server
	aws      localaws.Clients // kumo: the ingest queue
	ddb      localaws.Clients // DynamoDB Local: the table
	st       *store.Store
	tenant   *store.Tenant
	epoch    int64
	queueURL string
	sender   *queue.Sender
	backfill *backfill.Service
	engine   *ingest.Engine
	consumer *ingest.Consumer
}

// worldConfig sets what differs between the benchmarks.
type worldConfig struct {
	sim gongsim.Config
	// now is the clock of the store, the engine and the backfill service;
	// nil means time.Now.
	now func() time.Time
	// gongOptions are passed to the engine's Gong clients; empty keeps the
	// process-wide limiter of 1 request per gong.MinRequestInterval.
	gongOptions []gong.Option
}

func newWorld(b *testing.B, cfg worldConfig) *world {
	b.Helper()
	ctx := context.Background()
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	sim := gongsim.StartTB(b, cfg.sim)

	clients := localaws.StartKumo(b)
	// The table lives in DynamoDB Local because kumo's DynamoDB slows down
	// as the table grows: a 10,000-call window took 12 minutes on it. The
	// queue stays on kumo.
	ddb := localaws.StartDynamoDBLocal(b)
	name := fmt.Sprintf("bench-%d", tableCount.Add(1))
	if err := store.EnsureTable(ctx, ddb.DynamoDB, name); err != nil {
		b.Fatalf("EnsureTable(%s): %v", name, err)
	}
	st := store.New(ddb.DynamoDB, name)
	st.Now = now

	out, err := clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(name + ".fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "900"},
	})
	if err != nil {
		b.Fatalf("CreateQueue(%s.fifo): %v", name, err)
	}
	w := &world{ctx: ctx, now: now, sim: sim, aws: clients, ddb: ddb, st: st, queueURL: aws.ToString(out.QueueUrl)}
	w.sender = &queue.Sender{SQS: clients.SQS, QueueURL: w.queueURL}
	w.tenant, err = st.Tenant(tenantID)
	if err != nil {
		b.Fatalf("Tenant(%s): %v", tenantID, err)
	}
	w.connect(b)
	w.backfill, w.engine, w.consumer = wireEngine(st, w.sender, simTokens{sim}, now, cfg.gongOptions)
	return w
}

// connect stores every Gong user of the company as an active organization
// user who joined before any generated call, admits private calls and marks
// the tenant connected. So every call Gong lists is one the engine stores
// with its transcript, and "new calls" and "stored calls" are the same
// count.
func (w *world) connect(b *testing.B) {
	b.Helper()
	joined := w.now().Add(-365 * 24 * time.Hour)
	for i, u := range w.sim.Users(company) {
		user := store.User{UserID: fmt.Sprintf("u-%03d", i), Email: u.Email, Name: u.FirstName + " " + u.LastName, Active: true, JoinedAt: joined}
		if _, err := w.tenant.PutUser(w.ctx, user); err != nil {
			b.Fatalf("PutUser(%s): %v", user.UserID, err)
		}
	}
	if err := w.tenant.PutSettings(w.ctx, store.Settings{IncludePrivate: true}); err != nil {
		b.Fatalf("PutSettings: %v", err)
	}
	tok := w.sim.IssueToken(company)
	epoch, err := w.tenant.MarkConnected(w.ctx, "admin@"+company+".example", tok.Scopes, tok.BaseURL)
	if err != nil {
		b.Fatalf("MarkConnected: %v", err)
	}
	w.epoch = epoch
}

// wireEngine builds the backfill service, engine and consumer the way
// infra/localrun does: budget, jobs, deal mapping and remapping included.
func wireEngine(st *store.Store, sender *queue.Sender, tokens ingest.ClientSource, now func() time.Time, gongOptions []gong.Option) (*backfill.Service, *ingest.Engine, *ingest.Consumer) {
	// Errors go to stderr, so a failed run shows its cause in the output.
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	svc := backfill.New(st, sender, backfill.Config{})
	svc.Now = now
	svc.Logger = logger
	mapper := mapping.New(logger)
	engine := &ingest.Engine{
		Store: st, Tokens: tokens, Now: now, Logger: logger,
		Budget: svc.Budget, Sender: sender, OnWindowDone: svc.OnWindowDone,
		Jobs: svc, Mapper: mapper,
		Remap:       mapper,
		GongOptions: gongOptions,
	}
	consumer := &ingest.Consumer{Engine: engine, Store: st, Now: now, Logger: logger}
	return svc, engine, consumer
}

// simTokens hands out a fresh simulator token for every run, as
// tokens.Manager does after a refresh; tokens expire after 24 hours of the
// simulator's clock.
type simTokens struct{ sim *gongsim.Server }

func (s simTokens) Client(context.Context, string) (*http.Client, string, error) {
	tok := s.sim.IssueToken(company)
	return &http.Client{Transport: bearer{tok.AccessToken}}, tok.BaseURL, nil
}

// fixedToken hands out one simulator access token. Tokens last 24 hours, far
// longer than any benchmark.
type fixedToken struct {
	access  string
	baseURL string
}

func (f fixedToken) Client(context.Context, string) (*http.Client, string, error) {
	return &http.Client{Transport: bearer{f.access}}, f.baseURL, nil
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// drain receives the ingest queue's messages in batches of up to 10 and
// hands them to the consumer, as the SQS event source does, until the queue
// is empty. It returns an error when a message fails, because no benchmark
// expects a failed run.
func drain(ctx context.Context, clients localaws.Clients, queueURL string, consumer *ingest.Consumer) (int, error) {
	handled := 0
	for {
		out, err := clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10,
		})
		if err != nil {
			return handled, fmt.Errorf("receive from the ingest queue: %w", err)
		}
		if len(out.Messages) == 0 {
			return handled, nil
		}
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)})
		}
		resp, err := consumer.Handle(ctx, ev)
		if err != nil {
			return handled, err
		}
		if len(resp.BatchItemFailures) > 0 {
			return handled, fmt.Errorf("%d of %d message(s) failed, first %s", len(resp.BatchItemFailures), len(ev.Records), resp.BatchItemFailures[0].ItemIdentifier)
		}
		for _, m := range out.Messages {
			if _, err := clients.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return handled, fmt.Errorf("delete message %s: %w", aws.ToString(m.MessageId), err)
			}
			handled++
		}
	}
}

// gongRequests returns the company's request count on the simulator, every
// endpoint included, and the count per endpoint.
func gongRequests(sim *gongsim.Server) (int, map[string]int) {
	byEndpoint := sim.Requests(company)
	total := 0
	for _, n := range byEndpoint {
		total += n
	}
	return total, byEndpoint
}

// storedCallState returns whether the call is stored and whether its
// transcript is stored.
func (w *world) storedCallState(callID string) (stored, transcript bool, err error) {
	c, err := w.tenant.GetCall(w.ctx, callID)
	if errors.Is(err, store.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return true, c.Transcript.Status == calls.TranscriptComplete, nil
}

// transcriptSizes are the sizes of the stored transcripts of a tenant.
type transcriptSizes struct {
	transcripts int
	jsonBytes   int64 // Gong's JSON shape, as the store measured it on write
	payload     int64 // compressed payload in every chunk
	items       int64 // whole chunk items by DynamoDB's item size rules
}

// measureTranscripts reads every transcript chunk item of the tenant from
// the table and adds up its sizes.
func measureTranscripts(ctx context.Context, db *dynamodb.Client, table string, t *store.Tenant) (transcriptSizes, error) {
	var sz transcriptSizes
	in := &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     &types.AttributeValueMemberS{Value: t.PK()},
			":prefix": &types.AttributeValueMemberS{Value: "TRANSCRIPT#"},
		},
	}
	p := dynamodb.NewQueryPaginator(db, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return sz, fmt.Errorf("query transcript chunks of %s: %w", t.ID(), err)
		}
		for _, item := range out.Items {
			sz.items += itemSize(item)
			if data, ok := item["data"].(*types.AttributeValueMemberB); ok {
				sz.payload += int64(len(data.Value))
			}
			if n, ok := item["jsonBytes"].(*types.AttributeValueMemberN); ok {
				var v int64
				if _, err := fmt.Sscan(n.Value, &v); err != nil {
					return sz, fmt.Errorf("jsonBytes %q of %s: %w", n.Value, item["sk"], err)
				}
				sz.jsonBytes += v
				sz.transcripts++
			}
		}
	}
	return sz, nil
}

// itemSize returns an item's size as DynamoDB counts it for its 400 KB
// limit: attribute name lengths plus value sizes, numbers counted by their
// digits (an approximation of DynamoDB's 1 byte per 2 digits plus 1).
func itemSize(item map[string]types.AttributeValue) int64 {
	var n int64
	for name, v := range item {
		n += int64(len(name))
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += int64(len(v.Value))
		case *types.AttributeValueMemberN:
			n += int64(len(v.Value)+1)/2 + 1
		case *types.AttributeValueMemberB:
			n += int64(len(v.Value))
		case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
			n++
		default:
			n += 8
		}
	}
	return n
}
