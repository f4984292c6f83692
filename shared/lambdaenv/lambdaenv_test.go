package lambdaenv

import (
	"context"
	"log/slog"
	"testing"

	"github.com/dealdesk/gongingest/shared/store"
)

func TestRequired(t *testing.T) {
	env := map[string]string{"INGEST_QUEUE_URL": "https://sqs.example/q.fifo"}
	getenv := func(k string) string { return env[k] }
	if v, err := Required(getenv, "INGEST_QUEUE_URL", "set it"); err != nil || v != env["INGEST_QUEUE_URL"] {
		t.Errorf("Required(set) = %q, %v", v, err)
	}
	_, err := Required(getenv, "TOKEN_SECRET_PREFIX", "set it to the prefix")
	if err == nil || err.Error() != "TOKEN_SECRET_PREFIX is empty: set it to the prefix" {
		t.Errorf("Required(unset) error = %v", err)
	}
}

func TestNewLoggerLevel(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	ctx := context.Background()
	tests := []struct {
		level     string
		wantDebug bool
		wantInfo  bool
	}{
		{"", false, true},
		{"debug", true, true},
		{"WARN", false, false},
		{"verbose", false, true},
	}
	for _, tt := range tests {
		logger := NewLogger(tt.level)
		if got := logger.Enabled(ctx, slog.LevelDebug); got != tt.wantDebug {
			t.Errorf("NewLogger(%q) debug enabled = %v, want %v", tt.level, got, tt.wantDebug)
		}
		if got := logger.Enabled(ctx, slog.LevelInfo); got != tt.wantInfo {
			t.Errorf("NewLogger(%q) info enabled = %v, want %v", tt.level, got, tt.wantInfo)
		}
		if slog.Default() != logger {
			t.Errorf("NewLogger(%q) did not become the default logger", tt.level)
		}
	}
}

func TestLoadAWSDefaultTable(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	env, err := LoadAWS(context.Background(), "")
	if err != nil {
		t.Fatalf("LoadAWS: %v", err)
	}
	if got := env.Store.Table(); got != store.DefaultTableName {
		t.Errorf("table = %q, want %q", got, store.DefaultTableName)
	}
	if s := env.Sender("https://sqs.example/q.fifo"); s.QueueURL != "https://sqs.example/q.fifo" || s.SQS == nil {
		t.Errorf("Sender = %+v", s)
	}
}
