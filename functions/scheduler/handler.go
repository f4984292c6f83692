package main

import (
	"context"

	"github.com/dealdesk/gongingest/shared/backfill"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/lambdaenv"
)

// handler is the function's handler: ingest.Scheduler built from the
// environment.
type handler struct {
	*ingest.Scheduler
}

// newHandler reads TABLE_NAME, INGEST_QUEUE_URL, LOG_LEVEL and the backfill
// settings (BACKFILL_DAYS, USER_BACKFILL_DAYS, DAILY_REQUEST_BUDGET) with
// getenv and builds the handler.
func newHandler(ctx context.Context, getenv func(string) string) (*handler, error) {
	logger := lambdaenv.NewLogger(getenv("LOG_LEVEL"))
	queueURL, err := lambdaenv.Required(getenv, "INGEST_QUEUE_URL", "set it to the URL of the FIFO ingest queue")
	if err != nil {
		return nil, err
	}
	cfg, err := backfill.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}

	env, err := lambdaenv.LoadAWS(ctx, getenv("TABLE_NAME"))
	if err != nil {
		return nil, err
	}
	sender := env.Sender(queueURL)
	svc := backfill.New(env.Store, sender, cfg)
	svc.Logger = logger
	return &handler{&ingest.Scheduler{
		Store: env.Store, Sender: sender, Backfill: svc, Logger: logger,
	}}, nil
}
