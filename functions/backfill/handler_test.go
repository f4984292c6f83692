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
		{"empty", ``, "payload"},
		{"null", `null`, "payload"},
		{"two objects", `{"action":"list","tenantId":"acme"} {"action":"purge"}`, "payload"},
		{"field in other case", `{"action":"list","TenantID":"acme"}`, "TenantID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &fakeService{}
			out, err := newTestHandler(svc).Invoke(context.Background(), []byte(tc.payload))
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
	payload := []byte(`{"action":"list","tenantId":"acme"}`)

	svc := &fakeService{res: backfill.ListResult{TenantID: "acme"}}
	out, err := newTestHandler(svc).Invoke(ctx, payload)
	if err != nil || !strings.Contains(string(out), `"tenantId":"acme"`) {
		t.Errorf("list response = %s, %v", out, err)
	}

	svc = &fakeService{err: &backfill.FieldError{Field: "tenantId", Value: "acme", Message: "is not a known tenant", Fix: "check it"}}
	out, err = newTestHandler(svc).Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error":{"field":"tenantId","value":"acme","message":"is not a known tenant","fix":"check it"}}`
	if string(out) != want {
		t.Errorf("field error response = %s, want %s", out, want)
	}

	svc = &fakeService{err: errors.New("store: get TENANT of tenant acme: timeout")}
	if _, err := newTestHandler(svc).Invoke(ctx, payload); err == nil {
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

func TestParseRequestNamesFieldAndValue(t *testing.T) {
	long := strings.Repeat("7", 5000)
	tests := []struct {
		name        string
		payload     string
		wantField   string
		wantValue   string
		wantMessage string
	}{
		{"email not a string", `{"action":"start","userEmails":["ana@acme.example",42]}`, "userEmails[1]", "42", "must be a string"},
		{"emails not an array", `{"action":"start","userEmails":"ana@acme.example"}`, "userEmails", `"ana@acme.example"`, "must be an array of strings"},
		{"tenant a number", `{"action":"list","tenantId":7}`, "tenantId", "7", "must be a string"},
		{"tenant an object", `{"action":"list","tenantId":{"id":"acme"}}`, "tenantId", `{"id":"acme"}`, "must be a string"},
		{"limit a string", `{"action":"list","tenantId":"acme","limit":"10"}`, "limit", `"10"`, "must be a whole number"},
		{"limit a fraction", `{"action":"list","tenantId":"acme","limit":2.5}`, "limit", "2.5", "must be a whole number"},
		{"limit too large for int", `{"action":"list","tenantId":"acme","limit":99999999999}`, "limit", "99999999999", "must be a whole number"},
		{"dry run a string", `{"action":"start","dryRun":"yes"}`, "dryRun", `"yes"`, "must be true or false"},
		{"long value truncated", `{"action":"list","tenantId":` + long + `}`, "tenantId", strings.Repeat("7", 100) + "...", "must be a string"},
		{"trailing object", `{"action":"list","tenantId":"acme"} {"action":"purge"}`, "payload", `{"action":"purge"}`, "has data after the JSON object"},
		{"trailing garbage", `{"action":"list","tenantId":"acme"}xyz`, "payload", "xyz", "has data after the JSON object"},
		{"empty", "  \n", "payload", "", "is empty"},
		{"null", `null`, "payload", "null", "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRequest([]byte(tc.payload))
			fe, ok := backfill.AsFieldError(err)
			if !ok {
				t.Fatalf("error = %v, want a *FieldError", err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("field = %q, want %q", fe.Field, tc.wantField)
			}
			if fe.Value != tc.wantValue {
				t.Errorf("value = %q, want %q", fe.Value, tc.wantValue)
			}
			if fe.Message != tc.wantMessage && !strings.HasPrefix(fe.Message, tc.wantMessage) {
				t.Errorf("message = %q, want %q", fe.Message, tc.wantMessage)
			}
			if strings.Contains(fe.Message, "Go") || strings.Contains(fe.Message, "int") || strings.Contains(fe.Message, "[]string") {
				t.Errorf("message = %q names a Go type", fe.Message)
			}
			if fe.Fix == "" {
				t.Errorf("fix is empty")
			}
		})
	}
}

func TestParseRequestAcceptsNullAndKnownFields(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    backfill.Request
	}{
		{"null field", `{"action":"list","tenantId":"acme","limit":null}`, backfill.Request{Action: "list", TenantID: "acme"}},
		{"whitespace around", "\n {\"action\":\"list\",\"tenantId\":\"acme\",\"limit\":5} \n", backfill.Request{Action: "list", TenantID: "acme", Limit: 5}},
		{"emails", `{"action":"start","tenantId":"acme","userEmails":["a@b.example"],"dryRun":true}`,
			backfill.Request{Action: "start", TenantID: "acme", UserEmails: []string{"a@b.example"}, DryRun: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRequest([]byte(tc.payload))
			if err != nil {
				t.Fatalf("parseRequest = %v", err)
			}
			if got.Action != tc.want.Action || got.TenantID != tc.want.TenantID || got.Limit != tc.want.Limit || got.DryRun != tc.want.DryRun {
				t.Errorf("request = %+v, want %+v", got, tc.want)
			}
			if strings.Join(got.UserEmails, ",") != strings.Join(tc.want.UserEmails, ",") {
				t.Errorf("userEmails = %v, want %v", got.UserEmails, tc.want.UserEmails)
			}
		})
	}
}
