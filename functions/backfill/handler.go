package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

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

// Handle runs one invocation. A payload the function rejects gets a
// successful response of the form {"error": {"field", "value", "message",
// "fix"}}, so `aws lambda invoke` prints it; other failures are returned as
// errors, which Lambda reports as a failed invocation.
func (h *handler) Handle(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
	req, err := parseRequest(payload)
	if err == nil {
		var res any
		res, err = h.svc.Handle(ctx, req)
		if err == nil {
			return json.Marshal(res)
		}
	}
	if fe, ok := backfill.AsFieldError(err); ok {
		h.logger.InfoContext(ctx, "backfill request rejected", "tenant_id", req.TenantID, "action", req.Action, "field", fe.Field, "message", fe.Message)
		return json.Marshal(errorResponse{Error: fe})
	}
	h.logger.ErrorContext(ctx, "backfill request failed", "tenant_id", req.TenantID, "action", req.Action, "error", err)
	return nil, err
}

// parseRequest decodes the payload, rejecting unknown fields so a misspelt
// field such as "userEmail" is not silently ignored.
func parseRequest(payload json.RawMessage) (backfill.Request, error) {
	var req backfill.Request
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		return req, nil
	}
	fe := &backfill.FieldError{Field: "payload", Value: truncate(string(payload), 200), Message: "is not a valid request: " + err.Error(),
		Fix: "send a JSON object with action, tenantId and the action's fields; see events/ for examples"}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		fe.Field, fe.Message = typeErr.Field, fmt.Sprintf("has the wrong type: want %s", typeErr.Type)
		fe.Fix = "use a JSON " + jsonKind(typeErr.Type.Kind().String()) + " for " + typeErr.Field
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		fe.Field, fe.Value, fe.Message = name, "", "is not a known field"
		fe.Fix = "use only action, tenantId, from, to, userEmails, dryRun, requestedBy, reason, jobId, confirm and limit"
	}
	return req, fe
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "true or false"
	case "slice":
		return "array"
	default:
		return "number"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
