// Package awsenv builds AWS SDK configuration for the functions and for local
// runs. Endpoints come from the SDK's own variables (AWS_ENDPOINT_URL and the
// per-service AWS_ENDPOINT_URL_<SERVICE>), so a function runs unchanged
// against AWS or against a local stand-in.
package awsenv

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// LocalRegion is the region local stand-ins are addressed in.
const LocalRegion = "us-east-1"

// Load returns the default SDK configuration of the environment.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("awsenv: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = LocalRegion
	}
	return cfg, nil
}

// Local returns a configuration for a stand-in at endpoint (such as
// http://127.0.0.1:4566) with static credentials, so the SDK never looks for
// credentials on the instance-metadata address.
func Local(endpoint string) aws.Config {
	return aws.Config{
		Region:           LocalRegion,
		RetryMaxAttempts: 3,
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		BaseEndpoint:     aws.String(endpoint),
	}
}
