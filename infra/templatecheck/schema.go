package templatecheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SAMSchema is the SAM JSON schema, compiled.
type SAMSchema struct {
	compiler *jsonschema.Compiler
	root     *jsonschema.Schema
}

const schemaURL = "file:///sam.schema.json"

// LoadSAMSchema compiles the SAM JSON schema at path. The schema's patterns
// use lookahead, which Go's regexp package rejects, so patterns run on
// regexp2 in ECMAScript mode.
func LoadSAMSchema(path string) (*SAMSchema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("templatecheck: open SAM schema: %w", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("templatecheck: SAM schema %s is not valid JSON: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.UseRegexpEngine(compileRegexp2)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("templatecheck: add SAM schema: %w", err)
	}
	root, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("templatecheck: compile SAM schema: %w", err)
	}
	return &SAMSchema{compiler: c, root: root}, nil
}

type regexp2Pattern struct{ re *regexp2.Regexp }

func (p regexp2Pattern) MatchString(s string) bool {
	ok, err := p.re.MatchString(s)
	return ok && err == nil
}

func (p regexp2Pattern) String() string { return p.re.String() }

func compileRegexp2(pattern string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(pattern, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return regexp2Pattern{re}, nil
}

// Validate checks the whole template against the schema.
func (s *SAMSchema) Validate(t *Template) error {
	inst, err := instance(t.Doc)
	if err != nil {
		return err
	}
	return s.root.Validate(inst)
}

// ValidateResource checks one AWS::Serverless::* resource against the schema
// definition of its type, which gives shorter errors than the whole
// template's check, where every SAM type is an alternative.
func (s *SAMSchema) ValidateResource(r Resource) error {
	name, ok := strings.CutPrefix(r.Type, "AWS::Serverless::")
	if !ok {
		return fmt.Errorf("templatecheck: %s is not a SAM resource", r.LogicalID)
	}
	def := "samtranslator__internal__schema_source__aws_serverless_" + strings.ToLower(name) + "__Resource"
	sch, err := s.compiler.Compile(schemaURL + "#/definitions/" + def)
	if err != nil {
		return fmt.Errorf("templatecheck: resource %s: type %s has no SAM schema definition: %w", r.LogicalID, r.Type, err)
	}
	inst, err := instance(r.Body)
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// instance re-decodes v the way the schema library expects its input.
func instance(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("templatecheck: encode template: %w", err)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// CheckCloudFormationResource checks a resource that is not a SAM resource
// against goformation's Go type for its CloudFormation type: the type must be
// known, and every property must be a field of that type. Intrinsic function
// objects are replaced by null first, because their value is known only at
// deploy time and null fits a field of any type.
func CheckCloudFormationResource(r Resource) error {
	newResource, ok := cloudformation.AllResources()[r.Type]
	if !ok {
		return fmt.Errorf("resource %s: unknown resource type %q", r.LogicalID, r.Type)
	}
	body, err := json.Marshal(withoutIntrinsics(r.Body))
	if err != nil {
		return fmt.Errorf("resource %s: encode: %w", r.LogicalID, err)
	}
	target := newResource
	if err := json.Unmarshal(body, target); err != nil {
		return fmt.Errorf("resource %s (%s): %w", r.LogicalID, r.Type, err)
	}
	return nil
}

// withoutIntrinsics returns a copy of v with every intrinsic function object
// replaced by nil.
func withoutIntrinsics(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if IsIntrinsic(x) {
			return nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = withoutIntrinsics(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutIntrinsics(e)
		}
		return out
	}
	return v
}

// IsIntrinsic reports whether m is an intrinsic function object, such as
// {"Ref": "Table"} or {"Fn::GetAtt": ["Table", "Arn"]}.
func IsIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// CheckAll runs the schema check on the template and on each SAM resource,
// and the goformation check on every other resource, and returns every
// failure found.
func CheckAll(s *SAMSchema, t *Template) error {
	var errs []error
	if err := s.Validate(t); err != nil {
		errs = append(errs, fmt.Errorf("template does not match the SAM schema: %w", err))
	}
	resources := t.Resources()
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := resources[id]
		if strings.HasPrefix(r.Type, "AWS::Serverless::") {
			if err := s.ValidateResource(r); err != nil {
				errs = append(errs, fmt.Errorf("resource %s (%s): %w", id, r.Type, err))
			}
			continue
		}
		if err := CheckCloudFormationResource(r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
