package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// GetSecretValueAPI is the Secrets Manager call the client secret needs;
// *secretsmanager.Client implements it.
type GetSecretValueAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManagerSecret reads the OAuth client secret from Secrets Manager.
// The secret string is either the client secret itself or a JSON object with
// a "client_secret" field.
type SecretsManagerSecret struct {
	API GetSecretValueAPI
	// SecretID is the secret's name or ARN (GONG_CLIENT_SECRET_ID).
	SecretID string
}

// ClientSecret reads the secret. Errors name the secret id, never its value.
func (s SecretsManagerSecret) ClientSecret(ctx context.Context) (string, error) {
	if s.SecretID == "" {
		return "", errors.New("connect: client secret id is empty: set GONG_CLIENT_SECRET_ID to the secret's name or ARN")
	}
	out, err := s.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.SecretID)})
	if err != nil {
		return "", fmt.Errorf("connect: read OAuth client secret %s: %w", s.SecretID, err)
	}
	value := strings.TrimSpace(aws.ToString(out.SecretString))
	if !strings.HasPrefix(value, "{") {
		return value, nil
	}
	var doc struct {
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(value), &doc); err != nil || doc.ClientSecret == "" {
		return "", fmt.Errorf("connect: OAuth client secret %s is a JSON object without a client_secret string field: store the bare secret or add the field", s.SecretID)
	}
	return doc.ClientSecret, nil
}
