package main

import (
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/bench"
)

// TestPrintBenchGoals: a Hypha row is judged against kvstore only when a
// kvstore row was measured; without one the report says so instead of
// printing a ratio of 0 as a missed goal.
func TestPrintBenchGoals(t *testing.T) {
	step := &bench.Step{Offered: 4000, CommittedTPS: 4000, P50Blocks: 0.8}
	tests := []struct {
		name string
		vs   float64
		want string
	}{
		{"with kvstore", 0.62, "hypha-reading indexer=kv: 0.62x kvstore (goal >= 0.5x: met); p50 0.80 block times (goal < 1.5: met)"},
		{"below the goal", 0.31, "0.31x kvstore (goal >= 0.5x: NOT met)"},
		{"no kvstore row", 0, "hypha-reading indexer=kv: no kvstore row to compare with (add kvstore to --apps); p50 0.80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &bench.Report{Rows: []bench.Row{{App: bench.Reading, Nodes: 1, Indexer: "kv", Best: step, VsKVStore: tt.vs}}}
			var b strings.Builder
			printBench(&b, r, false)
			if !strings.Contains(b.String(), tt.want) {
				t.Fatalf("report lacks %q:\n%s", tt.want, b.String())
			}
		})
	}
}
