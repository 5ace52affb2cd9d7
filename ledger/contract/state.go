// Package contract is the ledger's contract domain: WebAssembly code
// uploaded in chunks and stored by hash, contract instances with their own
// account and storage, and the calls that run them through a Runtime (the
// vm package, behind the small interface in runtime.go, so that the ledger
// stays free of the engine and its system calls).
//
// It owns the state prefix "ctr/":
//
//	ctr/c/{hash:32}                      -> Code (metadata of stored code)
//	ctr/b/{hash:32}{uploader:20}{idx:4}  -> chunk idx of the code, as uploaded
//	ctr/u/{uploader:20}{hash:32}         -> Upload (an upload in progress)
//	ctr/i/{contract:20}                  -> Contract
//	ctr/s/{contract:20}{key}             -> 0x00 || value (the contract's storage)
//
// Code bytes stay where their chunks were uploaded: the chunk that
// completes an upload turns it into code without copying megabytes. The
// code record names the uploader and the chunk count, which locate them.
//
// A storage value is kept behind a 0x00 byte because the store cannot hold
// (or prove) an empty value and a contract may store one; a proof of
// /contract/{addr}/state/{key} covers these stored bytes.
//
// Contract commands go to the recipient's inbox in the message domain's
// layout (host.go); contract events are "contract.<topic>".
package contract

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

// Key prefixes.
const (
	Prefix         = "ctr/"
	codePrefix     = "ctr/c/"
	chunkPrefix    = "ctr/b/"
	uploadPrefix   = "ctr/u/"
	instancePrefix = "ctr/i/"
	storagePrefix  = "ctr/s/"
)

// valueTag starts every stored storage value.
const valueTag = 0x00

// Code is the record of stored code.
type Code struct {
	Hash     []byte       `cbor:"1,keyasint" json:"hash"`
	Size     uint64       `cbor:"2,keyasint" json:"size"`
	Uploader keys.Address `cbor:"3,keyasint" json:"uploader"`
	// Chunks is the number of chunks under ctr/b/{hash}{uploader}.
	Chunks uint32 `cbor:"4,keyasint" json:"chunks"`
	Height int64  `cbor:"5,keyasint" json:"height"`
	// Entries are the entry points the code exports.
	Entries []string `cbor:"6,keyasint" json:"entries"`
	// InitGas is the gas of the code's one-time initialiser, charged when
	// it was stored.
	InitGas uint64 `cbor:"7,keyasint" json:"init_gas"`
	TxHash  []byte `cbor:"8,keyasint" json:"tx_hash"`
}

// HasEntry tells whether the code exports the entry point.
func (c *Code) HasEntry(name string) bool { return slices.Contains(c.Entries, name) }

// Upload is an upload in progress.
type Upload struct {
	Hash      []byte       `cbor:"1,keyasint" json:"hash"`
	Uploader  keys.Address `cbor:"2,keyasint" json:"uploader"`
	TotalSize uint64       `cbor:"3,keyasint" json:"total_size"`
	// Received bytes in Chunks chunks; the next chunk has index Chunks.
	Received uint64 `cbor:"4,keyasint" json:"received"`
	Chunks   uint32 `cbor:"5,keyasint" json:"chunks"`
	Started  int64  `cbor:"6,keyasint" json:"started"`
}

// Contract is a contract instance. Its balance is an ordinary account
// (package account) at Address.
type Contract struct {
	Address  keys.Address  `cbor:"1,keyasint" json:"address"`
	CodeHash []byte        `cbor:"2,keyasint" json:"code_hash"`
	Creator  keys.Address  `cbor:"3,keyasint" json:"creator"`
	Admin    *keys.Address `cbor:"4,keyasint,omitempty" json:"admin,omitempty"`
	Label    string        `cbor:"5,keyasint,omitempty" json:"label,omitempty"`
	Created  int64         `cbor:"6,keyasint" json:"created"`
	TxHash   []byte        `cbor:"7,keyasint" json:"tx_hash"`
	// Migrated is the height of the last migration (0: never).
	Migrated int64 `cbor:"8,keyasint,omitempty" json:"migrated,omitempty"`
}

// DeviceInfo is a device as a contract reads it (host function device), in
// canonical CBOR. It is part of the contract ABI: fields are only added.
type DeviceInfo struct {
	ID       keys.Address  `cbor:"1,keyasint"`
	Owner    keys.Address  `cbor:"2,keyasint"`
	Model    string        `cbor:"3,keyasint"`
	Firmware string        `cbor:"4,keyasint,omitempty"`
	Status   uint8         `cbor:"5,keyasint"` // 0 active, 1 revoked, 2 decommissioned
	Tags     []string      `cbor:"6,keyasint,omitempty"`
	Location *txn.Location `cbor:"7,keyasint,omitempty"`
	// Registered is the registration height; Readings the number of
	// direct readings so far.
	Registered int64  `cbor:"8,keyasint"`
	Readings   uint64 `cbor:"9,keyasint"`
}

// ReadingInfo is a device's latest direct reading as a contract reads it
// (host function latest_reading), in canonical CBOR. Part of the ABI.
type ReadingInfo struct {
	Device  keys.Address `cbor:"1,keyasint"`
	Counter uint64       `cbor:"2,keyasint"`
	Index   uint64       `cbor:"3,keyasint"`
	Height  int64        `cbor:"4,keyasint"`
	Time    int64        `cbor:"5,keyasint"` // block time, Unix ns
	// Payload is the SenML CBOR pack as the device signed it.
	Payload []byte `cbor:"6,keyasint"`
}

// Command is the plaintext box of an inbox entry of kind
// txn.KindContractCommand.
type Command struct {
	Kind    string `cbor:"1,keyasint"`
	Payload []byte `cbor:"2,keyasint,omitempty"`
}

func cat(prefix string, parts ...[]byte) []byte {
	out := []byte(prefix)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// CodeKey is the key of a code record.
func CodeKey(hash [32]byte) []byte { return cat(codePrefix, hash[:]) }

// CodePrefix is the prefix of every code record.
func CodePrefix() []byte { return []byte(codePrefix) }

// ChunkKey is the key of chunk idx of an upload.
func ChunkKey(hash [32]byte, uploader keys.Address, idx uint32) []byte {
	return binary.BigEndian.AppendUint32(cat(chunkPrefix, hash[:], uploader[:]), idx)
}

// UploadKey is the key of an upload in progress.
func UploadKey(uploader keys.Address, hash [32]byte) []byte {
	return cat(uploadPrefix, uploader[:], hash[:])
}

// InstanceKey is the key of a contract record.
func InstanceKey(addr keys.Address) []byte { return cat(instancePrefix, addr[:]) }

// InstancePrefix is the prefix of every contract record.
func InstancePrefix() []byte { return []byte(instancePrefix) }

// StoragePrefix is the prefix of a contract's storage.
func StoragePrefix(addr keys.Address) []byte { return cat(storagePrefix, addr[:]) }

// StorageKey is the key of one entry of a contract's storage.
func StorageKey(addr keys.Address, key []byte) []byte { return cat(storagePrefix, addr[:], key) }

// StorageValue returns the value a contract stored, from the stored bytes
// (a query answer); false if they are not a storage value.
func StorageValue(stored []byte) ([]byte, bool) {
	if len(stored) == 0 || stored[0] != valueTag {
		return nil, false
	}
	return stored[1:], true
}

// Address is the address of the contract that msg msgIndex of creator's tx
// with nonce instantiates: the first 20 bytes of
// SHA-256("hypha/contract/v1" || creator || nonce:8 || msgIndex:2). A
// client knows it before sending the tx.
func Address(creator keys.Address, nonce uint64, msgIndex uint16) keys.Address {
	h := sha256.New()
	h.Write([]byte("hypha/contract/v1"))
	h.Write(creator[:])
	h.Write(binary.BigEndian.AppendUint64(nil, nonce))
	h.Write(binary.BigEndian.AppendUint16(nil, msgIndex))
	return keys.Address(h.Sum(nil)[:keys.AddressSize])
}
