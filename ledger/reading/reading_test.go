package reading_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/ledger/reading"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

var genesisTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// rdEnv is a ledger's state over an in-memory store with registered
// devices, driven one reading tx at a time as the ledger's submitReading does.
type rdEnv struct {
	tb     testing.TB
	st     *store.Store
	block  *exec.Cache
	gas    exec.GasSchedule
	height int64
}

func newRdEnv(tb testing.TB, devices ...string) *rdEnv {
	tb.Helper()
	st, err := store.Open(store.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	e := &rdEnv{tb: tb, st: st, block: exec.NewCache(st.Working()), gas: exec.DefaultGas(), height: 4}
	c := exec.NewContext(exec.Header{Height: e.height}, &e.gas, &exec.Meter{Limit: math.MaxUint64}, e.block)
	for _, name := range devices {
		pk := lt.Key(name).Public()
		d := device.Device{ID: pk.Address(), PubKey: pk.Bytes(), Owner: lt.Addr("alice"), Model: "m", Registered: e.height}
		device.Put(c, &d)
	}
	return e
}

// context returns the context of the next tx over kv.
func (e *rdEnv) context(m *exec.Meter, kv *exec.Cache) *exec.Context {
	e.height++
	h := exec.Header{Height: e.height, Time: genesisTime.Add(time.Duration(e.height) * time.Second)}
	c := exec.NewContext(h, &e.gas, m, kv)
	c.TxHash = sha256.Sum256(fmt.Appendf(nil, "tx at %d", e.height))
	return c
}

// sub is one submitted reading and what it left behind.
type sub struct {
	nonce   uint64
	payload []byte
	recs    int
	height  int64
	time    int64
	txHash  [32]byte
	events  []exec.Event
	gas     uint64 // gas used by reading.Submit alone
	writes  int
}

// submit runs reading.Submit for the device named name with counter nonce,
// as the ledger's submitReading does.
func (e *rdEnv) submit(name string, nonce uint64, payload []byte, retention uint64) sub {
	e.tb.Helper()
	recs, err := reading.ValidateSenML(payload)
	if err != nil {
		e.tb.Fatalf("payload: %v", err)
	}
	tx := exec.NewCache(e.block)
	m := &exec.Meter{Limit: math.MaxUint64}
	c := e.context(m, tx)
	c.Signer, c.SignerIsDevice, c.Nonce = lt.Addr(name), true, nonce
	reading.Submit(c, c.Signer, &txn.ReadingSubmit{Payload: payload}, recs, retention)
	s := sub{nonce: nonce, payload: payload, recs: recs, height: c.Header.Height, time: c.Header.Time.UnixNano(),
		txHash: c.TxHash, events: c.Events(), gas: m.Used, writes: tx.Len()}
	tx.WriteTo(e.block)
	return s
}

func (e *rdEnv) device(name string) device.Device {
	e.tb.Helper()
	c := exec.NewContext(exec.Header{}, &e.gas, &exec.Meter{Limit: math.MaxUint64}, exec.NewCache(e.block))
	d, ok := device.Get(c, lt.Addr(name))
	if !ok {
		e.tb.Fatalf("no device %s", name)
	}
	return d
}

// head returns the reading head in the device's account (nil if none).
func (e *rdEnv) head(name string) *account.ReadingHead {
	e.tb.Helper()
	h, err := reading.Head(e.block, lt.Addr(name))
	if err != nil {
		e.tb.Fatalf("head: %v", err)
	}
	return h
}

// commit stages the block into the store, so that reads see it.
func (e *rdEnv) commit() {
	e.tb.Helper()
	if _, err := e.st.Stage(e.block.Batch()); err != nil {
		e.tb.Fatalf("stage: %v", err)
	}
	e.block.Reset()
}

// seq returns the device's whole reading log as List gives it, after
// checking that every ref is found again through Locate and Extract.
func (e *rdEnv) seq(name string) []reading.Ref {
	e.tb.Helper()
	e.commit()
	id := lt.Addr(name)
	r := e.st.Working()
	refs, more, err := reading.List(r, id, -1, 1000)
	if err != nil || more {
		e.tb.Fatalf("List: %v (more %v)", err, more)
	}
	h, err := reading.Head(r, id)
	if err != nil {
		e.tb.Fatal(err)
	}
	for _, ref := range refs {
		key, ok := reading.Locate(h, id, ref.Index)
		if !ok {
			e.tb.Fatalf("Locate(%d): not found", ref.Index)
		}
		v, err := r.Get(key)
		if err != nil || v == nil {
			e.tb.Fatalf("Get(%x): %v %v", key, v, err)
		}
		got, ok, err := reading.Extract(id, key, v, ref.Index)
		if err != nil || !ok || !equalRef(got, ref) {
			e.tb.Errorf("Extract(%d) = %+v %v %v, want %+v", ref.Index, got, ok, err, ref)
		}
	}
	return refs
}

// senmlPack returns a SenML CBOR pack of count records named base+i.
func senmlPack(tb testing.TB, base string, count int) []byte {
	tb.Helper()
	recs := make([]map[int]any, count)
	for i := range recs {
		recs[i] = map[int]any{0: fmt.Sprintf("t%d", i), 2: int64(20 + i)}
	}
	recs[0][-2] = base // bn
	b, err := txn.Marshal(recs)
	if err != nil {
		tb.Fatalf("marshal pack: %v", err)
	}
	return b
}

func wantRef(s sub, index uint64) reading.Ref {
	digest := sha256.Sum256(s.payload)
	return reading.Ref{Index: index, Counter: s.nonce, Height: s.height, Time: s.time, TxHash: s.txHash[:],
		Digest: digest[:], Size: uint32(len(s.payload)), Records: uint32(s.recs)}
}

func equalRef(a, b reading.Ref) bool {
	return a.Index == b.Index && a.Counter == b.Counter && a.Height == b.Height && a.Time == b.Time &&
		bytes.Equal(a.TxHash, b.TxHash) && bytes.Equal(a.Digest, b.Digest) && a.Size == b.Size && a.Records == b.Records
}

func TestSubmit(t *testing.T) {
	e := newRdEnv(t, "dev1")
	id := lt.Addr("dev1")
	p1, p2 := senmlPack(t, "urn:dev:1:", 2), senmlPack(t, "urn:dev:1:", 3)
	s1 := e.submit("dev1", 7, p1, 10)
	s2 := e.submit("dev1", 12, p2, 10) // a gap in counters is allowed

	t.Run("reading head", func(t *testing.T) {
		h := e.head("dev1")
		want := account.Reading{Counter: 12, Index: 1, Height: s2.height, Time: s2.time, TxHash: s2.txHash[:], Payload: p2}
		if h == nil || h.Count != 2 || h.Latest.Counter != want.Counter || h.Latest.Index != want.Index ||
			h.Latest.Height != want.Height || h.Latest.Time != want.Time || !bytes.Equal(h.Latest.TxHash, want.TxHash) ||
			!bytes.Equal(h.Latest.Payload, want.Payload) {
			t.Fatalf("head %+v, want count 2, latest %+v", h, want)
		}
		if len(h.Open) != 2 || !equalRef(h.Open[0], wantRef(s1, 0)) || !equalRef(h.Open[1], wantRef(s2, 1)) {
			t.Errorf("open refs %+v", h.Open)
		}
	})
	t.Run("device record untouched", func(t *testing.T) {
		if d := e.device("dev1"); d.Updated != 4 || d.HistoryLen != 0 { // as newRdEnv wrote it
			t.Errorf("record changed: updated %d history %d", d.Updated, d.HistoryLen)
		}
	})

	tests := []struct {
		name  string
		s     sub
		index uint64
	}{
		{"first", s1, 0},
		{"second, after a counter gap", s2, 1},
	}
	refs := e.seq("dev1")
	if len(refs) != len(tests) {
		t.Fatalf("%d refs, want %d", len(refs), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := wantRef(tt.s, tt.index); !equalRef(refs[i], want) {
				t.Errorf("ref\n got %+v\nwant %+v", refs[i], want)
			}
			digest := sha256.Sum256(tt.s.payload)
			wantEv := exec.Event{Type: "reading", Attrs: []exec.Attr{
				{Key: "device", Value: id.Device(), Index: true},
				{Key: "counter", Value: exec.U(tt.s.nonce)},
				{Key: "index", Value: exec.U(tt.index)},
				{Key: "digest", Value: hex.EncodeToString(digest[:])},
			}}
			if len(tt.s.events) != 1 || tt.s.events[0].Type != wantEv.Type || !slices.Equal(tt.s.events[0].Attrs, wantEv.Attrs) {
				t.Errorf("events %+v, want %+v", tt.s.events, wantEv)
			}
			if tt.s.writes != 1 {
				t.Errorf("Submit staged %d writes, want 1 (the account)", tt.s.writes)
			}
		})
	}
}

// TestSubmitChunks: every ChunkSize readings the open refs are sealed into
// a chunk (one more write), and the log reads the same across the seam.
func TestSubmitChunks(t *testing.T) {
	e := newRdEnv(t, "dev1")
	id := lt.Addr("dev1")
	n := 2*reading.ChunkSize + 3
	var subs []sub
	for i := range n {
		s := e.submit("dev1", uint64(i+1), senmlPack(t, "dev1:", 1+i%4), 0)
		wantWrites := 1
		if (i+1)%reading.ChunkSize == 0 {
			wantWrites = 2
		}
		if s.writes != wantWrites {
			t.Errorf("reading %d: %d writes, want %d", i, s.writes, wantWrites)
		}
		subs = append(subs, s)
	}
	if h := e.head("dev1"); h.Count != uint64(n) || len(h.Open) != 3 || h.Open[0].Index != 2*reading.ChunkSize {
		t.Fatalf("head: count %d, open %+v", h.Count, h.Open)
	}
	refs := e.seq("dev1")
	if len(refs) != n {
		t.Fatalf("%d refs, want %d", len(refs), n)
	}
	for i, r := range refs {
		if want := wantRef(subs[i], uint64(i)); !equalRef(r, want) {
			t.Errorf("ref %d = %+v, want %+v", i, r, want)
		}
	}
	for _, c := range []uint64{0, 1} {
		v, err := e.st.Working().Get(reading.ChunkKey(id, c))
		var chunk []reading.Ref
		if err != nil || v == nil || txn.Unmarshal(v, &chunk) != nil || len(chunk) != reading.ChunkSize ||
			chunk[0].Index != c*reading.ChunkSize {
			t.Errorf("chunk %d: %d refs, %v", c, len(chunk), err)
		}
	}

	t.Run("pages", func(t *testing.T) {
		r := e.st.Working()
		var got []uint64
		after := int64(-1)
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatal("pages do not end")
			}
			page, more, err := reading.List(r, id, after, 5)
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range page {
				got = append(got, ref.Index)
			}
			if !more {
				break
			}
			after = int64(page[len(page)-1].Index)
		}
		want := make([]uint64, n)
		for i := range want {
			want[i] = uint64(i)
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged indexes %v", got)
		}
	})
	t.Run("beyond the count", func(t *testing.T) {
		if _, ok := reading.Locate(e.head("dev1"), id, uint64(n)); ok {
			t.Error("Locate found reading n")
		}
		if _, ok := reading.Locate(nil, id, 0); ok {
			t.Error("Locate found a reading of a device without any")
		}
	})
}

func TestSubmitRetention(t *testing.T) {
	const k = reading.ChunkSize
	tests := []struct {
		name      string
		retention uint64
		n         int
		from      uint64 // oldest index kept; the rest up to n-1 are kept too
	}{
		{"retention one chunk, after two and a half", k, 2*k + k/2, k},
		{"retention one chunk, after one", k, k, 0},
		{"retention 1 keeps a whole chunk", 1, 2*k + 1, k},
		{"retention between chunks rounds up", k + 2, 3*k + 1, k},
		{"retention above count", 10 * k, 3 * k, 0},
		{"retention 0 keeps all", 0, 3*k + 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRdEnv(t, "dev1", "dev2")
			var subs []sub
			for i := range tt.n {
				subs = append(subs, e.submit("dev1", uint64(10*(i+1)), senmlPack(t, "dev1:", 1+i%3), tt.retention))
				// Another device's log interleaves and is pruned on its own.
				e.submit("dev2", uint64(i+1), senmlPack(t, "dev2:", 1), 1)
			}
			refs := e.seq("dev1")
			var got, want []uint64
			for _, r := range refs {
				got = append(got, r.Index)
				if w := wantRef(subs[r.Index], r.Index); !equalRef(r, w) {
					t.Errorf("ref %d = %+v, want %+v", r.Index, r, w)
				}
			}
			for i := tt.from; i < uint64(tt.n); i++ {
				want = append(want, i)
			}
			if !slices.Equal(got, want) {
				t.Errorf("kept %v, want %v", got, want)
			}
			if uint64(len(got)) < min(tt.retention, uint64(tt.n)) {
				t.Errorf("kept %d, fewer than the retention %d", len(got), tt.retention)
			}
			h := e.head("dev1")
			if h.Count != uint64(tt.n) || h.Latest.Index != uint64(tt.n-1) || h.Latest.Counter != uint64(10*tt.n) {
				t.Errorf("head count %d latest %+v", h.Count, h.Latest)
			}
			// A dropped reading is not found (its chunk is gone).
			if tt.from > 0 {
				key, ok := reading.Locate(h, lt.Addr("dev1"), 0)
				if v, err := e.st.Working().Get(key); !ok || err != nil || v != nil {
					t.Errorf("reading 0 still stored (%x: %d bytes, %v)", key, len(v), err)
				}
			}
			if refs2 := e.seq("dev2"); len(refs2) == 0 || refs2[len(refs2)-1].Index != uint64(tt.n-1) {
				t.Errorf("dev2 log %+v", refs2)
			}
		})
	}
}

func TestSubmitGas(t *testing.T) {
	tests := []struct {
		name      string
		payload   int // length of the base name, which sets the payload size
		retention uint64
		prior     int // readings before the measured one
	}{
		{name: "small", payload: 1, retention: 10},
		{name: "large", payload: 3000, retention: 10},
		{name: "with open refs", payload: 100, retention: 10, prior: 3},
		{name: "sealing a chunk", payload: 100, retention: 10, prior: reading.ChunkSize - 1},
		{name: "sealing and dropping a chunk", payload: 100, retention: 1, prior: 2*reading.ChunkSize - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRdEnv(t, "dev1")
			for i := range tt.prior {
				e.submit("dev1", uint64(i+1), senmlPack(t, "x:", 1), tt.retention)
			}
			p := senmlPack(t, strings.Repeat("b", tt.payload), 1)
			s := e.submit("dev1", 100, p, tt.retention)
			g := e.gas
			ref := wantRef(s, math.MaxUint64) // charged at the widest index
			want := g.ReadingByte*uint64(len(p)) + g.WriteFlat + g.WriteByte*uint64(len(txn.MustMarshal(&ref))+len(p))
			if s.gas != want {
				t.Errorf("gas %d, want %d (payload %d bytes)", s.gas, want, len(p))
			}
		})
	}

	t.Run("out of gas before any change", func(t *testing.T) {
		e := newRdEnv(t, "dev1")
		p := senmlPack(t, "dev1:", 2)
		tx := exec.NewCache(e.block)
		m := &exec.Meter{Limit: e.gas.ReadingByte*uint64(len(p)) - 1}
		c := e.context(m, tx)
		c.Signer, c.SignerIsDevice, c.Nonce = lt.Addr("dev1"), true, 1
		func() {
			defer func() {
				if _, ok := recover().(exec.OutOfGas); !ok {
					t.Error("Submit did not run out of gas")
				}
			}()
			reading.Submit(c, c.Signer, &txn.ReadingSubmit{Payload: p}, 2, 10)
		}()
		if tx.Len() != 0 || len(c.Events()) != 0 || c.Meter != m {
			t.Errorf("changes after OutOfGas: %d writes, %d events, meter swapped %v", tx.Len(), len(c.Events()), c.Meter != m)
		}
	})
}

func TestChunkKey(t *testing.T) {
	id := keys.Address{1, 2, 3}
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "rd/s/" + string(id[:]) + "\x00\x00\x00\x00\x00\x00\x00\x00"},
		{258, "rd/s/" + string(id[:]) + "\x00\x00\x00\x00\x00\x00\x01\x02"},
	}
	for _, tt := range tests {
		if got := reading.ChunkKey(id, tt.n); string(got) != tt.want {
			t.Errorf("ChunkKey(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	// Keys sort by chunk number, so the log iterates in order.
	if bytes.Compare(reading.ChunkKey(id, 255), reading.ChunkKey(id, 256)) >= 0 {
		t.Error("ChunkKey does not sort by chunk")
	}
}

// FuzzExtract: Extract reads a record from a query answer, account or chunk
// bytes a client received; on any input it returns an error or a ref whose
// index is the one asked for, and never panics.
func FuzzExtract(f *testing.F) {
	e := newRdEnv(f, "dev1")
	for i := range reading.ChunkSize + 2 {
		e.submit("dev1", uint64(i+1), senmlPack(f, "dev1:", 1), 0)
	}
	e.commit()
	id := lt.Addr("dev1")
	for _, key := range [][]byte{account.Key(id), reading.ChunkKey(id, 0)} {
		v, err := e.st.Working().Get(key)
		if err != nil || v == nil {
			f.Fatalf("seed %x: %v", key, err)
		}
		f.Add(key[:3], v, uint64(0))
		f.Add(key[:3], v, uint64(reading.ChunkSize))
	}
	f.Add([]byte("acc"), []byte{0xa0}, uint64(1))
	f.Add([]byte("rd/"), []byte{0x80}, uint64(0))
	f.Fuzz(func(t *testing.T, kind, value []byte, idx uint64) {
		key := reading.ChunkKey(id, idx/reading.ChunkSize)
		if string(kind) == "acc" {
			key = account.Key(id)
		}
		ref, ok, err := reading.Extract(id, key, value, idx)
		if err == nil && ok && ref.Index != idx {
			t.Fatalf("Extract(%d) returned ref %d", idx, ref.Index)
		}
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
	})
}
