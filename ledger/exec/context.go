// Package exec is the execution context the ledger's domain packages share:
// a gas-metered view of state for one tx, the block header, the tx's verified
// signers, and typed events. It is deterministic: no I/O, clock or randomness.
package exec

import (
	"strconv"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

// Header is what the ledger takes from a block header.
type Header struct {
	ChainID  string
	Height   int64
	Time     time.Time // the block's time (BFT time), never the wall clock
	Proposer []byte    // validator address
}

// GasSchedule prices every metered operation. It is a chain parameter.
type GasSchedule struct {
	TxBase      uint64 `json:"tx_base" cbor:"1,keyasint"`
	TxByte      uint64 `json:"tx_byte" cbor:"2,keyasint"`
	SigEd25519  uint64 `json:"sig_ed25519" cbor:"3,keyasint"`
	SigP256     uint64 `json:"sig_p256" cbor:"4,keyasint"`
	ReadFlat    uint64 `json:"read_flat" cbor:"5,keyasint"`
	ReadByte    uint64 `json:"read_byte" cbor:"6,keyasint"`
	WriteFlat   uint64 `json:"write_flat" cbor:"7,keyasint"`
	WriteByte   uint64 `json:"write_byte" cbor:"8,keyasint"`
	DeleteFlat  uint64 `json:"delete_flat" cbor:"9,keyasint"`
	ReadingByte uint64 `json:"reading_byte" cbor:"10,keyasint"`
}

// DefaultGas is the default schedule.
func DefaultGas() GasSchedule {
	return GasSchedule{TxBase: 2000, TxByte: 5, SigEd25519: 1000, SigP256: 3000,
		ReadFlat: 100, ReadByte: 1, WriteFlat: 500, WriteByte: 10, DeleteFlat: 200, ReadingByte: 5}
}

// OutOfGas is the panic value when a tx exceeds its gas limit; the ledger
// recovers it at the tx boundary and reports ErrOutOfGas.
type OutOfGas struct{ Limit, Wanted uint64 }

// Meter counts gas for one tx.
type Meter struct {
	Limit uint64
	Used  uint64
}

// Consume adds n to the used gas and panics with OutOfGas past the limit.
func (m *Meter) Consume(n uint64) {
	used := m.Used + n
	if used < m.Used { // wrapped: more than any limit
		m.Used = m.Limit
		panic(OutOfGas{Limit: m.Limit, Wanted: ^uint64(0)})
	}
	if used > m.Limit {
		m.Used = m.Limit
		panic(OutOfGas{Limit: m.Limit, Wanted: used})
	}
	m.Used = used
}

// Attr is one event attribute. Index marks attributes worth a lookup in the
// node's tx indexer; keep it to ids (device, account), not payload details.
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Index bool   `json:"index,omitempty"`
}

// Event is a typed event reported with a tx result.
type Event struct {
	Type  string `json:"type"`
	Attrs []Attr `json:"attrs"`
}

// Context is one tx's view of the ledger.
type Context struct {
	Header Header
	Gas    *GasSchedule
	Meter  *Meter
	TxHash [32]byte
	// Signer is the tx's signer address (an account or a device id).
	Signer keys.Address
	// SignerIsDevice tells whether Signer is a registered device.
	SignerIsDevice bool
	// Cosigners are the keys whose co-signatures on this tx verified.
	Cosigners []keys.PublicKey
	// Nonce is the tx nonce (for a device signer, its counter).
	Nonce uint64
	// TxIndex is the tx's position in its block; MsgIndex the msg's in its tx.
	TxIndex  uint32
	MsgIndex uint16

	kv     *Cache
	events []Event
}

// NewContext returns a context over kv.
func NewContext(h Header, gas *GasSchedule, meter *Meter, kv *Cache) *Context {
	return &Context{Header: h, Gas: gas, Meter: meter, kv: kv}
}

// Get reads key, charging read gas.
func (c *Context) Get(key []byte) []byte {
	v := c.kv.MustGet(key)
	c.Meter.Consume(c.Gas.ReadFlat + c.Gas.ReadByte*uint64(len(key)+len(v)))
	return v
}

// Set writes key=value, charging write gas.
func (c *Context) Set(key, value []byte) {
	c.Meter.Consume(c.Gas.WriteFlat + c.Gas.WriteByte*uint64(len(key)+len(value)))
	c.kv.Set(key, value)
}

// Delete removes key, charging delete gas.
func (c *Context) Delete(key []byte) {
	c.Meter.Consume(c.Gas.DeleteFlat)
	c.kv.Delete(key)
}

// Has tells whether key is present, charging read gas.
func (c *Context) Has(key []byte) bool { return c.Get(key) != nil }

// GetRecord reads and decodes a CBOR record; false when absent. A record
// that does not decode is state corruption and panics as a StorageFault.
func (c *Context) GetRecord(key []byte, v any) bool {
	b := c.Get(key)
	if b == nil {
		return false
	}
	if err := txn.UnmarshalRecord(b, v); err != nil {
		panic(StorageFault{Err: errs.ErrInternal.WithCause(err, "decode record %x", key)})
	}
	return true
}

// SetRecord encodes v in canonical CBOR and writes it.
func (c *Context) SetRecord(key []byte, v any) { c.Set(key, txn.MustMarshal(v)) }

// Unmetered runs fn with c's meter swapped for an unlimited one, for work
// whose gas the caller charges on its own terms (or not at all).
func Unmetered[T any](c *Context, fn func() T) T {
	m := c.Meter
	c.Meter = &Meter{Limit: ^uint64(0)}
	defer func() { c.Meter = m }()
	return fn()
}

// Emit records an event.
func (c *Context) Emit(typ string, attrs ...Attr) {
	c.events = append(c.events, Event{Type: typ, Attrs: attrs})
}

// Events returns the events emitted so far.
func (c *Context) Events() []Event { return c.events }

// HasCosigner tells whether pk co-signed this tx.
func (c *Context) HasCosigner(addr keys.Address) bool {
	for _, k := range c.Cosigners {
		if k.Address() == addr {
			return true
		}
	}
	return false
}

// A builds an attribute; Ix builds an indexed one.
func A(k, v string) Attr  { return Attr{Key: k, Value: v} }
func Ix(k, v string) Attr { return Attr{Key: k, Value: v, Index: true} }

// U renders an unsigned integer attribute value.
func U(v uint64) string { return strconv.FormatUint(v, 10) }
