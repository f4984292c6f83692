// Command localrun runs the main job end to end on one machine: kumo in
// process for DynamoDB, SQS and Secrets Manager, and the Gong simulator in
// process with three generated companies. It seeds each tenant the way
// connecting would: organization users, a token in Secrets Manager, the
// connected status and the initial backfill. Then it drives the real
// scheduler and ingest handlers through the FIFO queue twice. The first pass
// runs the backfill and the first sync. The second runs after the simulated
// clock moved on two hours, so late calls and late transcripts arrive. It
// prints a summary per tenant and one stored call with its transcript.
//
// Usage:
//
//	go run ./infra/localrun [-days 30] [-calls-per-day 40] [-gong-rps 20] [-serve]
//	go run ./infra/localrun -show <tenant>/<callId>   (needs AWS_ENDPOINT_URL)
//
// Environment:
//
//	AWS_ENDPOINT_URL  use this AWS stand-in (such as a kumo started with -serve)
//	                  instead of starting kumo in process
//	TABLE_NAME        table name (default gong-ingest)
//	LOG_LEVEL         log level of the handlers' JSON logs on stderr (default warn)
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
)

func main() {
	var opts options
	flag.IntVar(&opts.days, "days", 30, "days of call history each simulated company has and the initial backfill reads")
	flag.Float64Var(&opts.callsPerDay, "calls-per-day", 40, "calls a day in each simulated company")
	flag.Float64Var(&opts.gongRPS, "gong-rps", 20, "Gong requests a second the client allows per company; Gong's real limit is 3")
	flag.BoolVar(&opts.serve, "serve", false, "keep kumo running after the run, so -show can read the stored data from another terminal")
	flag.StringVar(&opts.show, "show", "", "print one stored call and its transcript, given as <tenant>/<callId>, then exit")
	flag.Parse()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
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
	serve       bool
	show        string
}

func run(ctx context.Context, opts options) error {
	if opts.days < 1 || opts.callsPerDay <= 0 || opts.gongRPS <= 0 {
		return fmt.Errorf("-days %d, -calls-per-day %g and -gong-rps %g must be positive", opts.days, opts.callsPerDay, opts.gongRPS)
	}
	table := os.Getenv("TABLE_NAME")
	if table == "" {
		table = store.DefaultTableName
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(os.Getenv("LOG_LEVEL"))}))
	slog.SetDefault(logger)

	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if opts.show != "" {
		if endpoint == "" {
			return fmt.Errorf("-show reads a running stand-in: start a run with -serve and set AWS_ENDPOINT_URL to the endpoint it prints")
		}
		tenantID, callID, ok := strings.Cut(opts.show, "/")
		if !ok || tenantID == "" || callID == "" {
			return fmt.Errorf("-show %q: use <tenant>/<callId>, such as org-acme/1234567890123456789", opts.show)
		}
		return showCall(ctx, store.New(localaws.NewClients(endpoint).DynamoDB, table), tenantID, callID, 0)
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
	if err := w.pass(ctx, "pass 1: initial backfill and first scheduled sync"); err != nil {
		return err
	}
	// Two hours later: calls Gong had not finished processing are listed
	// now, and transcripts that were not ready have arrived.
	w.clock.Advance(2 * time.Hour)
	if err := w.pass(ctx, "pass 2: scheduled sync two hours later"); err != nil {
		return err
	}
	fmt.Printf("\nBoth passes took %s of wall time.\n", time.Since(started).Round(time.Millisecond))

	if err := w.showOne(ctx); err != nil {
		return err
	}
	if opts.serve && endpoint == "" {
		fmt.Printf("\nkumo keeps serving at %s; in another terminal run:\n", clients.Endpoint)
		fmt.Printf("  AWS_ENDPOINT_URL=%s go run ./infra/localrun -show <tenant>/<callId>\n", clients.Endpoint)
		fmt.Println("Press Ctrl-C to stop.")
		<-ctx.Done()
	}
	return nil
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil || s == "" {
		return slog.LevelWarn
	}
	return l
}
