package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Placeholders an event may contain for values that exist only at run time:
// the OAuth state, code and browser binding of a connection started just
// before, and the id of a backfill job started just before. Under sam local
// invoke they stay as they are, and the function rejects them.
const (
	placeholderState   = "{{state}}"
	placeholderCode    = "{{code}}"
	placeholderBinding = "{{binding}}"
	placeholderJobID   = "{{jobId}}"
)

// ResolveEvent fills an event's placeholders by running the steps that
// produce the values on the same emulator: connect.json and Gong's authorize
// page for an OAuth callback, backfill.json for a backfill job id.
func (l *Local) ResolveEvent(ctx context.Context, em *Emulator, eventsDir string, event []byte) ([]byte, error) {
	if bytes.Contains(event, []byte(placeholderState)) {
		denied := bytes.Contains(event, []byte("access_denied"))
		values, err := l.startConnection(ctx, em, eventsDir, denied)
		if err != nil {
			return nil, err
		}
		for k, v := range values {
			event = bytes.ReplaceAll(event, []byte(k), []byte(v))
		}
	}
	if bytes.Contains(event, []byte(placeholderJobID)) {
		jobID, err := startBackfill(ctx, em, eventsDir)
		if err != nil {
			return nil, err
		}
		event = bytes.ReplaceAll(event, []byte(placeholderJobID), []byte(jobID))
	}
	return event, nil
}

// startConnection invokes connect.json, follows its redirect to the Gong
// simulator's authorize page, which approves at once (or denies when denied
// is set), and returns the values the callback needs.
func (l *Local) startConnection(ctx context.Context, em *Emulator, eventsDir string, denied bool) (map[string]string, error) {
	connectEvent, err := os.ReadFile(filepath.Join(eventsDir, "connect.json"))
	if err != nil {
		return nil, fmt.Errorf("invoke: the callback event needs connect.json first: %w", err)
	}
	body, err := em.Invoke(ctx, connectEvent)
	if err != nil {
		return nil, err
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(body, &resp); err != nil || resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("invoke: connect did not redirect to Gong: %s", body)
	}

	binding := ""
	for _, c := range resp.Cookies {
		if v, ok := strings.CutPrefix(c, "gong_oauth_binding="); ok {
			binding, _, _ = strings.Cut(v, ";")
		}
	}
	authorize, err := url.Parse(resp.Headers["Location"])
	if err != nil || !strings.HasPrefix(authorize.String(), l.GongURL) {
		return nil, fmt.Errorf("invoke: connect redirected to %q, not to the Gong simulator at %s", resp.Headers["Location"], l.GongURL)
	}
	if denied {
		q := authorize.Query()
		q.Set("deny", "1")
		authorize.RawQuery = q.Encode()
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorize.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("invoke: build authorize request: %w", err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: open the simulator's authorize page: %w", err)
	}
	page.Body.Close()
	back, err := url.Parse(page.Header.Get("Location"))
	if err != nil || page.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("invoke: the simulator's authorize page returned HTTP %d without a redirect back", page.StatusCode)
	}
	q := back.Query()
	return map[string]string{
		placeholderState:   q.Get("state"),
		placeholderCode:    q.Get("code"),
		placeholderBinding: binding,
	}, nil
}

// startBackfill invokes backfill.json and returns the new job's id.
func startBackfill(ctx context.Context, em *Emulator, eventsDir string) (string, error) {
	startEvent, err := os.ReadFile(filepath.Join(eventsDir, "backfill.json"))
	if err != nil {
		return "", fmt.Errorf("invoke: the event needs a job started by backfill.json first: %w", err)
	}
	body, err := em.Invoke(ctx, startEvent)
	if err != nil {
		return "", err
	}
	if id := findString(body, "jobId"); id != "" {
		return id, nil
	}
	return "", fmt.Errorf("invoke: backfill.json returned no jobId: %s", body)
}

// findString returns the first string value of key in a JSON document,
// searching nested objects.
func findString(doc []byte, key string) string {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return ""
	}
	var walk func(any) string
	walk = func(v any) string {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		if s, ok := m[key].(string); ok && s != "" {
			return s
		}
		for _, e := range m {
			if s := walk(e); s != "" {
				return s
			}
		}
		return ""
	}
	return walk(v)
}
