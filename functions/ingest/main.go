// Command ingest is the Lambda function that consumes the FIFO ingest queue:
// each message syncs one tenant's window of Gong calls into DynamoDB, and
// failed messages are reported one by one (ReportBatchItemFailures). Package
// ingest documents the engine.
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
		slog.Error("ingest function configuration is invalid", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
