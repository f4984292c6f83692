// Command scheduler is the Lambda function behind the 2-hour EventBridge
// schedule: it queues one sync message per connected tenant on the FIFO
// ingest queue, starts backfills for users who joined, and resumes backfills
// paused on the daily Gong budget. Package ingest documents the flow.
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
		slog.Error("scheduler function configuration is invalid", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
