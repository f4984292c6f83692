// Package templatecheck reads the SAM template (template.yaml) into the JSON
// form CloudFormation uses, with short-form intrinsic tags such as !Ref and
// !Sub expanded to {"Ref": ...} and {"Fn::Sub": ...}. Its tests validate the
// template against the SAM schema and check it against the functions' code,
// and the local invocation harness reads each function's settings from it.
package templatecheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FunctionType is the SAM resource type of a Lambda function.
const FunctionType = "AWS::Serverless::Function"

// Template is a parsed template in CloudFormation's JSON form.
type Template struct {
	// Doc is the whole template: maps, slices, strings, bools, json.Number
	// and nil, as encoding/json decodes with UseNumber.
	Doc map[string]any
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	LogicalID  string
	Type       string
	Properties map[string]any
	// Body is the whole resource entry, Type and Properties included.
	Body map[string]any
}

// Function is an AWS::Serverless::Function with the Globals applied to the
// settings the checks and the local harness read.
type Function struct {
	LogicalID string
	// CodeURI is the function's source folder relative to the template.
	CodeURI string
	// Env holds the environment variables; values are strings or intrinsic
	// function objects such as {"Ref": "Table"}.
	Env        map[string]any
	Timeout    int
	MemorySize int
	Resource   Resource
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("templatecheck: read template: %w", err)
	}
	return Parse(data)
}

// Parse converts a YAML template to its JSON form.
func Parse(data []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("templatecheck: template is not valid YAML: %w", err)
	}
	if len(root.Content) != 1 {
		return nil, errors.New("templatecheck: template is empty")
	}
	value, err := convert(root.Content[0])
	if err != nil {
		return nil, err
	}
	// A JSON round trip gives the value the types a JSON decoder produces,
	// so schema validators see numbers as json.Number.
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("templatecheck: encode template as JSON: %w", err)
	}
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("templatecheck: template root is not a mapping: %w", err)
	}
	return &Template{Doc: doc}, nil
}

// JSON returns the template encoded as JSON.
func (t *Template) JSON() ([]byte, error) {
	return json.Marshal(t.Doc)
}

// intrinsicTags maps the short-form tags to their long-form keys.
var intrinsicTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!Cidr": "Fn::Cidr", "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue",
	"!Transform": "Fn::Transform", "!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString",
}

// convert turns a YAML node into plain Go values, expanding intrinsic tags.
func convert(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return convert(n.Alias)
	}
	if key, ok := intrinsicTags[n.Tag]; ok {
		inner, err := convertUntagged(n)
		if err != nil {
			return nil, err
		}
		// !GetAtt Resource.Attribute is the short form of [Resource, Attribute].
		if s, isString := inner.(string); isString && key == "Fn::GetAtt" {
			resource, attribute, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("templatecheck: line %d: !GetAtt %q: write Resource.Attribute", n.Line, s)
			}
			inner = []any{resource, attribute}
		}
		return map[string]any{key: inner}, nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("templatecheck: line %d: unknown tag %s", n.Line, n.Tag)
	}
	return convertUntagged(n)
}

func convertUntagged(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("templatecheck: line %d: duplicate key %q", k.Line, k.Value)
			}
			cv, err := convert(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = cv
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			cv, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, cv)
		}
		return s, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("templatecheck: line %d: unsupported YAML node", n.Line)
}

// scalar decodes a scalar by its resolved YAML type. A tagged intrinsic's
// scalar argument (such as the name after !Ref) is always a string.
func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return nil, fmt.Errorf("templatecheck: line %d: integer %q: %w", n.Line, n.Value, err)
		}
		return i, nil
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return nil, fmt.Errorf("templatecheck: line %d: number %q: %w", n.Line, n.Value, err)
		}
		return f, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("templatecheck: line %d: boolean %q: %w", n.Line, n.Value, err)
		}
		return b, nil
	case "!!null":
		return nil, nil
	}
	return n.Value, nil
}

// Resources returns the template's resources by logical id.
func (t *Template) Resources() map[string]Resource {
	out := map[string]Resource{}
	resources, _ := t.Doc["Resources"].(map[string]any)
	for id, v := range resources {
		body, _ := v.(map[string]any)
		typ, _ := body["Type"].(string)
		props, _ := body["Properties"].(map[string]any)
		out[id] = Resource{LogicalID: id, Type: typ, Properties: props, Body: body}
	}
	return out
}

// Functions returns the template's functions sorted by logical id, with the
// Globals' Function section applied to the environment, timeout and memory.
func (t *Template) Functions() ([]Function, error) {
	globals := map[string]any{}
	if g, ok := t.Doc["Globals"].(map[string]any); ok {
		if f, ok := g["Function"].(map[string]any); ok {
			globals = f
		}
	}
	var out []Function
	for _, r := range t.Resources() {
		if r.Type != FunctionType {
			continue
		}
		f := Function{LogicalID: r.LogicalID, Resource: r, Env: map[string]any{}}
		codeURI, ok := r.Properties["CodeUri"].(string)
		if !ok {
			return nil, fmt.Errorf("templatecheck: function %s: CodeUri is missing or not a plain path", r.LogicalID)
		}
		f.CodeURI = filepath.Clean(codeURI)
		for _, props := range []map[string]any{globals, r.Properties} {
			if env, ok := props["Environment"].(map[string]any); ok {
				vars, _ := env["Variables"].(map[string]any)
				for k, v := range vars {
					f.Env[k] = v
				}
			}
			if n, ok := intValue(props["Timeout"]); ok {
				f.Timeout = n
			}
			if n, ok := intValue(props["MemorySize"]); ok {
				f.MemorySize = n
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out, nil
}

// FunctionByCode returns the function whose CodeUri is dir, such as
// "functions/ingest".
func (t *Template) FunctionByCode(dir string) (Function, error) {
	fns, err := t.Functions()
	if err != nil {
		return Function{}, err
	}
	var known []string
	for _, f := range fns {
		if f.CodeURI == filepath.Clean(dir) {
			return f, nil
		}
		known = append(known, f.CodeURI)
	}
	return Function{}, fmt.Errorf("templatecheck: no function in the template has CodeUri %s: the template has %s", dir, strings.Join(known, ", "))
}

// Parameter returns a parameter's Default as a string, and whether the
// parameter exists.
func (t *Template) Parameter(name string) (def string, ok bool) {
	params, _ := t.Doc["Parameters"].(map[string]any)
	p, ok := params[name].(map[string]any)
	if !ok {
		return "", false
	}
	if p["Default"] == nil {
		return "", true
	}
	return fmt.Sprint(p["Default"]), true
}

func intValue(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}
