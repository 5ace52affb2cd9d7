package contract

import (
	"bytes"
	"slices"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/exec"
)

// Limits are the chain parameters of this domain.
type Limits struct {
	// MaxCodeBytes bounds stored code (0: no code may be stored).
	MaxCodeBytes uint64
	// CodeByteGas is charged per code byte when an upload completes, for
	// validating, instrumenting and compiling it.
	CodeByteGas uint64
	// MessageRetention is how many blocks a command a contract sends stays
	// in the recipient's inbox (the message domain's retention).
	MessageRetention int64
	// TriggerGasLimit bounds one trigger invocation; TriggerGasPerBlock
	// the gas of all trigger invocations of a block (0: none run).
	TriggerGasLimit    uint64
	TriggerGasPerBlock uint64
	// MaxConditionCost bounds a trigger condition's estimated and actual
	// CEL cost.
	MaxConditionCost uint64
	// MaxSubscribersPerDevice bounds the contracts with a reading trigger
	// on one device.
	MaxSubscribersPerDevice uint64
	// MaxQueuedPerContract bounds the invocations of one contract waiting
	// in the trigger queue (0: no bound).
	MaxQueuedPerContract uint64
}

// Env is what contract msgs need beyond the tx's exec.Context. The ledger
// builds one per tx.
type Env struct {
	// Runtime runs the code; nil refuses every contract msg.
	Runtime Runtime
	Limits  Limits
	// KV is the cache the tx's Context writes through: each call runs in a
	// child of it, written back only if the call succeeds.
	KV *exec.Cache
	// View serves iteration over contract storage.
	View *View
	// Depth is the depth of the on_message invocation running (0 for a
	// tx's call or another trigger): its commands to contracts are
	// queued at Depth+1, and refused at txn.MaxTriggerDepth.
	Depth uint8
}

// Ranger iterates committed state: store.Reader's Iterate.
type Ranger interface {
	Iterate(start, end []byte, reverse bool, fn func(key, value []byte) bool) error
}

// View lets contracts iterate their storage (host function storage_next)
// although exec.Cache, which stages a block's writes, cannot be iterated:
// it merges the state the caches sit on (Base, which can be ranged) with
// every storage key contracts wrote since (the dirty set), reading each
// candidate back through the tx's cache, so that a key written and then
// deleted or reverted is skipped. The candidates are a superset of the keys
// that changed, so the answer is exact; which extra candidates exist never
// changes it.
//
// The dirty set is two sorted runs: a small one that takes inserts (at most
// smallRun keys, so an insert moves little) and a large one it is merged
// into when full, so that a block writing many keys costs O(n log n)-ish
// rather than O(n²).
//
// The ledger keeps one View for the block being executed (Base: the
// working tree) and one for CheckTx's pending view (Base: the last
// committed version), and starts each afresh when its caches start afresh.
// A View is used by one goroutine at a time.
type View struct {
	base  Ranger
	large []string // sorted, distinct, disjoint from small
	small []string // sorted, distinct
}

// smallRun bounds the small run of the dirty set.
const smallRun = 1024

// NewView returns a View over base with no keys written yet.
func NewView(base Ranger) *View { return &View{base: base} }

// written records that key was set.
func (v *View) written(key []byte) {
	k := string(key)
	if _, found := slices.BinarySearch(v.large, k); found {
		return
	}
	i, found := slices.BinarySearch(v.small, k)
	if found {
		return
	}
	v.small = slices.Insert(v.small, i, k)
	if len(v.small) > smallRun {
		v.large = merge(v.large, v.small)
		v.small = v.small[:0]
	}
}

// merge returns the sorted union of the disjoint sorted runs a and b.
func merge(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// firstIn returns the first key of the sorted run in [start, end) that kv
// holds, and its value.
func firstIn(run []string, kv *exec.Cache, start, end []byte) (key, value []byte) {
	i, _ := slices.BinarySearch(run, string(start))
	for ; i < len(run) && run[i] < string(end); i++ {
		if val := kv.MustGet([]byte(run[i])); val != nil {
			return []byte(run[i]), val
		}
	}
	return nil, nil
}

// first returns the first key in [start, end) that kv holds, and its value.
// A read error is a storage fault (panic), as for exec.Cache.
func (v *View) first(kv *exec.Cache, start, end []byte) (key, value []byte) {
	if bytes.Compare(start, end) >= 0 {
		return nil, nil
	}
	// The first candidate written since Base that is still present.
	key, value = firstIn(v.large, kv, start, end)
	if k, val := firstIn(v.small, kv, start, end); k != nil && (key == nil || bytes.Compare(k, key) < 0) {
		key, value = k, val
	}
	// The first key of Base before it that is still present.
	stop := end
	if key != nil {
		stop = key
	}
	if v.base == nil {
		return key, value
	}
	err := v.base.Iterate(start, stop, false, func(k, _ []byte) bool {
		if val := kv.MustGet(k); val != nil {
			key, value = bytes.Clone(k), val
			return false
		}
		return true
	})
	if err != nil {
		panic(exec.StorageFault{Err: errs.ErrInternal.WithCause(err, "iterate contract storage")})
	}
	return key, value
}

// prefixEnd is the first key after every key with prefix p (nil if none).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
