package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gongsim"
	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/store"
	"github.com/dealdesk/gongingest/shared/tokens"
)

// Names of the local resources, as a deployed stack would name them.
const (
	localTable          = "gong-ingest"
	localQueue          = "gong-ingest-ingest.fifo"
	localDeadLetter     = "gong-ingest-ingest-dlq.fifo"
	localClientSecretID = "gong-ingest/oauth-client"
)

// Tenants the events name, each seeded as connected with a Gong token.
var seededTenants = []string{"acme", "globex"}

// Ids of the call and deal the read API events name.
const (
	seededCallID = "7782342274025937895"
	seededDealID = "deal-1001"
)

// Local is the set of stand-ins a function runs against: kumo for DynamoDB,
// SQS and Secrets Manager, and the Gong simulator.
type Local struct {
	AWS      localaws.Clients
	GongURL  string
	Gong     *gongsim.Server // nil when GONG_SIM_URL names a running simulator
	QueueURL string
	closers  []func()
}

// StartLocal starts kumo and the Gong simulator on 127.0.0.1, unless
// AWS_ENDPOINT_URL or GONG_SIM_URL name running ones, and creates the table,
// the queues and the OAuth client secret.
func StartLocal(ctx context.Context) (*Local, error) {
	l := &Local{}
	if endpoint := os.Getenv("AWS_ENDPOINT_URL"); endpoint != "" {
		l.AWS = localaws.NewClients(endpoint)
	} else {
		clients, stop := localaws.StartKumoServer()
		l.AWS = clients
		l.closers = append(l.closers, stop)
	}
	if url := os.Getenv("GONG_SIM_URL"); url != "" {
		l.GongURL = url
	} else {
		srv, err := gongsim.Start(gongsim.Config{
			Companies: []gongsim.CompanySpec{{ID: "acme"}, {ID: "globex"}},
			Users:     8, CallsPerDay: 4, Span: 14 * 24 * time.Hour,
		})
		if err != nil {
			l.Close()
			return nil, err
		}
		l.Gong, l.GongURL = srv, srv.URL
		l.closers = append(l.closers, srv.Close)
	}
	if err := l.createResources(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Close stops what StartLocal started.
func (l *Local) Close() {
	for i := len(l.closers) - 1; i >= 0; i-- {
		l.closers[i]()
	}
	l.closers = nil
}

func (l *Local) createResources(ctx context.Context) error {
	if err := store.EnsureTable(ctx, l.AWS.DynamoDB, localTable); err != nil {
		return err
	}
	dlq, err := l.AWS.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(localDeadLetter),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameFifoQueue): "true"},
	})
	if err != nil {
		return fmt.Errorf("invoke: create queue %s: %w", localDeadLetter, err)
	}
	dlqAttrs, err := l.AWS.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("invoke: read ARN of %s: %w", localDeadLetter, err)
	}
	dlqARN := dlqAttrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	q, err := l.AWS.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(localQueue),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameFifoQueue):                 "true",
			string(sqstypes.QueueAttributeNameContentBasedDeduplication): "false",
			string(sqstypes.QueueAttributeNameVisibilityTimeout):         "3600",
			string(sqstypes.QueueAttributeNameRedrivePolicy):             fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"5"}`, dlqARN),
		},
	})
	if err != nil {
		return fmt.Errorf("invoke: create queue %s: %w", localQueue, err)
	}
	l.QueueURL = aws.ToString(q.QueueUrl)

	_, err = l.AWS.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(localClientSecretID), SecretString: aws.String(gongsimClientSecret),
	})
	var exists interface{ ErrorCode() string }
	if err != nil && !(errors.As(err, &exists) && exists.ErrorCode() == "ResourceExistsException") {
		return fmt.Errorf("invoke: create secret %s: %w", localClientSecretID, err)
	}
	return nil
}

// The Gong simulator's default OAuth client registration.
const (
	gongsimClientID     = "gongsim-client"
	gongsimClientSecret = "gongsim-secret"
)

// Seed connects the seeded tenants with tokens the simulator issued, and
// stores the deal and the call the read API events name. Seeding an already
// seeded table starts a new connection epoch, so run it once per table.
func (l *Local) Seed(ctx context.Context) error {
	if l.Gong == nil {
		return errors.New("invoke: seeding needs the in-process Gong simulator: unset GONG_SIM_URL, or seed the tenants yourself")
	}
	st := store.New(l.AWS.DynamoDB, localTable)
	tm := &tokens.Manager{Secrets: l.AWS.SecretsManager, Store: st, Prefix: tokens.DefaultPrefix}
	for _, id := range seededTenants {
		issued := l.Gong.IssueToken(id)
		t, err := st.Tenant(id)
		if err != nil {
			return err
		}
		if _, err := t.MarkConnected(ctx, "user-ana", issued.Scopes, issued.BaseURL); err != nil {
			return fmt.Errorf("invoke: connect tenant %s: %w", id, err)
		}
		tok := tokens.Token{
			AccessToken: issued.AccessToken, RefreshToken: issued.RefreshToken, TokenType: issued.TokenType,
			Expiry: issued.Expiry, Scopes: issued.Scopes, BaseURL: issued.BaseURL,
		}
		if err := tm.Put(ctx, id, tok); err != nil {
			return fmt.Errorf("invoke: store token of tenant %s: %w", id, err)
		}
	}

	acme, err := st.Tenant("acme")
	if err != nil {
		return err
	}
	if _, _, err := acme.PutDeal(ctx, store.Deal{DealID: seededDealID, Name: "Acme renewal 2026", Open: true}); err != nil {
		return fmt.Errorf("invoke: store deal %s: %w", seededDealID, err)
	}
	// The admin the events name, so a backfill for their calls is accepted.
	admin := store.User{UserID: "user-ana", Email: "ana@acme.example", Name: "Ana Admin", Active: true, JoinedAt: time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)}
	if _, err := acme.PutUser(ctx, admin); err != nil {
		return fmt.Errorf("invoke: store user %s: %w", admin.UserID, err)
	}
	started := time.Date(2026, 3, 9, 15, 0, 0, 0, time.UTC)
	call := calls.Call{
		TenantID: "acme", CallID: seededCallID, Title: "Acme renewal: pricing review", Started: started,
		DurationSec: 1860, Direction: "Conference", System: "Zoom", Scope: "External", MediaType: "Video", Language: "eng",
	}
	if _, err := acme.PutCall(ctx, call); err != nil {
		return fmt.Errorf("invoke: store call %s: %w", seededCallID, err)
	}
	return nil
}
