// Package vm is Hypha's contract runtime: it validates WebAssembly contracts
// at deployment, instruments them for deterministic metering, and runs them
// on wazero against a Host the ledger supplies.
//
// # Use
//
//	mod, err := vm.Validate(code, limits)          // deploy: static checks + instrumentation
//	e, err := vm.NewEngine(ctx, vm.Config{Limits: limits})
//	initGas, err := e.Load(ctx, mod)               // deploy: compile, run the initialiser
//	res, err := e.Call(ctx, mod, vm.Invocation{Entry: vm.EntryCall, ...}, host)
//
// Every outcome is a function of the code, the Limits, the Invocation and
// what the Host returns: the same on every node, architecture and wazero
// engine (compiler or interpreter), gas included. The ledger owns the rest:
// which entry point runs when, the encodings of inputs and records, undoing
// a failed call's writes (Host), and converting contract gas into fees.
//
// # What a module may be
//
// Validate admits WebAssembly 2.0 minus the features that are
// nondeterministic or not needed, and rejects everything else with
// ErrInvalidModule:
//
//   - Code at most Limits.MaxCodeBytes (errs.ErrPayloadTooLarge), function
//     bodies at most MaxFunctionBytes, at most MaxFunctions functions,
//     MaxLocals params+locals per function, MaxGlobals globals, MaxExports
//     exports. Every vector length is checked against the bytes that follow
//     before wabin decodes (skim.go): a small module cannot make the
//     validator allocate gigabytes.
//   - Exactly one memory, defined (not imported), initial and maximum size
//     at most MaxMemoryPages; wazero enforces the cap at run time
//     (WithMemoryLimitPages). At most one funcref table, at most
//     MaxTableElements, immutable: no table or reference-type instructions
//     (table.*, ref.*, elem.drop, typed select of references), only active
//     element segments of table 0 at constant offsets.
//   - No SIMD (v128 anywhere), no threads or atomics, no tail calls, no
//     exceptions, no multiple memories, no memory64.
//   - Bulk memory: memory.copy and memory.fill are admitted — Go's wasip1
//     output uses them (memmove, memclr) — and charged per byte.
//     memory.init, data.drop and passive data segments are rejected (Go does
//     not use them, and they would need the data count section wabin does
//     not re-encode).
//   - Saturating float-to-int conversions and sign extension (Go uses both)
//     and multi-value are admitted.
//   - No start function (state changes belong in the instantiate entry
//     point). Imports only of functions, only of the hypha_v1 module
//     (abi.go) and the WASI subset below, each with its exact signature.
//   - At least one entry point (EntryPoints), each of type [] -> []; an
//     _initialize export, if any, of type [] -> [] too. Export names
//     starting with "__hypha" are reserved.
//
// # Floats
//
// Floats are admitted: Go's runtime uses them (GC pacing, strconv), so
// rejecting them would reject every Go contract. WebAssembly float
// arithmetic is IEEE 754 with round-to-nearest and no fused operations, so
// results are bit-exact everywhere — except the sign and payload of a NaN
// an instruction produces, which the spec leaves to the hardware (amd64
// gives 0xfff8…, arm64 0x7ff8…). The instrumenter therefore follows every
// instruction that can produce a NaN (add, sub, mul, div, sqrt, min, max,
// ceil, floor, trunc, nearest, promote, demote) with a canonicalisation:
// a NaN result becomes the canonical positive quiet NaN (f32 0x7fc00000,
// f64 0x7ff8000000000000). The bitwise operations (abs, neg, copysign,
// loads, stores, reinterpret) are exact on their inputs, so no NaN bits
// observed by a contract depend on the machine.
//
// # Metering
//
// Gas is injected into the code at deployment (meter.go), so metering does
// not depend on the engine. An i64 global holds the gas left. Each basic
// block — a straight run of code entered only at its top: the function
// start, after loop, if, else, end, br, br_if, br_table, return and
// unreachable — begins by subtracting its static cost (GasSchedule.Instr
// per instruction, plus Call per call and call_indirect). memory.grow
// charges MemoryPage per page asked for and memory.copy and memory.fill
// Bulk per 16 bytes, before they run. Host functions charge the same
// counter. A call also pays for its fresh instance (GasSchedule.Instance,
// per page of initial memory and per table element) before it starts.
//
// The counter is not checked after every subtraction, only where work
// could otherwise go on without bound; a check traps when the counter is
// negative:
//
//   - at every function entry, after the call-depth prologue (so every call
//     and call_indirect is checked);
//   - at the top of every loop body, so every backward branch is;
//   - after the charge of memory.grow, memory.copy and memory.fill, before
//     the operation: no growth or bulk work on exhausted gas;
//   - on exit from every function that has an unchecked charge, so that a
//     caller never runs on after its callee exhausted the gas;
//   - in every host function (hypha_v1 and WASI), which ends the call out
//     of gas before doing anything when the counter is already negative —
//     no Host method, output or state change on exhausted gas.
//
// Between two checks runs only straight-line, forward code of one
// function: a backward branch lands on a loop top, a call on a function
// entry, a return on the exit check (or leaves a function whose every
// charge is checked at once), and host calls and memory operations of
// unbounded cost are checked first. Once the gas has run out, the function
// that ran it out goes on at most to the end of its body — at most
// MaxFunctionBytes instructions; no callee body, host function, growth or
// bulk operation runs — and no caller runs on. The counter goes at most
// MaxFunctionBytes×(Instr+Call) plus one checked dynamic charge below zero,
// far from overflowing an i64 that starts at most at MaxGasLimit (2^62).
//
// The counter only ever decreases, so a negative counter at the end of a
// call means the gas ran out at the very charge where checking after every
// charge would have stopped the call, and nothing the code did after that
// is visible: no host function ran. The engine decides accordingly:
//
//   - a call (or initialiser) that ends with the counter negative is out
//     of gas — errs.ErrOutOfGas, GasUsed equal to the limit, no return
//     data — whatever ended it: a trap (unreachable, division by zero, an
//     out-of-bounds access), the call-depth budget (a call made after the
//     gas ran out may hit it before the callee's entry check), or a normal
//     return (which the exit checks already prevent);
//   - an error a host function records (a bad pointer, revert, proc_exit,
//     payload too large, a Host failure, its own out of gas) is reported
//     as is: host functions run only with a non-negative counter.
//
// A call that succeeds, or fails in any other way, uses exactly the gas it
// would with a check after every charge: the subtractions are the same,
// and the outcome is the same for every gas limit.
//
// memory.grow past the cap traps with ErrMemoryLimit instead of returning
// -1: running out of memory is then one clear error, for Go (whose runtime
// would abort anyway) and for any other toolchain.
//
// # Call depth
//
// wazero's own stack limits differ between engines (the interpreter stops
// at 2,000 frames, the compiler at 400 MB of native stack), so they must
// never be reached. An i32 global counts frame units: each function adds
// 1 + (params+locals)/64 + bodyBytes/8192 on entry — a bound on the native
// stack its frame may take — traps with ErrCallDepth past
// Limits.MaxCallDepth (default 1,024, at most 1,800), and subtracts them on
// exit. The body is wrapped in a block and return is rewritten as a branch
// to it, so every exit passes through the one epilogue. A Go recursion
// about 1,000 deep fails with ErrCallDepth on every engine.
//
// # WASI
//
// Go's GOOS=wasip1 output imports wasi_snapshot_preview1; the runtime
// implements a deterministic subset (wasi.go): no arguments, no
// environment, no files or sockets (every descriptor but stdout and stderr
// is closed; the fs and socket functions Go may link answer ENOSYS).
// stdout and stderr are captured into Result.Output (4 KiB) — a Go panic's
// message shows there and in the error. The realtime clock reads the block
// time plus the virtual time elapsed in the call; the monotonic clock is
// virtual and advances 1 µs per reading and by the length of every sleep
// (poll_oneoff returns at once). random_get draws from SHA-256 in counter
// mode over Invocation.Seed. proc_exit ends the call with ErrTrap. Nothing
// reads the host's clock or entropy.
//
// # Go contracts and the initialiser
//
// A Go contract (package vm/sdk) is built with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared and exports its entry points with //go:wasmexport. Its
// _initialize export starts Go's runtime: about a million instructions.
// The engine runs it once per loaded module, with no host (a hypha_v1 call
// from a package initialiser fails the load), Unix time 0 and a seed
// derived from the code hash, and snapshots memory and globals into an
// image (image.go). Every call starts a fresh instance from that image, so
// calls share nothing and pay only for their own work. The image is a
// function of the code and the limits: Load reports the initialiser's gas
// for the ledger to charge at deployment, and fails with ErrInvalidModule
// if the initialiser fails or needs more than MaxInitGas. Go's own
// randomness (map order, math/rand's global source) is seeded in the image
// and so fixed per module; contracts draw per-call randomness with
// sdk.Random.
//
// # Errors
//
// Validate: ErrInvalidModule, errs.ErrPayloadTooLarge. Load:
// ErrInvalidModule. Call: errs.ErrOutOfGas, ErrCallDepth, ErrMemoryLimit,
// ErrTrap, ErrReverted, ErrNoEntryPoint, errs.ErrPayloadTooLarge,
// errs.ErrGasLimitTooHigh, or a Host error that is not a refusal (see
// Host). A trap's class comes from the injected globals and the host
// functions' records, never from wazero's message, so engines agree.
package vm
