package connect

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealdesk/gongingest/shared/httpapi"
)

// Routes of the OAuth function behind an API Gateway HTTP API (payload format
// 2.0). Connect, disconnect and status need the JWT authorizer; the callback
// works with or without it.
const (
	RouteConnect    = "GET /gong/connect"     // admin: redirect to Gong's authorize page
	RouteCallback   = "GET /gong/callback"    // browser back from Gong: finish, redirect to the product
	RouteDisconnect = "POST /gong/disconnect" // admin: stop syncs and delete the token
	RouteStatus     = "GET /gong/status"      // member: connection and sync status as JSON
)

// BindingCookie is the cookie that ties a connection attempt to the browser
// that started it.
const BindingCookie = "gong_oauth_binding"

// API serves the routes from API Gateway HTTP API events.
type API struct {
	Service *Service
	Claims  httpapi.Claims
}

// Handle routes one request. Every failure becomes an HTTP response, so the
// returned error is always nil; it is there to fit lambda.Start.
func (a *API) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	switch routeOf(req) {
	case RouteConnect:
		return a.connect(ctx, req), nil
	case RouteCallback:
		return a.callback(ctx, req), nil
	case RouteDisconnect:
		return a.disconnect(ctx, req), nil
	case RouteStatus:
		return a.status(ctx, req), nil
	}
	return httpapi.Error(http.StatusNotFound, "no such route: use "+strings.Join([]string{RouteConnect, RouteCallback, RouteDisconnect, RouteStatus}, ", ")), nil
}

// routeOf returns the request's route. It uses the route key when API Gateway
// matched one of the routes, and otherwise the method and the path's end, so
// a catch-all route or a stage prefix also works.
func routeOf(req events.APIGatewayV2HTTPRequest) string {
	routes := []string{RouteConnect, RouteCallback, RouteDisconnect, RouteStatus}
	for _, r := range routes {
		if req.RouteKey == r {
			return r
		}
	}
	method := req.RequestContext.HTTP.Method
	path := httpapi.Path(req)
	for _, r := range routes {
		m, p, _ := strings.Cut(r, " ")
		if method == m && (path == p || strings.HasSuffix(path, p)) {
			return r
		}
	}
	return ""
}

// caller returns the signed-in user named by the JWT authorizer's claims, or
// nil when the request has no claims or they name neither tenant nor subject.
func (a *API) caller(req events.APIGatewayV2HTTPRequest) *Caller {
	u, ok := a.Claims.Caller(req)
	if !ok || (u.TenantID == "" && u.Subject == "") {
		return nil
	}
	return &Caller{TenantID: u.TenantID, Subject: u.Subject, Admin: u.Admin}
}

func (a *API) connect(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	c := a.caller(req)
	if c == nil {
		return a.serviceError(ctx, req, ErrUnauthenticated)
	}
	auth, err := a.Service.Connect(ctx, *c)
	if err != nil {
		return a.serviceError(ctx, req, err)
	}
	cookie := a.bindingCookie(auth.Binding, int(StateLifetime.Seconds()))
	// A single-page app calls this route with fetch, which cannot follow a
	// redirect to another site, so it may ask for the URL as JSON instead.
	if strings.Contains(httpapi.Header(req, "accept"), "application/json") {
		resp := httpapi.JSON(http.StatusOK, map[string]any{"authorizeUrl": auth.URL, "expiresAt": auth.Expires})
		resp.Cookies = []string{cookie}
		return resp
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusFound,
		Headers:    map[string]string{"Location": auth.URL, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
		Cookies:    []string{cookie},
	}
}

func (a *API) callback(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	// The raw query string keeps repeated parameters apart, which the
	// parsed map joins with commas.
	q, err := url.ParseQuery(req.RawQueryString)
	if err != nil {
		// The parse error quotes part of the query, which may be the state
		// or the code, so only the length is logged.
		a.Service.logger().WarnContext(ctx, "gong callback with an unparsable query string",
			"request_id", req.RequestContext.RequestID, "query_bytes", len(req.RawQueryString))
		return a.statePage(StateMalformed)
	}
	for _, name := range []string{"state", "code"} {
		if n := len(q[name]); n > 1 {
			a.Service.logger().WarnContext(ctx, "gong callback with a repeated query parameter",
				"request_id", req.RequestContext.RequestID, "parameter", name, "count", n)
			return a.statePage(StateRepeated)
		}
	}
	out, err := a.Service.Callback(ctx, CallbackRequest{
		State:   q.Get("state"),
		Code:    q.Get("code"),
		Error:   q.Get("error"),
		Binding: cookieValue(req, BindingCookie),
		Caller:  a.caller(req),
	})
	var se *StateError
	if errors.As(err, &se) {
		return a.statePage(se.Problem)
	}
	if err != nil {
		a.Service.logger().ErrorContext(ctx, "gong callback failed", "tenant_id", out.TenantID, "request_id", req.RequestContext.RequestID, "error", err)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusFound,
		Headers:    map[string]string{"Location": a.Service.ReturnURL(out), "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
		Cookies:    []string{a.bindingCookie("", -1)},
	}
}

func (a *API) disconnect(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	c := a.caller(req)
	if c == nil {
		return a.serviceError(ctx, req, ErrUnauthenticated)
	}
	res, err := a.Service.Disconnect(ctx, *c)
	if err != nil {
		return a.serviceError(ctx, req, err)
	}
	return httpapi.JSON(http.StatusOK, res)
}

func (a *API) status(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	c := a.caller(req)
	if c == nil {
		return a.serviceError(ctx, req, ErrUnauthenticated)
	}
	st, err := a.Service.Status(ctx, *c)
	if err != nil {
		return a.serviceError(ctx, req, err)
	}
	return httpapi.JSON(http.StatusOK, st)
}

// serviceError maps a service error to a response. Internal errors are logged,
// and the response carries a generic message with the request id.
func (a *API) serviceError(ctx context.Context, req events.APIGatewayV2HTTPRequest, err error) events.APIGatewayV2HTTPResponse {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return httpapi.Error(http.StatusUnauthorized, "sign in to the product first: the request has no user claims")
	case errors.Is(err, ErrForbidden):
		return httpapi.Error(http.StatusForbidden, "only an admin of the organization can connect or disconnect Gong")
	}
	a.Service.logger().ErrorContext(ctx, "gong connection request failed", "route", req.RouteKey, "request_id", req.RequestContext.RequestID, "error", err)
	return httpapi.Error(http.StatusInternalServerError, "internal error, request id "+req.RequestContext.RequestID+": try again, and contact support if it persists")
}

// bindingCookie returns a Set-Cookie value for the binding cookie, scoped to
// the callback path; maxAge < 0 deletes it. The cookie is Lax so the browser
// sends it on the top-level redirect back from Gong.
func (a *API) bindingCookie(value string, maxAge int) string {
	path := "/"
	secure := true
	if u, err := url.Parse(a.Service.config().RedirectURI); err == nil {
		if u.Path != "" {
			path = u.Path
		}
		secure = u.Scheme == "https"
	}
	c := &http.Cookie{
		Name:     BindingCookie,
		Value:    value,
		Path:     path,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	return c.String()
}

// cookieValue returns the named cookie of the request. Payload format 2.0
// puts cookies in their own field; a Cookie header is read too.
func cookieValue(req events.APIGatewayV2HTTPRequest, name string) string {
	lines := append([]string(nil), req.Cookies...)
	if h := httpapi.Header(req, "cookie"); h != "" {
		lines = append(lines, h)
	}
	for _, line := range lines {
		cookies, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range cookies {
			if c.Name == name {
				return c.Value
			}
		}
	}
	return ""
}

// statePages explains each rejected state to the admin. The page shows no
// request input.
var statePages = map[StateProblem]string{
	StateMissing:    "The link has no state parameter, so it did not come from Gong's authorization page.",
	StateUnknown:    "This connection link is not valid or has already been used.",
	StateExpired:    "This connection link expired: approve the connection in Gong within 10 minutes of starting it.",
	StateMismatched: "This connection was started by another user or in another browser.",
	StateRepeated:   "The link repeats its state or code parameter, so it is not the link Gong's authorization page sent.",
	StateMalformed:  "The link's query string cannot be read, so it is not the link Gong's authorization page sent.",
}

var statePageTemplate = template.Must(template.New("state").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gong connection failed</title></head>
<body><h1>Gong was not connected</h1><p>{{.}}</p>
<p>Nothing was stored. Go back to the settings page and connect Gong again.</p></body></html>
`))

// statePage returns the 400 page for a rejected callback. Like the redirect
// after a callback, it deletes the binding cookie.
func (a *API) statePage(problem StateProblem) events.APIGatewayV2HTTPResponse {
	var b strings.Builder
	msg, ok := statePages[problem]
	if !ok {
		msg = statePages[StateUnknown]
	}
	if err := statePageTemplate.Execute(&b, msg); err != nil {
		b.Reset()
		fmt.Fprint(&b, "Gong was not connected: the connection link is not valid.")
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusBadRequest,
		Headers: map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Cache-Control":           "no-store",
			"Content-Security-Policy": "default-src 'none'",
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
		},
		Cookies: []string{a.bindingCookie("", -1)},
		Body:    b.String(),
	}
}
