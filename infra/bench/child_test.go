package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/dealdesk/gongingest/shared/localaws"
	"github.com/dealdesk/gongingest/shared/queue"
	"github.com/dealdesk/gongingest/shared/store"
)

// Environment of the engine process that BenchmarkBackfill starts. childEnv
// set makes TestMain run runBackfillChild instead of the benchmarks.
const (
	childEnv         = "BENCH_ENGINE_CHILD"
	childSQSEnv      = "BENCH_SQS_ENDPOINT"
	childDynamoDBEnv = "BENCH_DYNAMODB_ENDPOINT"
	childTableEnv    = "BENCH_TABLE"
	childQueueEnv    = "BENCH_QUEUE_URL"
	childTokenEnv    = "BENCH_GONG_TOKEN"
	childBaseURLEnv  = "BENCH_GONG_BASE_URL"
	// cpuProfileEnv, when set in the benchmark's environment, names the file
	// the engine process writes its CPU profile to, for go tool pprof.
	cpuProfileEnv = "BENCH_CPUPROFILE"
)

// childResult is what the engine process prints as its only stdout line.
type childResult struct {
	Messages         int     `json:"messages"`
	Seconds          float64 `json:"seconds"`          // from the first receive to the empty queue
	PeakHeapInuse    int64   `json:"peakHeapInuse"`    // HeapInuse high-water mark, sampled
	PeakRuntimeTotal int64   `json:"peakRuntimeTotal"` // memory mapped by the Go runtime (MemStats.Sys), sampled
	MaxRSS           int64   `json:"maxRSS"`           // getrusage ru_maxrss, in bytes
	// DynamoDBRequests counts the engine's DynamoDB requests by operation.
	DynamoDBRequests map[string]int64 `json:"dynamoDBRequests"`
}

// startBackfillChild runs the test binary again as the engine process,
// pointed at w's kumo, table, queue and simulator, and returns its result.
func startBackfillChild(w *world) (childResult, error) {
	var res childResult
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("find the test binary: %w", err)
	}
	tok := w.sim.IssueToken(company)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		childEnv+"=1",
		childSQSEnv+"="+w.aws.Endpoint,
		childDynamoDBEnv+"="+w.ddb.Endpoint,
		childTableEnv+"="+w.st.Table(),
		childQueueEnv+"="+w.queueURL,
		childTokenEnv+"="+tok.AccessToken,
		childBaseURLEnv+"="+tok.BaseURL,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("%w; stderr: %s", err, stderr.String())
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		return res, fmt.Errorf("decode its result %q: %w", stdout.String(), err)
	}
	return res, nil
}

// runBackfillChild drains the ingest queue through the consumer, as the
// ingest function would, with the real clock and the Gong client's real
// limiter. It samples the Go heap meanwhile and prints a childResult.
func runBackfillChild() int {
	ctx := context.Background()
	clients := localaws.NewClients(os.Getenv(childSQSEnv))
	db := newCountingDynamoDB(localaws.NewClients(os.Getenv(childDynamoDBEnv)).DynamoDB)
	st := store.New(db, os.Getenv(childTableEnv))
	queueURL := os.Getenv(childQueueEnv)
	sender := &queue.Sender{SQS: clients.SQS, QueueURL: queueURL}
	tokens := fixedToken{access: os.Getenv(childTokenEnv), baseURL: os.Getenv(childBaseURLEnv)}
	_, _, consumer := wireEngine(st, sender, tokens, time.Now, nil)

	stopProfile, err := startCPUProfile(os.Getenv(cpuProfileEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	sampler := startMemorySampler(5 * time.Millisecond)
	started := time.Now()
	n, err := drain(ctx, clients, queueURL, consumer)
	elapsed := time.Since(started)
	heap, total := sampler.stop()
	if perr := stopProfile(); perr != nil {
		fmt.Fprintf(os.Stderr, "%v\n", perr)
		return 1
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "drain the ingest queue after %d message(s): %v\n", n, err)
		return 1
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintf(os.Stderr, "getrusage: %v\n", err)
		return 1
	}
	res := childResult{
		Messages: n, Seconds: elapsed.Seconds(),
		PeakHeapInuse: heap, PeakRuntimeTotal: total,
		MaxRSS:           ru.Maxrss * 1024, // kilobytes on Linux
		DynamoDBRequests: db.snapshot(),
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintf(os.Stderr, "write the result: %v\n", err)
		return 1
	}
	return 0
}

// startCPUProfile writes the process's CPU profile to path until the
// returned function is called. An empty path profiles nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create CPU profile %s: %w", path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("write CPU profile %s: %w", path, err)
		}
		return nil
	}, nil
}

// memorySampler records the high-water marks of the Go heap in use and of
// all memory the Go runtime mapped, read from runtime/metrics, which does
// not stop the world.
type memorySampler struct {
	done      chan struct{}
	wg        sync.WaitGroup
	heap, all int64
}

func startMemorySampler(every time.Duration) *memorySampler {
	s := &memorySampler{done: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	read := func() {
		metrics.Read(samples)
		// HeapInuse is the heap spans in use: live and not yet swept objects
		// plus the free space inside those spans.
		s.heap = max(s.heap, int64(samples[0].Value.Uint64()+samples[1].Value.Uint64()))
		s.all = max(s.all, int64(samples[2].Value.Uint64()))
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			read()
			select {
			case <-s.done:
				read()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peak heap in use and the peak
// runtime total, in bytes.
func (s *memorySampler) stop() (heap, total int64) {
	close(s.done)
	s.wg.Wait()
	return s.heap, s.all
}
