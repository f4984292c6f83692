package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/store"
)

// passTotals adds up one tenant's run summaries of a pass.
type passTotals struct {
	runs              int
	seen              int
	ingested, updated int
	skipped           map[string]int
	transcripts       int
	pending, none     int
	requests          int64
	errors            []string
}

func addRuns(runs []store.RunSummary) passTotals {
	t := passTotals{runs: len(runs), skipped: map[string]int{}}
	for _, r := range runs {
		t.seen += r.CallsSeen
		t.ingested += r.Ingested
		t.updated += r.Updated
		t.transcripts += r.TranscriptsStored
		t.pending += r.TranscriptsPending
		t.none += r.TranscriptsNone
		for k, v := range r.Skipped {
			t.skipped[k] += v
		}
		for _, v := range r.GongRequests {
			t.requests += v
		}
		if r.Error != "" {
			t.errors = append(t.errors, r.Error)
		}
	}
	return t
}

// printPass prints one line per tenant: the pass's runs added up, and the
// tenant's watermark after it.
func (w *world) printPass(ctx context.Context) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\t\tcalls\t\t\tskipped\t\t\ttranscripts\t\t\tGong\t\t")
	fmt.Fprintln(tw, "tenant\truns\tread\tingested\tupdated\tno org user\tprivate\tother\tstored\tpending\tnone\trequests\twatermark\t")
	var notes []string
	for _, c := range w.opts.companies {
		id := tenantOf(c)
		tn, err := w.st.Tenant(id)
		if err != nil {
			return err
		}
		t := addRuns(w.recorder.summaries(id))
		w.passRequests[id] += t.requests
		state, err := tn.GetSync(ctx)
		if err != nil {
			return err
		}
		other := 0
		for k, v := range t.skipped {
			if k != calls.SkipNoTenantUser && k != calls.SkipPrivate {
				other += v
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", id, t.runs, t.seen, t.ingested, t.updated,
			t.skipped[calls.SkipNoTenantUser], t.skipped[calls.SkipPrivate], other,
			t.transcripts, t.pending, t.none, t.requests, state.Watermark.UTC().Format("01-02 15:04"))
		for _, e := range t.errors {
			notes = append(notes, fmt.Sprintf("  %s: run stopped early or failed: %s", id, e))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Println(n)
	}
	fmt.Println("calls read counts each call once per run that listed it: the backfill's windows do not overlap, and the")
	fmt.Println("scheduled sync re-reads only its 6-hour lookback. skipped other is outside a user backfill's scope. pending")
	fmt.Println("is the transcripts Gong had not produced yet at the end of a run.")
	return nil
}

// storedTotals describes one tenant's stored calls.
type storedTotals struct {
	calls       int
	transcripts map[string]int // by calls.Transcript* status
	rules       map[string]int // by store.Rule*; "" when never evaluated
}

// countStored reads every stored call's transcript state and deal mapping.
func countStored(ctx context.Context, tn *store.Tenant) (storedTotals, error) {
	t := storedTotals{transcripts: map[string]int{}, rules: map[string]int{}}
	err := tn.ScanCallsForMapping(ctx, "", func(page []store.CallForMapping, _ string) error {
		ids := make([]string, len(page))
		for i, row := range page {
			ids[i] = row.Call.CallID
			t.rules[row.Mapping.Rule]++
		}
		states, err := tn.TranscriptStates(ctx, ids)
		if err != nil {
			return err
		}
		for _, st := range states {
			t.transcripts[st.Status]++
		}
		t.calls += len(page)
		return nil
	})
	return t, err
}

// printStored prints each tenant's stored calls after both passes: their
// transcripts, how they map to deals, and the Gong requests of the whole run.
func (w *world) printStored(ctx context.Context) error {
	fmt.Println("\n== stored state after both passes")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tstored\ttranscripts\t\t\t\tmapped by rule\t\t\t\tGong requests\t\t")
	fmt.Fprintln(tw, "tenant\tcalls\tcomplete\tpending\tnone\tdeals\tcrm_opportunity\tcrm_account\tcontact_email\tunmapped\tsetup\tpasses\t")
	for _, c := range w.opts.companies {
		id := tenantOf(c)
		tn, err := w.st.Tenant(id)
		if err != nil {
			return err
		}
		t, err := countStored(ctx, tn)
		if err != nil {
			return fmt.Errorf("count the stored calls of %s: %w", id, err)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", id, t.calls,
			t.transcripts[calls.TranscriptComplete], t.transcripts[calls.TranscriptPending], t.transcripts[calls.TranscriptNone],
			w.deals[id], t.rules[store.RuleCRMOpportunity], t.rules[store.RuleCRMAccount], t.rules[store.RuleContactEmail],
			t.rules[store.RuleUnmapped]+t.rules[""], w.setupRequests[id], w.passRequests[id])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("deals come from the CRM context of up to %d calls of the last %g days, read at setup as a stand-in for the\n", maxSampleCalls, dealSampleSpan.Hours()/24)
	fmt.Println("product's CRM: by turns a deal with the opportunity id, one with only the account id, one with only the")
	fmt.Println("contacts' emails, and none. setup requests list the Gong users and read that sample.")
	return nil
}

// showOne prints a stored call of the first tenant that has a complete
// transcript, at least two participants and a deal. It returns the call as
// <tenant>/<callId>, or "" when none qualifies.
func (w *world) showOne(ctx context.Context) (string, error) {
	tn, err := w.st.Tenant(tenantOf(w.opts.companies[0]))
	if err != nil {
		return "", err
	}
	var candidates []string
	err = tn.ScanCallsForMapping(ctx, "", func(page []store.CallForMapping, _ string) error {
		for _, row := range page {
			if row.Mapping.DealID != "" && len(row.Call.Participants) >= 2 {
				candidates = append(candidates, row.Call.CallID)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	states, err := tn.TranscriptStates(ctx, candidates)
	if err != nil {
		return "", err
	}
	for _, id := range candidates {
		if states[id].Status != calls.TranscriptComplete {
			continue
		}
		callRef := tn.ID() + "/" + id
		fmt.Printf("\nOne stored call (%s):\n", callRef)
		return callRef, showCall(ctx, w.st, tn.ID(), id, 6, true)
	}
	fmt.Println("\nNo stored call with a transcript and a deal to show.")
	return "", nil
}

// showCall prints a stored call, its deal mapping and up to maxMonologues of
// its transcript's monologues (all when 0). With truncate, each monologue's
// text is cut to one line.
func showCall(ctx context.Context, st *store.Store, tenantID, callID string, maxMonologues int, truncate bool) error {
	tn, err := st.Tenant(tenantID)
	if err != nil {
		return err
	}
	c, err := tn.GetCall(ctx, callID)
	if err != nil {
		return fmt.Errorf("read call %s of tenant %s: %w", callID, tenantID, err)
	}
	fmt.Printf("  title:        %s\n", orDash(c.Title))
	fmt.Printf("  started:      %s (%s)\n", c.Started.Format(time.RFC3339), time.Duration(c.DurationSec)*time.Second)
	fmt.Printf("  system:       %s, %s, %s\n", orDash(c.System), orDash(c.Direction), orDash(c.Scope))
	fmt.Println("  participants:")
	for _, p := range c.Participants {
		fmt.Printf("    - %-24s %-40s %s\n", orDash(p.Name), orDash(p.Email), orDash(p.Affiliation))
	}
	if len(c.CRM) > 0 {
		fmt.Println("  CRM:")
		for _, o := range c.CRM {
			fmt.Printf("    - %s %s %s %q (%s)\n", o.System, o.ObjectType, orDash(o.ObjectID), o.Name, o.Timing)
		}
	}
	if c.Media.ExpiresAt.IsZero() {
		fmt.Println("  media URLs:   none")
	} else {
		fmt.Printf("  media URLs:   expire %s\n", c.Media.ExpiresAt.Format(time.RFC3339))
	}

	if err := showMapping(ctx, tn, callID); err != nil {
		return err
	}
	fmt.Printf("  transcript:   %s, %d monologues, %d sentences\n", c.Transcript.Status, c.Transcript.Monologues, c.Transcript.Sentences)
	if c.Transcript.Status != calls.TranscriptComplete {
		return nil
	}
	return showTranscript(ctx, tn, callID, maxMonologues, truncate)
}

// showTranscript prints up to maxMonologues monologues (all when 0) with
// their start time and speaker name.
func showTranscript(ctx context.Context, tn *store.Tenant, callID string, maxMonologues int, truncate bool) error {
	tr, err := tn.GetTranscript(ctx, callID)
	if err != nil {
		return fmt.Errorf("read the transcript of call %s: %w", callID, err)
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
		if truncate && len(line) > 110 {
			line = strings.ToValidUTF8(line[:110], "") + "..."
		}
		fmt.Printf("    [%s] %s: %s\n", msClock(m.Sentences), m.SpeakerName, line)
	}
	return nil
}

// showMapping prints the deal the call is mapped to and the rule that
// decided it.
func showMapping(ctx context.Context, tn *store.Tenant, callID string) error {
	m, err := tn.GetMapping(ctx, callID)
	if err != nil {
		return fmt.Errorf("read the deal mapping of call %s: %w", callID, err)
	}
	switch {
	case m.Rule == "":
		fmt.Println("  deal:         not evaluated yet")
	case m.DealID == "":
		fmt.Printf("  deal:         none (rule %s)\n", m.Rule)
	default:
		name := ""
		if d, err := tn.GetDeal(ctx, m.DealID); err == nil {
			name = fmt.Sprintf(" %q", d.Name)
		}
		fmt.Printf("  deal:         %s%s, rule %s, key %s\n", m.DealID, name, m.Rule, orDash(m.Key))
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
