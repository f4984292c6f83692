package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"golang.org/x/time/rate"

	"github.com/dealdesk/gongingest/shared/backfill"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/gongsim"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

// companies are the simulated Gong companies; tenant "org-<company>" is
// connected to each.
var companies = []string{"acme", "globex", "initech"}

func tenantOf(company string) string { return "org-" + company }

// world is everything one local run uses.
type world struct {
	opts      options
	clients   localaws.Clients
	clock     *gongsim.ManualClock
	sim       *gongsim.Server
	st        *store.Store
	queueURL  string
	tokens    *tokens.Manager
	backfill  *backfill.Service
	scheduler *ingest.Scheduler
	consumer  *ingest.Consumer
	recorder  *recorder
	logger    *slog.Logger
}

func newWorld(ctx context.Context, clients localaws.Clients, table string, opts options, logger *slog.Logger) (*world, error) {
	// The simulated clock starts at the current hour and moves only when the
	// run moves it, so the same flags give the same company data.
	clock := gongsim.NewManualClock(time.Now().UTC().Truncate(time.Hour))
	var specs []gongsim.CompanySpec
	for _, c := range companies {
		specs = append(specs, gongsim.CompanySpec{ID: c, Users: 12, Span: time.Duration(opts.days) * 24 * time.Hour, CallsPerDay: opts.callsPerDay})
	}
	sim, err := gongsim.Start(gongsim.Config{
		Seed:      42,
		Companies: specs,
		Clock:     clock.Now,
		// The simulator measures its 3 requests a second on the simulated
		// clock, which does not move while the handlers run, so it would
		// throttle everything. The Gong client paces each company instead,
		// at -gong-rps in real time.
		DisableRateLimit: true,
	})
	if err != nil {
		return nil, err
	}
	w := &world{opts: opts, clients: clients, clock: clock, sim: sim, logger: logger}

	if err := store.EnsureTable(ctx, clients.DynamoDB, table); err != nil {
		return nil, err
	}
	w.st = store.New(clients.DynamoDB, table)
	w.st.Now = clock.Now
	out, err := clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String("gong-ingest-local.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "900"},
	})
	if err != nil {
		return nil, fmt.Errorf("create the ingest queue: %w", err)
	}
	w.queueURL = aws.ToString(out.QueueUrl)
	sender := &queue.Sender{SQS: clients.SQS, QueueURL: w.queueURL}

	w.tokens = &tokens.Manager{
		Secrets: clients.SecretsManager,
		Store:   w.st,
		OAuth: tokens.OAuthConfig("gongsim-client", "gongsim-secret",
			sim.URL+"/oauth2/authorize", sim.URL+"/oauth2/generate-customer-token",
			"http://127.0.0.1/gong/callback", tokens.Scopes),
		Prefix: tokens.DefaultPrefix,
		Now:    clock.Now,
		Logger: logger,
	}
	w.backfill = backfill.New(w.st, sender, backfill.Config{InitialDays: opts.days})
	w.backfill.Now = clock.Now
	w.backfill.Logger = logger

	mapper := mapping.New(logger)
	engine := &ingest.Engine{
		Store: w.st, Tokens: w.tokens, Now: clock.Now, Logger: logger,
		Budget: w.backfill.Budget, Sender: sender, OnWindowDone: w.backfill.OnWindowDone,
		Jobs: w.backfill, Mapper: mapper,
		Remap: func(ctx context.Context, t *store.Tenant) error {
			_, err := mapper.RemapIfStale(ctx, t)
			return err
		},
	}
	for _, c := range companies {
		// The Gong client shares one process-wide limiter per company
		// base URL; -gong-rps sets its pace for this run.
		gong.LimiterFor(sim.BaseURL(c)).SetLimit(rate.Limit(opts.gongRPS))
	}
	w.recorder = &recorder{next: engine, runs: map[string][]store.RunSummary{}}
	w.scheduler = &ingest.Scheduler{Store: w.st, Sender: sender, Backfill: w.backfill, Now: clock.Now, Logger: logger}
	w.consumer = &ingest.Consumer{Engine: w.recorder, Store: w.st, Now: clock.Now, Logger: logger}
	return w, nil
}

func (w *world) close() { w.sim.Close() }

// seed connects each tenant as the OAuth callback would. It stores the
// organization's users: two thirds of the company's Gong users, some emails
// in other letter case, plus one user Gong does not know. Then it stores the
// token in Secrets Manager, marks the tenant connected and starts the
// initial backfill.
func (w *world) seed(ctx context.Context) error {
	fmt.Printf("Gong simulator at %s: %d companies, %d days, %g calls a day each (clock %s, simulated)\n",
		w.sim.URL, len(companies), w.opts.days, w.opts.callsPerDay, w.clock.Now().Format(time.RFC3339))
	fmt.Printf("The Gong client paces each company at %g requests a second (-gong-rps; Gong allows 3) in real time;\n", w.opts.gongRPS)
	fmt.Println("the simulator's own rate limit is off because its clock is simulated and does not move during a pass.")
	for _, c := range companies {
		tn, err := w.st.Tenant(tenantOf(c))
		if err != nil {
			return err
		}
		gongUsers := w.sim.Users(c)
		for i, u := range gongUsers[:len(gongUsers)*2/3] {
			email := u.Email
			if i%3 == 0 {
				email = strings.ToUpper(email[:1]) + email[1:]
			}
			user := store.User{UserID: fmt.Sprintf("u-%s-%02d", c, i), Email: email, Name: u.FirstName + " " + u.LastName, Active: true, JoinedAt: w.clock.Now()}
			if _, err := tn.PutUser(ctx, user); err != nil {
				return err
			}
		}
		newcomer := store.User{UserID: "u-" + c + "-new", Email: "newcomer@" + c + ".example", Name: "New Comer", Active: true, JoinedAt: w.clock.Now()}
		if _, err := tn.PutUser(ctx, newcomer); err != nil {
			return err
		}
		tok := w.sim.IssueToken(c)
		err = w.tokens.Put(ctx, tn.ID(), tokens.Token{
			AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType,
			Expiry: tok.Expiry, Scopes: tok.Scopes, BaseURL: tok.BaseURL, UpdatedAt: w.clock.Now(),
		})
		if err != nil {
			return fmt.Errorf("store the token of %s: %w", tn.ID(), err)
		}
		epoch, err := tn.MarkConnected(ctx, "admin@"+c+".example", tok.Scopes, tok.BaseURL)
		if err != nil {
			return err
		}
		if _, err := w.backfill.StartInitial(ctx, tn.ID(), epoch, w.opts.days, "admin@"+c+".example"); err != nil {
			return fmt.Errorf("start the initial backfill of %s: %w", tn.ID(), err)
		}
		fmt.Printf("  tenant %-12s company %-8s %3d calls in Gong, %2d organization users, epoch %d\n",
			tn.ID(), c, len(w.sim.Calls(c)), len(gongUsers)*2/3+1, epoch)
	}
	return nil
}

// pass runs the scheduler once and drains the queue through the ingest
// handler, then prints what each tenant's runs did.
func (w *world) pass(ctx context.Context, title string) error {
	fmt.Printf("\n== %s (simulated time %s)\n", title, w.clock.Now().Format(time.RFC3339))
	w.recorder.reset()
	w.sim.ResetCounters()
	started := time.Now()
	res, err := w.scheduler.Handle(ctx, events.EventBridgeEvent{ID: "localrun", Time: w.clock.Now()})
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	fmt.Printf("scheduler: slot %s, %d sync message(s) queued, %d tenant(s) skipped\n", res.Slot, res.Queued, sum(res.Skipped))
	delivered, failed, err := w.drain(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("ingest: %d message(s) handled, %d failed delivery(ies), %s wall time\n\n", delivered, failed, time.Since(started).Round(time.Millisecond))
	return w.printTable(ctx)
}

// maxDeliveries bounds the deliveries of one message before the run gives
// up on it, as the queue's maxReceiveCount would move it to the DLQ.
const maxDeliveries = 3

// drain receives messages and hands them to the ingest handler in SQS event
// batches until the queue is empty, deleting the ones the handler did not
// report as failed.
func (w *world) drain(ctx context.Context) (handled, failed int, err error) {
	receives := map[string]int{}
	for {
		out, err := w.clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(w.queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 1,
		})
		if err != nil {
			return handled, failed, fmt.Errorf("receive from the ingest queue: %w", err)
		}
		if len(out.Messages) == 0 {
			return handled, failed, nil
		}
		ev := events.SQSEvent{}
		receipts := map[string]*string{}
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			receipts[id] = m.ReceiptHandle
			receives[id]++
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: id, Body: aws.ToString(m.Body), ReceiptHandle: aws.ToString(m.ReceiptHandle)})
		}
		resp, err := w.consumer.Handle(ctx, ev)
		if err != nil {
			return handled, failed, err
		}
		bad := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			bad[f.ItemIdentifier] = true
		}
		for id, receipt := range receipts {
			if bad[id] && receives[id] < maxDeliveries {
				failed++
				continue // visible again after the 1-second visibility timeout
			}
			if bad[id] {
				fmt.Printf("  message %s failed %d times; dropped as a dead-letter queue would take it\n", id, receives[id])
			}
			handled++
			if _, err := w.clients.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(w.queueURL), ReceiptHandle: receipt}); err != nil {
				return handled, failed, fmt.Errorf("delete message %s: %w", id, err)
			}
		}
		if len(bad) > 0 {
			// Failed messages reappear after the visibility timeout.
			time.Sleep(1100 * time.Millisecond)
		}
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// recorder passes messages to the engine and keeps each run's summary.
type recorder struct {
	next ingest.Runner
	mu   sync.Mutex
	runs map[string][]store.RunSummary
}

func (r *recorder) Run(ctx context.Context, msg queue.Message) (store.RunSummary, error) {
	s, err := r.next.Run(ctx, msg)
	r.mu.Lock()
	r.runs[msg.TenantID] = append(r.runs[msg.TenantID], s)
	r.mu.Unlock()
	return s, err
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.runs = map[string][]store.RunSummary{}
	r.mu.Unlock()
}
