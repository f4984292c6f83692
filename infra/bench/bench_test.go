package bench

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/time/rate"

	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/gongsim"
	"github.com/dealdesk/gongingest/shared/ingest"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// Targets of the product, checked by the benchmarks below.
const (
	// maxRequestsPer100Calls bounds the Gong requests of storing 100 new
	// calls with metadata, parties, CRM context, media URLs and transcripts.
	maxRequestsPer100Calls = 2.1
	// maxRequestsPerDay bounds a day of scheduled syncs of a tenant with
	// 200 calls a day. Gong allows 10,000 a day per company.
	maxRequestsPerDay = 100
	// maxRatioToFloor bounds a backfill's duration against its requests at
	// Gong's 3 requests a second.
	maxRatioToFloor = 1.15
	// maxPeakMB bounds the engine process's peak memory during the backfill.
	maxPeakMB = 128
	// maxStoredToJSON bounds the stored transcript payload against the size
	// of the same transcripts in Gong's JSON shape.
	maxStoredToJSON = 0.30
)

// base is the simulated time at which the generated history of BenchmarkSyncWindow
// and BenchmarkDailySync ends: a UTC midnight.
var base = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// noPacing is the Gong client option of the benchmarks whose simulator runs
// on a manual clock: the simulator's rate limit is off because its clock does
// not move during a run, so the client need not pace either.
var noPacing = []gong.Option{gong.WithLimiter(rate.NewLimiter(rate.Inf, 1))}

// BenchmarkSyncWindow reads one window of N new calls through the engine and
// reports the Gong requests per 100 calls. The window is a backfill window
// that ended 3 days before the clock, so every call is listed and every
// transcript Gong will produce is ready.
func BenchmarkSyncWindow(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			for range b.N {
				benchSyncWindow(b, n)
			}
		})
	}
}

func benchSyncWindow(b *testing.B, n int) {
	b.StopTimer()
	const span = 10 * 24 * time.Hour
	clock := gongsim.NewManualClock(base.Add(3 * 24 * time.Hour))
	w := newWorld(b, worldConfig{
		sim: gongsim.Config{
			Seed:             42,
			Companies:        []gongsim.CompanySpec{{ID: company, Users: 40, Span: span, CallsPerDay: float64(n) / 10}},
			End:              base,
			Clock:            clock.Now,
			DisableRateLimit: true,
		},
		now:         clock.Now,
		gongOptions: noPacing,
	})
	// The window is not part of a backfill job, so nothing checks or
	// reports jobs.
	w.engine.Jobs, w.engine.OnWindowDone = nil, nil
	from, to := base.Add(-span), base
	listed := len(w.sim.VisibleCallIDs(company, from, to))
	ready := 0
	for _, c := range w.sim.Calls(company) {
		if c.TranscriptReady {
			ready++
		}
	}
	msg := queue.Message{TenantID: tenantID, Epoch: w.epoch, Kind: queue.KindBackfill, JobID: "bench-window", From: from, To: to}
	w.sim.ResetCounters()

	b.StartTimer()
	sum, err := w.engine.Run(w.ctx, msg)
	b.StopTimer()
	if err != nil {
		b.Fatalf("Run: %v", err)
	}
	if sum.Error != "" {
		b.Fatalf("run stopped early: %s", sum.Error)
	}
	if listed != n {
		b.Fatalf("simulator lists %d calls in the window, want %d", listed, n)
	}
	if sum.Ingested != listed {
		b.Fatalf("ingested %d calls, want all %d listed", sum.Ingested, listed)
	}
	if sum.TranscriptsStored != ready {
		b.Fatalf("stored %d transcripts, want the %d that Gong has ready", sum.TranscriptsStored, ready)
	}
	total, byEndpoint := gongRequests(w.sim)
	perHundred := float64(total) * 100 / float64(listed)
	b.Logf("%d calls, %d transcripts: %d Gong requests %v", listed, ready, total, byEndpoint)
	b.ReportMetric(float64(total), "gong-requests")
	b.ReportMetric(perHundred, "req/100calls")
	if perHundred > maxRequestsPer100Calls {
		b.Fatalf("%.3f Gong requests per 100 new calls, target at most %.1f", perHundred, maxRequestsPer100Calls)
	}
}

// BenchmarkDailySync runs the scheduler every 2 hours for 3 simulated days
// for a tenant with 200 calls a day, after an initial backfill of the 3 days
// before. Calls are listed up to an hour after they end and about 3% of
// transcripts arrive a day or more late, as the simulator generates them. It
// reports the most Gong requests any day used and how many listed calls or
// ready transcripts were not stored after the last sync.
func BenchmarkDailySync(b *testing.B) {
	for range b.N {
		benchDailySync(b)
	}
}

func benchDailySync(b *testing.B) {
	b.StopTimer()
	const (
		days        = 3
		historyDays = 3
		callsPerDay = 200
		slots       = int(24 * time.Hour / queue.SlotLength)
	)
	clock := gongsim.NewManualClock(base)
	w := newWorld(b, worldConfig{
		sim: gongsim.Config{
			Seed:             42,
			Companies:        []gongsim.CompanySpec{{ID: company, Users: 40, Span: (days + historyDays) * 24 * time.Hour, CallsPerDay: callsPerDay}},
			End:              base.Add(days * 24 * time.Hour),
			Clock:            clock.Now,
			DisableRateLimit: true,
		},
		now:         clock.Now,
		gongOptions: noPacing,
	})
	if _, err := w.backfill.StartInitial(w.ctx, tenantID, w.epoch, historyDays, "admin@"+company+".example"); err != nil {
		b.Fatalf("StartInitial: %v", err)
	}
	if _, err := drain(w.ctx, w.aws, w.queueURL, w.consumer); err != nil {
		b.Fatalf("initial backfill: %v", err)
	}
	scheduler := &ingest.Scheduler{Store: w.st, Sender: w.sender, Backfill: w.backfill, Now: clock.Now, Logger: w.engine.Logger}
	w.sim.ResetCounters()

	b.StartTimer()
	perDay := make([]int, days)
	for d := range days {
		for s := range slots {
			clock.Set(base.Add(time.Duration(d)*24*time.Hour + time.Duration(s)*queue.SlotLength))
			res, err := scheduler.Handle(w.ctx, events.EventBridgeEvent{ID: fmt.Sprintf("bench-%d-%d", d, s), Time: clock.Now()})
			if err != nil {
				b.Fatalf("scheduler at %s: %v", clock.Now().Format(time.RFC3339), err)
			}
			if res.Queued != 1 {
				b.Fatalf("scheduler at %s queued %d syncs, want 1", clock.Now().Format(time.RFC3339), res.Queued)
			}
			if _, err := drain(w.ctx, w.aws, w.queueURL, w.consumer); err != nil {
				b.Fatalf("sync at %s: %v", clock.Now().Format(time.RFC3339), err)
			}
		}
		total, byEndpoint := gongRequests(w.sim)
		perDay[d] = total
		b.Logf("day %d: %d Gong requests %v", d+1, total, byEndpoint)
		w.sim.ResetCounters()
	}
	b.StopTimer()

	missedCalls, missedTranscripts, lateCalls, lateTranscripts, visible := 0, 0, 0, 0, 0
	for _, c := range w.sim.Calls(company) {
		if !c.Visible {
			continue
		}
		visible++
		if c.VisibleAt.Sub(c.Started.Add(c.Duration)) > 30*time.Minute {
			lateCalls++
		}
		if !c.TranscriptAt.IsZero() && c.TranscriptAt.Sub(c.VisibleAt) > 24*time.Hour {
			lateTranscripts++
		}
		stored, transcript, err := w.storedCallState(c.ID)
		if err != nil {
			b.Fatalf("read call %s: %v", c.ID, err)
		}
		switch {
		case !stored:
			missedCalls++
			b.Logf("call %s (started %s, listed from %s) not stored", c.ID, c.Started.Format(time.RFC3339), c.VisibleAt.Format(time.RFC3339))
		case c.TranscriptReady && !transcript:
			missedTranscripts++
			b.Logf("transcript of call %s (ready from %s) not stored", c.ID, c.TranscriptAt.Format(time.RFC3339))
		}
	}
	b.Logf("%d calls listed by the last sync: %d listed more than 30 minutes after they ended, %d transcripts ready more than a day after listing",
		visible, lateCalls, lateTranscripts)

	most, all := 0, 0
	for _, n := range perDay {
		most = max(most, n)
		all += n
	}
	b.ReportMetric(float64(most), "req/day")
	b.ReportMetric(float64(all)/days, "req/day-mean")
	b.ReportMetric(float64(missedCalls), "calls-missed")
	b.ReportMetric(float64(missedTranscripts), "transcripts-missed")
	if most > maxRequestsPerDay {
		b.Errorf("a day of syncs used %d Gong requests (days %v), target at most %d", most, perDay, maxRequestsPerDay)
	}
	if missedCalls > 0 || missedTranscripts > 0 {
		b.Errorf("%d listed call(s) and %d ready transcript(s) not stored after the last sync, want 0", missedCalls, missedTranscripts)
	}
}

// BenchmarkBackfill runs a tenant's initial backfill of about 10,000 calls
// over 30 days in real time: the Gong client's own limiter paces requests
// and the simulator enforces 3 requests a second on the wall clock. The
// engine runs in a child process (see runBackfillChild), so its peak memory
// is measured apart from kumo and the simulator, which hold all the data.
// It reports the duration against the floor of its requests at 3 a second,
// the child's peak memory, and the stored transcript size against JSON.
func BenchmarkBackfill(b *testing.B) {
	for range b.N {
		benchBackfill(b)
	}
}

func benchBackfill(b *testing.B) {
	b.StopTimer()
	const (
		days  = 30
		calls = 10000
	)
	w := newWorld(b, worldConfig{
		sim: gongsim.Config{
			Seed:      42,
			Companies: []gongsim.CompanySpec{{ID: company, Users: 40, Span: days * 24 * time.Hour, CallsPerDay: calls / days}},
		},
	})
	jobID, err := w.backfill.StartInitial(w.ctx, tenantID, w.epoch, days, "admin@"+company+".example")
	if err != nil {
		b.Fatalf("StartInitial: %v", err)
	}
	w.sim.ResetCounters()

	b.StartTimer()
	res, err := startBackfillChild(w)
	b.StopTimer()
	if err != nil {
		b.Fatalf("engine process: %v", err)
	}

	jobs, err := w.tenant.Jobs(w.ctx, 0)
	if err != nil {
		b.Fatalf("Jobs: %v", err)
	}
	var job store.Job
	for _, j := range jobs {
		if j.JobID == jobID {
			job = j
		}
	}
	if job.JobID == "" {
		b.Fatalf("backfill job %s not found", jobID)
	}
	if job.Status != store.JobDone || job.WindowsDone != job.WindowsTotal {
		b.Fatalf("backfill job %s is %s with %d of %d windows done, want done", jobID, job.Status, job.WindowsDone, job.WindowsTotal)
	}
	total, byEndpoint := gongRequests(w.sim)
	throttled := w.sim.RateLimited(company)
	// The fewest requests that can store the calls: one list page and one
	// transcript batch per 100 calls, and the user list.
	needed := 2*int(math.Ceil(float64(job.CallsIngested)/100)) + 1
	floor := float64(total) / 3
	ratio := res.Seconds / floor
	b.Logf("%d windows, %d calls, %d transcripts: %d Gong requests %v, %d answered 429; fewest possible %d",
		job.WindowsTotal, job.CallsIngested, job.TranscriptsStored, total, byEndpoint, throttled, needed)
	b.Logf("engine process: %.1f s, peak heap in use %.1f MB, peak Go runtime memory %.1f MB, max RSS %.1f MB",
		res.Seconds, mb(res.PeakHeapInuse), mb(res.PeakRuntimeTotal), mb(res.MaxRSS))
	var ddbRequests int64
	for _, n := range res.DynamoDBRequests {
		ddbRequests += n
	}
	b.Logf("engine process: %d DynamoDB requests %v", ddbRequests, res.DynamoDBRequests)

	sizes, err := measureTranscripts(w.ctx, w.ddb.DynamoDB, w.st.Table(), w.tenant)
	if err != nil {
		b.Fatalf("measure transcripts: %v", err)
	}
	if int64(sizes.transcripts) != job.TranscriptsStored {
		b.Fatalf("table holds %d transcripts, the job stored %d", sizes.transcripts, job.TranscriptsStored)
	}
	storedRatio := float64(sizes.payload) / float64(sizes.jsonBytes)
	itemRatio := float64(sizes.items) / float64(sizes.jsonBytes)
	b.Logf("%d transcripts: %.1f MB as Gong JSON, %.1f MB compressed payload, %.1f MB in chunk items",
		sizes.transcripts, mb(sizes.jsonBytes), mb(sizes.payload), mb(sizes.items))

	b.ReportMetric(float64(job.CallsIngested), "calls")
	b.ReportMetric(float64(total), "gong-requests")
	b.ReportMetric(float64(total)*100/float64(job.CallsIngested), "req/100calls")
	b.ReportMetric(float64(throttled), "gong-429s")
	b.ReportMetric(float64(ddbRequests)/float64(job.CallsIngested), "ddb-req/call")
	b.ReportMetric(res.Seconds, "seconds")
	b.ReportMetric(floor, "floor-seconds")
	b.ReportMetric(ratio, "ratio-to-floor")
	b.ReportMetric(res.Seconds/(float64(needed)/3), "ratio-to-fewest")
	b.ReportMetric(mb(res.PeakHeapInuse), "peak-heap-MB")
	b.ReportMetric(mb(res.PeakRuntimeTotal), "peak-runtime-MB")
	b.ReportMetric(mb(res.MaxRSS), "peak-MB")
	b.ReportMetric(storedRatio, "stored/json")
	b.ReportMetric(itemRatio, "item/json")

	if job.CallsIngested < calls*9/10 {
		b.Errorf("backfill stored %d calls, want about %d", job.CallsIngested, calls)
	}
	if ratio > maxRatioToFloor {
		b.Errorf("backfill took %.1f s, %.2f times the %.1f s its %d requests need at 3 a second; target at most %.2f",
			res.Seconds, ratio, floor, total, maxRatioToFloor)
	}
	if mb(res.MaxRSS) >= maxPeakMB {
		b.Errorf("engine process peak RSS %.1f MB, target under %d MB", mb(res.MaxRSS), maxPeakMB)
	}
	if storedRatio >= maxStoredToJSON {
		b.Errorf("transcripts stored in %.3f of their JSON size, target under %.2f", storedRatio, maxStoredToJSON)
	}
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }
