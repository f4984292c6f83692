package templatecheck

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealdesk/gongingest/shared/connect"
	"github.com/dealdesk/gongingest/shared/readapi"
	"github.com/dealdesk/gongingest/shared/store"
)

const module = "github.com/dealdesk/gongingest"

// functionDirs are the Lambda functions of the product; each must be in the
// template.
var functionDirs = []string{
	"functions/api", "functions/backfill", "functions/ingest", "functions/oauth", "functions/scheduler",
}

// envReadButNotSet lists variables the code reads that the template does not
// set, with the reason. Names starting with AWS_ are always allowed: Lambda
// sets the runtime's own, and AWS_ENDPOINT_URL exists only in local runs.
var envReadButNotSet = map[string]string{}

// actionsAllowedUnused lists IAM actions a function's policy may allow
// although the scan finds no call needing them, with the reason.
var actionsAllowedUnused = map[string]string{}

func templateFunctions(t *testing.T) []Function {
	t.Helper()
	fns, err := loadTemplate(t).Functions()
	if err != nil {
		t.Fatalf("read functions: %v", err)
	}
	return fns
}

func TestTemplateHasEveryFunction(t *testing.T) {
	byCode := map[string]string{}
	for _, f := range templateFunctions(t) {
		byCode[f.CodeURI] = f.LogicalID
	}
	var want []string
	want = append(want, functionDirs...)
	entries, err := os.ReadDir(filepath.Join(repoRoot(t), "functions"))
	if err != nil {
		t.Fatalf("list functions folder: %v", err)
	}
	for _, e := range entries {
		dir := "functions/" + e.Name()
		if e.IsDir() && !contains(want, dir) {
			want = append(want, dir)
		}
	}
	for _, dir := range want {
		if _, ok := byCode[dir]; !ok {
			t.Errorf("no function in template.yaml has CodeUri %s", dir)
		}
	}
	for code, id := range byCode {
		if !contains(want, code) {
			t.Errorf("function %s has CodeUri %s, which is not a folder under functions/", id, code)
		}
	}
}

// Ensure every function is built the way sam build builds Go for
// provided.al2023 on Graviton.
func TestFunctionRuntimeSettings(t *testing.T) {
	tmpl := loadTemplate(t)
	globals := tmpl.Doc["Globals"].(map[string]any)["Function"].(map[string]any)
	for _, f := range templateFunctions(t) {
		t.Run(f.LogicalID, func(t *testing.T) {
			setting := func(key string) any {
				if v, ok := f.Resource.Properties[key]; ok {
					return v
				}
				return globals[key]
			}
			if got := setting("Runtime"); got != "provided.al2023" {
				t.Errorf("Runtime = %v, want provided.al2023", got)
			}
			if got := setting("Handler"); got != "bootstrap" {
				t.Errorf("Handler = %v, want bootstrap", got)
			}
			if got, _ := json.Marshal(setting("Architectures")); string(got) != `["arm64"]` {
				t.Errorf("Architectures = %s, want [\"arm64\"]", got)
			}
			meta, _ := f.Resource.Body["Metadata"].(map[string]any)
			if got := meta["BuildMethod"]; got != "go1.x" {
				t.Errorf("Metadata.BuildMethod = %v, want go1.x", got)
			}
			if f.Timeout <= 0 || f.MemorySize <= 0 {
				t.Errorf("Timeout %d s and MemorySize %d MB must both be set", f.Timeout, f.MemorySize)
			}
		})
	}
}

func TestFunctionsBuildForLambda(t *testing.T) {
	root := repoRoot(t)
	out := t.TempDir()
	for _, f := range templateFunctions(t) {
		t.Run(f.LogicalID, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(root, f.CodeURI)); err != nil {
				t.Fatalf("CodeUri %s: %v", f.CodeURI, err)
			}
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath",
				"-o", filepath.Join(out, f.LogicalID, "bootstrap"), "./"+f.CodeURI)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("build %s for linux/arm64: %v\n%s", f.CodeURI, err, b)
			}
		})
	}
}

var (
	scanOnce   sync.Once
	scanResult map[string]CodeUse
	scanErrs   map[string]error
)

// scanCode analyses the functions once for the tests that need it, and
// returns what the function with CodeUri dir uses.
func scanCode(t *testing.T, dir string) CodeUse {
	t.Helper()
	scanOnce.Do(func() {
		var dirs []string
		for _, f := range templateFunctions(t) {
			dirs = append(dirs, f.CodeURI)
		}
		scanResult, scanErrs = ScanFunctions(repoRoot(t), module, dirs)
	})
	if err := scanErrs[dir]; err != nil {
		t.Fatalf("analyse %s: %v", dir, err)
	}
	return scanResult[dir]
}

func TestEnvironmentMatchesCode(t *testing.T) {
	for _, f := range templateFunctions(t) {
		t.Run(f.LogicalID, func(t *testing.T) {
			use := scanCode(t, f.CodeURI)
			for _, name := range Names(use.Env) {
				if _, set := f.Env[name]; set || strings.HasPrefix(name, "AWS_") {
					continue
				}
				if _, ok := envReadButNotSet[name]; ok {
					continue
				}
				t.Errorf("code reads %s (%s) but the template does not set it", name, strings.Join(use.Env[name], ", "))
			}
			for _, name := range Names(f.Env) {
				if _, read := use.Env[name]; !read {
					t.Errorf("template sets %s, which no code reachable from %s reads", name, f.CodeURI)
				}
			}
		})
	}
}

func TestPoliciesMatchCode(t *testing.T) {
	for _, f := range templateFunctions(t) {
		t.Run(f.LogicalID, func(t *testing.T) {
			need := scanCode(t, f.CodeURI).Actions
			t.Logf("%s calls need %s", f.CodeURI, strings.Join(Names(need), ", "))
			statements, err := policyStatements(f)
			if err != nil {
				t.Fatal(err)
			}
			allowed := map[string]bool{}
			for _, st := range statements {
				for _, a := range st.Actions {
					allowed[a] = true
				}
			}
			for _, a := range Names(need) {
				if !allowed[a] {
					t.Errorf("code needs %s (%s) but the policy does not allow it", a, strings.Join(need[a], ", "))
				}
			}
			for _, a := range Names(allowed) {
				if _, ok := need[a]; ok {
					continue
				}
				if _, ok := actionsAllowedUnused[a]; ok {
					continue
				}
				t.Errorf("policy allows %s, which no code reachable from %s calls: remove it", a, f.CodeURI)
			}
		})
	}
}

// Ensure every statement allows named actions on the product's own
// resources only.
func TestPoliciesAreScoped(t *testing.T) {
	allowedTargets := map[string][]string{
		"dynamodb":       {"table", "table-index"},
		"sqs":            {"ingest-queue"},
		"secretsmanager": {"token-secrets", "client-secret"},
	}
	for _, f := range templateFunctions(t) {
		t.Run(f.LogicalID, func(t *testing.T) {
			statements, err := policyStatements(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(statements) == 0 {
				t.Fatal("function has no policy statements")
			}
			for _, st := range statements {
				if st.Effect != "Allow" {
					t.Errorf("statement %s: Effect %q, want Allow", st.Sid, st.Effect)
				}
				for _, a := range st.Actions {
					service, op, _ := strings.Cut(a, ":")
					if strings.Contains(op, "*") || op == "" {
						t.Errorf("statement %s: action %q is a wildcard: name each action", st.Sid, a)
					}
					for _, target := range st.Targets {
						if !contains(allowedTargets[service], target) {
							t.Errorf("statement %s: %s on %s: allowed targets for %s are %v", st.Sid, a, target, service, allowedTargets[service])
						}
					}
				}
			}
		})
	}
}

// statement is one policy statement with its resources classified.
type statement struct {
	Sid, Effect string
	Actions     []string
	// Targets names what each resource is: table, table-index, ingest-queue,
	// token-secrets, client-secret, or the resource itself when unknown.
	Targets []string
}

func policyStatements(f Function) ([]statement, error) {
	policies, ok := f.Resource.Properties["Policies"].([]any)
	if !ok {
		return nil, fmt.Errorf("function %s: Policies must be a list of policy documents", f.LogicalID)
	}
	var out []statement
	for _, p := range policies {
		doc, ok := p.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("function %s: policy %v is not an inline policy document: use a Statement list", f.LogicalID, p)
		}
		list, _ := doc["Statement"].([]any)
		for _, s := range list {
			m, _ := s.(map[string]any)
			st := statement{Sid: fmt.Sprint(m["Sid"]), Effect: fmt.Sprint(m["Effect"])}
			st.Actions = stringList(m["Action"])
			for _, r := range anyList(m["Resource"]) {
				st.Targets = append(st.Targets, classifyResource(r))
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func classifyResource(r any) string {
	b, _ := json.Marshal(r)
	switch string(b) {
	case `{"Fn::GetAtt":["Table","Arn"]}`:
		return "table"
	case `{"Fn::Sub":"${Table.Arn}/index/*"}`:
		return "table-index"
	case `{"Fn::GetAtt":["IngestQueue","Arn"]}`:
		return "ingest-queue"
	case `{"Fn::Sub":"arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${TokenSecretPrefix}*"}`:
		return "token-secrets"
	case `{"Ref":"GongClientSecretArn"}`:
		return "client-secret"
	}
	return string(b)
}

func anyList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func stringList(v any) []string {
	var out []string
	for _, e := range anyList(v) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestTableMatchesStore(t *testing.T) {
	table := loadTemplate(t).Resources()["Table"]
	if table.Type != "AWS::DynamoDB::Table" {
		t.Fatalf("resource Table has type %q, want AWS::DynamoDB::Table", table.Type)
	}
	want := store.CreateTableInput("gong-ingest")
	props := table.Properties

	var wantAttrs []string
	for _, a := range want.AttributeDefinitions {
		wantAttrs = append(wantAttrs, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
	}
	var gotAttrs []string
	for _, a := range props["AttributeDefinitions"].([]any) {
		m := a.(map[string]any)
		gotAttrs = append(gotAttrs, fmt.Sprint(m["AttributeName"], ":", m["AttributeType"]))
	}
	sort.Strings(wantAttrs)
	sort.Strings(gotAttrs)
	if !reflect.DeepEqual(gotAttrs, wantAttrs) {
		t.Errorf("AttributeDefinitions = %v, store declares %v", gotAttrs, wantAttrs)
	}

	keys := func(list any) string {
		var parts []string
		for _, k := range list.([]any) {
			m := k.(map[string]any)
			parts = append(parts, fmt.Sprint(m["AttributeName"], ":", m["KeyType"]))
		}
		return strings.Join(parts, ",")
	}
	var wantKey []string
	for _, k := range want.KeySchema {
		wantKey = append(wantKey, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	if got := keys(props["KeySchema"]); got != strings.Join(wantKey, ",") {
		t.Errorf("KeySchema = %s, store declares %s", got, strings.Join(wantKey, ","))
	}

	wantGSI := map[string]string{}
	for _, g := range want.GlobalSecondaryIndexes {
		var parts []string
		for _, k := range g.KeySchema {
			parts = append(parts, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		wantGSI[aws.ToString(g.IndexName)] = strings.Join(parts, ",") + " " + string(g.Projection.ProjectionType)
	}
	gotGSI := map[string]string{}
	for _, g := range props["GlobalSecondaryIndexes"].([]any) {
		m := g.(map[string]any)
		proj := m["Projection"].(map[string]any)
		gotGSI[fmt.Sprint(m["IndexName"])] = keys(m["KeySchema"]) + " " + fmt.Sprint(proj["ProjectionType"])
	}
	if !reflect.DeepEqual(gotGSI, wantGSI) {
		t.Errorf("GlobalSecondaryIndexes = %v, store declares %v", gotGSI, wantGSI)
	}
	if got := props["BillingMode"]; got != string(want.BillingMode) {
		t.Errorf("BillingMode = %v, store declares %s", got, want.BillingMode)
	}

	ttl, _ := props["TimeToLiveSpecification"].(map[string]any)
	if ttl["AttributeName"] != store.AttrTTL || ttl["Enabled"] != true {
		t.Errorf("TimeToLiveSpecification = %v, want %s enabled", ttl, store.AttrTTL)
	}
	pitr, _ := props["PointInTimeRecoverySpecification"].(map[string]any)
	if pitr["PointInTimeRecoveryEnabled"] != true {
		t.Errorf("point-in-time recovery is not enabled: %v", pitr)
	}
	sse, _ := props["SSESpecification"].(map[string]any)
	if sse["SSEEnabled"] != true {
		t.Errorf("server-side encryption is not enabled: %v", sse)
	}
	if table.Body["DeletionPolicy"] != "Retain" {
		t.Errorf("DeletionPolicy = %v, want Retain so deleting the stack keeps the data", table.Body["DeletionPolicy"])
	}
}

func TestIngestQueueSettings(t *testing.T) {
	tmpl := loadTemplate(t)
	resources := tmpl.Resources()
	queue := resources["IngestQueue"].Properties
	dlq := resources["IngestDeadLetterQueue"].Properties
	ingest, err := tmpl.FunctionByCode("functions/ingest")
	if err != nil {
		t.Fatal(err)
	}

	if queue["FifoQueue"] != true || dlq["FifoQueue"] != true {
		t.Errorf("FifoQueue: queue %v, dead-letter queue %v, want both true", queue["FifoQueue"], dlq["FifoQueue"])
	}
	if queue["ContentBasedDeduplication"] != false {
		t.Errorf("ContentBasedDeduplication = %v, want false: messages carry their own deduplication ids", queue["ContentBasedDeduplication"])
	}
	redrive, _ := queue["RedrivePolicy"].(map[string]any)
	target, _ := json.Marshal(redrive["deadLetterTargetArn"])
	if string(target) != `{"Fn::GetAtt":["IngestDeadLetterQueue","Arn"]}` {
		t.Errorf("RedrivePolicy.deadLetterTargetArn = %s, want the dead-letter queue's ARN", target)
	}
	if n, _ := intValue(redrive["maxReceiveCount"]); n != 5 {
		t.Errorf("RedrivePolicy.maxReceiveCount = %v, want 5", redrive["maxReceiveCount"])
	}
	visibility, _ := intValue(queue["VisibilityTimeout"])
	if visibility < 6*ingest.Timeout {
		t.Errorf("VisibilityTimeout %d s is less than six times the ingest timeout (%d s)", visibility, ingest.Timeout)
	}

	events, _ := ingest.Resource.Properties["Events"].(map[string]any)
	var sqsEvents int
	for name, e := range events {
		ev := e.(map[string]any)
		if ev["Type"] != "SQS" {
			continue
		}
		sqsEvents++
		props := ev["Properties"].(map[string]any)
		if got, _ := json.Marshal(props["FunctionResponseTypes"]); string(got) != `["ReportBatchItemFailures"]` {
			t.Errorf("event %s: FunctionResponseTypes = %s, want [ReportBatchItemFailures]", name, got)
		}
		if got, _ := json.Marshal(props["Queue"]); string(got) != `{"Fn::GetAtt":["IngestQueue","Arn"]}` {
			t.Errorf("event %s: Queue = %s, want the ingest queue's ARN", name, got)
		}
	}
	if sqsEvents != 1 {
		t.Errorf("ingest function has %d SQS events, want 1", sqsEvents)
	}
}

func TestSchedulerRunsEveryTwoHours(t *testing.T) {
	tmpl := loadTemplate(t)
	f, err := tmpl.FunctionByCode("functions/scheduler")
	if err != nil {
		t.Fatal(err)
	}
	def, _ := tmpl.Parameter("SyncSchedule")
	if def != "rate(2 hours)" {
		t.Errorf("SyncSchedule default = %q, want rate(2 hours)", def)
	}
	events, _ := f.Resource.Properties["Events"].(map[string]any)
	found := false
	for _, e := range events {
		ev := e.(map[string]any)
		props, _ := ev["Properties"].(map[string]any)
		sched, _ := json.Marshal(props["Schedule"])
		if ev["Type"] == "Schedule" && string(sched) == `{"Ref":"SyncSchedule"}` {
			found = true
		}
	}
	if !found {
		t.Error("scheduler has no Schedule event on the SyncSchedule parameter")
	}
}

// Ensure every route but the OAuth callback goes through the JWT
// authorizer: the callback is reached by a browser returning from Gong.
func TestHTTPRoutesUseJWTAuthorizer(t *testing.T) {
	tmpl := loadTemplate(t)
	api := tmpl.Resources()["HttpApi"].Properties
	auth, _ := api["Auth"].(map[string]any)
	def, _ := auth["DefaultAuthorizer"].(string)
	authorizers, _ := auth["Authorizers"].(map[string]any)
	jwt, _ := authorizers[def].(map[string]any)
	cfg, _ := jwt["JwtConfiguration"].(map[string]any)
	if got, _ := json.Marshal(cfg["issuer"]); string(got) != `{"Ref":"JwtIssuer"}` {
		t.Errorf("default authorizer %q issuer = %s, want the JwtIssuer parameter", def, got)
	}
	if got, _ := json.Marshal(cfg["audience"]); string(got) != `[{"Ref":"JwtAudience"}]` {
		t.Errorf("default authorizer %q audience = %s, want the JwtAudience parameter", def, got)
	}
	routes := 0
	for _, f := range templateFunctions(t) {
		events, _ := f.Resource.Properties["Events"].(map[string]any)
		for name, e := range events {
			ev := e.(map[string]any)
			if ev["Type"] != "HttpApi" {
				continue
			}
			routes++
			props := ev["Properties"].(map[string]any)
			authz := ""
			if a, ok := props["Auth"].(map[string]any); ok {
				authz, _ = a["Authorizer"].(string)
			}
			isCallback := props["Path"] == "/gong/callback"
			switch {
			case isCallback && authz != "NONE":
				t.Errorf("%s.%s: the OAuth callback must have Authorizer NONE, has %q", f.LogicalID, name, authz)
			case !isCallback && authz != "":
				t.Errorf("%s.%s %s: overrides the JWT authorizer with %q", f.LogicalID, name, props["Path"], authz)
			}
		}
	}
	if routes == 0 {
		t.Error("no HttpApi routes found")
	}
}

// Ensure each function logs to a group with a retention period and has an
// errors alarm, and the dead-letter queue has a depth alarm.
func TestLogsAndAlarms(t *testing.T) {
	resources := loadTemplate(t).Resources()
	alarmed := map[string]bool{}
	for _, r := range resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		for _, d := range r.Properties["Dimensions"].([]any) {
			m := d.(map[string]any)
			v, _ := json.Marshal(m["Value"])
			alarmed[fmt.Sprint(m["Name"], "=", string(v))] = true
		}
	}
	for _, f := range templateFunctions(t) {
		logging, _ := f.Resource.Properties["LoggingConfig"].(map[string]any)
		ref, _ := logging["LogGroup"].(map[string]any)
		group := resources[fmt.Sprint(ref["Ref"])]
		if group.Type != "AWS::Logs::LogGroup" {
			t.Errorf("%s: LoggingConfig.LogGroup must reference a log group of this template, is %v", f.LogicalID, logging["LogGroup"])
		} else if group.Properties["RetentionInDays"] == nil {
			t.Errorf("%s: log group %s has no RetentionInDays", f.LogicalID, group.LogicalID)
		}
		if !alarmed[fmt.Sprintf(`FunctionName={"Ref":%q}`, f.LogicalID)] {
			t.Errorf("%s has no alarm on its errors", f.LogicalID)
		}
	}
	if !alarmed[`QueueName={"Fn::GetAtt":["IngestDeadLetterQueue","QueueName"]}`] {
		t.Error("the dead-letter queue has no depth alarm")
	}
}

// Ensure the HTTP API routes of each function are the routes its code
// serves, so no route is missing from the API or left without a handler.
func TestHTTPRoutesMatchCode(t *testing.T) {
	want := map[string][]string{
		"functions/oauth": {connect.RouteConnect, connect.RouteCallback, connect.RouteDisconnect, connect.RouteStatus},
		"functions/api": {readapi.RouteDealCalls, readapi.RoutePutDeal, readapi.RouteGetCall,
			readapi.RouteAssign, readapi.RouteUnassign, readapi.RouteExplainCall},
	}
	for _, f := range templateFunctions(t) {
		var got []string
		events, _ := f.Resource.Properties["Events"].(map[string]any)
		for _, e := range events {
			ev := e.(map[string]any)
			if ev["Type"] != "HttpApi" {
				continue
			}
			props := ev["Properties"].(map[string]any)
			got = append(got, fmt.Sprint(props["Method"], " ", props["Path"]))
		}
		sort.Strings(got)
		routes := append([]string(nil), want[f.CodeURI]...)
		sort.Strings(routes)
		if !reflect.DeepEqual(got, routes) {
			t.Errorf("%s routes = %q, its code serves %q", f.LogicalID, got, routes)
		}
	}
}
