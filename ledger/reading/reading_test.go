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
// then writes the device record, as the ledger does.
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
	d, ok := device.Get(c, c.Signer)
	if !ok {
		e.tb.Fatalf("no device %s", name)
	}
	before := m.Used
	reading.Submit(c, &d, &txn.ReadingSubmit{Payload: payload}, recs, retention)
	s := sub{nonce: nonce, payload: payload, recs: recs, height: c.Header.Height, time: c.Header.Time.UnixNano(),
		txHash: c.TxHash, events: c.Events(), gas: m.Used - before, writes: tx.Len()}
	device.Put(c, &d)
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

// seq stages the block into the store and returns the device's reading
// sequence as stored, checking each key against its Ref's index.
func (e *rdEnv) seq(name string) []reading.Ref {
	e.tb.Helper()
	if _, err := e.st.Stage(e.block.Batch()); err != nil {
		e.tb.Fatalf("stage: %v", err)
	}
	e.block.Reset()
	id := lt.Addr(name)
	prefix := reading.SeqPrefix(id)
	end := reading.SeqKey(id, math.MaxUint64)
	var out []reading.Ref
	err := e.st.Working().Iterate(prefix, append(end, 0), false, func(k, v []byte) bool {
		var r reading.Ref
		if err := txn.Unmarshal(v, &r); err != nil {
			e.tb.Errorf("ref %x: %v", k, err)
			return true
		}
		if !bytes.Equal(k, reading.SeqKey(id, r.Index)) {
			e.tb.Errorf("ref index %d under key %x", r.Index, k)
		}
		out = append(out, r)
		return true
	})
	if err != nil {
		e.tb.Fatalf("iterate: %v", err)
	}
	return out
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
				t.Errorf("Submit staged %d writes, want 1 (the ref; the caller writes the record)", tt.s.writes)
			}
		})
	}

	t.Run("device record", func(t *testing.T) {
		d := e.device("dev1")
		want := device.Reading{Counter: 12, Index: 1, Height: s2.height, Time: s2.time, TxHash: s2.txHash[:], Payload: p2}
		if d.Latest == nil || d.Latest.Counter != want.Counter || d.Latest.Index != want.Index || d.Latest.Height != want.Height ||
			d.Latest.Time != want.Time || !bytes.Equal(d.Latest.TxHash, want.TxHash) || !bytes.Equal(d.Latest.Payload, want.Payload) {
			t.Errorf("latest %+v, want %+v", d.Latest, want)
		}
		if d.Readings != 2 || d.Updated != s2.height || d.HistoryLen != 0 {
			t.Errorf("readings %d updated %d history %d", d.Readings, d.Updated, d.HistoryLen)
		}
		// Submit does not touch the counter: ante does (device.Touch).
		if d.Counter != 0 {
			t.Errorf("counter %d", d.Counter)
		}
	})
}

func TestSubmitRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention uint64
		n         int
		want      []uint64 // indexes kept
	}{
		{"retention 3 after 5", 3, 5, []uint64{2, 3, 4}},
		{"retention 3 after 3", 3, 3, []uint64{0, 1, 2}},
		{"retention 3 after 4", 3, 4, []uint64{1, 2, 3}},
		{"retention 1", 1, 4, []uint64{3}},
		{"retention above count", 10, 4, []uint64{0, 1, 2, 3}},
		{"retention 0 keeps all", 0, 5, []uint64{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRdEnv(t, "dev1", "dev2")
			var subs []sub
			for i := range tt.n {
				subs = append(subs, e.submit("dev1", uint64(10*(i+1)), senmlPack(t, "dev1:", 1+i%3), tt.retention))
				// Another device's sequence interleaves and is pruned on its own.
				e.submit("dev2", uint64(i+1), senmlPack(t, "dev2:", 1), 1)
			}
			refs := e.seq("dev1")
			var got []uint64
			for _, r := range refs {
				got = append(got, r.Index)
				if want := wantRef(subs[r.Index], r.Index); !equalRef(r, want) {
					t.Errorf("ref %d = %+v, want %+v", r.Index, r, want)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
			d := e.device("dev1")
			if d.Readings != uint64(tt.n) || d.Latest == nil || d.Latest.Index != uint64(tt.n-1) || d.Latest.Counter != uint64(10*tt.n) {
				t.Errorf("readings %d latest %+v", d.Readings, d.Latest)
			}
			if refs2 := e.seq("dev2"); len(refs2) != 1 || refs2[0].Index != uint64(tt.n-1) {
				t.Errorf("dev2 sequence %+v", refs2)
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
		wantPrune bool
	}{
		{name: "small", payload: 1, retention: 10},
		{name: "large", payload: 3000, retention: 10},
		{name: "with a prune", payload: 100, retention: 2, prior: 2, wantPrune: true},
		{name: "below retention, no prune", payload: 100, retention: 3, prior: 2},
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
			key := reading.SeqKey(lt.Addr("dev1"), uint64(tt.prior))
			ref := wantRef(s, uint64(tt.prior))
			want := g.ReadingByte*uint64(len(p)) + g.WriteFlat + g.WriteByte*uint64(len(key)+len(txn.MustMarshal(&ref)))
			if tt.wantPrune {
				want += g.DeleteFlat
			}
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
		pk := lt.Key("dev1").Public()
		d := device.Device{ID: pk.Address(), PubKey: pk.Bytes()}
		func() {
			defer func() {
				if _, ok := recover().(exec.OutOfGas); !ok {
					t.Error("Submit did not run out of gas")
				}
			}()
			reading.Submit(c, &d, &txn.ReadingSubmit{Payload: p}, 2, 10)
		}()
		if tx.Len() != 0 || d.Readings != 0 || d.Latest != nil || len(c.Events()) != 0 {
			t.Errorf("changes after OutOfGas: %d writes, readings %d, latest %v, events %d",
				tx.Len(), d.Readings, d.Latest, len(c.Events()))
		}
	})
}

func TestSeqKey(t *testing.T) {
	id := keys.Address{1, 2, 3}
	tests := []struct {
		idx  uint64
		want string
	}{
		{0, "rd/s/" + string(id[:]) + "\x00\x00\x00\x00\x00\x00\x00\x00"},
		{258, "rd/s/" + string(id[:]) + "\x00\x00\x00\x00\x00\x00\x01\x02"},
	}
	for _, tt := range tests {
		if got := reading.SeqKey(id, tt.idx); string(got) != tt.want {
			t.Errorf("SeqKey(%d) = %q, want %q", tt.idx, got, tt.want)
		}
	}
	// Keys sort by index, so the sequence iterates in order.
	if bytes.Compare(reading.SeqKey(id, 255), reading.SeqKey(id, 256)) >= 0 {
		t.Error("SeqKey does not sort by index")
	}
}
