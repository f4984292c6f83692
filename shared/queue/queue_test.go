package queue_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/queue"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

var (
	from = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to   = from.Add(24 * time.Hour)
)

func TestParseRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  queue.Message
	}{
		{"sync", queue.Message{TenantID: "org-1", Epoch: 2, Kind: queue.KindSync, Slot: "2026-03-01T10:00Z"}},
		{"backfill", queue.Message{TenantID: "org-1", Epoch: 1, Kind: queue.KindBackfill, JobID: "j1", WindowIndex: 3, From: from, To: to}},
		{"user_backfill", queue.Message{TenantID: "org-1", Epoch: 1, Kind: queue.KindUserBackfill, JobID: "j2", From: from, To: to, Emails: []string{"a@example.com"}}},
		{"continue", queue.Message{TenantID: "org-1", Epoch: 1, Kind: queue.KindContinue, Resumes: queue.KindSync, RunID: "r1", Part: 1, From: from, To: to}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := queue.Marshal(tc.msg)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := queue.Parse(body)
			if err != nil {
				t.Fatalf("Parse(%s): %v", body, err)
			}
			if got.TenantID != tc.msg.TenantID || got.Kind != tc.msg.Kind || got.Epoch != tc.msg.Epoch {
				t.Errorf("Parse = %+v, want %+v", got, tc.msg)
			}
			if !got.From.Equal(tc.msg.From) || !got.To.Equal(tc.msg.To) {
				t.Errorf("window = %s..%s, want %s..%s", got.From, got.To, tc.msg.From, tc.msg.To)
			}
			if strings.Join(got.Emails, ",") != strings.Join(tc.msg.Emails, ",") {
				t.Errorf("emails = %v, want %v", got.Emails, tc.msg.Emails)
			}
		})
	}
}

func TestParseRejectsBadMessages(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not_json", "hello", "not a valid message"},
		{"no_tenant", `{"epoch":1,"kind":"sync"}`, "no tenantId"},
		{"no_epoch", `{"tenantId":"a","kind":"sync"}`, "epoch 0"},
		{"unknown_kind", `{"tenantId":"a","epoch":1,"kind":"resync"}`, `kind "resync"`},
		{"backfill_no_job", `{"tenantId":"a","epoch":1,"kind":"backfill","from":"2026-03-01T00:00:00Z","to":"2026-03-02T00:00:00Z"}`, "no jobId"},
		{"backfill_no_window", `{"tenantId":"a","epoch":1,"kind":"backfill","jobId":"j"}`, "no window"},
		{"window_reversed", `{"tenantId":"a","epoch":1,"kind":"backfill","jobId":"j","from":"2026-03-02T00:00:00Z","to":"2026-03-01T00:00:00Z"}`, "from must be before to"},
		{"continue_bad_resumes", `{"tenantId":"a","epoch":1,"kind":"continue","resumes":"continue","from":"2026-03-01T00:00:00Z","to":"2026-03-02T00:00:00Z"}`, `resumes kind "continue"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := queue.Parse(tc.body)
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want error containing %q", tc.body, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSlot(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), "2026-03-01T10:00Z"},
		{time.Date(2026, 3, 1, 11, 59, 59, 0, time.UTC), "2026-03-01T10:00Z"},
		{time.Date(2026, 3, 1, 12, 0, 1, 0, time.FixedZone("CET", 3600)), "2026-03-01T10:00Z"},
	} {
		if got := queue.Slot(tc.at); got != tc.want {
			t.Errorf("Slot(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
}

func TestDeduplicationID(t *testing.T) {
	sync := queue.Message{TenantID: "org-1", Epoch: 1, Kind: queue.KindSync, Slot: "2026-03-01T10:00Z"}
	again := sync
	if queue.DeduplicationID(sync) != queue.DeduplicationID(again) {
		t.Error("same sync gives different ids")
	}
	other := sync
	other.Slot = "2026-03-01T12:00Z"
	if queue.DeduplicationID(sync) == queue.DeduplicationID(other) {
		t.Error("syncs of different slots share an id")
	}
	long := sync
	long.TenantID = strings.Repeat("t", 128)
	if got := queue.DeduplicationID(long); len(got) > 128 {
		t.Errorf("id of a long tenant has %d characters, want at most 128", len(got))
	}
	w0 := queue.Message{TenantID: "org-1", Epoch: 1, Kind: queue.KindBackfill, JobID: "j", From: from, To: to}
	w1 := w0
	w1.WindowIndex = 1
	if queue.DeduplicationID(w0) == queue.DeduplicationID(w1) {
		t.Error("backfill windows share an id")
	}
}

func createFIFO(t *testing.T, client *sqs.Client) string {
	t.Helper()
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{
		QueueName:  aws.String("ingest.fifo"),
		Attributes: map[string]string{"FifoQueue": "true"},
	})
	if err != nil {
		t.Fatalf("create FIFO queue: %v", err)
	}
	return aws.ToString(out.QueueUrl)
}

func TestSenderOnKumo(t *testing.T) {
	ctx := context.Background()
	aws := localaws.StartKumo(t)
	url := createFIFO(t, aws.SQS)
	s := &queue.Sender{SQS: aws.SQS, QueueURL: url}

	var msgs []queue.Message
	for i := range 23 {
		tenant := []string{"org-a", "org-b", "org-c"}[i%3]
		msgs = append(msgs, queue.Message{TenantID: tenant, Epoch: 1, Kind: queue.KindBackfill, JobID: "j", WindowIndex: i, From: from, To: to})
	}
	if err := s.Send(ctx, msgs...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// The same messages again are dropped by deduplication.
	if err := s.Send(ctx, msgs...); err != nil {
		t.Fatalf("Send again: %v", err)
	}

	groups := map[string]int{}
	for {
		out, err := aws.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: 10,
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			got, err := queue.Parse(*m.Body)
			if err != nil {
				t.Fatalf("Parse received body: %v", err)
			}
			groups[got.TenantID]++
			if _, err := aws.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
	if groups["org-a"] != 8 || groups["org-b"] != 8 || groups["org-c"] != 7 {
		t.Errorf("received per tenant = %v, want org-a 8, org-b 8, org-c 7", groups)
	}
}

// failingSQS rejects every entry whose body mentions a given tenant.
type failingSQS struct {
	tenant  string
	batches []int
	groups  []string
	dedupe  []string
}

func (f *failingSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.batches = append(f.batches, len(in.Entries))
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		f.groups = append(f.groups, aws.ToString(e.MessageGroupId))
		f.dedupe = append(f.dedupe, aws.ToString(e.MessageDeduplicationId))
		if aws.ToString(e.MessageGroupId) == f.tenant {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func TestSenderPartialFailure(t *testing.T) {
	fake := &failingSQS{tenant: "org-bad"}
	s := &queue.Sender{SQS: fake, QueueURL: "http://127.0.0.1/queue/ingest.fifo"}
	var msgs []queue.Message
	for i := range 12 {
		tenant := "org-ok"
		if i == 4 || i == 11 {
			tenant = "org-bad"
		}
		msgs = append(msgs, queue.Message{TenantID: tenant, Epoch: 1, Kind: queue.KindSync, Slot: "s" + string(rune('a'+i))})
	}
	err := s.Send(context.Background(), msgs...)
	var se *queue.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send error = %v, want *queue.SendError", err)
	}
	if len(se.Failed) != 2 {
		t.Fatalf("failed = %d, want 2", len(se.Failed))
	}
	for _, f := range se.Failed {
		if f.Message.TenantID != "org-bad" {
			t.Errorf("failed message for tenant %s, want org-bad", f.Message.TenantID)
		}
	}
	for i, g := range fake.groups {
		if g != msgs[i].TenantID {
			t.Errorf("entry %d has message group %q, want tenant %q", i, g, msgs[i].TenantID)
		}
		if fake.dedupe[i] != queue.DeduplicationID(msgs[i]) {
			t.Errorf("entry %d has deduplication id %q, want %q", i, fake.dedupe[i], queue.DeduplicationID(msgs[i]))
		}
	}
	if len(fake.batches) != 2 || fake.batches[0] != 10 || fake.batches[1] != 2 {
		t.Errorf("batch sizes = %v, want [10 2]", fake.batches)
	}
}

func TestSenderRejectsInvalidMessage(t *testing.T) {
	fake := &failingSQS{}
	s := &queue.Sender{SQS: fake, QueueURL: "http://127.0.0.1/queue/ingest.fifo"}
	err := s.Send(context.Background(), queue.Message{TenantID: "a", Epoch: 1, Kind: "nope"})
	if err == nil || !strings.Contains(err.Error(), `kind "nope"`) {
		t.Fatalf("Send error = %v, want invalid kind", err)
	}
	if len(fake.batches) != 0 {
		t.Errorf("sent %d batches, want none", len(fake.batches))
	}
}
