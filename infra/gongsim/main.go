// Command gongsim serves the Gong simulator on a loopback address, for
// local runs of the product against a fake Gong.
//
//	go run ./infra/gongsim -companies acme,globex -calls-per-day 50
//
// It prints the simulator URL, the OAuth endpoints, each company's API base
// URL and the OAuth client id and secret to configure the product with.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dealdesk/gongingest/shared/gongsim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "gongsim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gongsim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address; the host must be 127.0.0.1 or localhost")
	seed := fs.Int64("seed", 1, "seed of the generated data; the same seed gives the same companies")
	companies := fs.String("companies", "acme", "comma-separated company ids, each served under /c/<id>")
	span := fs.Duration("span", 30*24*time.Hour, "how far back before now generated calls start")
	callsPerDay := fs.Float64("calls-per-day", 20, "generated calls per day for each company")
	users := fs.Int("users", 40, "Gong users per company")
	clientID := fs.String("client-id", "gongsim-client", "OAuth client id the simulator accepts")
	clientSecret := fs.String("client-secret", "gongsim-secret", "OAuth client secret the simulator accepts")
	noRateLimit := fs.Bool("no-rate-limit", false, "turn off the limit of 3 requests a second per company")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("invalid -addr %q: use host:port, such as 127.0.0.1:8089: %w", *addr, err)
	}
	if host != "127.0.0.1" && host != "localhost" {
		return fmt.Errorf("invalid -addr %q: the simulator listens on 127.0.0.1 only", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	base := "http://" + ln.Addr().String()

	var specs []gongsim.CompanySpec
	for _, id := range strings.Split(*companies, ",") {
		if id = strings.TrimSpace(id); id != "" {
			specs = append(specs, gongsim.CompanySpec{ID: id})
		}
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg := gongsim.Config{
		Seed:             *seed,
		Companies:        specs,
		Users:            *users,
		Span:             *span,
		CallsPerDay:      *callsPerDay,
		ClientID:         *clientID,
		ClientSecret:     *clientSecret,
		DisableRateLimit: *noRateLimit,
		BaseURL:          base,
		Logger:           logger,
	}
	sim, err := newSim(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	printSetup(sim, base, cfg)

	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("gongsim started", "url", base, "companies", sim.CompanyIDs())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("gongsim stopped")
	return nil
}

// newSim turns the panic New raises for a bad company id into an error.
func newSim(cfg gongsim.Config) (sim *gongsim.Sim, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid -companies: %v", r)
		}
	}()
	return gongsim.New(cfg), nil
}

func printSetup(sim *gongsim.Sim, base string, cfg gongsim.Config) {
	fmt.Printf("Gong simulator: %s\n", base)
	fmt.Printf("GONG_AUTHORIZE_URL=%s/oauth2/authorize\n", base)
	fmt.Printf("GONG_TOKEN_URL=%s/oauth2/generate-customer-token\n", base)
	fmt.Printf("GONG_CLIENT_ID=%s\n", cfg.ClientID)
	fmt.Printf("client secret: %s\n", cfg.ClientSecret)
	for _, id := range sim.CompanyIDs() {
		fmt.Printf("company %s: API base URL %s, %d calls (authorize with company=%s)\n",
			id, sim.BaseURL(id), len(sim.Calls(id)), id)
	}
}
