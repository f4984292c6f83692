package gongsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// specEnv names the environment variable that points the contract test at
// Gong's OpenAPI document.
const specEnv = "GONG_OPENAPI_SPEC"

// observedNullable lists properties that Gong's OpenAPI document types as
// plain strings but that real Gong responses send as null. The contract
// test marks them "nullable: true" before converting the document, so the
// simulator may send null exactly there and nowhere else.
var observedNullable = map[string][]string{
	"CallBasicData": {"title", "scheduled", "sdrDisposition", "clientUniqueId", "customData", "purpose", "meetingUrl", "calendarEventId"},
	"Party":         {"speakerId", "title"},
	"Monologue":     {"speakerId", "topic"},
	"UserSpeaker":   {"userId"},
}

// looseValues lists properties typed "object" in the document whose real
// values are any JSON value: CRM fields carry strings, numbers, booleans
// written as strings, and null.
var looseValues = map[string][]string{
	"ContextField":      {"value"},
	"PartyContextField": {"value"},
}

// specPath returns the OpenAPI document's path: the environment variable,
// else the copy of Gong's published spec in testdata.
func specPath(t *testing.T) string {
	if p := os.Getenv(specEnv); p != "" {
		return p
	}
	return filepath.Join("testdata", "gong-openapi.json")
}

// openAPI is the converted document: JSON Schemas under $defs, and the
// response schema name for each path, method and status.
type openAPI struct {
	compiler  *jsonschema.Compiler
	responses map[string]string // "post /v2/calls/extensive 200" -> schema name
	headers   map[string]bool   // "post /v2/calls/extensive 429 Retry-After"
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	path := specPath(t)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		msg := fmt.Sprintf("Gong OpenAPI document not found at %s: set %s to its path", path, specEnv)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if err != nil {
		t.Fatalf("read OpenAPI document: %v", err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse OpenAPI document %s: %v", path, err)
	}
	applyObservations(t, doc.Components.Schemas)
	defs := map[string]any{}
	for name, s := range doc.Components.Schemas {
		defs[name] = convertSchema(s)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, f := range []string{"int32", "int64", "double", "float", "url"} {
		c.RegisterFormat(&jsonschema.Format{Name: f, Validate: func(any) error { return nil }})
	}
	if err := c.AddResource("gong.json", map[string]any{"$defs": defs}); err != nil {
		t.Fatalf("add converted schemas: %v", err)
	}
	api := &openAPI{compiler: c, responses: map[string]string{}, headers: map[string]bool{}}
	for p, ops := range doc.Paths {
		for method, rawOp := range ops {
			var op struct {
				Responses map[string]struct {
					Headers map[string]any `json:"headers"`
					Content map[string]struct {
						Schema struct {
							Ref string `json:"$ref"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			}
			if json.Unmarshal(rawOp, &op) != nil {
				continue
			}
			for status, resp := range op.Responses {
				key := method + " " + p + " " + status
				if ref := resp.Content["application/json"].Schema.Ref; ref != "" {
					api.responses[key] = strings.TrimPrefix(ref, "#/components/schemas/")
				}
				for h := range resp.Headers {
					api.headers[key+" "+h] = true
				}
			}
		}
	}
	return api
}

func applyObservations(t *testing.T, schemas map[string]map[string]any) {
	t.Helper()
	for name, props := range observedNullable {
		for _, p := range props {
			prop := property(t, schemas, name, p)
			prop["nullable"] = true
		}
	}
	for name, props := range looseValues {
		for _, p := range props {
			prop := property(t, schemas, name, p)
			delete(prop, "type")
			prop["nullable"] = true
		}
	}
}

func property(t *testing.T, schemas map[string]map[string]any, name, prop string) map[string]any {
	t.Helper()
	props, _ := schemas[name]["properties"].(map[string]any)
	p, _ := props[prop].(map[string]any)
	if p == nil {
		t.Fatalf("OpenAPI document has no property %s.%s; update the contract test's observations", name, prop)
	}
	return p
}

// convertSchema turns an OpenAPI 3.0 schema into JSON Schema 2020-12:
// references point into $defs, "nullable: true" becomes a "null" type, and
// objects reject properties the document does not list, so the simulator
// cannot drift from the documented shapes.
func convertSchema(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = convertSchema(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			switch k {
			case "exampleSetFlag", "example", "nullable", "xml", "discriminator":
				continue
			case "$ref":
				out[k] = strings.Replace(e.(string), "#/components/schemas/", "gong.json#/$defs/", 1)
			case "properties":
				props := map[string]any{}
				for name, p := range e.(map[string]any) {
					props[name] = convertSchema(p)
				}
				out[k] = props
			default:
				out[k] = convertSchema(e)
			}
		}
		if _, ok := x["properties"]; ok {
			if _, set := x["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		if x["nullable"] == true {
			if typ, ok := out["type"].(string); ok {
				out["type"] = []any{typ, "null"}
			}
			if enum, ok := out["enum"].([]any); ok {
				out["enum"] = append(enum, nil)
			}
		}
		return out
	}
	return v
}

func (api *openAPI) validate(t *testing.T, key string, body []byte) {
	t.Helper()
	if err := api.check(key, body); err != nil {
		t.Error(err)
	}
}

// check validates a response body against the schema the document gives
// for key ("method path status").
func (api *openAPI) check(key string, body []byte) error {
	name := api.responses[key]
	if name == "" {
		// The document lists no body for this status; Gong sends its error
		// shape for every failure.
		name = "ErrorResponse"
	}
	sch, err := api.compiler.Compile("gong.json#/$defs/" + name)
	if err != nil {
		return fmt.Errorf("compile schema %s: %w", name, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: response is not JSON: %w", key, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s: response does not match schema %s: %w", key, name, err)
	}
	return nil
}

func TestOpenAPIContractRejectsDrift(t *testing.T) {
	api := loadOpenAPI(t)
	tests := []struct {
		name string
		key  string
		body string
	}{
		{name: "numeric call id", key: "post /v2/calls/extensive 200", body: `{"requestId":"r","calls":[{"metaData":{"id":123}}]}`},
		{name: "undocumented member", key: "get /v2/users 200", body: `{"requestId":"r","users":[{"id":"1","nickname":"x"}]}`},
		{name: "misspelled speaker id", key: "post /v2/calls/transcript 200", body: `{"requestId":"r","callTranscripts":[{"callId":"1","transcript":[{"speakerID":"2"}]}]}`},
		{name: "null where not observed", key: "post /v2/calls/extensive 200", body: `{"requestId":"r","calls":[{"metaData":{"id":null}}]}`},
		{name: "party object type", key: "post /v2/calls/extensive 200", body: `{"requestId":"r","calls":[{"parties":[{"context":[{"system":"Salesforce","objects":[{"objectType":"Opportunity"}]}]}]}]}`},
		{name: "error without list", key: "post /v2/calls/extensive 404", body: `{"requestId":"r","errors":"No calls"}`},
		{name: "bad date-time", key: "post /v2/calls/extensive 200", body: `{"requestId":"r","calls":[{"metaData":{"started":"2026-03-01 10:00"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := api.check(tt.key, []byte(tt.body)); err == nil {
				t.Errorf("body %s passed validation; want an error", tt.body)
			}
		})
	}
}

func TestOpenAPIContract(t *testing.T) {
	api := loadOpenAPI(t)
	f := newFixture(t, Config{CallsPerDay: 60, Span: 12 * 24 * time.Hour, Users: 120})
	from, to := testNow.Add(-13*24*time.Hour), testNow
	fullSelector := map[string]any{
		"context":       "Extended",
		"contextTiming": []string{"Now", "TimeOfCall"},
		"exposedFields": map[string]any{
			"parties": true,
			"media":   true,
			"content": map[string]any{
				"structure": true, "topics": true, "trackers": true, "trackerOccurrences": true, "pointsOfInterest": true,
				"brief": true, "outline": true, "highlights": true, "callOutcome": true, "keyPoints": true,
			},
			"interaction":   map[string]any{"speakers": true, "video": true, "personInteractionStats": true, "questions": true},
			"collaboration": map[string]any{"publicComments": true},
		},
	}
	window := map[string]any{"fromDateTime": from.Format(time.RFC3339), "toDateTime": to.Format(time.RFC3339)}
	readyIDs := []string{}
	for _, c := range f.srv.Calls("acme") {
		if c.Visible && c.TranscriptReady && len(readyIDs) < MaxCallIDs {
			readyIDs = append(readyIDs, c.ID)
		}
	}
	tests := []struct {
		name       string
		method     string
		path       string
		body       func(cursor string) any
		before     func()
		wantStatus int
		allPages   bool
	}{
		{name: "users", method: "get", path: "/v2/users", wantStatus: 200, allPages: true},
		{name: "calls extensive", method: "post", path: "/v2/calls/extensive", wantStatus: 200, allPages: true, body: func(c string) any {
			b := map[string]any{"filter": window, "contentSelector": fullSelector}
			if c != "" {
				b["cursor"] = c
			}
			return b
		}},
		{name: "calls extensive basic context", method: "post", path: "/v2/calls/extensive", wantStatus: 200, body: func(string) any {
			return map[string]any{"filter": window, "contentSelector": map[string]any{"context": "Basic", "exposedFields": map[string]any{"parties": true}}}
		}},
		{name: "transcripts", method: "post", path: "/v2/calls/transcript", wantStatus: 200, body: func(string) any {
			return map[string]any{"filter": map[string]any{"callIds": readyIDs}}
		}},
		{name: "calls by date", method: "get", path: "/v2/calls?fromDateTime=" + from.Format(time.RFC3339) + "&toDateTime=" + to.Format(time.RFC3339), wantStatus: 200},
		{name: "no calls", method: "post", path: "/v2/calls/transcript", wantStatus: 404, body: func(string) any {
			return map[string]any{"filter": map[string]any{"fromDateTime": "2020-01-01T00:00:00Z", "toDateTime": "2020-01-02T00:00:00Z"}}
		}},
		{name: "malformed", method: "post", path: "/v2/calls/extensive", wantStatus: 400, body: func(string) any { return `{"filter":{"callIds":[]}}` }},
		{name: "unauthorized", method: "post", path: "/v2/calls/extensive", wantStatus: 401, before: func() { f.srv.ExpireAccessTokens("acme") }, body: func(string) any { return `{"filter":{}}` }},
		{name: "rate limited", method: "get", path: "/v2/users", wantStatus: 429, before: func() {
			f.token = f.srv.IssueToken("acme")
			f.srv.ThrottleNext("acme", 1, 2*time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			cursor := ""
			for page := 0; ; page++ {
				f.clock.Advance(time.Second) // stay under the rate limit
				var body any
				if tt.body != nil {
					body = tt.body(cursor)
				}
				url := f.srv.BaseURL("acme") + tt.path
				if tt.method == "get" && cursor != "" {
					url += "?cursor=" + cursor
				}
				r := send(t, strings.ToUpper(tt.method), url, f.token.AccessToken, body)
				if r.status != tt.wantStatus {
					t.Fatalf("page %d: status = %d, want %d; body %.300s", page, r.status, tt.wantStatus, r.body)
				}
				specPath, _, _ := strings.Cut(tt.path, "?")
				key := tt.method + " " + specPath + " " + strconv.Itoa(r.status)
				api.validate(t, key, r.body)
				if api.headers[key+" Retry-After"] {
					if _, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil {
						t.Errorf("Retry-After = %q, want whole seconds", r.header.Get("Retry-After"))
					}
				}
				var rec struct {
					Records records `json:"records"`
				}
				_ = json.Unmarshal(r.body, &rec)
				if !tt.allPages || rec.Records.Cursor == "" {
					break
				}
				cursor = rec.Records.Cursor
			}
		})
	}
}

func TestConvertSchemaNullable(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want string
	}{
		{name: "nullable string", in: map[string]any{"type": "string", "nullable": true}, want: `{"type":["string","null"]}`},
		{name: "nullable enum", in: map[string]any{"type": "string", "enum": []any{"A"}, "nullable": true}, want: `{"enum":["A",null],"type":["string","null"]}`},
		{name: "plain", in: map[string]any{"type": "integer", "format": "int32", "example": 3}, want: `{"format":"int32","type":"integer"}`},
		{name: "object", in: map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"$ref": "#/components/schemas/A"}}}, want: `{"additionalProperties":false,"properties":{"a":{"$ref":"gong.json#/$defs/A"}},"type":"object"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(convertSchema(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("convertSchema = %s, want %s", got, tt.want)
			}
		})
	}
}
