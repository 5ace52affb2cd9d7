package vm

import "errors"

// Failure classes of contract deployment and execution that errs does not
// define yet. Callers branch on them with errors.Is; the ledger maps each to
// a stable errs class. Errors of classes errs already has are returned as
// those classes: errs.ErrOutOfGas (gas exhausted, in the code or in a host
// call), errs.ErrPayloadTooLarge (code, input, key, value, event or return
// data over its limit).
var (
	// ErrInvalidModule: the code is not a module this runtime admits
	// (malformed, a rejected feature or import, a limit exceeded).
	ErrInvalidModule = errors.New("invalid contract module")
	// ErrNoEntryPoint: the module does not export the entry point called.
	ErrNoEntryPoint = errors.New("contract has no such entry point")
	// ErrTrap: the contract trapped (unreachable, out-of-bounds access,
	// division by zero, a bad pointer passed to a host function, a Go panic
	// or os.Exit, ...).
	ErrTrap = errors.New("contract trapped")
	// ErrCallDepth: the call-stack budget (Limits.MaxCallDepth) was exceeded.
	ErrCallDepth = errors.New("contract call depth exceeded")
	// ErrMemoryLimit: memory.grow asked for more than Limits.MaxMemoryPages.
	ErrMemoryLimit = errors.New("contract memory limit exceeded")
	// ErrReverted: the contract called revert; the message is its reason.
	ErrReverted = errors.New("contract reverted")
)
