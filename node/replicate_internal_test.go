package node

import (
	"testing"
	"time"
)

// The wait before gateways without a file fetch it ends after settleRounds
// once a holder has attested, or after settleBlocks blocks too; the window
// widens by one every widenRounds rounds counted from the end of that wait,
// so a long wait (an idle chain's blocks) does not send every gateway to
// fetch.
func TestFetchWindow(t *testing.T) {
	const every = time.Second
	t0 := time.Unix(1_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		now    time.Duration
		height int64
		held   bool
		window int
		ok     bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"held after the rounds", []step{
			{0, 10, false, 0, false},
			{2 * every, 10, true, 0, false},
			{3 * every, 10, true, 2, true},
			{22 * every, 10, true, 2, true},
			{23 * every, 10, true, 3, true},
			{43 * every, 11, true, 4, true},
		}},
		{"nobody holds it: three blocks", []step{
			{5 * every, 12, false, 0, false},
			{6 * every, 13, false, 2, true},
		}},
		{"blocks before rounds", []step{
			{2 * every, 20, false, 0, false},
			{3 * every, 20, false, 2, true},
		}},
		{"a long wait does not widen the window", []step{
			{60 * every, 12, false, 0, false},
			{90 * every, 13, false, 2, true},
			{109 * every, 14, false, 2, true},
			{110 * every, 14, false, 3, true},
		}},
		{"once settled it stays settled", []step{
			{3 * every, 10, true, 2, true},
			{4 * every, 10, false, 2, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &wantedSince{at: t0, height: 10}
			for i, s := range tc.steps {
				window, ok := w.window(at(s.now), s.height, s.held, every, 2)
				if window != s.window || ok != s.ok {
					t.Fatalf("step %d (%v, height %d, held %v): window %d ok %v, want %d %v", i, s.now, s.height, s.held, window, ok, s.window, s.ok)
				}
			}
		})
	}
}
