package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

// printTable prints one line per tenant: the pass's runs added up, and the
// tenant's stored state after it.
func (w *world) printTable(ctx context.Context) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tenant\truns\tseen\tingested\tupdated\tskipped\ttranscripts\tpending\tnone\tGong requests\tstored calls\twatermark\t")
	for _, c := range companies {
		id := tenantOf(c)
		tn, err := w.st.Tenant(id)
		if err != nil {
			return err
		}
		var total store.RunSummary
		total.Skipped = map[string]int{}
		var requests int64
		var problems []string
		w.recorder.mu.Lock()
		runs := w.recorder.runs[id]
		w.recorder.mu.Unlock()
		for _, r := range runs {
			total.CallsSeen += r.CallsSeen
			total.Ingested += r.Ingested
			total.Updated += r.Updated
			total.TranscriptsStored += r.TranscriptsStored
			total.TranscriptsPending += r.TranscriptsPending
			total.TranscriptsNone += r.TranscriptsNone
			for k, v := range r.Skipped {
				total.Skipped[k] += v
			}
			for _, v := range r.GongRequests {
				requests += v
			}
			if r.Error != "" {
				problems = append(problems, r.Error)
			}
		}
		count, err := tn.CallCount(ctx)
		if err != nil {
			return err
		}
		state, err := tn.GetSync(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", id, len(runs), total.CallsSeen, total.Ingested,
			total.Updated, skippedText(total.Skipped), total.TranscriptsStored, total.TranscriptsPending, total.TranscriptsNone,
			requests, count, state.Watermark.Format("01-02 15:04"))
		for _, p := range problems {
			fmt.Fprintf(tw, "  %s: %s\t\t\t\t\t\t\t\t\t\t\t\t\n", id, p)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Println("seen counts every call each run read, including re-reads of the lookback window; pending is the")
	fmt.Println("number of transcripts Gong had not produced yet at the end of a run.")
	return nil
}

func skippedText(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}

// showOne prints the first stored call of the first tenant that has a
// transcript, and how to look at others.
func (w *world) showOne(ctx context.Context) error {
	c := companies[0]
	tn, err := w.st.Tenant(tenantOf(c))
	if err != nil {
		return err
	}
	for _, info := range w.sim.Calls(c) {
		call, err := tn.GetCall(ctx, info.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if call.Transcript.Status != calls.TranscriptComplete || len(call.Participants) < 2 {
			continue
		}
		fmt.Printf("\nOne stored call (%s/%s):\n", tn.ID(), call.CallID)
		if err := showCall(ctx, w.st, tn.ID(), call.CallID, 6); err != nil {
			return err
		}
		fmt.Println("\nTo look at any stored call, run with -serve and, in another terminal:")
		fmt.Printf("  AWS_ENDPOINT_URL=<endpoint printed by -serve> go run ./infra/localrun -show %s/%s\n", tn.ID(), call.CallID)
		return nil
	}
	fmt.Println("\nNo stored call with a transcript to show.")
	return nil
}

// showCall prints a stored call and up to maxMonologues of its transcript's
// monologues (all when 0).
func showCall(ctx context.Context, st *store.Store, tenantID, callID string, maxMonologues int) error {
	tn, err := st.Tenant(tenantID)
	if err != nil {
		return err
	}
	c, err := tn.GetCall(ctx, callID)
	if err != nil {
		return fmt.Errorf("call %s of tenant %s: %w", callID, tenantID, err)
	}
	fmt.Printf("  title:        %s\n", c.Title)
	fmt.Printf("  started:      %s (%s)\n", c.Started.Format(time.RFC3339), (time.Duration(c.DurationSec) * time.Second).String())
	fmt.Printf("  system:       %s, %s, %s\n", c.System, c.Direction, c.Scope)
	fmt.Println("  participants:")
	for _, p := range c.Participants {
		fmt.Printf("    - %-24s %-36s %s\n", orDash(p.Name), orDash(p.Email), p.Affiliation)
	}
	if len(c.CRM) > 0 {
		fmt.Println("  CRM:")
		for _, o := range c.CRM {
			fmt.Printf("    - %s %s %s %q (%s)\n", o.System, o.ObjectType, orDash(o.ObjectID), o.Name, o.Timing)
		}
	}
	if !c.Media.ExpiresAt.IsZero() {
		fmt.Printf("  media URLs:   expire %s\n", c.Media.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Printf("  transcript:   %s, %d monologues, %d sentences\n", c.Transcript.Status, c.Transcript.Monologues, c.Transcript.Sentences)
	if c.Transcript.Status != calls.TranscriptComplete {
		return nil
	}
	tr, err := tn.GetTranscript(ctx, callID)
	if err != nil {
		return fmt.Errorf("transcript of call %s: %w", callID, err)
	}
	for i, m := range tr.Monologues {
		if maxMonologues > 0 && i == maxMonologues {
			fmt.Printf("    ... %d more monologues\n", len(tr.Monologues)-i)
			break
		}
		var text []string
		for _, s := range m.Sentences {
			text = append(text, s.Text)
		}
		line := strings.Join(text, " ")
		if maxMonologues > 0 && len(line) > 110 {
			line = line[:110] + "..."
		}
		fmt.Printf("    [%s] %s: %s\n", msClock(m.Sentences), m.SpeakerName, line)
	}
	return nil
}

func msClock(s []calls.Sentence) string {
	if len(s) == 0 {
		return "--:--"
	}
	d := time.Duration(s[0].StartMs) * time.Millisecond
	return fmt.Sprintf("%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
