// Package lambdaenv builds what every Lambda function of the product sets up
// at cold start: its logger, its required environment variables, and the
// AWS configuration with the table store and the ingest queue sender.
//
// The functions pass environment variable names to it as string literals at
// the call site, so infra/templatecheck still finds each name in the code of
// the function that reads it.
package lambdaenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealdesk/gongingest/shared/awsenv"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// NewLogger returns a logger that writes JSON lines to stdout at level, and
// makes it the default logger. The level is parsed as slog.Level parses it
// (debug, info, warn or error), and info is used when it is empty or invalid.
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: l}))
	slog.SetDefault(logger)
	return logger
}

// Required returns the value of the environment variable name read with
// getenv. When the value is empty, it returns an error that names the
// variable and ends with fix, the operator's next step.
func Required(getenv func(string) string, name, fix string) (string, error) {
	v := getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is empty: %s", name, fix)
	}
	return v, nil
}

// AWS is the SDK configuration of the environment and the store over the
// product's DynamoDB table.
type AWS struct {
	Config aws.Config
	Store  *store.Store
}

// LoadAWS loads the SDK configuration with awsenv.Load and opens the store on
// table (store.DefaultTableName when empty).
func LoadAWS(ctx context.Context, table string) (AWS, error) {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return AWS{}, err
	}
	return AWS{Config: cfg, Store: store.New(dynamodb.NewFromConfig(cfg), table)}, nil
}

// Sender returns a sender to the SQS queue at queueURL.
func (a AWS) Sender(queueURL string) *queue.Sender {
	return &queue.Sender{SQS: sqs.NewFromConfig(a.Config), QueueURL: queueURL}
}
