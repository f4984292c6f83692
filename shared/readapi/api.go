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
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/httpapi"
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

// API serves the routes. Store and Mapper are required.
type API struct {
	Store       *store.Store
	Mapper      *mapping.Mapper
	Claims      httpapi.Claims
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
		return errorResponse(notFound("", "no route for %s %s: use one of %s", req.RequestContext.HTTP.Method, httpapi.Path(req), strings.Join(routes, ", "))), nil
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
	return httpapi.JSON(status, body), nil
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
	u, ok := a.Claims.Caller(req)
	if !ok {
		return caller{}, forbidden("the request carries no JWT claims: call the API through its JWT authorizer")
	}
	tenantClaim := a.Claims.WithDefaults().Tenant
	if u.TenantID == "" {
		return caller{}, forbidden("the token has no %s claim: sign in to an organization", tenantClaim)
	}
	t, err := a.Store.Tenant(u.TenantID)
	if err != nil {
		return caller{}, forbidden("the token's %s claim is not a valid organization id", tenantClaim)
	}
	return caller{tenant: t, subject: u.Subject, admin: u.Admin}, nil
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
	segments := strings.Split(strings.Trim(httpapi.Path(req), "/"), "/")
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

func errorResponse(e *apiError) events.APIGatewayV2HTTPResponse {
	body := map[string]string{"error": e.message}
	if e.field != "" {
		body["field"] = e.field
	}
	return httpapi.JSON(e.status, body)
}
