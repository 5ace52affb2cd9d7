package contract

import "time"

// Runtime runs contract code for the ledger. The node supplies one (package
// vm/vmledger adapts the vm package's Engine); every node of a network must
// run the same runtime version with the same limits, since the runtime
// decides what code is admitted and what every call does and costs.
//
// Both methods are deterministic functions of their inputs and of what the
// Host returns, and safe for concurrent use: CheckTx and FinalizeBlock call
// them from two goroutines.
//
// Errors carry an errs class. Deploy: errs.ErrInvalidModule (the code is
// not a module the runtime admits, or its initialiser fails),
// errs.ErrPayloadTooLarge. Call: errs.ErrOutOfGas, errs.ErrTrap,
// errs.ErrCallDepth, errs.ErrMemoryLimit, errs.ErrReverted,
// errs.ErrNoEntryPoint, errs.ErrPayloadTooLarge, errs.ErrGasLimitTooHigh,
// errs.ErrInvalidModule, or an error of the Host returned unchanged. An
// unclassified error is a fault of the runtime (errs.ErrInternal).
type Runtime interface {
	// Deploy validates, instruments and compiles code, and runs its
	// one-time initialiser, so that later calls find it ready. It reports
	// the entry points the code exports and the gas of the initialiser.
	Deploy(code []byte) (Deployment, error)
	// Call runs inv.Entry of the code whose SHA-256 is hash, against host.
	// load returns that code, as stored; the runtime calls it only when it
	// does not hold the module already (its cache by hash), so nothing a
	// call reports may depend on whether it did. Call reports the gas used
	// with or without an error; the caller discards what the call wrote
	// through host when it fails.
	Call(hash [32]byte, load func() ([]byte, error), inv Invocation, host Host) (Result, error)
}

// Deployment describes code the runtime admitted.
type Deployment struct {
	// Entries are the entry points exported, in EntryPoints order.
	Entries []string
	// InitGas is the gas the one-time initialiser used.
	InitGas uint64
}

// Entry points: the ledger runs instantiate (optional) when a contract is
// created, call on contract.call and migrate on contract.migrate. The
// trigger entry points are reserved for triggers.
const (
	EntryInstantiate = "instantiate"
	EntryCall        = "call"
	EntryMigrate     = "migrate"
	EntryOnReading   = "on_reading"
	EntryOnMessage   = "on_message"
	EntryOnTick      = "on_tick"
)

// Invocation is one call of a contract.
type Invocation struct {
	Entry string
	// Input is the msg's args, as sent.
	Input []byte
	// GasLimit is the gas the call may use: what the tx has left.
	GasLimit uint64
	// Caller is the address that caused the call (the tx signer);
	// Contract is the contract's own; 20 bytes each.
	Caller, Contract []byte
	Height           int64
	Time             time.Time
	// Funds is the amount attached by the caller (already credited).
	Funds uint64
	// Seed is SHA-256(height:8 || tx hash || msg index:2).
	Seed [32]byte
}

// Result is the outcome of a call.
type Result struct {
	// GasUsed is the runtime's gas, charged to the tx one for one.
	GasUsed uint64
	// Return is the data the contract returned.
	Return []byte
	// Output is what the contract printed: a diagnostic, never state.
	Output []byte
}

// Host is the ledger as a running contract sees it; the method set is the
// vm package's Host (see its documentation for the contract of each
// method). A method refuses a request with an error of an errs class that
// is the contract's doing (the contract receives the code as a status);
// any other error ends the call.
type Host interface {
	Get(key []byte) ([]byte, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	Next(prefix, after []byte) (key, value []byte, err error)
	Emit(topic string, data []byte) error
	Device(id []byte) ([]byte, error)
	LatestReading(id []byte) ([]byte, error)
	Balance(addr []byte) (uint64, error)
	Transfer(to []byte, amount uint64) error
	Send(to []byte, kind string, payload []byte) error
}
