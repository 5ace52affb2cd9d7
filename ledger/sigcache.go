package ledger

import (
	"crypto/sha256"
	"sync"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/txn"
)

// sigCache remembers (tx hash, public key) pairs whose signature verified,
// so that a tx checked in CheckTx, or batch-verified at the start of a block,
// is not verified again when it executes. Verification is deterministic
// (ZIP-215, low-S P-256), so the cache changes speed, never results. It is
// bounded: the oldest entries are evicted first.
type sigCache struct {
	mu   sync.Mutex
	set  map[[32]byte]struct{}
	ring [][32]byte
	next int
}

func newSigCache(n int) *sigCache {
	return &sigCache{set: make(map[[32]byte]struct{}, n), ring: make([][32]byte, n)}
}

func sigKey(txHash [32]byte, pub []byte) [32]byte {
	h := sha256.New()
	h.Write(txHash[:])
	h.Write(pub)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *sigCache) has(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.set[k]
	return ok
}

func (c *sigCache) add(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.set[k]; ok {
		return
	}
	old := c.ring[c.next]
	if old != ([32]byte{}) {
		delete(c.set, old)
	}
	c.ring[c.next] = k
	c.next = (c.next + 1) % len(c.ring)
	c.set[k] = struct{}{}
}

// verify checks sig by pk over signBytes of the tx with hash txHash, using
// and filling the cache.
func (l *Ledger) verify(txHash [32]byte, pk keys.PublicKey, signBytes, sig []byte) bool {
	k := sigKey(txHash, pk.Bytes())
	if l.sigs.has(k) {
		return true
	}
	if !pk.Verify(signBytes, sig) {
		return false
	}
	l.sigs.add(k)
	return true
}

// preverify batch-verifies the signatures of a block's txs before they run,
// against the keys they would verify with at the start of the block, and
// caches those that pass. Anything it cannot settle (undecodable txs, keys
// that change within the block, bad signatures) is left for runTx, which
// verifies one by one; so preverify changes speed, never results.
//
// It returns the decoded txs (nil where decoding failed) so that they are
// decoded once.
func (l *Ledger) preverify(kv *exec.Cache, txs [][]byte, p *Params) []*txn.Tx {
	decoded := make([]*txn.Tx, len(txs))
	bv := keys.NewBatchVerifier()
	var pending [][32]byte
	add := func(h [32]byte, pk keys.PublicKey, sb, sig []byte) {
		k := sigKey(h, pk.Bytes())
		if l.sigs.has(k) {
			return
		}
		bv.Add(pk, sb, sig)
		pending = append(pending, k)
	}
	for i, raw := range txs {
		tx, err := txn.Decode(raw, int(p.MaxTxBytes))
		if err != nil {
			continue
		}
		decoded[i] = tx
		sb, err := tx.SignBytes()
		if err != nil {
			continue
		}
		h := tx.Hash()
		if pk, ok := signerKey(kv, &tx.Body); ok {
			add(h, pk, sb, tx.Sig)
		}
		for _, cs := range tx.Cosigs {
			if pk, err := keys.ParsePublicKey(cs.PubKey); err == nil {
				add(h, pk, sb, cs.Sig)
			}
		}
	}
	if len(pending) == 0 {
		return decoded
	}
	_, results := bv.Verify()
	for i, ok := range results {
		if ok {
			l.sigs.add(pending[i])
		}
	}
	return decoded
}

// signerKey guesses the key a tx's signature verifies with at block start:
// the key it carries, else the device's or account's key on record.
func signerKey(kv *exec.Cache, b *txn.Body) (keys.PublicKey, bool) {
	raw := b.PubKey
	if raw == nil {
		if v := kv.MustGet(device.RecordKey(b.Signer)); v != nil {
			var d device.Device
			if txn.UnmarshalRecord(v, &d) == nil {
				raw = d.PubKey
			}
		} else if v := kv.MustGet(account.Key(b.Signer)); v != nil {
			var a account.Account
			if txn.UnmarshalRecord(v, &a) == nil {
				raw = a.PubKey
			}
		}
	}
	pk, err := keys.ParsePublicKey(raw)
	return pk, err == nil
}
