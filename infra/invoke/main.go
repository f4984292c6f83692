// Command invoke runs one Lambda function locally the way sam local invoke
// would: it builds the function's bootstrap, runs it under the AWS Lambda
// Runtime Interface Emulator with the environment template.yaml gives it,
// sends each event and prints each response.
//
//	go run ./infra/invoke -fn ingest -event events/sqs-sync.json
//
// The function runs against kumo (DynamoDB, SQS, Secrets Manager) and the
// Gong simulator, both started in this process on 127.0.0.1 unless
// AWS_ENDPOINT_URL or GONG_SIM_URL name running ones. The table, queues and
// secrets are created, and the tenants "acme" and "globex" are connected
// with simulator tokens, so the events under events/ work as they are.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/dealdesk/gongingest/infra/templatecheck"
)

type eventList []string

func (e *eventList) String() string     { return strings.Join(*e, ",") }
func (e *eventList) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	var (
		fn     = flag.String("fn", "", "function to run: scheduler, ingest, oauth, api or backfill")
		events eventList
		tmpl   = flag.String("template", "template.yaml", "SAM template that gives the function's settings")
		quiet  = flag.Bool("quiet", false, "do not print the emulator's and the function's logs to stderr")
	)
	flag.Var(&events, "event", "event JSON file to send; repeat to send several in order")
	flag.Parse()
	if *fn == "" || len(events) == 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./infra/invoke -fn <function> -event events/<file>.json [-event ...]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	// The SDK inside the harness uses the same static credentials as the
	// function, and never the instance-metadata address.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var logs io.Writer = os.Stderr
	if *quiet {
		logs = nil
	}
	if err := run(ctx, *fn, *tmpl, events, os.Stdout, logs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name, templatePath string, eventFiles []string, out, logs io.Writer) error {
	root, err := filepath.Abs(filepath.Dir(templatePath))
	if err != nil {
		return fmt.Errorf("invoke: resolve %s: %w", templatePath, err)
	}
	tmpl, err := templatecheck.Load(templatePath)
	if err != nil {
		return err
	}
	fn, err := functionByName(tmpl, name)
	if err != nil {
		return err
	}
	rie, err := FindRIE()
	if err != nil {
		return err
	}

	local, err := StartLocal(ctx)
	if err != nil {
		return err
	}
	defer local.Close()
	if err := local.Seed(ctx); err != nil {
		return err
	}
	buildDir, err := os.MkdirTemp("", "invoke-"+name+"-")
	if err != nil {
		return fmt.Errorf("invoke: create build folder: %w", err)
	}
	defer os.RemoveAll(buildDir)
	bootstrap, err := BuildBootstrap(ctx, root, fn.CodeURI, buildDir)
	if err != nil {
		return err
	}
	env, err := local.FunctionEnv(tmpl, fn)
	if err != nil {
		return err
	}
	em, err := StartEmulator(ctx, rie, bootstrap, env, logs)
	if err != nil {
		return err
	}
	defer em.Close()

	var errs []error
	for _, file := range eventFiles {
		event, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("invoke: read event: %w", err)
		}
		event, err = local.ResolveEvent(ctx, em, filepath.Dir(file), event)
		if err != nil {
			return err
		}
		body, err := em.Invoke(ctx, event)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		fmt.Fprintf(out, "%s\n", indent(body))
	}
	return errors.Join(errs...)
}

// indent pretty-prints a JSON body, or returns it unchanged if it is not JSON.
func indent(body []byte) []byte {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return body
	}
	return b
}
