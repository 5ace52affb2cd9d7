package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/bench"
)

// TestRunTiny runs every app once on one node, two short rate steps each,
// and checks the report's shape: positive committed rates and sane
// latencies. It asserts no speed: speed goals live in `hypha bench`.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three networks")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var phases int
	rep, err := bench.Run(ctx, bench.Options{
		Nodes:     []int{1},
		Indexers:  []string{"kv"},
		BlockTime: 200 * time.Millisecond,
		Warmup:    time.Second,
		Duration:  2 * time.Second,
		Rates:     []int{100, 200},
		Accounts:  200,
		Dir:       t.TempDir(),
		Progress:  func(bench.Progress) { phases++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != len(bench.Apps) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), len(bench.Apps))
	}
	if phases == 0 {
		t.Error("no progress reported")
	}
	for _, row := range rep.Rows {
		t.Run(row.Name(), func(t *testing.T) {
			if row.Err != "" {
				t.Fatal(row.Err)
			}
			if len(row.Steps) == 0 {
				t.Fatal("no steps")
			}
			for _, st := range row.Steps {
				t.Log(st.Summary())
				if st.Submitted == 0 || st.CommittedTPS <= 0 {
					t.Errorf("%d/s: submitted %d, committed %.1f/s: want both positive", st.Offered, st.Submitted, st.CommittedTPS)
				}
				if st.Refused > 0 || st.FailedInBlock > 0 || st.Uncommitted > 0 {
					t.Errorf("%d/s: %d refused (%s), %d failed in block, %d uncommitted",
						st.Offered, st.Refused, st.FirstRefusal, st.FailedInBlock, st.Uncommitted)
				}
				if st.P50 <= 0 || st.P99 < st.P50 || st.P99 > time.Minute {
					t.Errorf("%d/s: p50 %s p99 %s: want 0 < p50 <= p99 < 1m", st.Offered, st.P50, st.P99)
				}
			}
		})
	}
	hy := rep.Rows[0]
	if hy.Best != nil && rep.Rows[2].Best != nil && hy.VsKVStore <= 0 {
		t.Errorf("ratio to kvstore not computed: %+v", hy)
	}
}

// The contract app builds the counter, deploys it and calls it under load.
func TestRunContract(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a network and builds a contract")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Options{
		Apps:      []bench.App{bench.Contract},
		Nodes:     []int{1},
		Indexers:  []string{"null"},
		BlockTime: 200 * time.Millisecond,
		Warmup:    time.Second,
		Duration:  2 * time.Second,
		Rates:     []int{100},
		Accounts:  50,
		Dir:       t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	row := rep.Rows[0]
	if row.Err != "" || len(row.Steps) != 1 {
		t.Fatalf("row: %+v", row)
	}
	st := row.Steps[0]
	t.Log(st.Summary())
	if st.CommittedTPS <= 0 || st.FailedInBlock > 0 || st.Refused > 0 || st.Uncommitted > 0 {
		t.Fatalf("contract calls: %s", st.Summary())
	}
}
