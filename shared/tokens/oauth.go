package tokens

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// Scopes are the Gong OAuth scopes the product requests.
var Scopes = []string{
	"api:calls:read:basic",
	"api:calls:read:extensive",
	"api:calls:read:transcript",
	"api:calls:read:media-url",
	"api:users:read",
}

// OAuthConfig returns the Gong OAuth client configuration. The client id and
// secret go in a Basic Authorization header, as Gong expects. Gong's token
// endpoint documents its parameters in the query string, which x/oauth2 cannot
// do, so token requests must run with a context from TokenEndpointContext.
func OAuthConfig(clientID, clientSecret, authorizeURL, tokenURL, redirectURI string, scopes []string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   authorizeURL,
			TokenURL:  tokenURL,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: redirectURI,
		Scopes:      scopes,
	}
}

// TokenEndpointContext returns ctx carrying the HTTP client x/oauth2 uses for
// token requests (code exchange and refresh): base, with a transport that
// copies the form parameters into the query string. Pass it to
// oauth2.Config.Exchange and TokenSource. A nil base uses a client with a
// 30-second timeout.
func TokenEndpointContext(ctx context.Context, base *http.Client) context.Context {
	if base == nil {
		base = defaultHTTPClient
	}
	hc := *base
	hc.Transport = &queryParamsTransport{base: base.Transport}
	return context.WithValue(ctx, oauth2.HTTPClient, &hc)
}

// queryParamsTransport sends each form-encoded POST with its parameters in
// the URL query as well as in the body. x/oauth2 always puts grant_type,
// code, refresh_token and redirect_uri in the body; Gong's documentation puts
// them in the query string. Sending both satisfies a server that reads either.
type queryParamsTransport struct {
	base http.RoundTripper
}

func (t *queryParamsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.Method != http.MethodPost || req.Body == nil ||
		!strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return base.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("tokens: read token request body: %w", err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("tokens: token request body is not form-encoded: %w", err)
	}
	out := req.Clone(req.Context())
	query := out.URL.Query()
	for k, vs := range form {
		query[k] = vs
	}
	out.URL.RawQuery = query.Encode()
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	return base.RoundTrip(out)
}
