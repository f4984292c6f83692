package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/dealdesk/gongingest/infra/templatecheck"
)

// Local values of the template's resources and parameters, used where the
// template's environment variables reference them.
func (l *Local) references(tmpl *templatecheck.Template) map[string]string {
	refs := map[string]string{
		"Table":               localTable,
		"IngestQueue":         l.QueueURL,
		"GongClientId":        gongsimClientID,
		"GongClientSecretArn": localClientSecretID,
		// The simulator accepts any http redirect URI on a loopback host.
		"OAuthRedirectUri": "http://127.0.0.1/gong/callback",
		"AppReturnUrl":     "http://127.0.0.1/settings/gong",
		"LogLevel":         "debug",
	}
	params, _ := tmpl.Doc["Parameters"].(map[string]any)
	for name := range params {
		if _, ok := refs[name]; ok {
			continue
		}
		if def, ok := tmpl.Parameter(name); ok {
			refs[name] = def
		}
	}
	return refs
}

// literalOverrides replaces the template's literal Gong URLs with the
// simulator's, so no local run reaches Gong.
func (l *Local) literalOverrides() map[string]string {
	return map[string]string{
		"GONG_AUTHORIZE_URL": l.GongURL + "/oauth2/authorize",
		"GONG_TOKEN_URL":     l.GongURL + "/oauth2/generate-customer-token",
	}
}

// FunctionEnv returns the environment a function runs with locally: the
// template's variables with references resolved to the local stand-ins, the
// Lambda settings the emulator reads, and static credentials.
func (l *Local) FunctionEnv(tmpl *templatecheck.Template, fn templatecheck.Function) ([]string, error) {
	refs := l.references(tmpl)
	overrides := l.literalOverrides()
	env := map[string]string{}
	for name, v := range fn.Env {
		if o, ok := overrides[name]; ok {
			env[name] = o
			continue
		}
		switch x := v.(type) {
		case string:
			env[name] = x
		case json.Number:
			env[name] = x.String()
		case map[string]any:
			ref, _ := x["Ref"].(string)
			value, ok := refs[ref]
			if !ok {
				b, _ := json.Marshal(x)
				return nil, fmt.Errorf("invoke: %s of %s is %s, which the local run cannot resolve: add a local value for it", name, fn.LogicalID, b)
			}
			env[name] = value
		default:
			return nil, fmt.Errorf("invoke: %s of %s has unsupported value %v", name, fn.LogicalID, v)
		}
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":                l.AWS.Endpoint,
		"AWS_ACCESS_KEY_ID":               "AKIDLOCAL",
		"AWS_SECRET_ACCESS_KEY":           "local-secret",
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_LAMBDA_FUNCTION_NAME":        fn.LogicalID,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     fmt.Sprint(fn.Timeout),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": fmt.Sprint(fn.MemorySize),
		"PATH":                            os.Getenv("PATH"),
		"HOME":                            os.Getenv("HOME"),
	} {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// functionByName finds a template function by short name ("ingest"), CodeUri
// ("functions/ingest") or logical id ("IngestFunction").
func functionByName(tmpl *templatecheck.Template, name string) (templatecheck.Function, error) {
	fns, err := tmpl.Functions()
	if err != nil {
		return templatecheck.Function{}, err
	}
	var known []string
	for _, f := range fns {
		short := strings.TrimPrefix(f.CodeURI, "functions/")
		if name == short || name == f.CodeURI || name == f.LogicalID {
			return f, nil
		}
		known = append(known, short)
	}
	return templatecheck.Function{}, fmt.Errorf("invoke: no function %q in template.yaml: use one of %s", name, strings.Join(known, ", "))
}
