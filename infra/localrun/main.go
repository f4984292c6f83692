// Command localrun runs the main job end to end on one machine: kumo in
// process for DynamoDB, SQS and Secrets Manager, and the Gong simulator in
// process with three generated companies. It connects each tenant the way
// an admin does, through the simulator's OAuth authorize and token
// endpoints and the product's connect service, which stores the token,
// marks the tenant connected and starts the initial backfill. It then stores
// the organization's users and a few deals, and drives the real scheduler
// and ingest handlers through the FIFO queue twice. The first pass runs the
// backfill and the first sync. The second runs after the simulated clock
// moved on two hours, so late calls and late transcripts arrive. It prints a
// table per pass, the stored state per tenant with calls mapped to deals by
// rule, and one stored call with its transcript.
//
// Usage:
//
//	go run ./infra/localrun [-days 30] [-calls-per-day 40] [-gong-rps 20] [-serve]
//	go run ./infra/localrun -show <tenant>/<callId> [-monologues 20]   (needs AWS_ENDPOINT_URL)
//
// Environment:
//
//	AWS_ENDPOINT_URL    use this AWS stand-in (such as a kumo started with -serve)
//	                    instead of starting kumo in process
//	GONG_SIM_URL        use a Gong simulator started with `go run ./infra/gongsim`
//	                    at this URL instead of the in-process one; its clock is
//	                    real time, so the second pass runs -poll-wait later
//	GONG_CLIENT_ID      OAuth client id the simulator accepts (default gongsim-client)
//	GONG_CLIENT_SECRET  OAuth client secret the simulator accepts (default gongsim-secret)
//	TABLE_NAME          table name (default gong-ingest)
//	LOG_LEVEL           log level of the handlers' JSON logs on stderr (default warn)
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
)

// Defaults of the OAuth client, the same as the simulator's -client-id and
// -client-secret defaults.
const (
	defaultClientID     = "gongsim-client"
	defaultClientSecret = "gongsim-secret"
	// externalGongRPS is Gong's documented limit of 3 requests a second per
	// company, which a simulator started with `go run ./infra/gongsim`
	// enforces unless it runs with -no-rate-limit.
	externalGongRPS = 3
)

func main() {
	var opts options
	var companies string
	flag.IntVar(&opts.days, "days", 30, "days of call history each in-process company has and the initial backfill reads")
	flag.Float64Var(&opts.callsPerDay, "calls-per-day", 40, "calls a day in each in-process company")
	flag.Float64Var(&opts.gongRPS, "gong-rps", 20, "Gong requests a second the client allows per company; with GONG_SIM_URL the default is 3, Gong's real limit")
	flag.StringVar(&companies, "companies", "acme,globex,initech", "comma-separated Gong company ids; with GONG_SIM_URL, the simulator must serve each (its -companies flag)")
	flag.DurationVar(&opts.pollWait, "poll-wait", 15*time.Second, "with GONG_SIM_URL, real time to wait between the two passes")
	flag.BoolVar(&opts.serve, "serve", false, "keep kumo running after the run, so -show can read the stored data from another terminal")
	flag.StringVar(&opts.show, "show", "", "print one stored call and its transcript, given as <tenant>/<callId>, then exit")
	flag.IntVar(&opts.monologues, "monologues", 20, "with -show, how many transcript monologues to print; 0 prints all")
	flag.Parse()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	for _, c := range strings.Split(companies, ",") {
		if c = strings.TrimSpace(c); c != "" {
			opts.companies = append(opts.companies, c)
		}
	}
	opts.gongURL = strings.TrimRight(os.Getenv("GONG_SIM_URL"), "/")
	opts.clientID = envOr("GONG_CLIENT_ID", defaultClientID)
	opts.clientSecret = envOr("GONG_CLIENT_SECRET", defaultClientSecret)
	if opts.gongURL != "" && !flagSet("gong-rps") {
		opts.gongRPS = externalGongRPS
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
}

type options struct {
	days        int
	callsPerDay float64
	gongRPS     float64
	companies   []string
	pollWait    time.Duration
	serve       bool
	show        string
	monologues  int

	gongURL      string // GONG_SIM_URL; empty starts the simulator in process
	clientID     string
	clientSecret string
}

func (o options) validate() error {
	if o.days < 1 || o.callsPerDay <= 0 || o.gongRPS <= 0 {
		return fmt.Errorf("-days %d, -calls-per-day %g and -gong-rps %g must be positive", o.days, o.callsPerDay, o.gongRPS)
	}
	if len(o.companies) == 0 {
		return fmt.Errorf("-companies is empty: list at least one company id, such as acme")
	}
	if o.pollWait < 0 {
		return fmt.Errorf("-poll-wait %s is negative: use 0 or a duration such as 30s", o.pollWait)
	}
	if o.gongURL != "" {
		u, err := url.Parse(o.gongURL)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("GONG_SIM_URL %q is not an http URL: set it to the URL `go run ./infra/gongsim` prints, such as http://127.0.0.1:8089", o.gongURL)
		}
	}
	return nil
}

func run(ctx context.Context, opts options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	table := envOr("TABLE_NAME", store.DefaultTableName)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(os.Getenv("LOG_LEVEL"))}))
	slog.SetDefault(logger)

	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if opts.show != "" {
		return showStored(ctx, endpoint, table, opts.show, opts.monologues)
	}

	var clients localaws.Clients
	if endpoint != "" {
		clients = localaws.NewClients(endpoint)
		fmt.Printf("AWS stand-in: %s (AWS_ENDPOINT_URL)\n", endpoint)
	} else {
		var closeKumo func()
		clients, closeKumo = localaws.StartKumoServer()
		defer closeKumo()
		fmt.Printf("AWS stand-in: kumo in process at %s\n", clients.Endpoint)
	}
	w, err := newWorld(ctx, clients, table, opts, logger)
	if err != nil {
		return err
	}
	defer w.close()
	if err := w.seed(ctx); err != nil {
		return err
	}

	started := time.Now()
	first := w.now()
	if err := w.pass(ctx, "pass 1: initial backfill and first scheduled sync", first); err != nil {
		return err
	}
	title, at, err := w.later(ctx, first)
	if err != nil {
		return err
	}
	if err := w.pass(ctx, title, at); err != nil {
		return err
	}
	fmt.Printf("\nBoth passes took %s of wall time.\n", time.Since(started).Round(time.Millisecond))

	if err := w.printStored(ctx); err != nil {
		return err
	}
	callRef, err := w.showOne(ctx)
	if err != nil {
		return err
	}
	return w.finish(ctx, endpoint, table, callRef)
}

// finish explains how to look at stored calls and, with -serve, keeps kumo
// running until Ctrl-C.
func (w *world) finish(ctx context.Context, endpoint, table, callRef string) error {
	if callRef == "" {
		callRef = "<tenant>/<callId>"
	}
	prefix := ""
	if table != store.DefaultTableName {
		prefix = "TABLE_NAME=" + table + " "
	}
	if endpoint != "" {
		fmt.Println("\nThe stored data stays in the AWS stand-in; to look at any stored call:")
		fmt.Printf("  %sAWS_ENDPOINT_URL=%s go run ./infra/localrun -show %s\n", prefix, endpoint, callRef)
		return nil
	}
	if !w.opts.serve {
		fmt.Println("\nThe in-process kumo stops now. To look at stored calls after a run, add -serve, then in another terminal:")
		fmt.Printf("  %sAWS_ENDPOINT_URL=<the endpoint -serve prints> go run ./infra/localrun -show %s\n", prefix, callRef)
		return nil
	}
	fmt.Printf("\nkumo keeps serving at %s. In another terminal, look at any stored call with:\n", w.clients.Endpoint)
	fmt.Printf("  %sAWS_ENDPOINT_URL=%s go run ./infra/localrun -show %s\n", prefix, w.clients.Endpoint, callRef)
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

// showStored prints one call from a running stand-in.
func showStored(ctx context.Context, endpoint, table, arg string, monologues int) error {
	if endpoint == "" {
		return fmt.Errorf("-show reads a running stand-in: start a run with -serve and set AWS_ENDPOINT_URL to the endpoint it prints")
	}
	tenantID, callID, ok := strings.Cut(arg, "/")
	if !ok || tenantID == "" || callID == "" {
		return fmt.Errorf("-show %q: use <tenant>/<callId>, such as org-acme/1234567890123456789", arg)
	}
	st := store.New(localaws.NewClients(endpoint).DynamoDB, table)
	fmt.Printf("Call %s of tenant %s (table %s at %s):\n", callID, tenantID, table, endpoint)
	return showCall(ctx, st, tenantID, callID, max(monologues, 0), false)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil || s == "" {
		return slog.LevelWarn
	}
	return l
}
