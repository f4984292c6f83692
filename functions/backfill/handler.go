package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/dealdesk/gongingest/shared/backfill"
	"github.com/dealdesk/gongingest/shared/lambdaenv"
)

// service is the part of *backfill.Service the handler uses.
type service interface {
	Handle(ctx context.Context, req backfill.Request) (any, error)
}

// handler parses the payload, runs it and shapes the response.
type handler struct {
	svc    service
	logger *slog.Logger
}

// newHandler reads TABLE_NAME, INGEST_QUEUE_URL, BACKFILL_DAYS,
// BACKFILL_MAX_DAYS, USER_BACKFILL_DAYS, DAILY_REQUEST_BUDGET and LOG_LEVEL
// with getenv and builds the handler.
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
	svc := backfill.New(env.Store, env.Sender(queueURL), cfg)
	svc.Logger = logger
	return &handler{svc: svc, logger: logger}, nil
}

// errorResponse is the response to a rejected payload.
type errorResponse struct {
	Error *backfill.FieldError `json:"error"`
}

// Invoke runs one invocation; it implements lambda.Handler. A payload the
// function rejects gets a successful response of the form {"error":
// {"field", "value", "message", "fix"}}, so `aws lambda invoke` prints it;
// other failures are returned as errors, which Lambda reports as a failed
// invocation.
//
// Taking the raw bytes, rather than a type the runtime decodes, lets the
// handler answer an empty payload and reject data after the JSON object:
// aws-lambda-go v1.55 fails an empty payload before the handler runs and
// decodes only the first JSON value of the rest.
func (h *handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := parseRequest(payload)
	if err == nil {
		var res any
		res, err = h.svc.Handle(ctx, req)
		if err == nil {
			return json.Marshal(res)
		}
	}
	tenantID, action := backfill.TruncateValue(req.TenantID), backfill.TruncateValue(req.Action)
	if fe, ok := backfill.AsFieldError(err); ok {
		h.logger.InfoContext(ctx, "backfill request rejected", "tenant_id", tenantID, "action", action, "field", fe.Field, "message", fe.Message)
		return json.Marshal(errorResponse{Error: fe})
	}
	h.logger.ErrorContext(ctx, "backfill request failed", "tenant_id", tenantID, "action", action, "error", err)
	return nil, err
}
