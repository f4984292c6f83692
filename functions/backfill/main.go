// Command backfill is the Lambda function support invokes to backfill a
// tenant's Gong history for a date range, follow and cancel backfill jobs,
// and purge a tenant's ingested data. Package backfill documents the payload
// and the jobs.
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
		slog.Error("backfill function configuration is invalid", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
