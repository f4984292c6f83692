package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/httpapi"
	"github.com/dealdesk/gongingest/shared/lambdaenv"
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
	logger := lambdaenv.NewLogger(getenv("LOG_LEVEL"))
	env, err := lambdaenv.LoadAWS(ctx, getenv("TABLE_NAME"))
	if err != nil {
		return nil, err
	}
	return newHandlerWithStore(env.Store, getenv, logger), nil
}

// newHandlerWithStore builds the handler over a given store, for tests.
func newHandlerWithStore(st *store.Store, getenv func(string) string, logger *slog.Logger) *handler {
	return &handler{api: &readapi.API{
		Store:  st,
		Mapper: mapping.New(logger),
		Logger: logger,
		Claims: httpapi.ClaimsFromEnv(getenv),
	}}
}
