// Package bench holds the benchmarks of the product's targets: Gong requests
// per 100 new calls, Gong requests a day for a tenant with 200 calls a day,
// the pace and peak memory of a 10,000-call backfill, and the stored size of
// transcripts against their JSON size. Each benchmark runs the real engine
// against the Gong simulator and kumo on 127.0.0.1, reports its numbers with
// b.ReportMetric and fails when a target is missed. The package has no
// non-test code; run it with
//
//	go test -run '^$' -bench . -benchtime 1x ./infra/bench/
//
// BENCHMARKS.md at the repository root records the results.
package bench
