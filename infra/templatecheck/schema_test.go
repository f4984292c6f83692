package templatecheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot returns the module root, two folders above this package.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatalf("find repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		tb.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

func loadTemplate(tb testing.TB) *Template {
	tb.Helper()
	tmpl, err := Load(filepath.Join(repoRoot(tb), "template.yaml"))
	if err != nil {
		tb.Fatalf("load template: %v", err)
	}
	return tmpl
}

// samSchemaPath returns the SAM schema's path: $SAM_SCHEMA, or the copy of
// AWS's schema in testdata.
func samSchemaPath(tb testing.TB) string {
	if p := os.Getenv("SAM_SCHEMA"); p != "" {
		return p
	}
	return filepath.Join("testdata", "sam.schema.json")
}

// loadSAMSchema compiles the SAM schema, or skips the test when the file is
// missing, except under CI=true, where the check must run.
func loadSAMSchema(tb testing.TB) *SAMSchema {
	tb.Helper()
	path := samSchemaPath(tb)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("SAM schema is required in CI: %v (set SAM_SCHEMA to its path)", err)
		}
		tb.Skipf("skipping SAM schema checks: %v (set SAM_SCHEMA to the schema's path)", err)
	}
	s, err := LoadSAMSchema(path)
	if err != nil {
		tb.Fatalf("load SAM schema: %v", err)
	}
	return s
}

func TestTemplateMatchesSAMSchema(t *testing.T) {
	schema := loadSAMSchema(t)
	if err := CheckAll(schema, loadTemplate(t)); err != nil {
		t.Fatalf("template.yaml is invalid:\n%v", err)
	}
}

// Ensure the checks reject the faults they exist to catch: typos in SAM and
// CloudFormation properties, in event properties and in Globals, and unknown
// resource types.
func TestChecksRejectBrokenTemplates(t *testing.T) {
	schema := loadSAMSchema(t)
	original, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatalf("read template: %v", err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"FunctionPropertyTypo", "      CodeUri: functions/ingest\n", "      CodeUri: functions/ingest\n      Timeoutt: 3\n", "IngestFunction"},
		{"EventPropertyTypo", "            BatchSize: 1\n", "            BatchSizee: 1\n", "IngestFunction"},
		{"GlobalsTypo", "    Handler: bootstrap\n", "    Handler: bootstrap\n    Timeoutz: 3\n", "Globals"},
		{"QueuePropertyTypo", "      VisibilityTimeout: 3600\n", "      VisibiltyTimeout: 3600\n", "IngestQueue"},
		{"TablePropertyTypo", "      BillingMode: PAY_PER_REQUEST\n", "      BillingMode: PAY_PER_REQUEST\n      TableNme: x\n", "Table"},
		{"UnknownResourceType", "    Type: AWS::SQS::Queue\n", "    Type: AWS::SQS::Queu\n", "unknown resource type"},
		{"HttpApiAuthTypo", "              Authorizer: NONE\n", "              Authoriser: NONE\n", "OAuthFunction"},
		{"ApiAuthorizerTypo", "            IdentitySource: $request.header.Authorization\n", "            IdentitySourc: $request.header.Authorization\n", "HttpApi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(original), tt.old) {
				t.Fatalf("template.yaml no longer contains %q: update this case", tt.old)
			}
			broken := strings.Replace(string(original), tt.old, tt.new, 1)
			tmpl, err := Parse([]byte(broken))
			if err != nil {
				t.Fatalf("parse broken template: %v", err)
			}
			err = CheckAll(schema, tmpl)
			if err == nil {
				t.Fatal("checks accepted the broken template")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not mention %q:\n%.2000s", tt.want, err)
			}
		})
	}
}

func TestParseExpandsIntrinsicTags(t *testing.T) {
	src := `
A: !Ref Table
B: !GetAtt Table.Arn
C: !Sub "${Table.Arn}/index/*"
D: !If [HasTopic, [!Ref Topic], !Ref "AWS::NoValue"]
E: 30
F: true
G: "30"
`
	tmpl, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	got, err := tmpl.JSON()
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	want := `{"A":{"Ref":"Table"},"B":{"Fn::GetAtt":["Table","Arn"]},"C":{"Fn::Sub":"${Table.Arn}/index/*"},` +
		`"D":{"Fn::If":["HasTopic",[{"Ref":"Topic"}],{"Ref":"AWS::NoValue"}]},"E":30,"F":true,"G":"30"}`
	if string(got) != want {
		t.Errorf("JSON form:\n got %s\nwant %s", got, want)
	}
}

func TestParseRejectsUnknownTag(t *testing.T) {
	_, err := Parse([]byte("A: !Reff Table\n"))
	if err == nil || !strings.Contains(err.Error(), "!Reff") {
		t.Errorf("Parse error = %v, want one naming the tag !Reff", err)
	}
}
