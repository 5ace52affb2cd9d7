package keys

import (
	"crypto/ed25519"
	"runtime"
	"sync"

	"github.com/hdevalence/ed25519consensus"
)

// BatchVerifier checks many signatures at once. Ed25519 entries are verified
// together with ed25519consensus's batch equation, which under ZIP-215
// accepts exactly the signatures that single verification accepts; if the
// batch fails, each Ed25519 entry is verified on its own to find the bad
// ones. P-256 entries are verified one by one.
//
// The batch equation uses random coefficients internally (from crypto/rand);
// they affect only the (negligible) chance of a false accept, never which
// signatures verify, so results are deterministic for the ledger.
//
// A BatchVerifier is not safe for concurrent use.
type BatchVerifier struct {
	entries []batchEntry
}

type batchEntry struct {
	pub      PublicKey
	msg, sig []byte
}

// NewBatchVerifier returns an empty BatchVerifier.
func NewBatchVerifier() *BatchVerifier {
	return &BatchVerifier{}
}

// Add queues a signature check. Add keeps references to pub.Key, msg and
// sig; the caller must not modify them until Verify returns.
func (v *BatchVerifier) Add(pub PublicKey, msg, sig []byte) {
	v.entries = append(v.entries, batchEntry{pub: pub, msg: msg, sig: sig})
}

// Len returns the number of entries added.
func (v *BatchVerifier) Len() int { return len(v.entries) }

// BatchChunk is how many Ed25519 signatures go into one batch equation.
// Per-signature cost is lowest around this size (larger multi-scalar
// multiplications get slower per point), and a bad signature only sends its
// own chunk to one-by-one verification.
const BatchChunk = 64

// Verify checks every entry. results[i] reports whether the i-th entry added
// is valid, exactly as entry.pub.Verify(msg, sig) would; allOK reports
// whether all are. An empty batch gives allOK true and no results. Verify
// may be called again after more Adds; it rechecks everything.
//
// Ed25519 entries are verified in chunks of BatchChunk, spread over up to
// GOMAXPROCS goroutines; the results do not depend on the split.
func (v *BatchVerifier) Verify() (allOK bool, results []bool) {
	results = make([]bool, len(v.entries))
	var ed, other []int
	for i, e := range v.entries {
		if e.pub.Type == Ed25519 {
			ed = append(ed, i)
		} else {
			other = append(other, i)
		}
	}
	var chunks [][]int
	for lo := 0; lo < len(ed); lo += BatchChunk {
		chunks = append(chunks, ed[lo:min(lo+BatchChunk, len(ed))])
	}
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	var wg sync.WaitGroup
	next := make(chan []int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idx := range next {
				v.verifyChunk(idx, results)
			}
		}()
	}
	for _, c := range chunks {
		next <- c
	}
	close(next)
	wg.Wait()
	for _, i := range other {
		e := v.entries[i]
		results[i] = e.pub.Verify(e.msg, e.sig)
	}
	allOK = true
	for _, ok := range results {
		allOK = allOK && ok
	}
	return allOK, results
}

// verifyChunk verifies the Ed25519 entries idx as one batch, falling back to
// one-by-one checks when the batch fails. Each call writes only results[idx].
func (v *BatchVerifier) verifyChunk(idx []int, results []bool) {
	if len(idx) > 1 {
		bv := ed25519consensus.NewPreallocatedBatchVerifier(len(idx))
		for _, i := range idx {
			e := v.entries[i]
			bv.Add(ed25519.PublicKey(e.pub.Key), e.msg, e.sig)
		}
		if bv.Verify() {
			for _, i := range idx {
				results[i] = true
			}
			return
		}
	}
	for _, i := range idx {
		e := v.entries[i]
		results[i] = e.pub.Verify(e.msg, e.sig)
	}
}
