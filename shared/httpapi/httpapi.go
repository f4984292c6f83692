// Package httpapi holds what the product's API Gateway HTTP API handlers
// (payload format 2.0) share: the names of the JWT authorizer's claims, the
// signed-in caller read from them, request headers and paths, and JSON
// responses.
package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Claims names the JWT claims that carry the caller's tenant, subject and
// role, and the role value of admins. An empty field takes its default.
type Claims struct {
	Tenant    string // default "org_id"
	Subject   string // default "sub"
	Role      string // default "role"
	AdminRole string // default "admin"
}

// ClaimsFromEnv reads the claim names from CLAIM_TENANT, CLAIM_SUBJECT,
// CLAIM_ROLE and ADMIN_ROLE with getenv.
func ClaimsFromEnv(getenv func(string) string) Claims {
	return Claims{
		Tenant:    getenv("CLAIM_TENANT"),
		Subject:   getenv("CLAIM_SUBJECT"),
		Role:      getenv("CLAIM_ROLE"),
		AdminRole: getenv("ADMIN_ROLE"),
	}
}

// WithDefaults returns c with its empty fields set to the defaults.
func (c Claims) WithDefaults() Claims {
	if c.Tenant == "" {
		c.Tenant = "org_id"
	}
	if c.Subject == "" {
		c.Subject = "sub"
	}
	if c.Role == "" {
		c.Role = "role"
	}
	if c.AdminRole == "" {
		c.AdminRole = "admin"
	}
	return c
}

// Caller is the signed-in user as the JWT claims name them. TenantID and
// Subject are empty when the token lacks those claims.
type Caller struct {
	TenantID string
	Subject  string
	Admin    bool
}

// Caller reads the caller from the JWT authorizer's claims of req. The
// boolean is false when the request carries no JWT authorizer context, as
// when a route has no authorizer.
func (c Claims) Caller(req events.APIGatewayV2HTTPRequest) (Caller, bool) {
	auth := req.RequestContext.Authorizer
	if auth == nil || auth.JWT == nil {
		return Caller{}, false
	}
	names := c.WithDefaults()
	claims := auth.JWT.Claims
	return Caller{
		TenantID: claims[names.Tenant],
		Subject:  claims[names.Subject],
		Admin:    hasRole(claims[names.Role], names.AdminRole),
	}, true
}

// hasRole reports whether a role claim contains role. API Gateway passes a
// list claim as "[a b]", and a single role as is.
func hasRole(claim, role string) bool {
	claim = strings.TrimSpace(claim)
	if claim == role {
		return true
	}
	if strings.HasPrefix(claim, "[") && strings.HasSuffix(claim, "]") {
		for _, r := range strings.FieldsFunc(claim[1:len(claim)-1], func(r rune) bool { return r == ' ' || r == ',' }) {
			if strings.Trim(r, `"`) == role {
				return true
			}
		}
	}
	return false
}

// Header returns the request header name, matched without regard to case
// because API Gateway lower-cases header names.
func Header(req events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Path returns the request path: the raw path, or the request context's path
// when the raw path is empty.
func Path(req events.APIGatewayV2HTTPRequest) string {
	if req.RawPath != "" {
		return req.RawPath
	}
	return req.RequestContext.HTTP.Path
}

// JSON returns a response with status and body encoded as JSON, marked not to
// be cached. A body that cannot be encoded becomes a 500 response.
func JSON(status int, body any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error: the response could not be encoded; retry later"}`)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(b),
	}
}

// Error returns a JSON response {"error": message} with status.
func Error(status int, message string) events.APIGatewayV2HTTPResponse {
	return JSON(status, map[string]string{"error": message})
}
