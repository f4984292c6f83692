// Command oauth is the Lambda function behind the HTTP API routes that
// connect and disconnect Gong and report the connection's status:
//
//	GET  /gong/connect     admin: redirect to Gong's authorize page
//	GET  /gong/callback    browser back from Gong: finish, redirect to APP_RETURN_URL
//	POST /gong/disconnect  admin: stop syncs and delete the token
//	GET  /gong/status      member: connection and sync status as JSON
//
// The routes and the flow are documented in package connect.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	ctx := context.Background()
	h, err := newHandler(ctx, os.Getenv)
	if err != nil {
		slog.Error("oauth function configuration is invalid", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
