package httpapi

import (
	"math"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func withClaims(claims map[string]string) events.APIGatewayV2HTTPRequest {
	var req events.APIGatewayV2HTTPRequest
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
	}
	return req
}

func TestCallerDefaultClaims(t *testing.T) {
	c, ok := Claims{}.Caller(withClaims(map[string]string{"org_id": "acme", "sub": "u1", "role": "admin"}))
	if !ok {
		t.Fatal("Caller reported no claims")
	}
	if c != (Caller{TenantID: "acme", Subject: "u1", Admin: true}) {
		t.Errorf("Caller = %+v", c)
	}
}

func TestCallerCustomClaims(t *testing.T) {
	names := Claims{Tenant: "tenant", Subject: "user", Role: "roles", AdminRole: "owner"}
	c, _ := names.Caller(withClaims(map[string]string{"tenant": "acme", "user": "u1", "roles": "[member owner]", "org_id": "other"}))
	if c != (Caller{TenantID: "acme", Subject: "u1", Admin: true}) {
		t.Errorf("Caller = %+v", c)
	}
}

func TestCallerWithoutAuthorizer(t *testing.T) {
	if _, ok := (Claims{}).Caller(events.APIGatewayV2HTTPRequest{}); ok {
		t.Error("Caller of a request without an authorizer reported claims")
	}
}

func TestHasRole(t *testing.T) {
	tests := []struct {
		claim string
		want  bool
	}{
		{"admin", true},
		{" admin ", true},
		{"[member admin]", true},
		{`["member","admin"]`, true},
		{"[member]", false},
		{"administrator", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := hasRole(tt.claim, "admin"); got != tt.want {
			t.Errorf("hasRole(%q, admin) = %v, want %v", tt.claim, got, tt.want)
		}
	}
}

func TestPathFallsBackToContext(t *testing.T) {
	var req events.APIGatewayV2HTTPRequest
	req.RequestContext.HTTP.Path = "/prod/gong/status"
	if got := Path(req); got != "/prod/gong/status" {
		t.Errorf("Path = %q", got)
	}
	req.RawPath = "/gong/status"
	if got := Path(req); got != "/gong/status" {
		t.Errorf("Path with raw path = %q", got)
	}
}

func TestHeaderIgnoresCase(t *testing.T) {
	req := events.APIGatewayV2HTTPRequest{Headers: map[string]string{"accept": "application/json"}}
	if got := Header(req, "Accept"); got != "application/json" {
		t.Errorf("Header(Accept) = %q", got)
	}
}

func TestJSONResponses(t *testing.T) {
	resp := Error(http.StatusNotFound, "no such route")
	if resp.StatusCode != http.StatusNotFound || resp.Body != `{"error":"no such route"}` {
		t.Errorf("Error = %d %s", resp.StatusCode, resp.Body)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" {
		t.Errorf("headers = %v", resp.Headers)
	}
	if resp := JSON(http.StatusOK, math.Inf(1)); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("JSON of an unencodable body: status %d, want 500", resp.StatusCode)
	}
}
