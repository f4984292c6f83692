package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/infra/templatecheck"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// invocation is one event and the checks on the function's response.
type invocation struct {
	event string
	check func(t *testing.T, body []byte)
}

// httpStatus checks an HTTP API response's status code and, when want is
// set, that its Location header or body contains want.
func httpStatus(code int, want string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("response is not an HTTP API response: %v: %s", err, body)
		}
		if resp.StatusCode != code {
			t.Errorf("statusCode = %d, want %d; body %s", resp.StatusCode, code, resp.Body)
		}
		if want != "" && !strings.Contains(resp.Headers["Location"]+resp.Body, want) {
			t.Errorf("neither Location %q nor body %q contains %q", resp.Headers["Location"], resp.Body, want)
		}
		if resp.StatusCode == http.StatusOK && !json.Valid([]byte(resp.Body)) {
			t.Errorf("body is not JSON: %s", resp.Body)
		}
	}
}

// jsonFields checks that the response is a JSON object with the given
// top-level fields, and none of the unwanted ones.
func jsonFields(want []string, unwanted ...string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("response is not a JSON object: %v: %s", err, body)
		}
		for _, f := range want {
			if _, ok := m[f]; !ok {
				t.Errorf("response has no %q field: %s", f, body)
			}
		}
		for _, f := range unwanted {
			if _, ok := m[f]; ok {
				t.Errorf("response has a %q field: %s", f, body)
			}
		}
	}
}

// noBatchFailures checks an SQS batch response reports no failed message.
func noBatchFailures(t *testing.T, body []byte) {
	t.Helper()
	var resp events.SQSEventResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("response is not an SQS batch response: %v: %s", err, body)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("batchItemFailures = %+v, want none", resp.BatchItemFailures)
	}
}

func fieldError(field string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var resp struct {
			Error *struct{ Field, Message string } `json:"error"`
		}
		if err := json.Unmarshal(body, &resp); err != nil || resp.Error == nil {
			t.Fatalf("response is not a rejected request: %s", body)
		}
		if !strings.HasPrefix(resp.Error.Field, field) {
			t.Errorf("rejected field = %q (%s), want %q", resp.Error.Field, resp.Error.Message, field)
		}
	}
}

// Ensure every function runs as a real bootstrap under the Lambda emulator,
// with the environment template.yaml gives it, and returns the expected
// response to each of its events under events/. Functions run in this order
// because later ones change the seeded state: the OAuth function disconnects
// a tenant last.
func TestInvokeEveryFunction(t *testing.T) {
	rie, err := FindRIE()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Lambda emulator is required in CI: %v", err)
		}
		t.Skipf("skipping emulator runs: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templatecheck.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	local, err := StartLocal(ctx)
	if err != nil {
		t.Fatalf("start local stand-ins: %v", err)
	}
	t.Cleanup(local.Close)
	if err := local.Seed(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}

	plan := []struct {
		fn          string
		invocations []invocation
	}{
		{"scheduler", []invocation{
			{"schedule.json", jsonFields([]string{"slot", "queued"})},
		}},
		{"ingest", []invocation{
			{"sqs-sync.json", noBatchFailures},
			{"sqs-backfill-window.json", jsonFields([]string{"batchItemFailures"})},
		}},
		{"api", []invocation{
			{"api-put-deal.json", httpStatus(http.StatusOK, `"dealId":"deal-1001"`)},
			{"api-assign.json", httpStatus(http.StatusOK, `"manual":true`)},
			{"api-get-call.json", httpStatus(http.StatusOK, `"callId":"7782342274025937895"`)},
			{"api-list-deal-calls.json", httpStatus(http.StatusOK, `"calls":[{`)},
			{"api-explain.json", httpStatus(http.StatusOK, `"rule":"manual"`)},
		}},
		{"backfill", []invocation{
			{"backfill-dry-run.json", jsonFields([]string{"estimate"}, "error")},
			{"backfill-invalid.json", fieldError("")},
			{"backfill.json", jsonFields([]string{"job"}, "error")},
			{"backfill-status.json", jsonFields([]string{"job"}, "error")},
			{"backfill-cancel.json", jsonFields([]string{"job"}, "error")},
			{"purge-dry-run.json", jsonFields(nil, "error")},
		}},
		{"oauth", []invocation{
			{"status.json", httpStatus(http.StatusOK, `"status":"connected"`)},
			{"connect.json", httpStatus(http.StatusFound, local.GongURL+"/oauth2/authorize?")},
			{"callback.json", httpStatus(http.StatusFound, "gong=connected")},
			{"callback-denied.json", httpStatus(http.StatusFound, "gong=error")},
			{"disconnect.json", httpStatus(http.StatusOK, `"status":"disconnected"`)},
		}},
	}
	eventsDir := filepath.Join(root, "events")
	for _, p := range plan {
		t.Run(p.fn, func(t *testing.T) {
			fn, err := functionByName(tmpl, p.fn)
			if err != nil {
				t.Fatal(err)
			}
			bootstrap, err := BuildBootstrap(ctx, root, fn.CodeURI, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			env, err := local.FunctionEnv(tmpl, fn)
			if err != nil {
				t.Fatal(err)
			}
			em, err := StartEmulator(ctx, rie, bootstrap, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(em.Close)
			for _, inv := range p.invocations {
				t.Run(strings.TrimSuffix(inv.event, ".json"), func(t *testing.T) {
					event, err := os.ReadFile(filepath.Join(eventsDir, inv.event))
					if err != nil {
						t.Fatal(err)
					}
					event, err = local.ResolveEvent(ctx, em, eventsDir, event)
					if err != nil {
						t.Fatalf("resolve event: %v\nlogs:\n%s", err, em.Logs())
					}
					body, err := em.Invoke(ctx, event)
					if err != nil {
						t.Fatalf("%v\nlogs:\n%s", err, em.Logs())
					}
					if strings.Contains(string(body), `"errorType"`) {
						t.Fatalf("function failed: %s\nlogs:\n%s", body, em.Logs())
					}
					inv.check(t, body)
				})
			}
		})
	}
}

// Ensure every event file is valid JSON and is sent by the test above, so
// no event goes stale unnoticed.
func TestEventFilesAreUsed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events found: %v", err)
	}
	src, err := os.ReadFile("invoke_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s is not valid JSON", f)
		}
		if !strings.Contains(string(src), `"`+filepath.Base(f)+`"`) {
			t.Errorf("%s is not invoked by TestInvokeEveryFunction", filepath.Base(f))
		}
	}
}
