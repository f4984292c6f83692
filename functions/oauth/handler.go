package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dealdesk/gongingest/shared/backfill"
	"github.com/dealdesk/gongingest/shared/connect"
	"github.com/dealdesk/gongingest/shared/httpapi"
	"github.com/dealdesk/gongingest/shared/lambdaenv"
	"github.com/dealdesk/gongingest/shared/tokens"
)

// handler serves the function's HTTP API events.
type handler struct {
	api *connect.API
}

// Handle serves one request.
func (h *handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.api.Handle(ctx, req)
}

// newHandler builds the handler from the environment that getenv reads.
func newHandler(ctx context.Context, getenv func(string) string) (*handler, error) {
	logger := lambdaenv.NewLogger(getenv("LOG_LEVEL"))
	cfg, err := configFromEnv(getenv)
	if err != nil {
		return nil, err
	}

	env, err := lambdaenv.LoadAWS(ctx, getenv("TABLE_NAME"))
	if err != nil {
		return nil, err
	}
	sm := secretsmanager.NewFromConfig(env.Config)
	st := env.Store
	prefix := getenv("TOKEN_SECRET_PREFIX")
	if prefix == "" {
		prefix = tokens.DefaultPrefix
	}

	queueURL, err := lambdaenv.Required(getenv, "INGEST_QUEUE_URL", "set it to the URL of the FIFO ingest queue, where the initial backfill is queued")
	if err != nil {
		return nil, err
	}
	bfCfg, err := backfill.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	bf := backfill.New(st, env.Sender(queueURL), bfCfg)
	bf.Logger = logger

	svc := &connect.Service{
		Config:   cfg,
		Store:    st,
		Tokens:   &tokens.Manager{Secrets: sm, Store: st, Prefix: prefix, Logger: logger},
		Secret:   connect.SecretsManagerSecret{API: sm, SecretID: getenv("GONG_CLIENT_SECRET_ID")},
		Backfill: bf,
		Logger:   logger,
	}
	return &handler{api: &connect.API{Service: svc, Claims: httpapi.ClaimsFromEnv(getenv)}}, nil
}

// configFromEnv reads the OAuth and product settings.
func configFromEnv(getenv func(string) string) (connect.Config, error) {
	cfg := connect.Config{
		ClientID:     getenv("GONG_CLIENT_ID"),
		AuthorizeURL: getenv("GONG_AUTHORIZE_URL"),
		TokenURL:     getenv("GONG_TOKEN_URL"),
		RedirectURI:  getenv("OAUTH_REDIRECT_URI"),
		ReturnURL:    getenv("APP_RETURN_URL"),
	}
	if cfg.AuthorizeURL == "" {
		cfg.AuthorizeURL = connect.DefaultAuthorizeURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = connect.DefaultTokenURL
	}
	if _, err := lambdaenv.Required(getenv, "GONG_CLIENT_SECRET_ID", "set it to the name or ARN of the secret holding the Gong app's client secret"); err != nil {
		return cfg, err
	}
	ints := []struct {
		env string
		def int64
		dst func(int64)
	}{
		{"BACKFILL_DAYS", connect.DefaultBackfillDays, func(v int64) { cfg.BackfillDays = int(v) }},
		{"BACKFILL_MAX_DAYS", connect.DefaultBackfillMaxDays, func(v int64) { cfg.BackfillMaxDays = int(v) }},
		{"DAILY_REQUEST_BUDGET", connect.DefaultDailyBudget, func(v int64) { cfg.DailyBudget = v }},
	}
	for _, i := range ints {
		v, err := positiveInt(getenv, i.env, i.def)
		if err != nil {
			return cfg, err
		}
		i.dst(v)
	}
	if cfg.BackfillDays > cfg.BackfillMaxDays {
		return cfg, fmt.Errorf("BACKFILL_DAYS=%d exceeds BACKFILL_MAX_DAYS=%d: lower the first or raise the second", cfg.BackfillDays, cfg.BackfillMaxDays)
	}
	return cfg, cfg.Validate()
}

// positiveInt reads a positive integer variable, or def when it is unset.
func positiveInt(getenv func(string) string, name string, def int64) (int64, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive integer: set a whole number such as %d", name, raw, def)
	}
	return v, nil
}
