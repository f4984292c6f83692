package main

import (
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{
		"GONG_CLIENT_ID":        "client-1",
		"GONG_CLIENT_SECRET_ID": "gong-ingest/oauth-client",
		"OAUTH_REDIRECT_URI":    "https://api.example.com/gong/callback",
		"APP_RETURN_URL":        "https://app.example.com/settings/gong",
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"no client id", map[string]string{"GONG_CLIENT_ID": ""}, "GONG_CLIENT_ID"},
		{"no secret id", map[string]string{"GONG_CLIENT_SECRET_ID": ""}, "GONG_CLIENT_SECRET_ID"},
		{"relative redirect", map[string]string{"OAUTH_REDIRECT_URI": "/gong/callback"}, "OAUTH_REDIRECT_URI"},
		{"no return URL", map[string]string{"APP_RETURN_URL": ""}, "APP_RETURN_URL"},
		{"bad backfill days", map[string]string{"BACKFILL_DAYS": "ninety"}, "BACKFILL_DAYS"},
		{"backfill over maximum", map[string]string{"BACKFILL_DAYS": "800"}, "BACKFILL_MAX_DAYS"},
		{"bad budget", map[string]string{"DAILY_REQUEST_BUDGET": "-1"}, "DAILY_REQUEST_BUDGET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := configFromEnv(func(k string) string { return env[k] })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("configFromEnv: %v", err)
				}
				if cfg.BackfillDays != 90 || cfg.BackfillMaxDays != 730 || cfg.DailyBudget != 5000 {
					t.Errorf("defaults = %d, %d, %d; want 90, 730, 5000", cfg.BackfillDays, cfg.BackfillMaxDays, cfg.DailyBudget)
				}
				if cfg.AuthorizeURL != "https://app.gong.io/oauth2/authorize" || cfg.TokenURL != "https://app.gong.io/oauth2/generate-customer-token" {
					t.Errorf("Gong URLs = %s, %s", cfg.AuthorizeURL, cfg.TokenURL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
