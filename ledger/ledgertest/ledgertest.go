// Package ledgertest drives a ledger in tests: fixed named keys, a tx
// builder that tracks nonces, and a block driver over an in-memory (or any)
// store. It is test support, not part of the state machine.
package ledgertest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// ChainID is the chain id of test chains.
const ChainID = "hypha-test-1"

// Genesis time of test chains; each block adds one second.
var Genesis = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultFee and DefaultGas are what Tx attaches.
const (
	DefaultFee = 1_000
	DefaultGas = 1_000_000
)

// Key returns the fixed ed25519 key named name.
func Key(name string) keys.PrivateKey {
	return keys.Ed25519FromSeed(sha256.Sum256([]byte("ed25519/" + name)))
}

// P256Key returns the fixed P-256 key named name.
func P256Key(name string) keys.PrivateKey {
	return keys.P256FromSeed(sha256.Sum256([]byte("p256/" + name)))
}

// SealKey returns the fixed X25519 seal key named name.
func SealKey(name string) keys.SealKey {
	sum := sha256.Sum256([]byte("x25519/" + name))
	k, err := keys.SealKeyFromBytes(sum[:])
	if err != nil {
		panic(err)
	}
	return k
}

// Addr is the address of Key(name).
func Addr(name string) keys.Address { return Key(name).Public().Address() }

// Chain is a ledger driven block by block.
type Chain struct {
	TB     testing.TB
	L      *ledger.Ledger
	Store  *store.Store
	Height int64
	Time   time.Time

	pending map[keys.Address]uint64 // txs built since the last block, per signer
}

// New starts a chain on an in-memory store, funding each named account with
// 1,000,000,000 uhyp.
func New(tb testing.TB, funded ...string) *Chain {
	tb.Helper()
	st, err := store.Open(store.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	g := ledger.Genesis{}
	for _, n := range funded {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: Addr(n), Balance: 1_000_000_000})
	}
	return NewOn(tb, st, g)
}

// NewOn starts a chain on st with genesis g.
func NewOn(tb testing.TB, st *store.Store, g ledger.Genesis) *Chain {
	tb.Helper()
	l, err := ledger.New(st, ledger.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := l.InitChain(ChainID, g); err != nil {
		tb.Fatal(err)
	}
	return &Chain{TB: tb, L: l, Store: st, Time: Genesis, pending: map[keys.Address]uint64{}}
}

// Tx builds a tx signed by signer with its next nonce (committed nonce plus
// the txs built for it since the last block), the default fee, and the
// signer's public key attached.
func (c *Chain) Tx(signer keys.PrivateKey, msgs ...txn.Msg) []byte {
	c.TB.Helper()
	return c.TxCo(signer, nil, msgs...)
}

// TxCo is Tx with co-signers.
func (c *Chain) TxCo(signer keys.PrivateKey, cosigners []keys.PrivateKey, msgs ...txn.Msg) []byte {
	c.TB.Helper()
	return c.TxN(signer, c.NextNonce(signer.Public().Address()), cosigners, msgs...)
}

// NextNonce returns and reserves the next nonce of addr.
func (c *Chain) NextNonce(addr keys.Address) uint64 {
	n := c.Account(addr).Nonce + c.pending[addr]
	c.pending[addr]++
	return n
}

// TxN builds a tx with an explicit nonce and co-signers.
func (c *Chain) TxN(signer keys.PrivateKey, nonce uint64, cosigners []keys.PrivateKey, msgs ...txn.Msg) []byte {
	c.TB.Helper()
	tx, err := txn.New(ChainID, signer.Public().Address(), nonce).WithPubKey(signer.Public()).
		WithFee(DefaultFee, DefaultGas).Add(msgs...).Sign(signer, cosigners...)
	if err != nil {
		c.TB.Fatal(err)
	}
	return tx.Bytes()
}

// DeviceTx builds a tx signed by a device's current key as device id,
// with counter as its nonce.
func (c *Chain) DeviceTx(key keys.PrivateKey, id keys.Address, counter uint64, cosigners []keys.PrivateKey, msgs ...txn.Msg) []byte {
	c.TB.Helper()
	tx, err := txn.New(ChainID, id, counter).WithFee(DefaultFee, DefaultGas).Add(msgs...).Sign(key, cosigners...)
	if err != nil {
		c.TB.Fatal(err)
	}
	return tx.Bytes()
}

// Reading builds a device-signed reading tx with a one-record SenML pack.
func (c *Chain) Reading(key keys.PrivateKey, id keys.Address, counter uint64, name string, value int64) []byte {
	return c.DeviceTx(key, id, counter, nil, &txn.ReadingSubmit{Payload: SenML(name, value)})
}

// SenML returns a one-record SenML CBOR pack {n: name, v: value}.
func SenML(name string, value int64) []byte {
	return txn.MustMarshal([]map[int]any{{0: name, 2: value}})
}

// Block executes txs as the next block and commits it.
func (c *Chain) Block(txs ...[]byte) []ledger.Result {
	c.TB.Helper()
	res, _ := c.BlockHash(txs...)
	return res
}

// BlockHash is Block that also returns the app hash.
func (c *Chain) BlockHash(txs ...[]byte) ([]ledger.Result, []byte) {
	c.TB.Helper()
	c.Height++
	c.Time = c.Time.Add(time.Second)
	res, err := c.L.FinalizeBlock(exec.Header{Height: c.Height, Time: c.Time}, txs)
	if err != nil {
		c.TB.Fatalf("block %d: %v", c.Height, err)
	}
	info, err := c.L.Commit()
	if err != nil {
		c.TB.Fatalf("commit %d: %v", c.Height, err)
	}
	if string(info.AppHash) != string(res.AppHash) {
		c.TB.Fatalf("block %d: committed hash %x differs from FinalizeBlock's %x", c.Height, info.AppHash, res.AppHash)
	}
	clear(c.pending)
	return res.TxResults, res.AppHash
}

// Query runs a query at the latest height.
func (c *Chain) Query(path string) ledger.QueryResponse {
	return c.L.Query(ledger.QueryRequest{Path: path})
}

// Account returns the committed account of addr (zero if none).
func (c *Chain) Account(addr keys.Address) account.Account {
	c.TB.Helper()
	var a account.Account
	c.get("/account/"+addr.String(), &a)
	return a
}

// Device returns the committed device record of id, and whether it exists.
func (c *Chain) Device(id keys.Address) (device.Device, bool) {
	c.TB.Helper()
	var d device.Device
	return d, c.get("/device/"+id.String(), &d)
}

func (c *Chain) get(path string, v any) bool {
	c.TB.Helper()
	r := c.Query(path)
	if r.Code != 0 {
		return false
	}
	if err := txn.Unmarshal(r.Value, v); err != nil {
		c.TB.Fatalf("decode %s: %v", path, err)
	}
	return true
}

// Register returns a device.register msg for dev's key.
func Register(dev keys.PrivateKey, model string, tags ...string) *txn.DeviceRegister {
	return &txn.DeviceRegister{PubKey: dev.Public().Bytes(), Model: model, Tags: tags}
}
