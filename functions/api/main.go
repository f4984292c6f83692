// Command api is the Lambda function behind the HTTP API routes that read
// ingested calls, list a deal's calls, assign calls to deals by hand, explain
// a call's mapping and upsert deals. The routes are documented in package
// readapi.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	h, err := newHandler(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("api function configuration is invalid", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
