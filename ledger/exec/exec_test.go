package exec_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

var blockTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustStore(tb testing.TB) *store.Store {
	tb.Helper()
	st, err := store.Open(store.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// mustStage writes kv into the store's working tree.
func mustStage(tb testing.TB, st *store.Store, kv map[string]string) {
	tb.Helper()
	c := exec.NewCache(st.Working())
	for k, v := range kv {
		c.Set([]byte(k), []byte(v))
	}
	if _, err := st.Stage(c.Batch()); err != nil {
		tb.Fatalf("stage: %v", err)
	}
}

func mustGet(tb testing.TB, g exec.Getter, key string) []byte {
	tb.Helper()
	v, err := g.Get([]byte(key))
	if err != nil {
		tb.Fatalf("get %q: %v", key, err)
	}
	return v
}

// mustPanic runs fn and returns the value it panics with, which must be a T.
func mustPanic[T any](tb testing.TB, fn func()) (v T) {
	tb.Helper()
	defer func() {
		tb.Helper()
		r := recover()
		if r == nil {
			tb.Fatalf("no panic, want %T", v)
		}
		var ok bool
		if v, ok = r.(T); !ok {
			tb.Fatalf("panic %T (%v), want %T", r, r, v)
		}
	}()
	fn()
	return v
}

func key(name string) keys.PrivateKey {
	return keys.Ed25519FromSeed(sha256.Sum256([]byte("ed25519/" + name)))
}

// failingGetter fails every read, as a store with a broken disk would.
type failingGetter struct{ err error }

func (g failingGetter) Get([]byte) ([]byte, error) { return nil, g.err }

func TestCacheLayering(t *testing.T) {
	st := mustStore(t)
	mustStage(t, st, map[string]string{"a": "store-a", "b": "store-b", "c": "store-c"})

	tests := []struct {
		name string
		// block and tx act on a block cache over the store and a tx cache
		// over the block cache; write tells whether the tx cache is then
		// written into the block cache.
		block, tx func(c *exec.Cache)
		write     bool
		wantBlock map[string]string // "" = absent
		wantTx    map[string]string
	}{
		{
			name:      "reads fall through to the store",
			wantBlock: map[string]string{"a": "store-a", "z": ""},
			wantTx:    map[string]string{"a": "store-a", "z": ""},
		},
		{
			name:      "tx set shadows parent, parent untouched until WriteTo",
			tx:        func(c *exec.Cache) { c.Set([]byte("a"), []byte("tx-a")); c.Set([]byte("n"), []byte("tx-n")) },
			wantBlock: map[string]string{"a": "store-a", "n": ""},
			wantTx:    map[string]string{"a": "tx-a", "n": "tx-n", "b": "store-b"},
		},
		{
			name:      "tx delete hides the store value",
			tx:        func(c *exec.Cache) { c.Delete([]byte("b")) },
			wantBlock: map[string]string{"b": "store-b"},
			wantTx:    map[string]string{"b": ""},
		},
		{
			name:      "tx delete hides a block write",
			block:     func(c *exec.Cache) { c.Set([]byte("n"), []byte("block-n")) },
			tx:        func(c *exec.Cache) { c.Delete([]byte("n")) },
			wantBlock: map[string]string{"n": "block-n"},
			wantTx:    map[string]string{"n": ""},
		},
		{
			name:      "set after delete revives",
			tx:        func(c *exec.Cache) { c.Delete([]byte("a")); c.Set([]byte("a"), []byte("again")) },
			write:     true,
			wantBlock: map[string]string{"a": "again"},
			wantTx:    map[string]string{"a": "again"},
		},
		{
			name:  "WriteTo carries sets and deletes",
			block: func(c *exec.Cache) { c.Set([]byte("n"), []byte("block-n")) },
			tx: func(c *exec.Cache) {
				c.Set([]byte("a"), []byte("tx-a"))
				c.Delete([]byte("b"))
				c.Delete([]byte("n"))
				c.Set([]byte("m"), []byte("tx-m"))
			},
			write:     true,
			wantBlock: map[string]string{"a": "tx-a", "b": "", "c": "store-c", "m": "tx-m", "n": ""},
		},
		{
			name:      "Reset drops staged writes",
			tx:        func(c *exec.Cache) { c.Set([]byte("a"), []byte("tx-a")); c.Delete([]byte("b")); c.Reset() },
			write:     true,
			wantBlock: map[string]string{"a": "store-a", "b": "store-b"},
			wantTx:    map[string]string{"a": "store-a", "b": "store-b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block := exec.NewCache(st.Working())
			tx := exec.NewCache(block)
			if tt.block != nil {
				tt.block(block)
			}
			if tt.tx != nil {
				tt.tx(tx)
			}
			if tt.write {
				tx.WriteTo(block)
			}
			check := func(name string, c *exec.Cache, want map[string]string) {
				t.Helper()
				for k, w := range want {
					got := mustGet(t, c, k)
					if w == "" && got != nil || w != "" && string(got) != w {
						t.Errorf("%s.Get(%q) = %q, want %q", name, k, got, w)
					}
				}
			}
			check("block", block, tt.wantBlock)
			check("tx", tx, tt.wantTx)
			// The store itself never changes without Stage.
			if got := mustGet(t, st.Working(), "a"); string(got) != "store-a" {
				t.Errorf("store a = %q", got)
			}
		})
	}
}

func TestCacheBatch(t *testing.T) {
	st := mustStore(t)
	mustStage(t, st, map[string]string{"gone": "x", "kept": "y"})

	block := exec.NewCache(st.Working())
	tx := exec.NewCache(block)
	for _, k := range []string{"m", "b", "z", "a", "b"} { // "b" twice
		tx.Set([]byte(k), []byte("v-"+k))
	}
	tx.Set([]byte("z"), []byte("z2")) // overwritten
	tx.Delete([]byte("gone"))
	tx.Delete([]byte("never")) // deleting an absent key is carried too
	tx.WriteTo(block)

	if got, want := block.Len(), 6; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	b := block.Batch()
	var gotKeys []string
	for _, w := range b {
		gotKeys = append(gotKeys, string(w.Key))
	}
	wantKeys := []string{"a", "b", "gone", "m", "never", "z"}
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("batch keys %q, want %q (sorted, each once)", gotKeys, wantKeys)
	}
	for _, w := range b {
		switch k := string(w.Key); k {
		case "gone", "never":
			if !w.Delete || w.Value != nil {
				t.Errorf("%s: %+v, want a delete", k, w)
			}
		case "z":
			if w.Delete || string(w.Value) != "z2" {
				t.Errorf("z: %+v, want the last set", w)
			}
		default:
			if w.Delete || string(w.Value) != "v-"+k {
				t.Errorf("%s: %+v", k, w)
			}
		}
	}
	// The store accepts the batch as is (it refuses unsorted or repeated keys).
	if _, err := st.Stage(b); err != nil {
		t.Fatalf("stage batch: %v", err)
	}
	for k, want := range map[string]string{"gone": "", "kept": "y", "z": "z2", "a": "v-a"} {
		if got := mustGet(t, st.Working(), k); string(got) != want || want == "" && got != nil {
			t.Errorf("store %q = %q, want %q", k, got, want)
		}
	}

	block.Reset()
	if block.Len() != 0 || len(block.Batch()) != 0 {
		t.Errorf("after Reset: Len %d, batch %d", block.Len(), len(block.Batch()))
	}
}

func TestStorageFault(t *testing.T) {
	diskErr := errors.New("disk on fire")
	gas := exec.DefaultGas()
	newCtx := func(c *exec.Cache) *exec.Context {
		return exec.NewContext(exec.Header{Height: 5, Time: blockTime}, &gas, &exec.Meter{Limit: math.MaxUint64}, c)
	}
	tests := []struct {
		name string
		do   func(c *exec.Cache)
	}{
		{"Cache.MustGet", func(c *exec.Cache) { c.MustGet([]byte("k")) }},
		{"child Cache.MustGet", func(c *exec.Cache) { exec.NewCache(c).MustGet([]byte("k")) }},
		{"Context.Get", func(c *exec.Cache) { newCtx(c).Get([]byte("k")) }},
		{"Context.Has", func(c *exec.Cache) { newCtx(c).Has([]byte("k")) }},
		{"Context.GetRecord", func(c *exec.Cache) { var v struct{}; newCtx(c).GetRecord([]byte("k"), &v) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := exec.NewCache(failingGetter{diskErr})
			f := mustPanic[exec.StorageFault](t, func() { tt.do(c) })
			if !errors.Is(f.Err, diskErr) {
				t.Errorf("fault %v, want %v", f.Err, diskErr)
			}
		})
	}

	t.Run("Get returns the error", func(t *testing.T) {
		if _, err := exec.NewCache(failingGetter{diskErr}).Get([]byte("k")); !errors.Is(err, diskErr) {
			t.Errorf("Get error %v", err)
		}
	})
	t.Run("staged key never reads the parent", func(t *testing.T) {
		c := exec.NewCache(failingGetter{diskErr})
		c.Set([]byte("k"), []byte("v"))
		c.Delete([]byte("d"))
		if got := c.MustGet([]byte("k")); string(got) != "v" {
			t.Errorf("MustGet(k) = %q", got)
		}
		if got := c.MustGet([]byte("d")); got != nil {
			t.Errorf("MustGet(d) = %q", got)
		}
	})
}

func TestMeterConsume(t *testing.T) {
	tests := []struct {
		name        string
		limit, used uint64
		n           uint64
		wantPanic   bool
		wantUsed    uint64
	}{
		{name: "below the limit", limit: 100, used: 10, n: 50, wantUsed: 60},
		{name: "exactly at the limit", limit: 100, used: 40, n: 60, wantUsed: 100},
		{name: "zero at the limit", limit: 100, used: 100, n: 0, wantUsed: 100},
		{name: "one past the limit", limit: 100, used: 40, n: 61, wantPanic: true, wantUsed: 100},
		{name: "past the limit from zero", limit: 0, used: 0, n: 1, wantPanic: true, wantUsed: 0},
		{name: "sum overflows uint64", limit: math.MaxUint64, used: 2, n: math.MaxUint64 - 1, wantPanic: true, wantUsed: math.MaxUint64},
		{name: "sum overflows, small limit", limit: 1000, used: 500, n: math.MaxUint64, wantPanic: true, wantUsed: 1000},
		{name: "max limit reached exactly", limit: math.MaxUint64, used: 1, n: math.MaxUint64 - 1, wantUsed: math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &exec.Meter{Limit: tt.limit, Used: tt.used}
			if tt.wantPanic {
				oog := mustPanic[exec.OutOfGas](t, func() { m.Consume(tt.n) })
				if oog.Limit != tt.limit {
					t.Errorf("OutOfGas.Limit = %d, want %d", oog.Limit, tt.limit)
				}
			} else {
				m.Consume(tt.n)
			}
			if m.Used != tt.wantUsed {
				t.Errorf("Used = %d, want %d", m.Used, tt.wantUsed)
			}
			if m.Used > m.Limit {
				t.Errorf("Used %d above Limit %d", m.Used, m.Limit)
			}
		})
	}
}

func TestContextGas(t *testing.T) {
	gas := exec.GasSchedule{ReadFlat: 100, ReadByte: 3, WriteFlat: 500, WriteByte: 7, DeleteFlat: 200}
	st := mustStore(t)
	mustStage(t, st, map[string]string{"present": "0123456789"}) // 7-byte key, 10-byte value
	rec := struct {
		A uint64 `cbor:"1,keyasint"`
	}{A: 42}
	recBytes := txn.MustMarshal(&rec)

	tests := []struct {
		name string
		do   func(c *exec.Context)
		want uint64
	}{
		{"Get absent", func(c *exec.Context) { c.Get([]byte("absent")) }, 100 + 3*6},
		{"Get present", func(c *exec.Context) { c.Get([]byte("present")) }, 100 + 3*(7+10)},
		{"Has present", func(c *exec.Context) { c.Has([]byte("present")) }, 100 + 3*(7+10)},
		{"Has absent", func(c *exec.Context) { c.Has([]byte("nope")) }, 100 + 3*4},
		{"Set", func(c *exec.Context) { c.Set([]byte("key"), []byte("value")) }, 500 + 7*(3+5)},
		{"Delete", func(c *exec.Context) { c.Delete([]byte("present")) }, 200},
		{"SetRecord", func(c *exec.Context) { c.SetRecord([]byte("rec"), &rec) }, 500 + 7*uint64(3+len(recBytes))},
		{"Get after Set reads the staged value", func(c *exec.Context) {
			c.Set([]byte("k"), []byte("vv"))
			c.Get([]byte("k"))
		}, (500 + 7*3) + (100 + 3*3)},
		{"Get after Delete reads nothing", func(c *exec.Context) {
			c.Delete([]byte("present"))
			c.Get([]byte("present"))
		}, 200 + (100 + 3*7)},
		{"Emit is free", func(c *exec.Context) { c.Emit("x", exec.A("k", "v")) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &exec.Meter{Limit: math.MaxUint64}
			c := exec.NewContext(exec.Header{Height: 5, Time: blockTime}, &gas, m, exec.NewCache(st.Working()))
			tt.do(c)
			if m.Used != tt.want {
				t.Errorf("gas used %d, want %d", m.Used, tt.want)
			}
		})
	}

	t.Run("out of gas stages nothing", func(t *testing.T) {
		kv := exec.NewCache(st.Working())
		m := &exec.Meter{Limit: 500 + 7*8 - 1}
		c := exec.NewContext(exec.Header{Height: 5, Time: blockTime}, &gas, m, kv)
		mustPanic[exec.OutOfGas](t, func() { c.Set([]byte("key"), []byte("value")) })
		if kv.Len() != 0 {
			t.Errorf("%d writes staged after OutOfGas", kv.Len())
		}
	})
}

func TestGetRecord(t *testing.T) {
	type rec struct {
		A uint64 `cbor:"1,keyasint"`
		B string `cbor:"2,keyasint,omitempty"`
	}
	good := txn.MustMarshal(&rec{A: 7, B: "x"})
	tests := []struct {
		name      string
		raw       []byte // nil = absent
		wantOK    bool
		wantFault *errs.Class // class in the fault's chain
	}{
		{name: "absent", raw: nil},
		{name: "good", raw: good, wantOK: true},
		{name: "garbage", raw: []byte{0xff, 0x00}, wantFault: errs.ErrInternal},
		{name: "truncated", raw: good[:len(good)-1], wantFault: errs.ErrTruncated},
		{name: "trailing bytes", raw: append(slices.Clone(good), 0x00), wantFault: errs.ErrTrailingBytes},
		{name: "wrong type", raw: txn.MustMarshal("a string"), wantFault: errs.ErrMalformed},
		{name: "unknown field", raw: txn.MustMarshal(map[int]int{9: 1}), wantFault: errs.ErrUnknownField},
	}
	gas := exec.DefaultGas()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := exec.NewCache(exec.NewCache(failingGetter{errors.New("unexpected read")}))
			kv.Delete([]byte("rec/1"))
			if tt.raw != nil {
				kv.Set([]byte("rec/1"), tt.raw)
			}
			c := exec.NewContext(exec.Header{Height: 5, Time: blockTime}, &gas, &exec.Meter{Limit: math.MaxUint64}, kv)
			var got rec
			if tt.wantFault != nil {
				f := mustPanic[exec.StorageFault](t, func() { c.GetRecord([]byte("rec/1"), &got) })
				if !errors.Is(f.Err, errs.ErrInternal) || !errors.Is(f.Err, tt.wantFault) {
					t.Errorf("fault %v, want ErrInternal caused by %s", f.Err, tt.wantFault.Name)
				}
				return
			}
			if ok := c.GetRecord([]byte("rec/1"), &got); ok != tt.wantOK {
				t.Fatalf("GetRecord = %v, want %v", ok, tt.wantOK)
			}
			if tt.wantOK && got != (rec{A: 7, B: "x"}) {
				t.Errorf("record %+v", got)
			}
		})
	}

	t.Run("SetRecord round trip", func(t *testing.T) {
		kv := exec.NewCache(mustStore(t).Working())
		c := exec.NewContext(exec.Header{Height: 5, Time: blockTime}, &gas, &exec.Meter{Limit: math.MaxUint64}, kv)
		c.SetRecord([]byte("r"), &rec{A: 1})
		if raw := kv.MustGet([]byte("r")); !bytes.Equal(raw, txn.MustMarshal(&rec{A: 1})) {
			t.Errorf("stored %x", raw)
		}
		var got rec
		if !c.GetRecord([]byte("r"), &got) || got.A != 1 {
			t.Errorf("read back %+v", got)
		}
	})
}

func TestHasCosigner(t *testing.T) {
	alice, bob, carol := key("alice").Public(), key("bob").Public(), key("carol").Public()
	tests := []struct {
		name      string
		cosigners []keys.PublicKey
		addr      keys.Address
		want      bool
	}{
		{"none", nil, alice.Address(), false},
		{"only one", []keys.PublicKey{alice}, alice.Address(), true},
		{"second of two", []keys.PublicKey{alice, bob}, bob.Address(), true},
		{"not among them", []keys.PublicKey{alice, bob}, carol.Address(), false},
		{"zero address", []keys.PublicKey{alice}, keys.Address{}, false},
	}
	gas := exec.DefaultGas()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := exec.NewContext(exec.Header{Height: 5, Time: blockTime}, &gas, &exec.Meter{}, exec.NewCache(failingGetter{}))
			c.Cosigners = tt.cosigners
			if got := c.HasCosigner(tt.addr); got != tt.want {
				t.Errorf("HasCosigner = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEmit(t *testing.T) {
	gas := exec.DefaultGas()
	c := exec.NewContext(exec.Header{Height: 5, Time: blockTime}, &gas, &exec.Meter{}, exec.NewCache(failingGetter{}))
	if len(c.Events()) != 0 {
		t.Fatalf("fresh context has events %v", c.Events())
	}
	c.Emit("first", exec.Ix("id", "x"), exec.A("n", exec.U(math.MaxUint64)))
	c.Emit("second")
	want := []exec.Event{
		{Type: "first", Attrs: []exec.Attr{{Key: "id", Value: "x", Index: true}, {Key: "n", Value: "18446744073709551615"}}},
		{Type: "second"},
	}
	got := c.Events()
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Type != want[i].Type || !slices.Equal(got[i].Attrs, want[i].Attrs) {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
