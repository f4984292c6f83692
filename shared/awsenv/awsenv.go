// Package awsenv builds AWS SDK configuration for the functions and for local
// runs. Endpoints come from the SDK's own variables (AWS_ENDPOINT_URL and the
// per-service AWS_ENDPOINT_URL_<SERVICE>), so a function runs unchanged
// against AWS or against a local stand-in.
package awsenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
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
	if isLoopback(os.Getenv("AWS_ENDPOINT_URL")) || isLoopback(os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")) {
		cfg.APIOptions = append(cfg.APIOptions, kumoExpressionFix)
	}
	return cfg, nil
}

// isLoopback reports whether endpoint is a URL on a loopback host, which is
// where the local stand-ins listen.
func isLoopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
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
		APIOptions:       []func(*middleware.Stack) error{kumoExpressionFix},
	}
}
