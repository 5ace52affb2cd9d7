package keys

import (
	"crypto/ed25519"

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
	ed      int // number of Ed25519 entries
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
	if pub.Type == Ed25519 {
		v.ed++
	}
	v.entries = append(v.entries, batchEntry{pub: pub, msg: msg, sig: sig})
}

// Len returns the number of entries added.
func (v *BatchVerifier) Len() int { return len(v.entries) }

// Verify checks every entry. results[i] reports whether the i-th entry added
// is valid, exactly as entry.pub.Verify(msg, sig) would; allOK reports
// whether all are. An empty batch gives allOK true and no results. Verify
// may be called again after more Adds; it rechecks everything.
func (v *BatchVerifier) Verify() (allOK bool, results []bool) {
	results = make([]bool, len(v.entries))
	edOK := false
	if v.ed > 1 {
		bv := ed25519consensus.NewPreallocatedBatchVerifier(v.ed)
		for _, e := range v.entries {
			if e.pub.Type == Ed25519 {
				bv.Add(ed25519.PublicKey(e.pub.Key), e.msg, e.sig)
			}
		}
		edOK = bv.Verify()
	}
	allOK = true
	for i, e := range v.entries {
		if e.pub.Type == Ed25519 && edOK {
			results[i] = true
		} else {
			results[i] = e.pub.Verify(e.msg, e.sig)
		}
		allOK = allOK && results[i]
	}
	return allOK, results
}
