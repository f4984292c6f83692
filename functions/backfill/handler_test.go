package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dealdesk/gongingest/shared/backfill"
)

// fakeService records the request and returns a fixed result.
type fakeService struct {
	got backfill.Request
	res any
	err error
}

func (f *fakeService) Handle(_ context.Context, req backfill.Request) (any, error) {
	f.got = req
	return f.res, f.err
}

func newTestHandler(svc service) *handler {
	return &handler{svc: svc, logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

func TestExamplePayloadsParse(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example payloads: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			req, err := parseRequest(b)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if req.Action == "" || req.TenantID == "" {
				t.Errorf("request = %+v, want action and tenantId", req)
			}
		})
	}
}

func TestHandleRejectsMalformedPayloads(t *testing.T) {
	tests := []struct {
		name      string
		payload   string
		wantField string
	}{
		{"unknown field", `{"action":"start","tenantId":"acme","userEmail":"a@b.c"}`, "userEmail"},
		{"wrong type", `{"action":"start","tenantId":"acme","dryRun":"yes"}`, "dryRun"},
		{"not an object", `[1,2]`, "payload"},
		{"not JSON", `action=start`, "payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &fakeService{}
			out, err := newTestHandler(svc).Handle(context.Background(), json.RawMessage(tc.payload))
			if err != nil {
				t.Fatalf("Handle error = %v, want a response", err)
			}
			var resp errorResponse
			if err := json.Unmarshal(out, &resp); err != nil || resp.Error == nil {
				t.Fatalf("response %s is not an error response: %v", out, err)
			}
			if resp.Error.Field != tc.wantField || resp.Error.Fix == "" {
				t.Errorf("error = %+v, want field %q with a fix", resp.Error, tc.wantField)
			}
			if svc.got.Action != "" {
				t.Errorf("service was called with %+v", svc.got)
			}
		})
	}
}

func TestHandleShapesResponses(t *testing.T) {
	ctx := context.Background()
	payload := json.RawMessage(`{"action":"list","tenantId":"acme"}`)

	svc := &fakeService{res: backfill.ListResult{TenantID: "acme"}}
	out, err := newTestHandler(svc).Handle(ctx, payload)
	if err != nil || !strings.Contains(string(out), `"tenantId":"acme"`) {
		t.Errorf("list response = %s, %v", out, err)
	}

	svc = &fakeService{err: &backfill.FieldError{Field: "tenantId", Value: "acme", Message: "is not a known tenant", Fix: "check it"}}
	out, err = newTestHandler(svc).Handle(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error":{"field":"tenantId","value":"acme","message":"is not a known tenant","fix":"check it"}}`
	if string(out) != want {
		t.Errorf("field error response = %s, want %s", out, want)
	}

	svc = &fakeService{err: errors.New("store: get TENANT of tenant acme: timeout")}
	if _, err := newTestHandler(svc).Handle(ctx, payload); err == nil {
		t.Errorf("internal error was not returned")
	}
}

func TestNewHandlerNeedsQueue(t *testing.T) {
	env := map[string]string{"TABLE_NAME": "t"}
	if _, err := newHandler(context.Background(), func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "INGEST_QUEUE_URL") {
		t.Errorf("newHandler without a queue: %v", err)
	}
	env["INGEST_QUEUE_URL"] = "http://127.0.0.1:1/queue/ingest.fifo"
	env["BACKFILL_MAX_DAYS"] = "ten"
	if _, err := newHandler(context.Background(), func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "BACKFILL_MAX_DAYS") {
		t.Errorf("newHandler with a bad BACKFILL_MAX_DAYS: %v", err)
	}
}
