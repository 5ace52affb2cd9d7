package vm

import "time"

// Host is the ledger as a contract sees it during one call. The caller (the
// ledger's contract package) supplies one per call; it is scoped to the
// called contract, so keys are the contract's own storage.
//
// Host is a write-back cache: the engine never undoes a write. When Call
// returns an error (trap, out of gas, revert, ...) the caller must discard
// everything the call wrote through the Host — storage, events, transfers,
// messages — and keep only the gas charge.
//
// The engine calls Host from the goroutine running Call, one method at a
// time. Slices passed in are copies the Host may keep; slices returned are
// copied into the contract before the next call.
//
// Errors. A method returns an error of an errs class that is the contract's
// own doing (errs.ErrInsufficientFunds, errs.ErrInvalidAddress,
// errs.ErrUnknownDevice, errs.ErrNoGrant, ...) to refuse a request: the
// contract receives the class code as the status of the host call and may
// carry on. Any other error (errs.Of gives errs.ErrInternal, e.g. a store
// I/O failure) aborts the call and is returned by Call unchanged.
type Host interface {
	Storage
	Chain
}

// Storage is the contract's own key-value store.
type Storage interface {
	// Get returns the value under key, or nil if there is none.
	Get(key []byte) ([]byte, error)
	// Set stores value (never nil, possibly empty) under key.
	Set(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte) error
	// Next returns the first entry whose key starts with prefix and sorts
	// strictly after after (byte-wise), or a nil key if there is none. An
	// empty after starts at the prefix itself.
	Next(prefix, after []byte) (key, value []byte, err error)
}

// Chain is the rest of the ledger a contract may read or act on. Record
// encodings (devices, readings) are defined by the ledger's contract
// package, not by this runtime.
type Chain interface {
	// Emit records an event of the contract.
	Emit(topic string, data []byte) error
	// Device returns the encoded record of a device, or nil if there is none.
	Device(id []byte) ([]byte, error)
	// LatestReading returns the device's latest reading, encoded, or nil.
	LatestReading(id []byte) ([]byte, error)
	// Balance returns an account's balance in the base denomination.
	Balance(addr []byte) (uint64, error)
	// Transfer moves amount from the contract's account to addr.
	Transfer(to []byte, amount uint64) error
	// Send sends a command message of the given kind from the contract to a
	// device or account.
	Send(to []byte, kind string, payload []byte) error
}

// Invocation is one call of a contract.
type Invocation struct {
	// Entry is the exported function to run; one of EntryPoints.
	Entry string
	// Input is what the contract reads with input(); its encoding is
	// defined per entry point by the ledger.
	Input []byte
	// GasLimit bounds the gas the call may use, code and host calls
	// together. At most MaxGasLimit.
	GasLimit uint64
	// Caller is the address of the account or device that caused the call
	// (the tx signer, the device whose reading triggered it, or empty for
	// on_tick); Contract is the contract's own address.
	Caller, Contract []byte
	// Height and Time are the block's; Time is the only clock a contract
	// sees (the WASI realtime clock reads it too).
	Height int64
	Time   time.Time
	// Funds is the amount the caller attached, already credited to the
	// contract's balance when the call starts (0 for triggers).
	Funds uint64
	// Seed feeds the contract's randomness (WASI random_get): the ledger
	// derives it from the block and the transaction so that every node
	// draws the same bytes.
	Seed [32]byte
}

// MaxGasLimit bounds Invocation.GasLimit; the gas counter is a signed
// 64-bit integer that every charge must keep clear of overflow.
const MaxGasLimit = 1 << 62

// Result is the outcome of a call, returned with or without an error.
type Result struct {
	// GasUsed is the gas the call consumed; with errs.ErrOutOfGas it equals
	// the limit. The ledger charges it whatever the outcome.
	GasUsed uint64
	// Return is the data the contract passed to set_return (nil if none).
	Return []byte
	// Output is what the contract wrote to stdout and stderr (a Go panic
	// message, for instance), truncated to MaxOutputBytes. It is a
	// diagnostic for logs, never consensus data.
	Output []byte
}

// MaxOutputBytes bounds Result.Output.
const MaxOutputBytes = 4 << 10
