package device_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

var blockTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const defaultMaxTags = 4

// env is a ledger's state over an in-memory store, driven one handler call
// ("tx") at a time as runTx drives them.
type env struct {
	tb      testing.TB
	st      *store.Store
	block   *exec.Cache
	gas     exec.GasSchedule
	height  int64
	maxTags int
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	st, err := store.Open(store.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return &env{tb: tb, st: st, block: exec.NewCache(st.Working()), gas: exec.DefaultGas(), height: 4, maxTags: defaultMaxTags}
}

// result is what one tx left behind.
type result struct {
	err    error
	events []exec.Event
	writes int // keys the tx staged; kept only when err is nil
	height int64
	txHash [32]byte
}

// run executes fn as one tx at the next height, signed by the key named
// signer and co-signed by the keys named in cosign. Like the ledger's ante,
// it marks the signer as a device when one is registered under its address.
// The tx's writes reach the block only if fn returns nil.
func (e *env) run(signer string, cosign []string, fn func(c *exec.Context) error) result {
	e.tb.Helper()
	e.height++
	tx := exec.NewCache(e.block)
	c := exec.NewContext(exec.Header{Height: e.height, Time: blockTime.Add(time.Duration(e.height) * time.Second)},
		&e.gas, &exec.Meter{Limit: 10_000_000}, tx)
	c.TxHash = sha256.Sum256(fmt.Appendf(nil, "tx at %d", e.height))
	c.Signer = lt.Addr(signer)
	_, c.SignerIsDevice = device.Get(c, c.Signer)
	for _, n := range cosign {
		c.Cosigners = append(c.Cosigners, lt.Key(n).Public())
	}
	err := fn(c)
	r := result{err: err, events: c.Events(), writes: tx.Len(), height: e.height, txHash: c.TxHash}
	if err == nil {
		tx.WriteTo(e.block)
	}
	return r
}

// must runs fn as run does and fails the test on an error.
func (e *env) must(signer string, cosign []string, fn func(c *exec.Context) error) result {
	e.tb.Helper()
	r := e.run(signer, cosign, fn)
	if r.err != nil {
		e.tb.Fatalf("tx by %s: %v", signer, r.err)
	}
	return r
}

// register has owner register the device keyed by name, with tags.
func (e *env) register(owner, name string, tags ...string) keys.Address {
	e.tb.Helper()
	e.must(owner, []string{name}, func(c *exec.Context) error {
		return device.Register(c, &txn.DeviceRegister{PubKey: pub(name), Model: "m1", Firmware: "f1",
			Location: &txn.Location{LatE7: 1, LonE7: 2}, Tags: tags}, e.maxTags)
	})
	return lt.Addr(name)
}

// device reads the record of id, which must exist.
func (e *env) device(id keys.Address) device.Device {
	e.tb.Helper()
	var d device.Device
	var ok bool
	e.readOnly(func(c *exec.Context) { d, ok = device.Get(c, id) })
	if !ok {
		e.tb.Fatalf("no device %s", id.Device())
	}
	return d
}

func (e *env) readOnly(fn func(c *exec.Context)) {
	e.tb.Helper()
	c := exec.NewContext(exec.Header{Height: e.height, Time: blockTime}, &e.gas, &exec.Meter{Limit: 10_000_000}, exec.NewCache(e.block))
	fn(c)
}

// flush stages the block's writes into the store.
func (e *env) flush() {
	e.tb.Helper()
	if _, err := e.st.Stage(e.block.Batch()); err != nil {
		e.tb.Fatalf("stage: %v", err)
	}
	e.block.Reset()
}

// scan flushes and returns every store key under prefix with its value.
func (e *env) scan(prefix []byte) (ks, vs [][]byte) {
	e.tb.Helper()
	e.flush()
	err := e.st.Working().Iterate(prefix, prefixEnd(prefix), false, func(k, v []byte) bool {
		ks, vs = append(ks, bytes.Clone(k)), append(vs, bytes.Clone(v))
		return true
	})
	if err != nil {
		e.tb.Fatalf("iterate %q: %v", prefix, err)
	}
	return ks, vs
}

// ids returns the addresses that end the store keys under prefix.
func (e *env) ids(prefix []byte) []keys.Address {
	e.tb.Helper()
	ks, _ := e.scan(prefix)
	var out []keys.Address
	for _, k := range ks {
		if len(k) != len(prefix)+keys.AddressSize {
			e.tb.Errorf("key %q under %q is not prefix+address", k, prefix)
			continue
		}
		out = append(out, keys.Address(k[len(prefix):]))
	}
	return out
}

// keyIndex returns the id the key named name serves, or false.
func (e *env) keyIndex(name string) (keys.Address, bool) {
	e.tb.Helper()
	kk, err := device.KeyIndexKey(pub(name))
	if err != nil {
		e.tb.Fatal(err)
	}
	var v []byte
	e.readOnly(func(c *exec.Context) { v = c.Get(kk) })
	if v == nil {
		return keys.Address{}, false
	}
	return keys.Address(v), true
}

// history reads id's history from the store, in order.
func (e *env) history(id keys.Address) []device.HistoryEntry {
	e.tb.Helper()
	ks, vs := e.scan(device.HistoryPrefix(id))
	out := make([]device.HistoryEntry, len(vs))
	for i, v := range vs {
		if err := txn.Unmarshal(v, &out[i]); err != nil {
			e.tb.Fatalf("history %x: %v", ks[i], err)
		}
		if !bytes.Equal(ks[i], device.HistoryKey(id, out[i].Seq)) {
			e.tb.Errorf("entry seq %d under key %x", out[i].Seq, ks[i])
		}
	}
	return out
}

func (e *env) kinds(id keys.Address) []string {
	e.tb.Helper()
	var out []string
	for _, h := range e.history(id) {
		out = append(out, h.Kind)
	}
	return out
}

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

func pub(name string) []byte { return lt.Key(name).Public().Bytes() }

func did(name string) string { return lt.Key(name).Public().DID() }

func strp(s string) *string { return &s }

func sortedAddrs(as ...keys.Address) []keys.Address {
	out := slices.Clone(as)
	slices.SortFunc(out, func(a, b keys.Address) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// checkErr fails tb unless err is of class want (nil: no error).
func checkErr(tb testing.TB, err error, want *errs.Class) {
	tb.Helper()
	switch {
	case want == nil && err != nil:
		tb.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		tb.Fatalf("error %v, want %s", err, want.Name)
	}
}

// historyEvent is the event appendHistory emits.
func historyEvent(kind string, id, actor keys.Address, seq uint64, attrs ...device.Attr) exec.Event {
	ev := exec.Event{Type: "device." + kind, Attrs: []exec.Attr{
		{Key: "device", Value: id.Device(), Index: true},
		{Key: "actor", Value: actor.String()},
		{Key: "seq", Value: exec.U(seq)},
	}}
	for _, a := range attrs {
		ev.Attrs = append(ev.Attrs, exec.Attr{Key: a.Key, Value: a.Value})
	}
	return ev
}

func checkEvents(tb testing.TB, got, want []exec.Event) {
	tb.Helper()
	if !slices.EqualFunc(got, want, func(a, b exec.Event) bool {
		return a.Type == b.Type && slices.Equal(a.Attrs, b.Attrs)
	}) {
		tb.Errorf("events\n got %+v\nwant %+v", got, want)
	}
}

func attrs(kv ...string) []device.Attr {
	var out []device.Attr
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, device.Attr{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

func equalAttrs(a, b []device.Attr) bool {
	return slices.EqualFunc(a, b, func(x, y device.Attr) bool { return x.Key == y.Key && x.Value == y.Value })
}

func TestRegister(t *testing.T) {
	dev1 := lt.Addr("dev1")
	tests := []struct {
		name    string
		setup   func(e *env)
		signer  string
		cosign  []string
		msg     txn.DeviceRegister
		maxTags int
		wantErr *errs.Class
	}{
		{name: "ok", signer: "alice", cosign: []string{"dev1"},
			msg: txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo", Tags: []string{"b", "a"}}},
		{name: "ok with extra cosigners", signer: "alice", cosign: []string{"bob", "dev1"},
			msg: txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo"}},
		{name: "duplicate tags count once", signer: "alice", cosign: []string{"dev1"}, maxTags: 2,
			msg: txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo", Tags: []string{"a", "b", "a", "b"}}},
		{name: "address with funds but no key on record", signer: "alice", cosign: []string{"dev1"},
			setup: func(e *env) {
				e.must("alice", nil, func(c *exec.Context) error { return account.Credit(c, dev1, 50) })
			},
			msg: txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo"}},
		{name: "signer is a device", signer: "dev2", cosign: []string{"dev1"},
			setup:   func(e *env) { e.register("alice", "dev2") },
			msg:     txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo"},
			wantErr: errs.ErrUnauthorized},
		{name: "device key is the signer's key", signer: "alice", cosign: []string{"alice"},
			msg:     txn.DeviceRegister{PubKey: pub("alice"), Model: "thermo"},
			wantErr: errs.ErrInvalidMsg},
		{name: "no co-signature", signer: "alice",
			msg:     txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo"},
			wantErr: errs.ErrMissingSignature},
		{name: "co-signed by another key", signer: "alice", cosign: []string{"dev2"},
			msg:     txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo"},
			wantErr: errs.ErrMissingSignature},
		{name: "already registered", signer: "bob", cosign: []string{"dev1"},
			setup:   func(e *env) { e.register("alice", "dev1") },
			msg:     txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo"},
			wantErr: errs.ErrDeviceExists},
		{name: "key serves another device", signer: "bob", cosign: []string{"dev1"},
			setup: func(e *env) {
				// dev0 rotates to key dev1: dev1's address has no record, but its key is in use.
				e.register("alice", "dev0")
				e.must("alice", []string{"dev1"}, func(c *exec.Context) error {
					return device.RotateKey(c, &txn.DeviceRotateKey{Device: lt.Addr("dev0"), NewPubKey: pub("dev1")})
				})
			},
			msg:     txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo"},
			wantErr: errs.ErrKeyInUse},
		{name: "key serves an account", signer: "alice", cosign: []string{"dev1"},
			setup: func(e *env) {
				e.must("dev1", nil, func(c *exec.Context) error {
					account.Put(c, dev1, account.Account{Nonce: 1, PubKey: pub("dev1")})
					return nil
				})
			},
			msg:     txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo"},
			wantErr: errs.ErrKeyInUse},
		{name: "too many tags", signer: "alice", cosign: []string{"dev1"}, maxTags: 2,
			msg:     txn.DeviceRegister{PubKey: pub("dev1"), Model: "thermo", Tags: []string{"a", "b", "c"}},
			wantErr: errs.ErrInvalidMsg},
		{name: "invalid key", signer: "alice", cosign: []string{"dev1"},
			msg:     txn.DeviceRegister{PubKey: []byte{0x01, 0x02}, Model: "thermo"},
			wantErr: errs.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			maxTags := tt.maxTags
			if maxTags == 0 {
				maxTags = defaultMaxTags
			}
			r := e.run(tt.signer, tt.cosign, func(c *exec.Context) error { return device.Register(c, &tt.msg, maxTags) })
			checkErr(t, r.err, tt.wantErr)
			if tt.wantErr != nil {
				if r.writes != 0 || len(r.events) != 0 {
					t.Errorf("failed register staged %d writes, %d events", r.writes, len(r.events))
				}
				return
			}
			d := e.device(dev1)
			wantTags := slices.Compact(slices.Sorted(slices.Values(tt.msg.Tags)))
			if d.ID != dev1 || !bytes.Equal(d.PubKey, pub("dev1")) || d.Owner != lt.Addr(tt.signer) ||
				d.Model != tt.msg.Model || d.Status != device.Active || d.PendingOwner != nil ||
				d.Registered != r.height || d.Updated != r.height || d.HistoryLen != 1 || !slices.Equal(d.Tags, wantTags) {
				t.Errorf("record %+v", d)
			}
			if got, ok := e.keyIndex("dev1"); !ok || got != dev1 {
				t.Errorf("key index -> %v %v", got, ok)
			}
			if got := e.ids(device.OwnerPrefix(lt.Addr(tt.signer))); !slices.Equal(got, []keys.Address{dev1}) {
				t.Errorf("owner index %v", got)
			}
			for _, tag := range wantTags {
				if got := e.ids(device.TagPrefix(tag)); !slices.Equal(got, []keys.Address{dev1}) {
					t.Errorf("tag %q index %v", tag, got)
				}
			}
			wantAttrs := attrs("owner", lt.Addr(tt.signer).String(), "model", tt.msg.Model, "key", did("dev1"))
			checkEvents(t, r.events, []exec.Event{historyEvent("register", dev1, lt.Addr(tt.signer), 0, wantAttrs...)})
			h := e.history(dev1)
			if len(h) != 1 || h[0].Kind != "register" || h[0].Seq != 0 || h[0].Height != r.height ||
				h[0].Actor != lt.Addr(tt.signer) || !bytes.Equal(h[0].TxHash, r.txHash[:]) || !equalAttrs(h[0].Attrs, wantAttrs) {
				t.Errorf("history %+v", h)
			}
		})
	}
}

func TestRegisterP256(t *testing.T) {
	e := newEnv(t)
	k := lt.P256Key("p1")
	id := k.Public().Address()
	r := e.run("alice", nil, func(c *exec.Context) error {
		c.Cosigners = []keys.PublicKey{k.Public()}
		return device.Register(c, &txn.DeviceRegister{PubKey: k.Public().Bytes(), Model: "p"}, defaultMaxTags)
	})
	checkErr(t, r.err, nil)
	if d := e.device(id); !bytes.Equal(d.PubKey, k.Public().Bytes()) {
		t.Errorf("pubkey %x", d.PubKey)
	}
	if got := r.events[0].Attrs[len(r.events[0].Attrs)-1]; got.Key != "key" || got.Value != k.Public().DID() {
		t.Errorf("key attr %+v", got)
	}
}

// TestIndexes checks the owner, tag and key indexes by iterating the store:
// a tag's length comes first, so tag "a" does not prefix-match tag "ab".
func TestIndexes(t *testing.T) {
	e := newEnv(t)
	d1 := e.register("alice", "dev1", "a", "ab")
	d2 := e.register("alice", "dev2", "ab", "b")
	d3 := e.register("bob", "dev3", "a")

	tests := []struct {
		name   string
		prefix []byte
		want   []keys.Address
	}{
		{"tag a", device.TagPrefix("a"), sortedAddrs(d1, d3)},
		{"tag ab", device.TagPrefix("ab"), sortedAddrs(d1, d2)},
		{"tag b", device.TagPrefix("b"), []keys.Address{d2}},
		{"tag absent", device.TagPrefix("abc"), nil},
		{"owner alice", device.OwnerPrefix(lt.Addr("alice")), sortedAddrs(d1, d2)},
		{"owner bob", device.OwnerPrefix(lt.Addr("bob")), []keys.Address{d3}},
		{"owner carol", device.OwnerPrefix(lt.Addr("carol")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.ids(tt.prefix); !slices.Equal(got, tt.want) {
				t.Errorf("ids under %q = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}

	t.Run("raw tag keys", func(t *testing.T) {
		ks, vs := e.scan([]byte("dev/t/"))
		if len(ks) != 5 {
			t.Fatalf("%d tag keys, want 5", len(ks))
		}
		for i, k := range ks {
			n := int(k[len("dev/t/")])
			if len(k) != len("dev/t/")+1+n+keys.AddressSize || !bytes.Equal(vs[i], []byte{1}) {
				t.Errorf("tag key %q = %x", k, vs[i])
			}
		}
		// Without the length byte, "dev/t/a" would also match the "ab" keys.
		if !bytes.HasPrefix(device.TagKey("ab", d1), []byte("dev/t/\x02ab")) {
			t.Errorf("TagKey(ab) = %q", device.TagKey("ab", d1))
		}
	})

	t.Run("key index", func(t *testing.T) {
		ks, vs := e.scan([]byte("dev/k/"))
		want := map[string]keys.Address{}
		for _, n := range []string{"dev1", "dev2", "dev3"} {
			kk, _ := device.KeyIndexKey(pub(n))
			want[string(kk)] = lt.Addr(n)
		}
		if len(ks) != len(want) {
			t.Fatalf("%d key index entries, want %d", len(ks), len(want))
		}
		for i, k := range ks {
			if id, ok := want[string(k)]; !ok || keys.Address(vs[i]) != id {
				t.Errorf("key index %x -> %x", k, vs[i])
			}
		}
	})
}

func TestUpdate(t *testing.T) {
	dev1 := lt.Addr("dev1")
	loc2 := &txn.Location{LatE7: 10, LonE7: 20, AltCM: 5}
	seal := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name      string
		setup     func(e *env)
		signer    string
		msg       txn.DeviceUpdate // Device defaults to dev1
		maxTags   int
		wantErr   *errs.Class
		wantAttrs []device.Attr
		check     func(t *testing.T, d device.Device)
		wantTags  []string // tags after; nil = unchanged ("a", "c")
	}{
		{name: "model", msg: txn.DeviceUpdate{Model: strp("m2")}, wantAttrs: attrs("model", "m2"),
			check: func(t *testing.T, d device.Device) {
				if d.Model != "m2" || d.Firmware != "f1" {
					t.Errorf("model %q firmware %q", d.Model, d.Firmware)
				}
			}},
		{name: "firmware", msg: txn.DeviceUpdate{Firmware: strp("f2")}, wantAttrs: attrs("firmware", "f2"),
			check: func(t *testing.T, d device.Device) {
				if d.Firmware != "f2" || d.Model != "m1" {
					t.Errorf("model %q firmware %q", d.Model, d.Firmware)
				}
			}},
		{name: "location", msg: txn.DeviceUpdate{Location: loc2}, wantAttrs: attrs("location", "set"),
			check: func(t *testing.T, d device.Device) {
				if d.Location == nil || *d.Location != *loc2 {
					t.Errorf("location %+v", d.Location)
				}
			}},
		{name: "clear location", msg: txn.DeviceUpdate{ClearLocation: true}, wantAttrs: attrs("location", "cleared"),
			check: func(t *testing.T, d device.Device) {
				if d.Location != nil {
					t.Errorf("location %+v", d.Location)
				}
			}},
		{name: "seal key", msg: txn.DeviceUpdate{SealKey: seal}, wantAttrs: attrs("seal_key", hex.EncodeToString(seal)),
			check: func(t *testing.T, d device.Device) {
				if !bytes.Equal(d.SealKey, seal) {
					t.Errorf("seal key %x", d.SealKey)
				}
			}},
		{name: "several fields in a fixed order",
			msg:       txn.DeviceUpdate{SealKey: seal, Firmware: strp("f2"), Model: strp("m2"), AddTags: []string{"b"}, RemoveTags: []string{"a"}},
			wantAttrs: attrs("model", "m2", "firmware", "f2", "seal_key", hex.EncodeToString(seal), "tag_removed", "a", "tag_added", "b"),
			wantTags:  []string{"b", "c"}},
		{name: "add tags in sorted place", msg: txn.DeviceUpdate{AddTags: []string{"d", "b", "0"}},
			wantAttrs: attrs("tag_added", "0", "tag_added", "b", "tag_added", "d"),
			wantTags:  []string{"0", "a", "b", "c", "d"}, maxTags: 5},
		{name: "add a present tag is a no-op for it", msg: txn.DeviceUpdate{AddTags: []string{"a", "b", "b"}},
			wantAttrs: attrs("tag_added", "b"), wantTags: []string{"a", "b", "c"}},
		{name: "add only present tags changes nothing", msg: txn.DeviceUpdate{AddTags: []string{"a", "c"}},
			wantErr: errs.ErrInvalidMsg},
		{name: "remove a tag", msg: txn.DeviceUpdate{RemoveTags: []string{"a"}},
			wantAttrs: attrs("tag_removed", "a"), wantTags: []string{"c"}},
		{name: "remove an absent tag is a no-op for it", msg: txn.DeviceUpdate{RemoveTags: []string{"zz", "c", "c"}},
			wantAttrs: attrs("tag_removed", "c"), wantTags: []string{"a"}},
		{name: "remove only absent tags changes nothing", msg: txn.DeviceUpdate{RemoveTags: []string{"zz"}},
			wantErr: errs.ErrInvalidMsg},
		{name: "remove every tag", msg: txn.DeviceUpdate{RemoveTags: []string{"c", "a"}},
			wantAttrs: attrs("tag_removed", "a", "tag_removed", "c"), wantTags: []string{},
			check: func(t *testing.T, d device.Device) {
				if d.Tags != nil {
					t.Errorf("tags %#v, want nil", d.Tags)
				}
			}},
		{name: "remove and re-add the same tag", msg: txn.DeviceUpdate{RemoveTags: []string{"a"}, AddTags: []string{"a"}},
			wantAttrs: attrs("tag_removed", "a", "tag_added", "a"), wantTags: []string{"a", "c"}},
		{name: "up to the tag limit", msg: txn.DeviceUpdate{AddTags: []string{"b", "d"}}, maxTags: 4,
			wantAttrs: attrs("tag_added", "b", "tag_added", "d"), wantTags: []string{"a", "b", "c", "d"}},
		{name: "over the tag limit", msg: txn.DeviceUpdate{AddTags: []string{"b", "d", "e"}}, maxTags: 4,
			wantErr: errs.ErrInvalidMsg},
		{name: "removals make room", msg: txn.DeviceUpdate{RemoveTags: []string{"a"}, AddTags: []string{"b", "d", "e"}}, maxTags: 4,
			wantAttrs: attrs("tag_removed", "a", "tag_added", "b", "tag_added", "d", "tag_added", "e"),
			wantTags:  []string{"b", "c", "d", "e"}},
		{name: "nothing", msg: txn.DeviceUpdate{}, wantErr: errs.ErrInvalidMsg},
		{name: "by a stranger", signer: "bob", msg: txn.DeviceUpdate{Model: strp("m2")}, wantErr: errs.ErrUnauthorized},
		{name: "by the device itself", signer: "dev1", msg: txn.DeviceUpdate{Model: strp("m2")}, wantErr: errs.ErrUnauthorized},
		{name: "unknown device", msg: txn.DeviceUpdate{Device: lt.Addr("ghost"), Model: strp("m2")}, wantErr: errs.ErrUnknownDevice},
		{name: "revoked device", msg: txn.DeviceUpdate{Model: strp("m2")}, wantAttrs: attrs("model", "m2"),
			setup: func(e *env) {
				e.must("alice", nil, func(c *exec.Context) error { return device.Revoke(c, &txn.DeviceRevoke{Device: dev1}) })
			}},
		{name: "decommissioned device", msg: txn.DeviceUpdate{Model: strp("m2")}, wantErr: errs.ErrDeviceDecommissioned,
			setup: func(e *env) {
				e.must("alice", nil, func(c *exec.Context) error {
					return device.Decommission(c, &txn.DeviceDecommission{Device: dev1})
				})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.maxTags = 5
			e.register("alice", "dev1", "c", "a")
			if tt.setup != nil {
				tt.setup(e)
			}
			before := e.device(dev1)
			msg := tt.msg
			if msg.Device.IsZero() {
				msg.Device = dev1
			}
			signer := tt.signer
			if signer == "" {
				signer = "alice"
			}
			maxTags := tt.maxTags
			if maxTags == 0 {
				maxTags = defaultMaxTags
			}
			r := e.run(signer, nil, func(c *exec.Context) error { return device.Update(c, &msg, maxTags) })
			checkErr(t, r.err, tt.wantErr)
			after := e.device(dev1)
			if tt.wantErr != nil {
				if after.HistoryLen != before.HistoryLen || after.Updated != before.Updated {
					t.Errorf("failed update changed the record: %+v", after)
				}
				return
			}
			if after.HistoryLen != before.HistoryLen+1 || after.Updated != r.height {
				t.Errorf("history len %d, updated %d", after.HistoryLen, after.Updated)
			}
			checkEvents(t, r.events, []exec.Event{historyEvent("update", dev1, lt.Addr(signer), before.HistoryLen, tt.wantAttrs...)})
			if tt.check != nil {
				tt.check(t, after)
			}
			wantTags := tt.wantTags
			if wantTags == nil {
				wantTags = []string{"a", "c"}
			}
			if !slices.Equal(after.Tags, wantTags) && !(len(after.Tags) == 0 && len(wantTags) == 0) {
				t.Errorf("tags %q, want %q", after.Tags, wantTags)
			}
			// The tag index holds exactly the record's tags.
			ks, _ := e.scan([]byte("dev/t/"))
			var indexed []string
			for _, k := range ks {
				n := int(k[len("dev/t/")])
				indexed = append(indexed, string(k[len("dev/t/")+1:len("dev/t/")+1+n]))
			}
			slices.Sort(indexed)
			if !slices.Equal(indexed, after.Tags) && !(len(indexed) == 0 && len(after.Tags) == 0) {
				t.Errorf("tag index %q, record %q", indexed, after.Tags)
			}
		})
	}
}

func TestRotateKey(t *testing.T) {
	dev1 := lt.Addr("dev1")
	revoke := func(e *env) {
		e.must("alice", nil, func(c *exec.Context) error { return device.Revoke(c, &txn.DeviceRevoke{Device: dev1}) })
	}
	tests := []struct {
		name      string
		setup     func(e *env)
		signer    string
		cosign    []string
		device    keys.Address // default dev1
		newKey    []byte
		wantErr   *errs.Class
		wantAttrs []device.Attr
	}{
		{name: "by the owner", signer: "alice", cosign: []string{"dev1b"}, newKey: pub("dev1b"),
			wantAttrs: attrs("key", did("dev1b"))},
		{name: "by the device", signer: "dev1", cosign: []string{"dev1b"}, newKey: pub("dev1b"),
			wantAttrs: attrs("key", did("dev1b"))},
		{name: "by a stranger", signer: "bob", cosign: []string{"dev1b"}, newKey: pub("dev1b"),
			wantErr: errs.ErrUnauthorized},
		{name: "by another device of the owner", signer: "dev2", cosign: []string{"dev1b"}, newKey: pub("dev1b"),
			wantErr: errs.ErrUnauthorized},
		{name: "new key does not co-sign", signer: "alice", cosign: []string{"dev1"}, newKey: pub("dev1b"),
			wantErr: errs.ErrMissingSignature},
		{name: "new key serves another device", signer: "alice", cosign: []string{"dev2"}, newKey: pub("dev2"),
			wantErr: errs.ErrKeyInUse},
		{name: "same key", signer: "alice", cosign: []string{"dev1"}, newKey: pub("dev1"),
			wantErr: errs.ErrKeyInUse},
		{name: "invalid key", signer: "alice", cosign: []string{"dev1b"}, newKey: []byte{0xee},
			wantErr: errs.ErrInvalidKey},
		{name: "unknown device", signer: "alice", cosign: []string{"dev1b"}, newKey: pub("dev1b"), device: lt.Addr("ghost"),
			wantErr: errs.ErrUnknownDevice},
		{name: "revoked device is reactivated", setup: revoke, signer: "alice", cosign: []string{"dev1b"}, newKey: pub("dev1b"),
			wantAttrs: attrs("key", did("dev1b"), "reactivated", "true")},
		{name: "decommissioned", signer: "alice", cosign: []string{"dev1b"}, newKey: pub("dev1b"),
			setup: func(e *env) {
				e.must("alice", nil, func(c *exec.Context) error {
					return device.Decommission(c, &txn.DeviceDecommission{Device: dev1})
				})
			},
			wantErr: errs.ErrDeviceDecommissioned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.register("alice", "dev1")
			e.register("alice", "dev2")
			if tt.setup != nil {
				tt.setup(e)
			}
			before := e.device(dev1)
			id := tt.device
			if id.IsZero() {
				id = dev1
			}
			r := e.run(tt.signer, tt.cosign, func(c *exec.Context) error {
				return device.RotateKey(c, &txn.DeviceRotateKey{Device: id, NewPubKey: tt.newKey})
			})
			checkErr(t, r.err, tt.wantErr)
			after := e.device(dev1)
			if tt.wantErr != nil {
				if r.writes != 0 || !bytes.Equal(after.PubKey, before.PubKey) {
					t.Errorf("failed rotation staged %d writes; key %x", r.writes, after.PubKey)
				}
				return
			}
			if !bytes.Equal(after.PubKey, tt.newKey) || after.Status != device.Active || after.KeyRotations != 1 ||
				after.ID != dev1 || after.HistoryLen != before.HistoryLen+1 {
				t.Errorf("record %+v", after)
			}
			if _, ok := e.keyIndex("dev1"); ok {
				t.Error("old key still indexed")
			}
			if got, ok := e.keyIndex("dev1b"); !ok || got != dev1 {
				t.Errorf("new key index -> %v %v", got, ok)
			}
			checkEvents(t, r.events, []exec.Event{historyEvent("rotate_key", dev1, lt.Addr(tt.signer), before.HistoryLen, tt.wantAttrs...)})
			pk, err := device.CheckSigner(after)
			if err != nil || !bytes.Equal(pk.Bytes(), tt.newKey) {
				t.Errorf("CheckSigner after rotation: %v, %v", pk, err)
			}
		})
	}

	t.Run("twice: only the last key is indexed; the first is free again", func(t *testing.T) {
		e := newEnv(t)
		e.register("alice", "dev1")
		for _, k := range []string{"dev1b", "dev1c"} {
			e.must("alice", []string{k}, func(c *exec.Context) error {
				return device.RotateKey(c, &txn.DeviceRotateKey{Device: dev1, NewPubKey: pub(k)})
			})
		}
		if d := e.device(dev1); d.KeyRotations != 2 || !bytes.Equal(d.PubKey, pub("dev1c")) {
			t.Errorf("record %+v", d)
		}
		if ks, _ := e.scan([]byte("dev/k/")); len(ks) != 1 {
			t.Errorf("%d key index entries, want 1", len(ks))
		}
		e.must("bob", []string{"dev1b"}, func(c *exec.Context) error {
			return device.Register(c, &txn.DeviceRegister{PubKey: pub("dev1b"), Model: "x"}, defaultMaxTags)
		})
	})
}

// step is one tx of a scenario.
type step struct {
	signer  string
	cosign  []string
	do      func(c *exec.Context) error
	wantErr *errs.Class
}

func transfer(id keys.Address, to string) func(*exec.Context) error {
	return func(c *exec.Context) error {
		return device.Transfer(c, &txn.DeviceTransfer{Device: id, To: lt.Addr(to)})
	}
}

func accept(id keys.Address) func(*exec.Context) error {
	return func(c *exec.Context) error { return device.AcceptTransfer(c, &txn.DeviceAcceptTransfer{Device: id}) }
}

func cancel(id keys.Address) func(*exec.Context) error {
	return func(c *exec.Context) error { return device.CancelTransfer(c, &txn.DeviceCancelTransfer{Device: id}) }
}

func revoke(id keys.Address, reason string) func(*exec.Context) error {
	return func(c *exec.Context) error { return device.Revoke(c, &txn.DeviceRevoke{Device: id, Reason: reason}) }
}

func decommission(id keys.Address) func(*exec.Context) error {
	return func(c *exec.Context) error { return device.Decommission(c, &txn.DeviceDecommission{Device: id}) }
}

// scenario is a list of txs on dev1 (registered by alice) and the state
// they leave.
type scenario struct {
	name        string
	steps       []step
	wantOwner   string
	wantPending string // "" = none
	wantStatus  device.Status
	wantKinds   []string // history after "register"
	wantKeyIdx  bool     // dev1's key still indexed
}

func runScenarios(t *testing.T, tests []scenario) {
	t.Helper()
	dev1 := lt.Addr("dev1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.register("alice", "dev1")
			for i, s := range tt.steps {
				r := e.run(s.signer, s.cosign, s.do)
				if s.wantErr == nil && r.err != nil || s.wantErr != nil && !errors.Is(r.err, s.wantErr) {
					t.Fatalf("step %d by %s: error %v, want %v", i, s.signer, r.err, s.wantErr)
				}
			}
			d := e.device(dev1)
			if d.Owner != lt.Addr(tt.wantOwner) {
				t.Errorf("owner %s, want %s", d.Owner, tt.wantOwner)
			}
			switch {
			case tt.wantPending == "" && d.PendingOwner != nil:
				t.Errorf("pending owner %s, want none", *d.PendingOwner)
			case tt.wantPending != "" && (d.PendingOwner == nil || *d.PendingOwner != lt.Addr(tt.wantPending)):
				t.Errorf("pending owner %v, want %s", d.PendingOwner, tt.wantPending)
			}
			if d.Status != tt.wantStatus {
				t.Errorf("status %s, want %s", d.Status, tt.wantStatus)
			}
			if got, want := e.kinds(dev1), append([]string{"register"}, tt.wantKinds...); !slices.Equal(got, want) {
				t.Errorf("history %q, want %q", got, want)
			}
			if _, ok := e.keyIndex("dev1"); ok != tt.wantKeyIdx {
				t.Errorf("key indexed %v, want %v", ok, tt.wantKeyIdx)
			}
			// The owner index lists the device under its owner only.
			for _, who := range []string{"alice", "bob", "carol"} {
				want := []keys.Address(nil)
				if who == tt.wantOwner {
					want = []keys.Address{dev1}
				}
				if got := e.ids(device.OwnerPrefix(lt.Addr(who))); !slices.Equal(got, want) {
					t.Errorf("owner index of %s: %v, want %v", who, got, want)
				}
			}
		})
	}
}

func TestTransfer(t *testing.T) {
	dev1 := lt.Addr("dev1")
	runScenarios(t, []scenario{
		{name: "offer", steps: []step{{signer: "alice", do: transfer(dev1, "bob")}},
			wantOwner: "alice", wantPending: "bob", wantKinds: []string{"transfer_offer"}, wantKeyIdx: true},
		{name: "offer and accept", steps: []step{
			{signer: "alice", do: transfer(dev1, "bob")},
			{signer: "bob", do: accept(dev1)},
		}, wantOwner: "bob", wantKinds: []string{"transfer_offer", "transfer"}, wantKeyIdx: true},
		{name: "co-signed transfer is immediate", steps: []step{
			{signer: "alice", cosign: []string{"bob"}, do: transfer(dev1, "bob")},
			{signer: "bob", do: accept(dev1), wantErr: errs.ErrNoPendingTransfer},
		}, wantOwner: "bob", wantKinds: []string{"transfer"}, wantKeyIdx: true},
		{name: "co-signed transfer replaces a pending offer", steps: []step{
			{signer: "alice", do: transfer(dev1, "bob")},
			{signer: "alice", cosign: []string{"carol"}, do: transfer(dev1, "carol")},
			{signer: "bob", do: accept(dev1), wantErr: errs.ErrNoPendingTransfer},
		}, wantOwner: "carol", wantKinds: []string{"transfer_offer", "transfer"}, wantKeyIdx: true},
		{name: "a new offer replaces the old one", steps: []step{
			{signer: "alice", do: transfer(dev1, "bob")},
			{signer: "alice", do: transfer(dev1, "carol")},
			{signer: "bob", do: accept(dev1), wantErr: errs.ErrUnauthorized},
			{signer: "carol", do: accept(dev1)},
		}, wantOwner: "carol", wantKinds: []string{"transfer_offer", "transfer_offer", "transfer"}, wantKeyIdx: true},
		{name: "wrong acceptor", steps: []step{
			{signer: "alice", do: transfer(dev1, "bob")},
			{signer: "carol", do: accept(dev1), wantErr: errs.ErrUnauthorized},
			{signer: "alice", do: accept(dev1), wantErr: errs.ErrUnauthorized},
		}, wantOwner: "alice", wantPending: "bob", wantKinds: []string{"transfer_offer"}, wantKeyIdx: true},
		{name: "accept without an offer", steps: []step{
			{signer: "bob", do: accept(dev1), wantErr: errs.ErrNoPendingTransfer},
		}, wantOwner: "alice", wantKeyIdx: true},
		{name: "cancel", steps: []step{
			{signer: "alice", do: transfer(dev1, "bob")},
			{signer: "alice", do: cancel(dev1)},
			{signer: "bob", do: accept(dev1), wantErr: errs.ErrNoPendingTransfer},
		}, wantOwner: "alice", wantKinds: []string{"transfer_offer", "transfer_cancel"}, wantKeyIdx: true},
		{name: "cancel by the offered owner", steps: []step{
			{signer: "alice", do: transfer(dev1, "bob")},
			{signer: "bob", do: cancel(dev1), wantErr: errs.ErrUnauthorized},
		}, wantOwner: "alice", wantPending: "bob", wantKinds: []string{"transfer_offer"}, wantKeyIdx: true},
		{name: "cancel without an offer", steps: []step{
			{signer: "alice", do: cancel(dev1), wantErr: errs.ErrNoPendingTransfer},
		}, wantOwner: "alice", wantKeyIdx: true},
		{name: "by a stranger", steps: []step{
			{signer: "bob", cosign: []string{"bob"}, do: transfer(dev1, "bob"), wantErr: errs.ErrUnauthorized},
		}, wantOwner: "alice", wantKeyIdx: true},
		{name: "by the device", steps: []step{
			{signer: "dev1", do: transfer(dev1, "bob"), wantErr: errs.ErrUnauthorized},
		}, wantOwner: "alice", wantKeyIdx: true},
		{name: "to its owner", steps: []step{
			{signer: "alice", do: transfer(dev1, "alice"), wantErr: errs.ErrInvalidMsg},
		}, wantOwner: "alice", wantKeyIdx: true},
		{name: "to itself", steps: []step{
			{signer: "alice", cosign: []string{"dev1"}, do: transfer(dev1, "dev1"), wantErr: errs.ErrInvalidMsg},
		}, wantOwner: "alice", wantKeyIdx: true},
		{name: "the new owner transfers on", steps: []step{
			{signer: "alice", cosign: []string{"bob"}, do: transfer(dev1, "bob")},
			{signer: "alice", do: transfer(dev1, "carol"), wantErr: errs.ErrUnauthorized},
			{signer: "bob", do: transfer(dev1, "carol")},
			{signer: "carol", do: accept(dev1)},
		}, wantOwner: "carol", wantKinds: []string{"transfer", "transfer_offer", "transfer"}, wantKeyIdx: true},
		{name: "revoked device can be transferred", steps: []step{
			{signer: "alice", do: revoke(dev1, "")},
			{signer: "alice", cosign: []string{"bob"}, do: transfer(dev1, "bob")},
		}, wantOwner: "bob", wantStatus: device.Revoked, wantKinds: []string{"revoke", "transfer"}, wantKeyIdx: true},
		{name: "decommission clears the offer", steps: []step{
			{signer: "alice", do: transfer(dev1, "bob")},
			{signer: "alice", do: decommission(dev1)},
			{signer: "bob", do: accept(dev1), wantErr: errs.ErrDeviceDecommissioned},
			{signer: "alice", do: cancel(dev1), wantErr: errs.ErrNoPendingTransfer},
			{signer: "alice", cosign: []string{"bob"}, do: transfer(dev1, "bob"), wantErr: errs.ErrDeviceDecommissioned},
		}, wantOwner: "alice", wantStatus: device.Decommissioned, wantKinds: []string{"transfer_offer", "decommission"}},
	})
}

func TestTransferHistory(t *testing.T) {
	e := newEnv(t)
	dev1 := e.register("alice", "dev1")
	r1 := e.must("alice", nil, transfer(dev1, "bob"))
	checkEvents(t, r1.events, []exec.Event{historyEvent("transfer_offer", dev1, lt.Addr("alice"), 1, attrs("to", lt.Addr("bob").String())...)})
	r2 := e.must("bob", nil, accept(dev1))
	checkEvents(t, r2.events, []exec.Event{historyEvent("transfer", dev1, lt.Addr("bob"), 2,
		attrs("from", lt.Addr("alice").String(), "accepted", "accept_tx")...)})
	r3 := e.must("bob", []string{"carol"}, transfer(dev1, "carol"))
	checkEvents(t, r3.events, []exec.Event{historyEvent("transfer", dev1, lt.Addr("bob"), 3,
		attrs("to", lt.Addr("carol").String(), "accepted", "cosigned")...)})
	e.must("carol", nil, transfer(dev1, "alice"))
	r5 := e.must("carol", nil, cancel(dev1))
	checkEvents(t, r5.events, []exec.Event{historyEvent("transfer_cancel", dev1, lt.Addr("carol"), 5,
		attrs("to", lt.Addr("alice").String())...)})
}

func TestRevoke(t *testing.T) {
	dev1 := lt.Addr("dev1")
	runScenarios(t, []scenario{
		{name: "by the owner", steps: []step{{signer: "alice", do: revoke(dev1, "lost")}},
			wantOwner: "alice", wantStatus: device.Revoked, wantKinds: []string{"revoke"}, wantKeyIdx: true},
		{name: "by the device", steps: []step{{signer: "dev1", do: revoke(dev1, "")}},
			wantOwner: "alice", wantStatus: device.Revoked, wantKinds: []string{"revoke"}, wantKeyIdx: true},
		{name: "by a stranger", steps: []step{{signer: "bob", do: revoke(dev1, ""), wantErr: errs.ErrUnauthorized}},
			wantOwner: "alice", wantKeyIdx: true},
		{name: "twice", steps: []step{
			{signer: "alice", do: revoke(dev1, "")},
			{signer: "alice", do: revoke(dev1, ""), wantErr: errs.ErrDeviceRevoked},
		}, wantOwner: "alice", wantStatus: device.Revoked, wantKinds: []string{"revoke"}, wantKeyIdx: true},
		{name: "revoke, rotate, revoke again", steps: []step{
			{signer: "alice", do: revoke(dev1, "")},
			{signer: "alice", cosign: []string{"dev1b"}, do: func(c *exec.Context) error {
				return device.RotateKey(c, &txn.DeviceRotateKey{Device: dev1, NewPubKey: pub("dev1b")})
			}},
			{signer: "alice", do: revoke(dev1, "")},
		}, wantOwner: "alice", wantStatus: device.Revoked, wantKinds: []string{"revoke", "rotate_key", "revoke"}},
		{name: "decommissioned", steps: []step{
			{signer: "alice", do: decommission(dev1)},
			{signer: "alice", do: revoke(dev1, ""), wantErr: errs.ErrDeviceDecommissioned},
		}, wantOwner: "alice", wantStatus: device.Decommissioned, wantKinds: []string{"decommission"}},
		{name: "unknown device", steps: []step{{signer: "alice", do: revoke(lt.Addr("ghost"), ""), wantErr: errs.ErrUnknownDevice}},
			wantOwner: "alice", wantKeyIdx: true},
	})

	t.Run("reason attribute", func(t *testing.T) {
		tests := []struct {
			reason string
			want   []device.Attr
		}{
			{"", nil},
			{"stolen", attrs("reason", "stolen")},
		}
		for _, tt := range tests {
			e := newEnv(t)
			e.register("alice", "dev1")
			r := e.must("alice", nil, revoke(dev1, tt.reason))
			checkEvents(t, r.events, []exec.Event{historyEvent("revoke", dev1, lt.Addr("alice"), 1, tt.want...)})
			if h := e.history(dev1); !equalAttrs(h[1].Attrs, tt.want) {
				t.Errorf("reason %q: history attrs %+v", tt.reason, h[1].Attrs)
			}
		}
	})
}

func TestDecommission(t *testing.T) {
	dev1 := lt.Addr("dev1")
	decom := step{signer: "alice", do: decommission(dev1)}
	runScenarios(t, []scenario{
		{name: "by the owner", steps: []step{decom}, wantOwner: "alice", wantStatus: device.Decommissioned,
			wantKinds: []string{"decommission"}},
		{name: "revoked device", steps: []step{{signer: "dev1", do: revoke(dev1, "")}, decom}, wantOwner: "alice",
			wantStatus: device.Decommissioned, wantKinds: []string{"revoke", "decommission"}},
		{name: "by the device", steps: []step{{signer: "dev1", do: decommission(dev1), wantErr: errs.ErrUnauthorized}},
			wantOwner: "alice", wantKeyIdx: true},
		{name: "by a stranger", steps: []step{{signer: "bob", do: decommission(dev1), wantErr: errs.ErrUnauthorized}},
			wantOwner: "alice", wantKeyIdx: true},
		{name: "final", steps: []step{
			decom,
			{signer: "alice", do: decommission(dev1), wantErr: errs.ErrDeviceDecommissioned},
			{signer: "alice", do: revoke(dev1, ""), wantErr: errs.ErrDeviceDecommissioned},
			{signer: "alice", do: func(c *exec.Context) error {
				return device.Update(c, &txn.DeviceUpdate{Device: dev1, Model: strp("x")}, defaultMaxTags)
			}, wantErr: errs.ErrDeviceDecommissioned},
			{signer: "alice", cosign: []string{"dev1b"}, do: func(c *exec.Context) error {
				return device.RotateKey(c, &txn.DeviceRotateKey{Device: dev1, NewPubKey: pub("dev1b")})
			}, wantErr: errs.ErrDeviceDecommissioned},
			{signer: "alice", cosign: []string{"bob"}, do: transfer(dev1, "bob"), wantErr: errs.ErrDeviceDecommissioned},
			// Its key is free, but its id is taken for good.
			{signer: "bob", cosign: []string{"dev1"}, do: func(c *exec.Context) error {
				return device.Register(c, &txn.DeviceRegister{PubKey: pub("dev1"), Model: "x"}, defaultMaxTags)
			}, wantErr: errs.ErrDeviceExists},
		}, wantOwner: "alice", wantStatus: device.Decommissioned, wantKinds: []string{"decommission"}},
	})

	t.Run("a rotated-in key is freed", func(t *testing.T) {
		e := newEnv(t)
		e.register("alice", "dev1")
		e.must("alice", []string{"dev1b"}, func(c *exec.Context) error {
			return device.RotateKey(c, &txn.DeviceRotateKey{Device: dev1, NewPubKey: pub("dev1b")})
		})
		r := e.must("alice", nil, decommission(dev1))
		checkEvents(t, r.events, []exec.Event{historyEvent("decommission", dev1, lt.Addr("alice"), 2)})
		if ks, _ := e.scan([]byte("dev/k/")); len(ks) != 0 {
			t.Errorf("key index %q after decommission", ks)
		}
		if _, err := device.CheckSigner(e.device(dev1)); !errors.Is(err, errs.ErrDeviceDecommissioned) {
			t.Errorf("CheckSigner: %v", err)
		}
	})
}

func TestCheckSigner(t *testing.T) {
	k := lt.Key("dev1").Public()
	base := device.Device{ID: k.Address(), PubKey: k.Bytes(), Owner: lt.Addr("alice")}
	with := func(f func(d *device.Device)) device.Device {
		d := base
		f(&d)
		return d
	}
	tests := []struct {
		name    string
		d       device.Device
		wantErr *errs.Class
	}{
		{"active", base, nil},
		{"revoked", with(func(d *device.Device) { d.Status = device.Revoked }), errs.ErrDeviceRevoked},
		{"decommissioned", with(func(d *device.Device) { d.Status = device.Decommissioned }), errs.ErrDeviceDecommissioned},
		{"corrupt stored key", with(func(d *device.Device) { d.PubKey = []byte{9} }), errs.ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk, err := device.CheckSigner(tt.d)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == nil && !pk.Equal(k) {
				t.Errorf("key %v, want %v", pk, k)
			}
		})
	}
}

func TestCheckCounter(t *testing.T) {
	id := lt.Addr("dev1")
	tests := []struct {
		name          string
		counter, last uint64
		wantErr       *errs.Class
	}{
		{"next counter", 11, 10, nil},
		{"gap allowed", 1_000_000, 10, nil},
		{"first use", 1, 0, nil},
		{"counter zero never valid", 0, 0, errs.ErrCounterReused},
		{"same counter", 10, 10, errs.ErrCounterReused},
		{"older counter", 3, 10, errs.ErrCounterReused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, device.CheckCounter(id, tt.counter, tt.last), tt.wantErr)
		})
	}
}

// TestHistory follows one device through its life and checks every history
// entry: seq, height, tx hash, kind, actor and attributes.
func TestHistory(t *testing.T) {
	e := newEnv(t)
	dev1 := lt.Addr("dev1")
	alice, bob := lt.Addr("alice"), lt.Addr("bob")
	type want struct {
		kind  string
		actor keys.Address
		attrs []device.Attr
		r     result
	}
	var wants []want
	add := func(kind string, actor keys.Address, as []device.Attr, r result) {
		t.Helper()
		if r.err != nil {
			t.Fatalf("%s: %v", kind, r.err)
		}
		checkEvents(t, r.events, []exec.Event{historyEvent(kind, dev1, actor, uint64(len(wants)), as...)})
		wants = append(wants, want{kind, actor, as, r})
	}

	add("register", alice, attrs("owner", alice.String(), "model", "m1", "key", did("dev1")),
		e.run("alice", []string{"dev1"}, func(c *exec.Context) error {
			return device.Register(c, &txn.DeviceRegister{PubKey: pub("dev1"), Model: "m1", Tags: []string{"x"}}, 4)
		}))
	add("update", alice, attrs("firmware", "2.0", "tag_removed", "x"),
		e.run("alice", nil, func(c *exec.Context) error {
			return device.Update(c, &txn.DeviceUpdate{Device: dev1, Firmware: strp("2.0"), RemoveTags: []string{"x"}}, 4)
		}))
	add("rotate_key", dev1, attrs("key", did("dev1b")),
		e.run("dev1", []string{"dev1b"}, func(c *exec.Context) error {
			return device.RotateKey(c, &txn.DeviceRotateKey{Device: dev1, NewPubKey: pub("dev1b")})
		}))
	add("revoke", alice, attrs("reason", "compromised"), e.run("alice", nil, revoke(dev1, "compromised")))
	add("rotate_key", alice, attrs("key", did("dev1c"), "reactivated", "true"),
		e.run("alice", []string{"dev1c"}, func(c *exec.Context) error {
			return device.RotateKey(c, &txn.DeviceRotateKey{Device: dev1, NewPubKey: pub("dev1c")})
		}))
	add("transfer_offer", alice, attrs("to", bob.String()), e.run("alice", nil, transfer(dev1, "bob")))
	add("transfer", bob, attrs("from", alice.String(), "accepted", "accept_tx"), e.run("bob", nil, accept(dev1)))
	add("decommission", bob, nil, e.run("bob", nil, decommission(dev1)))
	// Failed txs append nothing.
	if r := e.run("bob", nil, revoke(dev1, "")); r.err == nil {
		t.Fatal("revoke after decommission succeeded")
	}

	d := e.device(dev1)
	if d.HistoryLen != uint64(len(wants)) || d.Registered != wants[0].r.height || d.Updated != wants[len(wants)-1].r.height {
		t.Errorf("record history len %d registered %d updated %d", d.HistoryLen, d.Registered, d.Updated)
	}
	h := e.history(dev1)
	if len(h) != len(wants) {
		t.Fatalf("%d history entries, want %d", len(h), len(wants))
	}
	for i, w := range wants {
		t.Run(fmt.Sprintf("%d_%s", i, w.kind), func(t *testing.T) {
			got := h[i]
			if got.Seq != uint64(i) || got.Height != w.r.height || !bytes.Equal(got.TxHash, w.r.txHash[:]) ||
				got.Kind != w.kind || got.Actor != w.actor || !equalAttrs(got.Attrs, w.attrs) {
				t.Errorf("entry %+v\nwant seq %d height %d kind %s actor %s attrs %+v", got, i, w.r.height, w.kind, w.actor, w.attrs)
			}
		})
	}
}

func TestUnknownDevice(t *testing.T) {
	ghost := lt.Addr("ghost")
	tests := []struct {
		name string
		do   func(c *exec.Context) error
	}{
		{"update", func(c *exec.Context) error {
			return device.Update(c, &txn.DeviceUpdate{Device: ghost, Model: strp("x")}, defaultMaxTags)
		}},
		{"rotate", func(c *exec.Context) error {
			return device.RotateKey(c, &txn.DeviceRotateKey{Device: ghost, NewPubKey: pub("alice")})
		}},
		{"transfer", transfer(ghost, "bob")},
		{"accept", accept(ghost)},
		{"cancel", cancel(ghost)},
		{"revoke", revoke(ghost, "")},
		{"decommission", decommission(ghost)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.run("alice", []string{"alice", "bob"}, tt.do)
			checkErr(t, r.err, errs.ErrUnknownDevice)
			if r.writes != 0 {
				t.Errorf("%d writes staged", r.writes)
			}
		})
	}
}
