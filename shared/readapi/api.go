// Package readapi serves the product's read and assignment routes for
// ingested calls behind an API Gateway HTTP API (payload format 2.0) with a
// JWT authorizer:
//
//	GET    /deals/{dealId}/calls?limit=&cursor=  a deal's calls, newest first
//	PUT    /deals/{dealId}                       admin: create or replace a deal, then remap
//	GET    /calls/{callId}                       a call with participants, transcript and media
//	PUT    /calls/{callId}/deal                  assign the call to a deal by hand
//	DELETE /calls/{callId}/deal                  unassign the call by hand
//	GET    /calls/{callId}/explain               why the call is or is not in a deal
//
// The tenant comes only from the JWT claims, never from the path, the query
// or the body: every read and write goes through the store handle of the
// caller's tenant, so ids of another organization are simply not found.
// Errors are JSON {"error": "...", "field": "..."} with status 400, 403 or
// 404, and 500 for failures of the store.
package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/mapping"
	"github.com/dealdesk/gongingest/shared/store"
)

// Route keys as template.yaml declares them.
const (
	RouteDealCalls   = "GET /deals/{dealId}/calls"
	RoutePutDeal     = "PUT /deals/{dealId}"
	RouteGetCall     = "GET /calls/{callId}"
	RouteAssign      = "PUT /calls/{callId}/deal"
	RouteUnassign    = "DELETE /calls/{callId}/deal"
	RouteExplainCall = "GET /calls/{callId}/explain"
)

var routes = []string{RouteDealCalls, RoutePutDeal, RouteGetCall, RouteAssign, RouteUnassign, RouteExplainCall}

// Page sizes of the deal calls route.
const (
	DefaultPageSize = 25
	MaxPageSize     = 100
)

// DefaultRemapBudget bounds the remap a deal upsert runs before it responds,
// well inside API Gateway's 30-second integration timeout. A remap cut short
// is finished by the next ingest run.
const DefaultRemapBudget = 10 * time.Second

// Claims names the JWT claims that carry the caller's tenant, subject and
// role, and the role value of admins.
type Claims struct {
	Tenant    string // default "org_id"
	Subject   string // default "sub"
	Role      string // default "role"
	AdminRole string // default "admin"
}

func (c Claims) withDefaults() Claims {
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

// API serves the routes. Store and Mapper are required.
type API struct {
	Store       *store.Store
	Mapper      *mapping.Mapper
	Claims      Claims
	Logger      *slog.Logger     // slog.Default() when nil
	Now         func() time.Time // time.Now when nil; decides whether media URLs expired
	RemapBudget time.Duration    // DefaultRemapBudget when zero
}

// caller is the signed-in user.
type caller struct {
	tenant  *store.Tenant
	subject string
	admin   bool
}

// apiError is an error response.
type apiError struct {
	status  int
	message string
	field   string
}

func (e *apiError) Error() string { return e.message }

func badRequest(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...), field: field}
}

func notFound(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, message: fmt.Sprintf(format, args...), field: field}
}

func forbidden(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, message: fmt.Sprintf(format, args...)}
}

// Handle serves one request. Every failure becomes an HTTP response, so the
// returned error is always nil; it is there to fit lambda.Start.
func (a *API) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	route, params := matchRoute(req)
	if route == "" {
		return errorResponse(notFound("", "no route for %s %s: use one of %s", req.RequestContext.HTTP.Method, requestPath(req), strings.Join(routes, ", "))), nil
	}
	c, aerr := a.caller(req)
	if aerr != nil {
		return errorResponse(aerr), nil
	}
	log := a.logger().With("tenant_id", c.tenant.ID(), "route", route)
	var status int
	var body any
	var err error
	switch route {
	case RouteDealCalls:
		status, body, err = a.dealCalls(ctx, c, params["dealId"], req.QueryStringParameters)
	case RoutePutDeal:
		status, body, err = a.putDeal(ctx, c, params["dealId"], req)
	case RouteGetCall:
		status, body, err = a.getCall(ctx, c, params["callId"])
	case RouteAssign:
		status, body, err = a.assign(ctx, c, params["callId"], req)
	case RouteUnassign:
		status, body, err = a.unassign(ctx, c, params["callId"])
	case RouteExplainCall:
		status, body, err = a.explain(ctx, c, params["callId"])
	}
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return errorResponse(ae), nil
		}
		log.ErrorContext(ctx, "request failed", "error", err, "call_id", params["callId"], "deal_id", params["dealId"])
		return errorResponse(&apiError{status: http.StatusInternalServerError, message: "internal error: retry later"}), nil
	}
	return jsonResponse(status, body), nil
}

func (a *API) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// caller reads the tenant, subject and role from the JWT authorizer's claims.
func (a *API) caller(req events.APIGatewayV2HTTPRequest) (caller, *apiError) {
	names := a.Claims.withDefaults()
	auth := req.RequestContext.Authorizer
	if auth == nil || auth.JWT == nil {
		return caller{}, forbidden("the request carries no JWT claims: call the API through its JWT authorizer")
	}
	claims := auth.JWT.Claims
	tenantID := claims[names.Tenant]
	if tenantID == "" {
		return caller{}, forbidden("the token has no %s claim: sign in to an organization", names.Tenant)
	}
	t, err := a.Store.Tenant(tenantID)
	if err != nil {
		return caller{}, forbidden("the token's %s claim is not a valid organization id", names.Tenant)
	}
	return caller{tenant: t, subject: claims[names.Subject], admin: hasRole(claims[names.Role], names.AdminRole)}, nil
}

// hasRole reports whether a role claim contains role. API Gateway passes a
// list claim as "[a b]"; a single role comes as is.
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

// matchRoute returns the route and its path parameters. It uses the route key
// and path parameters when API Gateway matched a route, and otherwise matches
// the method and path itself, so a catch-all route or a stage prefix works.
func matchRoute(req events.APIGatewayV2HTTPRequest) (string, map[string]string) {
	for _, r := range routes {
		if req.RouteKey == r && len(req.PathParameters) > 0 {
			return r, req.PathParameters
		}
	}
	method := req.RequestContext.HTTP.Method
	segments := strings.Split(strings.Trim(requestPath(req), "/"), "/")
	for _, r := range routes {
		m, pattern, _ := strings.Cut(r, " ")
		if m != method {
			continue
		}
		want := strings.Split(strings.Trim(pattern, "/"), "/")
		if len(segments) < len(want) {
			continue
		}
		// Match the path's end, so a stage prefix is ignored.
		got := segments[len(segments)-len(want):]
		params := map[string]string{}
		ok := true
		for i, w := range want {
			if strings.HasPrefix(w, "{") {
				params[strings.Trim(w, "{}")] = got[i]
			} else if w != got[i] {
				ok = false
				break
			}
		}
		if ok {
			return r, params
		}
	}
	return "", nil
}

func requestPath(req events.APIGatewayV2HTTPRequest) string {
	if req.RawPath != "" {
		return req.RawPath
	}
	return req.RequestContext.HTTP.Path
}

func jsonResponse(status int, body any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error: retry later"}`)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(b),
	}
}

func errorResponse(e *apiError) events.APIGatewayV2HTTPResponse {
	body := map[string]string{"error": e.message}
	if e.field != "" {
		body["field"] = e.field
	}
	return jsonResponse(e.status, body)
}
