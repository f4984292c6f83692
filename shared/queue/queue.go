// Package queue defines the ingest queue's message format and sends messages
// to the FIFO queue. Every message is grouped by tenant, so SQS delivers one
// tenant's work in order and never two of its messages at once.
package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Message kinds.
const (
	KindSync         = "sync"          // scheduled poll of the tenant's recent calls
	KindBackfill     = "backfill"      // one window of the tenant's initial history
	KindUserBackfill = "user_backfill" // one window of history for newly joined users
	KindContinue     = "continue"      // resumes a run that stopped near its deadline
)

// SlotLength is the scheduler's period; a slot names one scheduled run.
const SlotLength = 2 * time.Hour

// SlotLayout formats a slot's start time, such as 2026-03-01T10:00Z.
const SlotLayout = "2006-01-02T15:04Z"

// Slot returns the name of the scheduler slot that contains t.
func Slot(t time.Time) string {
	return t.UTC().Truncate(SlotLength).Format(SlotLayout)
}

// Message is one unit of ingest work for one tenant. It is the JSON body of
// an SQS message.
type Message struct {
	TenantID string `json:"tenantId"`
	// Epoch is the tenant's connection epoch when the work was queued; the
	// engine drops messages from an earlier connection.
	Epoch       int64     `json:"epoch"`
	Kind        string    `json:"kind"`
	JobID       string    `json:"jobId,omitempty"`       // backfill job
	WindowIndex int       `json:"windowIndex,omitempty"` // backfill window number, from 0
	From        time.Time `json:"from,omitzero"`         // window start (inclusive); set for backfills and continuations
	To          time.Time `json:"to,omitzero"`           // window end (exclusive)
	Emails      []string  `json:"emails,omitempty"`      // user backfill: only calls with these users
	Slot        string    `json:"slot,omitempty"`        // scheduler slot of a sync
	// Resumes is the kind of the interrupted run a continuation finishes.
	Resumes string `json:"resumes,omitempty"`
	// RunID names the interrupted run a continuation finishes.
	RunID string `json:"runId,omitempty"`
	// Part counts the continuations of one run: 1 for the first.
	Part int `json:"part,omitempty"`
}

// EffectiveKind returns the kind of work the message does: the interrupted
// run's kind for a continuation, the message kind otherwise.
func (m Message) EffectiveKind() string {
	if m.Kind == KindContinue {
		return m.Resumes
	}
	return m.Kind
}

// IsBackfill reports whether the message reads a backfill window.
func (m Message) IsBackfill() bool {
	k := m.EffectiveKind()
	return k == KindBackfill || k == KindUserBackfill
}

// Validate checks the fields the message's kind needs.
func (m Message) Validate() error {
	if m.TenantID == "" {
		return errors.New("queue: message has no tenantId: set the tenant the work is for")
	}
	if m.Epoch <= 0 {
		return fmt.Errorf("queue: message for tenant %s has epoch %d: set the tenant's connection epoch (1 or more)", m.TenantID, m.Epoch)
	}
	switch m.Kind {
	case KindSync:
	case KindBackfill, KindUserBackfill:
		if m.JobID == "" {
			return fmt.Errorf("queue: %s message for tenant %s has no jobId: set the backfill job", m.Kind, m.TenantID)
		}
		if err := checkWindow(m); err != nil {
			return err
		}
	case KindContinue:
		switch m.Resumes {
		case KindSync, KindBackfill, KindUserBackfill:
		default:
			return fmt.Errorf("queue: continue message for tenant %s resumes kind %q: use sync, backfill or user_backfill", m.TenantID, m.Resumes)
		}
		if err := checkWindow(m); err != nil {
			return err
		}
	default:
		return fmt.Errorf("queue: message for tenant %s has kind %q: use sync, backfill, user_backfill or continue", m.TenantID, m.Kind)
	}
	return nil
}

func checkWindow(m Message) error {
	if m.From.IsZero() || m.To.IsZero() {
		return fmt.Errorf("queue: %s message for tenant %s has no window: set from and to", m.Kind, m.TenantID)
	}
	if !m.From.Before(m.To) {
		return fmt.Errorf("queue: %s message for tenant %s has window from %s to %s: from must be before to",
			m.Kind, m.TenantID, m.From.Format(time.RFC3339), m.To.Format(time.RFC3339))
	}
	return nil
}

// Marshal returns the message's JSON body.
func Marshal(m Message) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("queue: encode message for tenant %s: %w", m.TenantID, err)
	}
	return string(b), nil
}

// Parse decodes and validates a message body. Unknown fields are ignored, so
// an older function accepts messages from a newer sender.
func Parse(body string) (Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return Message{}, fmt.Errorf("queue: message body is not a valid message (%d bytes): %w", len(body), err)
	}
	m.From, m.To = m.From.UTC(), m.To.UTC()
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// DeduplicationID returns the message's deterministic deduplication id: the
// same work queued twice within SQS's five-minute deduplication interval is
// delivered once. A sync is named by tenant and slot, so a schedule that fires
// twice queues one sync.
func DeduplicationID(m Message) string {
	var parts []string
	switch m.Kind {
	case KindSync:
		parts = []string{m.Kind, m.TenantID, strconv.FormatInt(m.Epoch, 10), m.Slot}
	case KindContinue:
		parts = []string{m.Kind, m.TenantID, m.RunID, strconv.Itoa(m.Part)}
	default:
		parts = []string{m.Kind, m.TenantID, strconv.FormatInt(m.Epoch, 10), m.JobID, strconv.Itoa(m.WindowIndex)}
	}
	id := strings.Join(parts, "|")
	// SQS allows at most 128 characters; long tenant ids are hashed.
	if len(id) > 128 {
		sum := sha256.Sum256([]byte(id))
		return m.Kind + "|" + hex.EncodeToString(sum[:])
	}
	return id
}

// SQSAPI is the part of the SQS client the sender uses; *sqs.Client
// implements it.
type SQSAPI interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// MaxBatch is the most messages SQS accepts in one SendMessageBatch request.
const MaxBatch = 10

// Sender sends messages to the FIFO ingest queue.
type Sender struct {
	SQS      SQSAPI
	QueueURL string
}

// SendError lists the messages SQS did not accept.
type SendError struct {
	Failed []FailedMessage
}

// FailedMessage is one message SQS did not accept, with SQS's reason.
type FailedMessage struct {
	Message     Message
	Code        string
	Reason      string
	SenderFault bool
}

func (e *SendError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "queue: %d message(s) not sent:", len(e.Failed))
	for i, f := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, " %s for tenant %s (%s: %s);", f.Message.Kind, f.Message.TenantID, f.Code, f.Reason)
	}
	return b.String()
}

// Send validates and sends the messages in batches of 10. The message group is
// the tenant id. Messages that SQS rejects are returned in a *SendError; the
// others are sent. A failed request stops at that batch and returns the error.
func (s *Sender) Send(ctx context.Context, msgs ...Message) error {
	if s == nil || s.SQS == nil || s.QueueURL == "" {
		return errors.New("queue: sender has no queue: set INGEST_QUEUE_URL")
	}
	var failed []FailedMessage
	for start := 0; start < len(msgs); start += MaxBatch {
		batch := msgs[start:min(start+MaxBatch, len(msgs))]
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(batch))
		for i, m := range batch {
			if err := m.Validate(); err != nil {
				return err
			}
			body, err := Marshal(m)
			if err != nil {
				return err
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id:                     aws.String(strconv.Itoa(i)),
				MessageBody:            aws.String(body),
				MessageGroupId:         aws.String(m.TenantID),
				MessageDeduplicationId: aws.String(DeduplicationID(m)),
			})
		}
		out, err := s.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.QueueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("queue: send %d message(s) starting with tenant %s: %w", len(batch), batch[0].TenantID, err)
		}
		for _, f := range out.Failed {
			i, err := strconv.Atoi(aws.ToString(f.Id))
			if err != nil || i < 0 || i >= len(batch) {
				return fmt.Errorf("queue: SQS reported a failure for unknown entry id %q", aws.ToString(f.Id))
			}
			failed = append(failed, FailedMessage{
				Message: batch[i], Code: aws.ToString(f.Code), Reason: aws.ToString(f.Message), SenderFault: f.SenderFault,
			})
		}
	}
	if len(failed) > 0 {
		return &SendError{Failed: failed}
	}
	return nil
}
