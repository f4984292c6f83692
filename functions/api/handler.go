package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dealdesk/gongingest/shared/awsenv"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/readapi"
	"github.com/dealdesk/gongingest/shared/store"
)

// handler serves the function's HTTP API events.
type handler struct {
	api *readapi.API
}

// Handle serves one request.
func (h *handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.api.Handle(ctx, req)
}

// newHandler builds the handler from the environment that getenv reads:
// TABLE_NAME, CLAIM_TENANT, CLAIM_SUBJECT, CLAIM_ROLE, ADMIN_ROLE and
// LOG_LEVEL.
func newHandler(ctx context.Context, getenv func(string) string) (*handler, error) {
	logger := newLogger(getenv("LOG_LEVEL"))
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg), getenv("TABLE_NAME"))
	return newHandlerWithStore(st, getenv, logger), nil
}

// newHandlerWithStore builds the handler over a given store, for tests.
func newHandlerWithStore(st *store.Store, getenv func(string) string, logger *slog.Logger) *handler {
	return &handler{api: &readapi.API{
		Store:  st,
		Mapper: mapping.New(logger),
		Logger: logger,
		Claims: readapi.Claims{
			Tenant:    getenv("CLAIM_TENANT"),
			Subject:   getenv("CLAIM_SUBJECT"),
			Role:      getenv("CLAIM_ROLE"),
			AdminRole: getenv("ADMIN_ROLE"),
		},
	}}
}

// newLogger returns a JSON logger at LOG_LEVEL (debug, info, warn or error;
// default info), and makes it the default logger.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil || level == "" {
		l = slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: l}))
	slog.SetDefault(logger)
	return logger
}
