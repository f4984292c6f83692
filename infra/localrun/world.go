package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealdesk/gongingest/shared/backfill"
	"github.com/dealdesk/gongingest/shared/connect"
	"github.com/dealdesk/gongingest/shared/gongsim"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

// tenantOf returns the tenant connected to a Gong company.
func tenantOf(company string) string { return "org-" + company }

// world is everything one local run uses.
type world struct {
	opts    options
	clients localaws.Clients
	// clock is the in-process simulator's clock, which moves only when the
	// run moves it; nil with GONG_SIM_URL, whose simulator runs in real time.
	clock *gongsim.ManualClock
	// sim is the in-process simulator; nil with GONG_SIM_URL.
	sim       *gongsim.Server
	gongURL   string
	now       func() time.Time
	st        *store.Store
	queueURL  string
	tokens    *tokens.Manager
	connect   *connect.Service
	backfill  *backfill.Service
	scheduler *ingest.Scheduler
	consumer  *ingest.Consumer
	recorder  *recorder
	logger    *slog.Logger
	// setupRequests counts, per tenant, the Gong requests seeding made to
	// list users and read the sample of calls the deals come from.
	setupRequests map[string]int64
	// deals counts the deals seeding stored, per tenant.
	deals map[string]int
	// passRequests adds up, per tenant, the Gong requests of every pass.
	passRequests map[string]int64
}

func newWorld(ctx context.Context, clients localaws.Clients, table string, opts options, logger *slog.Logger) (*world, error) {
	w := &world{opts: opts, clients: clients, logger: logger, now: time.Now,
		setupRequests: map[string]int64{}, passRequests: map[string]int64{}, deals: map[string]int{}}
	if opts.gongURL == "" {
		if err := w.startSim(); err != nil {
			return nil, err
		}
	} else {
		w.gongURL = opts.gongURL
	}

	if err := store.EnsureTable(ctx, clients.DynamoDB, table); err != nil {
		return nil, err
	}
	w.st = store.New(clients.DynamoDB, table)
	w.st.Now = w.now
	out, err := clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String("gong-ingest-local.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "900"},
	})
	if err != nil {
		w.close()
		return nil, fmt.Errorf("create the ingest queue: %w", err)
	}
	w.queueURL = aws.ToString(out.QueueUrl)
	sender := &queue.Sender{SQS: clients.SQS, QueueURL: w.queueURL}

	oauth := tokens.OAuthConfig(opts.clientID, opts.clientSecret, w.gongURL+"/oauth2/authorize",
		w.gongURL+"/oauth2/generate-customer-token", redirectURI, tokens.Scopes)
	w.tokens = &tokens.Manager{
		Secrets: clients.SecretsManager, Store: w.st, OAuth: oauth,
		Prefix: tokens.DefaultPrefix, Now: w.now, Logger: logger,
	}
	w.backfill = backfill.New(w.st, sender, backfill.Config{InitialDays: opts.days, MaxDays: max(opts.days, backfill.DefaultMaxDays)})
	w.backfill.Now = w.now
	w.backfill.Logger = logger
	if w.connect, err = w.newConnectService(ctx); err != nil {
		w.close()
		return nil, err
	}

	mapper := mapping.New(logger)
	engine := &ingest.Engine{
		Store: w.st, Tokens: w.tokens, Now: w.now, Logger: logger,
		Budget: w.backfill.Budget, Sender: sender, OnWindowDone: w.backfill.OnWindowDone,
		Jobs: w.backfill, Mapper: mapper,
		Remap: mapper,
	}
	w.recorder = &recorder{next: engine, runs: map[string][]store.RunSummary{}}
	w.scheduler = &ingest.Scheduler{Store: w.st, Sender: sender, Backfill: w.backfill, Now: w.now, Logger: logger}
	w.consumer = &ingest.Consumer{Engine: w.recorder, Store: w.st, Now: w.now, Logger: logger}
	return w, nil
}

// startSim starts the Gong simulator in process on a clock that starts at
// the current hour and moves only when the run moves it, so the same flags
// give the same company data.
func (w *world) startSim() error {
	w.clock = gongsim.NewManualClock(time.Now().UTC().Truncate(time.Hour))
	w.now = w.clock.Now
	var specs []gongsim.CompanySpec
	for _, c := range w.opts.companies {
		specs = append(specs, gongsim.CompanySpec{ID: c, Users: 12, Span: time.Duration(w.opts.days) * 24 * time.Hour, CallsPerDay: w.opts.callsPerDay})
	}
	sim, err := startSimulator(gongsim.Config{
		Seed:      42,
		Companies: specs,
		Clock:     w.clock.Now,
		// The simulator measures its 3 requests a second on the simulated
		// clock, which does not move while the handlers run, so it would
		// throttle everything. The Gong client paces each company instead,
		// at -gong-rps in real time.
		DisableRateLimit: true,
		ClientID:         w.opts.clientID,
		ClientSecret:     w.opts.clientSecret,
	})
	if err != nil {
		return err
	}
	w.sim, w.gongURL = sim, sim.URL
	return nil
}

// startSimulator turns the panic gongsim.New raises for an invalid company
// id into an error.
func startSimulator(cfg gongsim.Config) (sim *gongsim.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid -companies: %v", r)
		}
	}()
	return gongsim.Start(cfg)
}

func (w *world) close() {
	if w.sim != nil {
		w.sim.Close()
	}
}

// later prepares the second pass and returns its title and the time of its
// scheduler event.
func (w *world) later(ctx context.Context, first time.Time) (string, time.Time, error) {
	if w.clock != nil {
		// Two hours later: calls Gong had not finished processing are
		// listed now, and transcripts that were not ready have arrived.
		w.clock.Advance(2 * time.Hour)
		return "pass 2: scheduled sync two hours later", w.clock.Now(), nil
	}
	fmt.Printf("\nThe simulator at %s runs in real time: waiting %s (-poll-wait) before pass 2.\n", w.gongURL, w.opts.pollWait)
	select {
	case <-time.After(w.opts.pollWait):
	case <-ctx.Done():
		return "", time.Time{}, ctx.Err()
	}
	// The scheduler queues one sync per tenant and scheduler slot, and pass 1
	// claimed the current slot, so the event is dated to the next one. The
	// sync itself reads up to the real time.
	at := first.UTC().Truncate(queue.SlotLength).Add(queue.SlotLength)
	if now := w.now(); now.After(at) {
		at = now
	}
	fmt.Printf("Pass 1 claimed the scheduler slot of its time, so pass 2's event is dated %s, the start of the next slot;\n", at.Format(time.RFC3339))
	fmt.Println("its sync still reads up to the real time and lists only what Gong finished processing since pass 1.")
	return fmt.Sprintf("pass 2: scheduled sync %s after pass 1 began", w.now().Sub(first).Round(time.Second)), at, nil
}

// pass runs the scheduler once for an event at the given time and drains
// the queue through the ingest handler, then prints what each tenant's runs
// did.
func (w *world) pass(ctx context.Context, title string, at time.Time) error {
	clockNote := "simulated time"
	if w.clock == nil {
		clockNote = "real time"
	}
	fmt.Printf("\n== %s (%s %s)\n", title, clockNote, w.now().UTC().Format(time.RFC3339))
	w.recorder.reset()
	if w.sim != nil {
		w.sim.ResetCounters()
	}
	started := time.Now()
	res, err := w.scheduler.Handle(ctx, events.EventBridgeEvent{ID: "localrun", Time: at})
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	fmt.Printf("scheduler: slot %s, %d sync message(s) queued, %d already queued for the slot, %d user backfill(s), %d tenant(s) skipped\n",
		res.Slot, res.Queued, res.AlreadyQueued, res.UserBackfills, sum(res.Skipped))
	delivered, failed, err := w.drain(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("ingest: %d message(s) handled, %d failed delivery(ies), %s wall time\n\n", delivered, failed, time.Since(started).Round(time.Millisecond))
	return w.printPass(ctx)
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

// summaries returns the tenant's run summaries since the last reset.
func (r *recorder) summaries(tenantID string) []store.RunSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.RunSummary(nil), r.runs[tenantID]...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.runs = map[string][]store.RunSummary{}
	r.mu.Unlock()
}
