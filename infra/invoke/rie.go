package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// FindRIE returns the path of aws-lambda-rie: on PATH, or in $GOPATH/bin
// where go install puts it.
func FindRIE() (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(string(bytes.TrimSpace(gopath)), "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("aws-lambda-rie not found on PATH or in $GOPATH/bin: run 'make rie'")
}

// BuildBootstrap builds the function in dir (such as functions/ingest) of
// the module at root as a Lambda bootstrap for linux on the host's
// architecture, so the emulator can run it, and returns the binary's path.
func BuildBootstrap(ctx context.Context, root, dir, outDir string) (string, error) {
	if runtime.GOOS != "linux" {
		return "", fmt.Errorf("invoke: the Lambda emulator runs only on linux, not %s", runtime.GOOS)
	}
	out := filepath.Join(outDir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./"+dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("invoke: build %s: %w\n%s", dir, err, b)
	}
	return out, nil
}

// Emulator is one aws-lambda-rie process running one function.
type Emulator struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan error
}

// StartEmulator runs bootstrap under the emulator at rie with env, both of
// its addresses on free 127.0.0.1 ports, and waits until it accepts
// invocations. The emulator's and the function's output go to logs and, when
// echo is not nil, to echo as well.
func StartEmulator(ctx context.Context, rie, bootstrap string, env []string, echo io.Writer) (*Emulator, error) {
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	runtimePort, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &Emulator{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", apiPort), logs: &syncBuffer{}, done: make(chan error, 1)}
	e.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", runtimePort),
		bootstrap)
	e.cmd.Dir = filepath.Dir(bootstrap)
	e.cmd.Env = env
	var out io.Writer = e.logs
	if echo != nil {
		out = io.MultiWriter(e.logs, echo)
	}
	e.cmd.Stdout, e.cmd.Stderr = out, out
	// A process group of its own, so Close stops the emulator and the
	// bootstrap it started.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("invoke: start %s: %w", rie, err)
	}
	go func() { e.done <- e.cmd.Wait() }()

	addr := fmt.Sprintf("127.0.0.1:%d", apiPort)
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return e, nil
		}
		select {
		case err := <-e.done:
			e.done <- err
			return nil, fmt.Errorf("invoke: the emulator exited before accepting invocations (%v):\n%s", err, e.logs.String())
		case <-ctx.Done():
			e.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.Close()
			return nil, fmt.Errorf("invoke: the emulator did not listen on %s within 15s:\n%s", addr, e.logs.String())
		}
	}
}

// Invoke sends one event and returns the function's response body. A
// function error comes back as a body with errorType and errorMessage, as
// Lambda returns it.
func (e *Emulator) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(event))
	if err != nil {
		return nil, fmt.Errorf("invoke: build request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: post event to the emulator: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: emulator returned HTTP %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// Logs returns what the emulator and the function printed so far.
func (e *Emulator) Logs() string { return e.logs.String() }

// Close stops the emulator and the function.
func (e *Emulator) Close() {
	if e.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	<-e.done
	e.done <- nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("invoke: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer safe for the emulator's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
