package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dealdesk/gongingest/shared/backfill"
	"github.com/dealdesk/gongingest/shared/connect"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/lambdaenv"
	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

// handler is the function's handler: ingest.Consumer over an engine built
// from the environment.
type handler struct {
	*ingest.Consumer
}

// newHandler reads TABLE_NAME, INGEST_QUEUE_URL, TOKEN_SECRET_PREFIX,
// GONG_CLIENT_ID, GONG_CLIENT_SECRET_ID, GONG_TOKEN_URL, SYNC_LOOKBACK,
// DEEP_LOOKBACK, TRANSCRIPT_RETRY, DAILY_REQUEST_BUDGET and LOG_LEVEL with
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
	st := env.Store
	sender := env.Sender(queueURL)
	tm, err := tokenManager(ctx, getenv, secretsmanager.NewFromConfig(env.Config), st, logger)
	if err != nil {
		return nil, err
	}

	svc := backfill.New(st, sender, cfg)
	svc.Logger = logger
	engine := &ingest.Engine{Store: st, Tokens: tm, Logger: logger, Sender: sender, Budget: svc.Budget}
	if err := engine.LoadEnv(getenv); err != nil {
		return nil, err
	}
	engine.OnWindowDone = svc.OnWindowDone
	engine.Jobs = svc
	mapper := mapping.New(logger)
	engine.Mapper = mapper
	engine.Remap = mapper
	return &handler{&ingest.Consumer{Engine: engine, Store: st, Logger: logger}}, nil
}

// tokenManager builds the tenants' token manager. It reads the OAuth client
// secret once, at cold start, because refreshing a token needs it.
func tokenManager(ctx context.Context, getenv func(string) string, sm *secretsmanager.Client, st *store.Store, logger *slog.Logger) (*tokens.Manager, error) {
	clientID, err := lambdaenv.Required(getenv, "GONG_CLIENT_ID", "set it to the Gong app's client id")
	if err != nil {
		return nil, err
	}
	secret, err := connect.SecretsManagerSecret{API: sm, SecretID: getenv("GONG_CLIENT_SECRET_ID")}.ClientSecret(ctx)
	if err != nil {
		return nil, err
	}
	tokenURL := getenv("GONG_TOKEN_URL")
	if tokenURL == "" {
		tokenURL = connect.DefaultTokenURL
	}
	authorizeURL := getenv("GONG_AUTHORIZE_URL")
	if authorizeURL == "" {
		authorizeURL = connect.DefaultAuthorizeURL
	}
	prefix := getenv("TOKEN_SECRET_PREFIX")
	if prefix == "" {
		prefix = tokens.DefaultPrefix
	}
	return &tokens.Manager{
		Secrets: sm,
		Store:   st,
		OAuth:   tokens.OAuthConfig(clientID, secret, authorizeURL, tokenURL, getenv("OAUTH_REDIRECT_URI"), tokens.Scopes),
		Prefix:  prefix,
		Logger:  logger,
	}, nil
}
