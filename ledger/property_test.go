package ledger_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/ledger/reading"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// This file holds a naive model of the ledger's rules (balances and nonces
// in plain maps, device records as structs) and a seeded workload generator
// that uses the model to build mostly-valid txs with deliberate failures of
// every class. The determinism and restart tests reuse the generator.

// TestPropertyAgainstModel applies random blocks to a real ledger and to the
// model and compares, after every block, each tx's result code, every
// account (balance, nonce, key), every device (owner, status, counter, key,
// pending owner, tags, readings), the device key index, the fee pool, and
// conservation of the genesis supply.
func TestPropertyAgainstModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			w := wlNew(seed)
			c := lt.NewOn(t, wlMemStore(t), w.genesis())
			for b := 1; b <= 15; b++ {
				gen := w.block(w.rng.IntN(9))
				res := c.Block(wlRaw(gen)...)
				for i, g := range gen {
					if res[i].Code != g.want {
						t.Fatalf("seed %d block %d tx %d (%s): code %d %s (%s), model wants %d %s",
							seed, b, i, g.desc, res[i].Code, res[i].Name, res[i].Log, g.want, wlCodeName(g.want))
					}
				}
				wlCheckModel(t, c, w, fmt.Sprintf("seed %d block %d", seed, b))
			}
		})
	}
}

// ---- model ----

// Genesis of the workload: funded accounts (one with a P-256 key); frank
// starts empty.
const wlGenesisBalance = 1_000_000_000

type wlAcct struct {
	bal, nonce uint64
	pub        []byte // key on record (set by the first tx that passes the ante)
}

type wlDev struct {
	owner     keys.Address
	pub       []byte
	status    device.Status
	counter   uint64
	pending   *keys.Address
	tags      []string // sorted; replaced, never changed in place
	readings  uint64
	rotations uint32
	model     string
	firmware  string
	location  *txn.Location
}

// wlModel applies the ledger's rules naively. Maps hold values whose slices
// are replaced, never mutated, so a shallow clone of the maps is a copy.
type wlModel struct {
	p      ledger.Params
	accts  map[keys.Address]wlAcct
	devs   map[keys.Address]wlDev
	keyIdx map[keys.Address]keys.Address // address of a device's current key -> device id
	pool   uint64
	total  uint64 // genesis supply
}

func (m *wlModel) clone() *wlModel {
	c := *m
	c.accts, c.devs, c.keyIdx = maps.Clone(m.accts), maps.Clone(m.devs), maps.Clone(m.keyIdx)
	return &c
}

// wlLowGas marks txs whose msgs run out of gas: the workload only sets a gas
// limit below it on txs built to exhaust it (20 sends with 15,000 gas), and
// a limit of 1,000,000 everywhere else, which no workload tx comes close to.
const wlLowGas = 100_000

type wlCtx struct {
	signer  keys.Address
	isDev   bool
	cosigns []keys.Address
	nonce   uint64
	pub     []byte // the signer's key, as ante resolved it
}

func (c *wlCtx) cosigned(a keys.Address) bool { return slices.Contains(c.cosigns, a) }

func wlCode(c *errs.Class) uint32 { return c.Code }

func wlCodeName(c uint32) string {
	if c == 0 {
		return "ok"
	}
	if cl := errs.ByCode(c); cl != nil {
		return cl.Name
	}
	return "?"
}

func wlPubAddr(pub []byte) keys.Address {
	pk, err := keys.ParsePublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pk.Address()
}

// apply runs one encoded tx through the model and returns its expected code.
// Fee rules: a tx that fails before the fee (decoding, stateless checks,
// intrinsic gas, signer, nonce, signatures, fee payer) changes nothing; once
// the fee is paid the nonce (or device counter) is used too, and the msgs
// apply all together or not at all.
func (m *wlModel) apply(raw []byte) uint32 {
	tx, err := txn.Decode(raw, int(m.p.MaxTxBytes))
	if err != nil {
		return errs.Of(err).Code
	}
	if c := m.stateless(tx); c != 0 {
		return c
	}
	if m.intrinsic(tx, len(raw), nil) > tx.Body.Fee.GasLimit {
		return wlCode(errs.ErrOutOfGas)
	}
	paid := m.clone()
	ctx, c := paid.ante(tx)
	if c != 0 {
		return c
	}
	if m.intrinsic(tx, len(raw), ctx.pub) > tx.Body.Fee.GasLimit {
		return wlCode(errs.ErrOutOfGas)
	}
	done := paid.clone()
	c = done.msgs(ctx, tx)
	if c == 0 && tx.Body.Fee.GasLimit < wlLowGas {
		c = wlCode(errs.ErrOutOfGas)
	}
	if c == 0 {
		*m = *done
	} else {
		*m = *paid
	}
	return c
}

func (m *wlModel) stateless(tx *txn.Tx) uint32 {
	b := &tx.Body
	switch {
	case b.ChainID != lt.ChainID:
		return wlCode(errs.ErrWrongChain)
	case len(b.Msgs) == 0:
		return wlCode(errs.ErrEmptyTx)
	case uint64(len(b.Msgs)) > m.p.MaxMsgsPerTx:
		return wlCode(errs.ErrTooManyMsgs)
	case uint64(len(b.Memo)) > m.p.MaxMemoBytes:
		return wlCode(errs.ErrMemoTooLarge)
	case b.Fee.GasLimit > m.p.MaxGasPerTx:
		return wlCode(errs.ErrGasLimitTooHigh)
	case uint64(b.Fee.Amount)*1000 < b.Fee.GasLimit*m.p.MinGasPriceMilli: // workload values stay far below overflow
		return wlCode(errs.ErrFeeTooLow)
	case len(tx.Sig) == 0:
		return wlCode(errs.ErrMissingSignature)
	}
	readings := 0
	for _, am := range b.Msgs {
		if err := am.Msg.ValidateBasic(); err != nil {
			return errs.Of(err).Code
		}
		if rs, ok := am.Msg.(*txn.ReadingSubmit); ok {
			if readings++; readings > 1 {
				return wlCode(errs.ErrInvalidMsg)
			}
			if uint64(len(rs.Payload)) > m.p.MaxReadingBytes {
				return wlCode(errs.ErrPayloadTooLarge)
			}
			if _, err := reading.ValidateSenML(rs.Payload); err != nil {
				return errs.Of(err).Code
			}
		}
	}
	return 0
}

// intrinsic is the gas a tx costs before its msgs: without the signer's
// signature until ante has resolved the signer's key (signer nil), with it
// after.
func (m *wlModel) intrinsic(tx *txn.Tx, size int, signer []byte) uint64 {
	g := &m.p.Gas
	sig := func(pub []byte) uint64 {
		if len(pub) > 0 && keys.Type(pub[0]) == keys.P256 {
			return g.SigP256
		}
		return g.SigEd25519
	}
	gas := g.TxBase + g.TxByte*uint64(size) + 2*(g.ReadFlat+g.WriteFlat)
	if signer != nil {
		gas += sig(signer)
	}
	for _, c := range tx.Cosigs {
		gas += sig(c.PubKey)
	}
	return gas
}

func wlVerifies(pub, msg, sig []byte) bool {
	pk, err := keys.ParsePublicKey(pub)
	return err == nil && pk.Verify(msg, sig)
}

func (m *wlModel) ante(tx *txn.Tx) (*wlCtx, uint32) {
	b := &tx.Body
	sb, err := tx.SignBytes()
	if err != nil {
		return nil, wlCode(errs.ErrMalformed)
	}
	ctx := &wlCtx{signer: b.Signer, nonce: b.Nonce}
	acct := m.accts[b.Signer]
	var pub []byte
	if d, ok := m.devs[b.Signer]; ok {
		ctx.isDev = true
		switch {
		case d.status == device.Revoked:
			return nil, wlCode(errs.ErrDeviceRevoked)
		case d.status == device.Decommissioned:
			return nil, wlCode(errs.ErrDeviceDecommissioned)
		case b.Nonce <= acct.nonce: // a device's account nonce is its last counter
			return nil, wlCode(errs.ErrCounterReused)
		case b.PubKey != nil && !bytes.Equal(b.PubKey, d.pub):
			return nil, wlCode(errs.ErrPubKeyMismatch)
		}
		pub = d.pub
	} else {
		switch {
		case acct.pub != nil:
			if b.PubKey != nil && !bytes.Equal(b.PubKey, acct.pub) {
				return nil, wlCode(errs.ErrPubKeyMismatch)
			}
			pub = acct.pub
		case b.PubKey == nil:
			return nil, wlCode(errs.ErrNoPubKey)
		default:
			pk, err := keys.ParsePublicKey(b.PubKey)
			if err != nil {
				return nil, wlCode(errs.ErrInvalidKey)
			}
			if pk.Address() != b.Signer {
				return nil, wlCode(errs.ErrPubKeyMismatch)
			}
			pub, acct.pub = b.PubKey, b.PubKey
		}
		switch {
		case b.Nonce < acct.nonce:
			return nil, wlCode(errs.ErrNonceReplayed)
		case b.Nonce > acct.nonce:
			return nil, wlCode(errs.ErrNonceGap)
		}
	}
	if !wlVerifies(pub, sb, tx.Sig) {
		return nil, wlCode(errs.ErrBadSignature)
	}
	for _, cs := range tx.Cosigs {
		pk, err := keys.ParsePublicKey(cs.PubKey)
		if err != nil {
			return nil, wlCode(errs.ErrInvalidKey)
		}
		if ctx.cosigned(pk.Address()) {
			return nil, wlCode(errs.ErrDuplicateCosig)
		}
		if !pk.Verify(sb, cs.Sig) {
			return nil, wlCode(errs.ErrBadSignature)
		}
		ctx.cosigns = append(ctx.cosigns, pk.Address())
	}
	fee := uint64(b.Fee.Amount)
	if acct.bal < fee {
		return nil, wlCode(errs.ErrInsufficientFee)
	}
	acct.bal -= fee
	m.pool += fee
	if ctx.isDev {
		d := m.devs[b.Signer]
		d.counter = b.Nonce
		m.devs[b.Signer] = d
		acct.nonce = b.Nonce
	} else {
		acct.nonce++
	}
	m.accts[b.Signer] = acct
	ctx.pub = pub
	return ctx, 0
}

func (m *wlModel) msgs(c *wlCtx, tx *txn.Tx) uint32 {
	for _, am := range tx.Body.Msgs {
		if code := m.msg(c, am.Msg); code != 0 {
			return code
		}
	}
	return 0
}

func wlNormTags(tags []string) []string {
	out := slices.Clone(tags)
	slices.Sort(out)
	return slices.Compact(out)
}

func (m *wlModel) msg(c *wlCtx, msg txn.Msg) uint32 {
	maxTags := int(m.p.MaxTagsPerDevice)
	// dev looks up the device a msg names; ok false means ErrUnknownDevice.
	dev := func(id keys.Address) (wlDev, bool) { d, ok := m.devs[id]; return d, ok }
	switch msg := msg.(type) {
	case *txn.Send:
		from := m.accts[c.signer]
		if uint64(msg.Amount) > from.bal {
			return wlCode(errs.ErrInsufficientFunds)
		}
		if msg.To != c.signer {
			from.bal -= uint64(msg.Amount)
			m.accts[c.signer] = from
			to := m.accts[msg.To]
			to.bal += uint64(msg.Amount)
			m.accts[msg.To] = to
		}
	case *txn.DeviceRegister:
		if c.isDev {
			return wlCode(errs.ErrUnauthorized)
		}
		id := wlPubAddr(msg.PubKey)
		tags := wlNormTags(msg.Tags)
		switch {
		case id == c.signer:
			return wlCode(errs.ErrInvalidMsg)
		case !c.cosigned(id):
			return wlCode(errs.ErrMissingSignature)
		}
		if _, ok := m.devs[id]; ok {
			return wlCode(errs.ErrDeviceExists)
		}
		if _, ok := m.keyIdx[id]; ok {
			return wlCode(errs.ErrKeyInUse)
		}
		if len(tags) > maxTags {
			return wlCode(errs.ErrInvalidMsg)
		}
		if len(tags) == 0 {
			tags = nil
		}
		m.devs[id] = wlDev{owner: c.signer, pub: msg.PubKey, tags: tags, model: msg.Model, firmware: msg.Firmware, location: msg.Location}
		m.keyIdx[id] = id
	case *txn.DeviceUpdate:
		d, ok := dev(msg.Device)
		switch {
		case !ok:
			return wlCode(errs.ErrUnknownDevice)
		case c.signer != d.owner:
			return wlCode(errs.ErrUnauthorized)
		case d.status == device.Decommissioned:
			return wlCode(errs.ErrDeviceDecommissioned)
		}
		tags := slices.Clone(d.tags)
		for _, t := range wlNormTags(msg.RemoveTags) {
			tags = slices.DeleteFunc(tags, func(s string) bool { return s == t })
		}
		tags = wlNormTags(append(tags, msg.AddTags...))
		if len(tags) > maxTags {
			return wlCode(errs.ErrInvalidMsg)
		}
		if len(tags) == 0 {
			tags = nil
		}
		changed := !slices.Equal(tags, d.tags)
		if msg.Model != nil && *msg.Model != d.model {
			d.model, changed = *msg.Model, true
		}
		if msg.Firmware != nil && *msg.Firmware != d.firmware {
			d.firmware, changed = *msg.Firmware, true
		}
		if msg.Location != nil && (d.location == nil || *msg.Location != *d.location) {
			d.location, changed = msg.Location, true
		}
		if msg.ClearLocation && d.location != nil {
			d.location, changed = nil, true
		}
		if !changed {
			return wlCode(errs.ErrInvalidMsg)
		}
		d.tags = tags
		m.devs[msg.Device] = d
	case *txn.DeviceRotateKey:
		d, ok := dev(msg.Device)
		switch {
		case !ok:
			return wlCode(errs.ErrUnknownDevice)
		case c.signer != d.owner && c.signer != msg.Device:
			return wlCode(errs.ErrUnauthorized)
		case d.status == device.Decommissioned:
			return wlCode(errs.ErrDeviceDecommissioned)
		case !c.cosigned(wlPubAddr(msg.NewPubKey)):
			return wlCode(errs.ErrMissingSignature)
		}
		if _, ok := m.keyIdx[wlPubAddr(msg.NewPubKey)]; ok {
			return wlCode(errs.ErrKeyInUse)
		}
		delete(m.keyIdx, wlPubAddr(d.pub))
		m.keyIdx[wlPubAddr(msg.NewPubKey)] = msg.Device
		d.pub, d.status = msg.NewPubKey, device.Active
		d.rotations++
		m.devs[msg.Device] = d
	case *txn.DeviceTransfer:
		d, ok := dev(msg.Device)
		switch {
		case !ok:
			return wlCode(errs.ErrUnknownDevice)
		case c.signer != d.owner:
			return wlCode(errs.ErrUnauthorized)
		case d.status == device.Decommissioned:
			return wlCode(errs.ErrDeviceDecommissioned)
		case msg.To == d.owner, msg.To == msg.Device:
			return wlCode(errs.ErrInvalidMsg)
		}
		if c.cosigned(msg.To) {
			d.owner, d.pending = msg.To, nil
		} else {
			to := msg.To
			d.pending = &to
		}
		m.devs[msg.Device] = d
	case *txn.DeviceAcceptTransfer:
		d, ok := dev(msg.Device)
		switch {
		case !ok:
			return wlCode(errs.ErrUnknownDevice)
		case d.status == device.Decommissioned:
			return wlCode(errs.ErrDeviceDecommissioned)
		case d.pending == nil:
			return wlCode(errs.ErrNoPendingTransfer)
		case *d.pending != c.signer:
			return wlCode(errs.ErrUnauthorized)
		}
		d.owner, d.pending = c.signer, nil
		m.devs[msg.Device] = d
	case *txn.DeviceCancelTransfer:
		d, ok := dev(msg.Device)
		switch {
		case !ok:
			return wlCode(errs.ErrUnknownDevice)
		case c.signer != d.owner:
			return wlCode(errs.ErrUnauthorized)
		case d.pending == nil:
			return wlCode(errs.ErrNoPendingTransfer)
		}
		d.pending = nil
		m.devs[msg.Device] = d
	case *txn.DeviceRevoke:
		d, ok := dev(msg.Device)
		switch {
		case !ok:
			return wlCode(errs.ErrUnknownDevice)
		case c.signer != d.owner && c.signer != msg.Device:
			return wlCode(errs.ErrUnauthorized)
		case d.status == device.Decommissioned:
			return wlCode(errs.ErrDeviceDecommissioned)
		case d.status == device.Revoked:
			return wlCode(errs.ErrDeviceRevoked)
		}
		d.status = device.Revoked
		m.devs[msg.Device] = d
	case *txn.DeviceDecommission:
		d, ok := dev(msg.Device)
		switch {
		case !ok:
			return wlCode(errs.ErrUnknownDevice)
		case c.signer != d.owner:
			return wlCode(errs.ErrUnauthorized)
		case d.status == device.Decommissioned:
			return wlCode(errs.ErrDeviceDecommissioned)
		}
		delete(m.keyIdx, wlPubAddr(d.pub))
		d.status, d.pending = device.Decommissioned, nil
		m.devs[msg.Device] = d
	case *txn.ReadingSubmit:
		d, ok := dev(c.signer)
		switch {
		case !c.isDev || !ok:
			return wlCode(errs.ErrUnknownDevice)
		case d.status != device.Active:
			return wlCode(errs.ErrDeviceRevoked)
		}
		d.readings++
		m.devs[c.signer] = d
	default:
		return wlCode(errs.ErrUnknownMsg)
	}
	return 0
}

// ---- workload ----

type wlActor struct {
	name string
	key  keys.PrivateKey
	addr keys.Address
}

// wlTx is one generated tx with what the model expects of it.
type wlTx struct {
	raw  []byte
	desc string
	want uint32
}

func wlRaw(txs []wlTx) [][]byte {
	out := make([][]byte, len(txs))
	for i, t := range txs {
		out[i] = t.raw
	}
	return out
}

// wlWorkload generates txs from a seed. It keeps the model up to date as it
// goes, so that nonces and counters are right for txs later in the same
// block, and it records the model's expected code for each tx.
type wlWorkload struct {
	rng     *rand.Rand
	m       *wlModel
	accts   []wlActor                        // signers; the last one starts unfunded
	byAddr  map[keys.Address]wlActor         // accounts by address
	devKeys []keys.PrivateKey                // registration candidates (ed25519 and P-256)
	devIDs  []keys.Address                   // their ids, in order
	keyOf   map[keys.Address]keys.PrivateKey // every key used, by address
	keyList []keys.Address                   // the same addresses, in order of creation
	sink    keys.Address                     // an address nobody signs for
	nRot    int                              // rotation keys made
	nFresh  int                              // keyless accounts made
	nFail   int                              // failure txs made (they cycle through the classes)
}

func wlNew(seed uint64) *wlWorkload {
	w := &wlWorkload{
		rng:    rand.New(rand.NewPCG(seed, 0x68797068)),
		byAddr: map[keys.Address]wlActor{},
		keyOf:  map[keys.Address]keys.PrivateKey{},
		sink:   keys.Address{0xee, 0xee, 0x01},
	}
	for _, n := range []string{"alice", "bob", "carol", "dave", "erin", "paula", "frank"} {
		k := lt.Key(n)
		if n == "paula" {
			k = lt.P256Key(n)
		}
		a := wlActor{name: n, key: k, addr: k.Public().Address()}
		w.accts = append(w.accts, a)
		w.byAddr[a.addr] = a
		w.addKey(k)
	}
	for i := range 8 {
		k := lt.Key(fmt.Sprintf("wl-dev%d", i))
		if i%2 == 1 {
			k = lt.P256Key(fmt.Sprintf("wl-dev%d", i))
		}
		w.devKeys = append(w.devKeys, k)
		w.devIDs = append(w.devIDs, k.Public().Address())
		w.addKey(k)
	}
	w.m = &wlModel{p: ledger.DefaultParams(), accts: map[keys.Address]wlAcct{}, devs: map[keys.Address]wlDev{},
		keyIdx: map[keys.Address]keys.Address{}}
	for _, ga := range w.genesis().Accounts {
		w.m.accts[ga.Address] = wlAcct{bal: uint64(ga.Balance)}
		w.m.total += uint64(ga.Balance)
	}
	return w
}

func (w *wlWorkload) addKey(k keys.PrivateKey) {
	a := k.Public().Address()
	if _, ok := w.keyOf[a]; !ok {
		w.keyOf[a] = k
		w.keyList = append(w.keyList, a)
	}
}

func (w *wlWorkload) genesis() ledger.Genesis {
	var g ledger.Genesis
	for _, a := range w.accts[:len(w.accts)-1] {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: a.addr, Balance: wlGenesisBalance})
	}
	return g
}

// blocks generates n blocks of up to maxTxs txs each.
func (w *wlWorkload) blocks(n, maxTxs int) [][]wlTx {
	out := make([][]wlTx, n)
	for i := range out {
		out[i] = w.block(w.rng.IntN(maxTxs + 1))
	}
	return out
}

// block generates n txs, applying each to the model.
func (w *wlWorkload) block(n int) []wlTx {
	out := make([]wlTx, 0, n)
	for range n {
		raw, desc := w.next()
		out = append(out, wlTx{raw: raw, desc: desc, want: w.m.apply(raw)})
	}
	return out
}

func (w *wlWorkload) pick(n int) int { return w.rng.IntN(n) }

func (w *wlWorkload) actor() wlActor { return w.accts[w.pick(len(w.accts))] }

func (w *wlWorkload) otherActor(not keys.Address) wlActor {
	for {
		if a := w.actor(); a.addr != not {
			return a
		}
	}
}

// registered returns the ids of devices the model knows, in a fixed order.
func (w *wlWorkload) registered() []keys.Address {
	var ids []keys.Address
	for _, id := range w.devIDs {
		if _, ok := w.m.devs[id]; ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// device picks a registered device (false if none), mostly an active one.
func (w *wlWorkload) device() (keys.Address, wlDev, bool) {
	ids := w.registered()
	if len(ids) == 0 {
		return keys.Address{}, wlDev{}, false
	}
	if live := slices.DeleteFunc(slices.Clone(ids), func(id keys.Address) bool {
		return w.m.devs[id].status != device.Active
	}); len(live) > 0 && w.pick(10) > 0 {
		ids = live
	}
	id := ids[w.pick(len(ids))]
	return id, w.m.devs[id], true
}

func (w *wlWorkload) devKey(d wlDev) keys.PrivateKey { return w.keyOf[wlPubAddr(d.pub)] }

// freshKey makes a new rotation key, alternating ed25519 and P-256.
func (w *wlWorkload) freshKey() keys.PrivateKey {
	w.nRot++
	name := fmt.Sprintf("wl-rot%d", w.nRot)
	k := lt.Key(name)
	if w.nRot%2 == 0 {
		k = lt.P256Key(name)
	}
	w.addKey(k)
	return k
}

// wlSpec describes a tx before signing.
type wlSpec struct {
	signer  keys.Address
	key     keys.PrivateKey
	nonce   uint64
	pub     []byte
	fee     uint64
	gas     uint64
	memo    string
	chainID string
	cos     []keys.PrivateKey
	msgs    []txn.Msg
}

func (s wlSpec) sign() *txn.Tx {
	body := txn.Body{ChainID: s.chainID, Signer: s.signer, PubKey: s.pub, Nonce: s.nonce,
		Fee: txn.Fee{Amount: txn.Amount(s.fee), GasLimit: s.gas}, Memo: s.memo}
	for _, m := range s.msgs {
		body.Msgs = append(body.Msgs, txn.AnyMsg{Msg: m})
	}
	tx, err := txn.Sign(body, s.key, s.cos...)
	if err != nil {
		panic(err)
	}
	return tx
}

// acct is a valid tx spec from account a: its next nonce, its key attached
// (or not, once it has one on record), the default fee and gas.
func (w *wlWorkload) acct(a wlActor, msgs ...txn.Msg) wlSpec {
	s := wlSpec{signer: a.addr, key: a.key, nonce: w.m.accts[a.addr].nonce, fee: lt.DefaultFee, gas: lt.DefaultGas,
		chainID: lt.ChainID, msgs: msgs}
	if w.m.accts[a.addr].pub == nil || w.pick(2) == 0 {
		s.pub = a.key.Public().Bytes()
	}
	return s
}

// dev is a valid tx spec from device id with its current key and a counter
// past its last one (with a gap now and then).
func (w *wlWorkload) dev(id keys.Address, d wlDev, msgs ...txn.Msg) wlSpec {
	return wlSpec{signer: id, key: w.devKey(d), nonce: d.counter + 1 + uint64(w.pick(3)), fee: lt.DefaultFee,
		gas: lt.DefaultGas, chainID: lt.ChainID, msgs: msgs}
}

func wlEncode(tx *txn.Tx) []byte {
	b, err := txn.Marshal(tx)
	if err != nil {
		panic(err)
	}
	return b
}

func wlShort(a keys.Address) string { return a.String()[6:12] }

var wlTags = []string{"cold", "zone:a", "zone:b", "dock:7", "fw/beta", "x.1"}

func (w *wlWorkload) tags() []string {
	var out []string
	for _, t := range wlTags {
		if w.pick(3) == 0 {
			out = append(out, t)
		}
	}
	return out
}

func (w *wlWorkload) sendTarget() keys.Address {
	switch r := w.pick(10); {
	case r < 6:
		return w.actor().addr
	case r < 9:
		return w.devIDs[w.pick(len(w.devIDs))]
	default:
		return w.sink
	}
}

// next builds one tx and describes it.
func (w *wlWorkload) next() ([]byte, string) {
	switch r := w.pick(100); {
	case r < 16:
		return w.opSend()
	case r < 20:
		return w.opBadNonce()
	case r < 29:
		return w.opRegister()
	case r < 34:
		return w.opUpdate()
	case r < 40:
		return w.opRotate()
	case r < 45:
		return w.opTransfer()
	case r < 49:
		return w.opAccept()
	case r < 51:
		return w.opCancel()
	case r < 55:
		return w.opRevoke()
	case r < 56:
		return w.opDecommission()
	case r < 61:
		return w.opFundDevice()
	case r < 76:
		return w.opReading()
	case r < 82:
		return w.opMulti()
	default:
		return w.opFailure()
	}
}

func (w *wlWorkload) opSend() ([]byte, string) {
	a := w.actor()
	to := w.sendTarget()
	bal := w.m.accts[a.addr].bal
	amt := uint64(1 + w.pick(100_000))
	kind := "send"
	switch r := w.pick(10); {
	case r == 0 && bal >= lt.DefaultFee:
		amt, kind = bal-lt.DefaultFee+1+uint64(w.pick(1000)), "overdraft"
	case r == 1 && bal > 8:
		amt, kind = 1+bal/8, "big send"
	}
	return w.acct(a, &txn.Send{To: to, Amount: txn.Amount(amt)}).sign().Bytes(),
		fmt.Sprintf("%s %s->%s %d", kind, a.name, wlShort(to), amt)
}

func (w *wlWorkload) opBadNonce() ([]byte, string) {
	a := w.actor()
	s := w.acct(a, &txn.Send{To: w.sendTarget(), Amount: 1})
	if s.nonce > 0 && w.pick(2) == 0 {
		s.nonce -= 1 + uint64(w.pick(int(s.nonce)))
	} else {
		s.nonce += 1 + uint64(w.pick(3))
	}
	return s.sign().Bytes(), fmt.Sprintf("send by %s with bad nonce %d", a.name, s.nonce)
}

func (w *wlWorkload) opRegister() ([]byte, string) {
	a := w.actor()
	i := w.pick(len(w.devKeys))
	k := w.devKeys[i]
	kind := "register"
	cos := []keys.PrivateKey{k}
	switch r := w.pick(20); {
	case r == 0:
		cos, kind = nil, "register without cosig"
	case r == 1:
		k, cos, kind = a.key, []keys.PrivateKey{a.key}, "register own key"
	case r == 2:
		// A key that serves another device after a rotation.
		for _, id := range w.registered() {
			if d := w.m.devs[id]; wlPubAddr(d.pub) != id && d.status != device.Decommissioned {
				k = w.devKey(d)
				cos, kind = []keys.PrivateKey{k}, "register a key in use"
				break
			}
		}
	}
	msg := &txn.DeviceRegister{PubKey: k.Public().Bytes(), Model: "m" + fmt.Sprint(w.pick(5)), Tags: w.tags()}
	if w.pick(4) == 0 {
		msg.Firmware = "1.0." + fmt.Sprint(w.pick(9))
	}
	s := w.acct(a, msg)
	if w.pick(3) > 0 {
		// Fund the device in the same tx, so it can pay for its readings.
		s.msgs = append(s.msgs, &txn.Send{To: k.Public().Address(), Amount: txn.Amount(50_000 + w.pick(50_000))})
		kind += " + fund"
	}
	s.cos = cos
	return s.sign().Bytes(), fmt.Sprintf("%s %s by %s", kind, wlShort(k.Public().Address()), a.name)
}

func (w *wlWorkload) ownerOr(d wlDev, pOther int) wlActor {
	if a, ok := w.byAddr[d.owner]; ok && w.pick(100) >= pOther {
		return a
	}
	return w.otherActor(d.owner)
}

func (w *wlWorkload) opUpdate() ([]byte, string) {
	id, d, ok := w.device()
	if !ok {
		return w.opRegister()
	}
	a := w.ownerOr(d, 15)
	u := &txn.DeviceUpdate{Device: id}
	switch r := w.pick(10); {
	case r == 0:
		for i := range 17 {
			u.AddTags = append(u.AddTags, fmt.Sprintf("t%d", i))
		}
	case r < 4:
		fw := fmt.Sprintf("2.%d", w.pick(50))
		u.Firmware = &fw
	case r < 6:
		u.Location = &txn.Location{LatE7: int64(w.pick(900_000_000)), LonE7: -int64(w.pick(1_800_000_000))}
	default:
		u.AddTags, u.RemoveTags = w.tags(), w.tags()
		if len(u.AddTags)+len(u.RemoveTags) == 0 {
			model := "m-upd"
			u.Model = &model
		}
	}
	return w.acct(a, u).sign().Bytes(), fmt.Sprintf("update %s by %s (+%d -%d tags)", wlShort(id), a.name, len(u.AddTags), len(u.RemoveTags))
}

func (w *wlWorkload) opRotate() ([]byte, string) {
	id, d, ok := w.device()
	if !ok {
		return w.opRegister()
	}
	nk := w.freshKey()
	cos := []keys.PrivateKey{nk}
	kind := "rotate"
	switch r := w.pick(10); {
	case r == 0:
		cos, kind = nil, "rotate without cosig"
	case r == 1:
		// Another device's current key.
		for _, other := range w.registered() {
			if od := w.m.devs[other]; other != id && od.status != device.Decommissioned {
				nk = w.devKey(od)
				cos, kind = []keys.PrivateKey{nk}, "rotate to a key in use"
				break
			}
		}
	}
	msg := &txn.DeviceRotateKey{Device: id, NewPubKey: nk.Public().Bytes()}
	var s wlSpec
	by := "owner"
	if w.pick(4) == 0 {
		s, by = w.dev(id, d, msg), "device"
	} else {
		a := w.ownerOr(d, 15)
		s, by = w.acct(a, msg), a.name
	}
	s.cos = cos
	return s.sign().Bytes(), fmt.Sprintf("%s %s by %s", kind, wlShort(id), by)
}

func (w *wlWorkload) opTransfer() ([]byte, string) {
	id, d, ok := w.device()
	if !ok {
		return w.opRegister()
	}
	a := w.ownerOr(d, 10)
	to := w.otherActor(a.addr)
	if w.pick(10) == 0 {
		to = w.byAddr[d.owner] // to the owner itself: invalid
	}
	s := w.acct(a, &txn.DeviceTransfer{Device: id, To: to.addr})
	kind := "transfer offer"
	if w.pick(5) < 2 && to.key != nil {
		s.cos, kind = []keys.PrivateKey{to.key}, "transfer cosigned"
	}
	return s.sign().Bytes(), fmt.Sprintf("%s %s %s->%s", kind, wlShort(id), a.name, to.name)
}

func (w *wlWorkload) opAccept() ([]byte, string) {
	var id keys.Address
	var d wlDev
	found := false
	for _, c := range w.registered() {
		if w.m.devs[c].pending != nil {
			id, d, found = c, w.m.devs[c], true
			break
		}
	}
	if !found {
		var ok bool
		if id, d, ok = w.device(); !ok {
			return w.opRegister()
		}
	}
	a := w.actor()
	if d.pending != nil && w.pick(5) > 0 {
		a = w.byAddr[*d.pending]
	}
	return w.acct(a, &txn.DeviceAcceptTransfer{Device: id}).sign().Bytes(), fmt.Sprintf("accept %s by %s", wlShort(id), a.name)
}

func (w *wlWorkload) opCancel() ([]byte, string) {
	id, d, ok := w.device()
	if !ok {
		return w.opRegister()
	}
	a := w.ownerOr(d, 10)
	return w.acct(a, &txn.DeviceCancelTransfer{Device: id}).sign().Bytes(), fmt.Sprintf("cancel %s by %s", wlShort(id), a.name)
}

func (w *wlWorkload) opRevoke() ([]byte, string) {
	id, d, ok := w.device()
	if !ok {
		return w.opRegister()
	}
	msg := &txn.DeviceRevoke{Device: id, Reason: "lost"}
	if w.pick(3) == 0 {
		return w.dev(id, d, msg).sign().Bytes(), fmt.Sprintf("revoke %s by itself", wlShort(id))
	}
	a := w.ownerOr(d, 10)
	return w.acct(a, msg).sign().Bytes(), fmt.Sprintf("revoke %s by %s", wlShort(id), a.name)
}

func (w *wlWorkload) opDecommission() ([]byte, string) {
	id, d, ok := w.device()
	if !ok {
		return w.opRegister()
	}
	a := w.ownerOr(d, 10)
	return w.acct(a, &txn.DeviceDecommission{Device: id}).sign().Bytes(), fmt.Sprintf("decommission %s by %s", wlShort(id), a.name)
}

func (w *wlWorkload) opFundDevice() ([]byte, string) {
	id, _, ok := w.device()
	if !ok {
		id = w.devIDs[w.pick(len(w.devIDs))]
	}
	a := w.actor()
	amt := uint64(20_000 + w.pick(100_000))
	return w.acct(a, &txn.Send{To: id, Amount: txn.Amount(amt)}).sign().Bytes(), fmt.Sprintf("fund %s by %s %d", wlShort(id), a.name, amt)
}

func (w *wlWorkload) opReading() ([]byte, string) {
	id, d, ok := w.device()
	if !ok {
		return w.opRegister()
	}
	s := w.dev(id, d, &txn.ReadingSubmit{Payload: lt.SenML("temp", int64(w.pick(40)-10))})
	kind := "reading"
	switch r := w.pick(20); {
	case r < 3:
		s.nonce, kind = d.counter-uint64(w.pick(int(min(d.counter, 3))+1)), "reading with reused counter"
	case r == 3:
		s.key, kind = w.devKeys[w.pick(len(w.devKeys))], "reading signed by another key"
	case r == 4:
		s.msgs, kind = []txn.Msg{&txn.ReadingSubmit{Payload: []byte{0xa1, 0x00, 0x01}}}, "reading not senml"
	case r == 5:
		s.msgs, kind = []txn.Msg{s.msgs[0], &txn.ReadingSubmit{Payload: lt.SenML("hum", 3)}}, "two readings"
	case r == 6:
		s.msgs = append(s.msgs, &txn.DeviceRevoke{Device: id}) // reading then revoke itself: fine
		kind = "reading + self revoke"
	case r == 7:
		s.pub, kind = d.pub, "reading with key attached"
	}
	return s.sign().Bytes(), fmt.Sprintf("%s %s counter=%d (last %d)", kind, wlShort(id), s.nonce, d.counter)
}

func (w *wlWorkload) opMulti() ([]byte, string) {
	a := w.actor()
	n := 2 + w.pick(3)
	var msgs []txn.Msg
	for range n {
		msgs = append(msgs, &txn.Send{To: w.sendTarget(), Amount: txn.Amount(1 + w.pick(5000))})
	}
	kind := "multi-send"
	if w.pick(2) == 0 {
		msgs = append(msgs, &txn.Send{To: w.sink, Amount: txn.Amount(w.m.accts[a.addr].bal + 1)})
		kind = "multi-send, last overdraws"
	} else if id, d, ok := w.device(); ok && d.owner == a.addr {
		fw := "multi"
		msgs = append(msgs, &txn.DeviceUpdate{Device: id, Firmware: &fw})
		kind = "multi-send + update"
	}
	return w.acct(a, msgs...).sign().Bytes(), fmt.Sprintf("%s by %s (%d msgs)", kind, a.name, len(msgs))
}

// opFailure builds a tx that fails in one of the classes the ledger knows.
func (w *wlWorkload) opFailure() ([]byte, string) {
	a := w.actor()
	send := func() txn.Msg { return &txn.Send{To: w.sendTarget(), Amount: 1} }
	s := w.acct(a, send())
	mutate := func(f func(tx *txn.Tx)) []byte {
		tx := s.sign()
		f(tx)
		return wlEncode(tx)
	}
	valid := s.sign().Bytes()
	w.nFail++
	switch k := w.nFail % 26; k {
	case 0:
		s.chainID = "other-chain"
		return s.sign().Bytes(), "wrong chain"
	case 1:
		s.msgs = nil
		return s.sign().Bytes(), "no msgs"
	case 2:
		s.msgs = nil
		for range 65 {
			s.msgs = append(s.msgs, send())
		}
		return s.sign().Bytes(), "65 msgs"
	case 3:
		s.memo = strings.Repeat("m", 257)
		return s.sign().Bytes(), "memo too large"
	case 4:
		s.gas, s.fee = 10_000_001, 20_000
		return s.sign().Bytes(), "gas limit too high"
	case 5:
		s.fee = 1
		return s.sign().Bytes(), "fee too low"
	case 6:
		return mutate(func(tx *txn.Tx) { tx.Sig = []byte{} }), "unsigned"
	case 7:
		s.msgs = []txn.Msg{&txn.Send{To: w.sink}}
		return s.sign().Bytes(), "zero amount"
	case 8:
		return []byte{0xff, 0x00, 0x13, 0x37}, "garbage bytes"
	case 9:
		return valid[:len(valid)-5], "truncated"
	case 10:
		return append(bytes.Clone(valid), 0x00), "trailing byte"
	case 11:
		return mutate(func(tx *txn.Tx) { tx.Sig[3] ^= 0x10 }), "bad signature by " + a.name
	case 12:
		o := w.otherActor(a.addr)
		s.cos = []keys.PrivateKey{o.key}
		return mutate(func(tx *txn.Tx) { tx.Cosigs[0].Sig[5] ^= 0x01 }), "bad cosignature"
	case 13:
		o := w.otherActor(a.addr)
		s.cos = []keys.PrivateKey{o.key, o.key}
		return s.sign().Bytes(), "duplicate cosignature"
	case 14:
		return mutate(func(tx *txn.Tx) {
			tx.Cosigs = []txn.Cosig{{PubKey: []byte{9, 1, 2, 3}, Sig: bytes.Repeat([]byte{1}, 64)}}
		}), "invalid cosigner key"
	case 15:
		s.pub = w.otherActor(a.addr).key.Public().Bytes()
		return s.sign().Bytes(), "pubkey of someone else"
	case 16:
		w.nFresh++
		k := lt.Key(fmt.Sprintf("wl-fresh%d", w.nFresh))
		s.signer, s.key, s.nonce, s.pub = k.Public().Address(), k, 0, nil
		return s.sign().Bytes(), "fresh account without key"
	case 17:
		s.fee = w.m.accts[a.addr].bal + 1
		return s.sign().Bytes(), fmt.Sprintf("fee above balance of %s", a.name)
	case 18:
		s.gas, s.fee = 3_000, 1_000
		return s.sign().Bytes(), "gas below intrinsic"
	case 19:
		if w.m.accts[a.addr].bal < lt.DefaultFee+100 {
			return valid, "plain send (low balance)"
		}
		s.gas, s.msgs = 15_000, nil
		for range 20 {
			s.msgs = append(s.msgs, &txn.Send{To: w.sink, Amount: 1})
		}
		return s.sign().Bytes(), "msgs out of gas"
	case 20:
		s.msgs = []txn.Msg{&txn.DeviceUpdate{Device: keys.Address{0xde, 0xad}, AddTags: []string{"x"}}}
		return s.sign().Bytes(), "update unknown device"
	case 21:
		s.msgs = []txn.Msg{&txn.ReadingSubmit{Payload: lt.SenML("t", 1)}}
		return s.sign().Bytes(), "reading by an account"
	case 22:
		s.msgs = []txn.Msg{&txn.ReadingSubmit{Payload: bytes.Repeat([]byte{0x01}, 5000)}}
		return s.sign().Bytes(), "reading too large"
	case 23:
		s.memo = strings.Repeat("z", 70_000)
		return s.sign().Bytes(), "tx too large"
	case 24:
		s.msgs = []txn.Msg{&txn.Send{To: a.addr, Amount: txn.Amount(1 + w.pick(1000))}}
		return s.sign().Bytes(), "self transfer by " + a.name
	default:
		id, d, ok := w.device()
		if !ok {
			return valid, "plain send (no device)"
		}
		k := w.devKeys[w.pick(len(w.devKeys))]
		ds := w.dev(id, d, &txn.DeviceRegister{PubKey: k.Public().Bytes(), Model: "x"})
		ds.cos = []keys.PrivateKey{k}
		if w.pick(2) == 0 {
			ds.pub = w.otherActor(keys.Address{}).key.Public().Bytes()
			return ds.sign().Bytes(), "device tx with a foreign key attached"
		}
		return ds.sign().Bytes(), "device registers a device"
	}
}

// ---- comparison ----

func wlMemStore(tb testing.TB) *store.Store {
	tb.Helper()
	st, err := store.Open(store.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// checkModel compares the ledger's committed state with the model.
func wlCheckModel(t *testing.T, c *lt.Chain, w *wlWorkload, where string) {
	t.Helper()
	m := w.m
	addrs := []keys.Address{w.sink}
	for _, a := range w.accts {
		addrs = append(addrs, a.addr)
	}
	addrs = append(addrs, w.devIDs...)
	for _, addr := range addrs {
		got, want := c.Account(addr), m.accts[addr]
		if uint64(got.Balance) != want.bal || got.Nonce != want.nonce || !bytes.Equal(got.PubKey, want.pub) {
			t.Fatalf("%s: account %s: balance %d nonce %d key %x; model balance %d nonce %d key %x",
				where, addr, got.Balance, got.Nonce, got.PubKey, want.bal, want.nonce, want.pub)
		}
	}
	for _, id := range w.devIDs {
		got, ok := c.Device(id)
		want, mok := m.devs[id]
		if ok != mok {
			t.Fatalf("%s: device %s exists=%v, model %v", where, id.Device(), ok, mok)
		}
		if !ok {
			continue
		}
		var problems []string
		check := func(field string, eq bool, g, w any) {
			if !eq {
				problems = append(problems, fmt.Sprintf("%s %v, model %v", field, g, w))
			}
		}
		check("owner", got.Owner == want.owner, got.Owner, want.owner)
		check("status", got.Status == want.status, got.Status, want.status)
		acct := c.Account(id)
		var readings uint64
		if h, _ := acct.ReadingHead(); h != nil {
			readings = h.Count
		}
		// The counter is the account's nonce, which the account check covers.
		check("pubkey", bytes.Equal(got.PubKey, want.pub), got.PubKey, want.pub)
		check("pending", (got.PendingOwner == nil) == (want.pending == nil) &&
			(got.PendingOwner == nil || *got.PendingOwner == *want.pending), got.PendingOwner, want.pending)
		check("tags", slices.Equal(got.Tags, want.tags), got.Tags, want.tags)
		check("readings", readings == want.readings, readings, want.readings)
		check("key rotations", got.KeyRotations == want.rotations, got.KeyRotations, want.rotations)
		if len(problems) > 0 {
			t.Fatalf("%s: device %s: %s", where, id.Device(), strings.Join(problems, "; "))
		}
	}
	for _, ka := range w.keyList {
		r := c.Query("/device/key/" + ka.String())
		id, ok := m.keyIdx[ka]
		switch {
		case ok && (r.Code != 0 || !bytes.Equal(r.Value, id[:])):
			t.Fatalf("%s: key %s: index gives code %d value %x; model says device %s", where, ka, r.Code, r.Value, id.Device())
		case !ok && r.Code == 0:
			t.Fatalf("%s: key %s: index gives %x; model says it serves no device", where, ka, r.Value)
		}
	}
	pool := wlFeePool(t, c.L)
	if pool != m.pool {
		t.Fatalf("%s: fee pool %d, model %d", where, pool, m.pool)
	}
	if sum := wlSumBalances(t, c.Store); sum+pool != m.total {
		t.Fatalf("%s: balances %d + fee pool %d = %d, genesis supply %d", where, sum, pool, sum+pool, m.total)
	}
}

// feePool reads the committed fee pool (0 before any fee).
func wlFeePool(tb testing.TB, l *ledger.Ledger) uint64 {
	tb.Helper()
	r := l.Query(ledger.QueryRequest{Path: "/fee_pool"})
	if r.Code == wlCode(errs.ErrNotFound) {
		return 0
	}
	if r.Code != 0 {
		tb.Fatalf("/fee_pool: %s %s", r.Name, r.Log)
	}
	var a txn.Amount
	if err := txn.Unmarshal(r.Value, &a); err != nil {
		tb.Fatalf("/fee_pool: %v", err)
	}
	return uint64(a)
}

// sumBalances adds up every account in committed state, whoever holds it.
func wlSumBalances(tb testing.TB, st *store.Store) uint64 {
	tb.Helper()
	r, err := st.At(0)
	if err != nil {
		tb.Fatal(err)
	}
	var sum uint64
	var decErr error
	prefix := []byte(account.Prefix)
	end := append(bytes.Clone(prefix[:len(prefix)-1]), prefix[len(prefix)-1]+1)
	if err := r.Iterate(prefix, end, false, func(k, v []byte) bool {
		var a account.Account
		if decErr = txn.Unmarshal(v, &a); decErr != nil {
			return false
		}
		sum += uint64(a.Balance)
		return true
	}); err != nil {
		tb.Fatal(err)
	}
	if decErr != nil {
		tb.Fatal(decErr)
	}
	return sum
}
