package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealdesk/gongingest/shared/awsenv"
	"github.com/dealdesk/gongingest/shared/backfill"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
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
	logger := newLogger(getenv("LOG_LEVEL"))
	queueURL := getenv("INGEST_QUEUE_URL")
	if queueURL == "" {
		return nil, errors.New("INGEST_QUEUE_URL is empty: set it to the URL of the FIFO ingest queue")
	}
	cfg, err := backfill.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg), getenv("TABLE_NAME"))
	sender := &queue.Sender{SQS: sqs.NewFromConfig(awsCfg), QueueURL: queueURL}
	svc := backfill.New(st, sender, cfg)
	svc.Logger = logger
	return &handler{&ingest.Scheduler{
		Store: st, Sender: sender, Backfill: svc, Logger: logger,
	}}, nil
}

// newLogger returns a JSON logger at LOG_LEVEL (debug, info, warn or error;
// default info) and makes it the default.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil || level == "" {
		l = slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: l}))
	slog.SetDefault(logger)
	return logger
}
