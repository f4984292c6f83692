package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
)

// TestHandlerCustomClaims ensures CLAIM_TENANT and ADMIN_ROLE from the
// environment decide the tenant and the admin check.
func TestHandlerCustomClaims(t *testing.T) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	clients := localaws.StartKumo(t)
	ctx := context.Background()
	if err := store.EnsureTable(ctx, clients.DynamoDB, store.DefaultTableName); err != nil {
		t.Fatalf("create table: %v", err)
	}
	st := store.New(clients.DynamoDB, "")
	env := map[string]string{"CLAIM_TENANT": "tenant", "CLAIM_ROLE": "roles", "ADMIN_ROLE": "owner"}
	h := newHandlerWithStore(st, func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(io.Discard, nil)))

	req := events.APIGatewayV2HTTPRequest{RouteKey: "PUT /deals/{dealId}", PathParameters: map[string]string{"dealId": "d1"}, Body: `{"name":"D","open":true}`}
	req.RequestContext.HTTP.Method = "PUT"
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"tenant": "fn-api-org", "roles": "[member owner]"}},
	}
	resp, err := h.Handle(ctx, req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("PUT /deals/d1 = %d %s, %v; want 201", resp.StatusCode, resp.Body, err)
	}
	var body struct {
		Deal struct{ DealID string } `json:"deal"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Deal.DealID != "d1" {
		t.Errorf("body %s: deal id %q, %v", resp.Body, body.Deal.DealID, err)
	}

	req.RequestContext.Authorizer.JWT.Claims = map[string]string{"org_id": "fn-api-org", "roles": "owner"}
	if resp, _ := h.Handle(ctx, req); resp.StatusCode != 403 {
		t.Errorf("default org_id claim with CLAIM_TENANT=tenant: status %d, want 403", resp.StatusCode)
	}
}
