package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hypha-iot/hypha/errs"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Config configures an Engine.
type Config struct {
	// Limits must be the limits the modules were validated with.
	Limits Limits
	// Interpreter forces wazero's interpreter. By default the Engine uses
	// the compiler where wazero supports it (amd64, arm64) and the
	// interpreter elsewhere; both give the same results and gas.
	Interpreter bool
	// CacheSize bounds the compiled modules kept in memory; 0 means 64.
	CacheSize int
}

// Engine runs contracts. It is safe for concurrent use; each call runs in
// a fresh instance of its module, so calls share nothing but the compiled
// code.
type Engine struct {
	lim  Limits
	rt   wazero.Runtime
	size int
	mem  memPool

	mu    sync.Mutex
	cache map[[32]byte]*compiled
	lru   []*compiled // least recently used first
}

// compiled is a cache entry; refs counts the calls using it, and an entry
// evicted while in use is closed by its last user.
type compiled struct {
	key  [32]byte
	once sync.Once
	cm   wazero.CompiledModule
	img  *image
	err  error
	refs int  // guarded by Engine.mu
	dead bool // guarded by Engine.mu
}

// stateKey keys the call state in the context host functions receive.
type stateKey struct{}

// NewEngine starts a wazero runtime with the host modules. Close releases it.
func NewEngine(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfig()
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rc = rc.WithCoreFeatures(api.CoreFeaturesV2 &^ api.CoreFeatureSIMD).
		WithMemoryLimitPages(cfg.Limits.MaxMemoryPages).
		WithCloseOnContextDone(false).
		WithDebugInfoEnabled(false)
	e := &Engine{lim: cfg.Limits, rt: wazero.NewRuntimeWithConfig(ctx, rc), size: cfg.CacheSize,
		cache: make(map[[32]byte]*compiled)}
	if e.size <= 0 {
		e.size = 64
	}
	for _, hm := range []struct {
		name  string
		funcs map[string]hostFunc
	}{{ABIModule, abiV1}, {wasiModule, wasiV1}} {
		b := e.rt.NewHostModuleBuilder(hm.name)
		for name, hf := range hm.funcs {
			b.NewFunctionBuilder().WithGoModuleFunction(hostAdapter(hm.name, name, hf.fn),
				hf.params, hf.results).Export(name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			e.rt.Close(ctx)
			return nil, fmt.Errorf("vm: host module %s: %w", hm.name, err)
		}
	}
	return e, nil
}

// hostAdapter wraps a host function for wazero: it finds the call state,
// ends the call out of gas if the counter is already negative (the code
// does not check it after every charge: see doc.go, "Metering"), refuses the host ABI during initialisation, and turns a
// panic of the Host (a bug, not the contract's doing) into an internal
// error rather than a trap.
func hostAdapter(module, name string, fn func(*callState, []uint64)) api.GoModuleFunc {
	abi := module == ABIModule
	return func(ctx context.Context, _ api.Module, stack []uint64) {
		s := ctx.Value(stateKey{}).(*callState)
		if s.gasLeft() < 0 {
			s.abort(errs.ErrOutOfGas.Wrap("contract used its %d gas", s.inv.GasLimit))
		}
		if abi && s.host == nil {
			s.trap("%s.%s called during %s", ABIModule, name, initExport)
		}
		defer func() {
			if r := recover(); r != nil && r != errHostAbort {
				s.err = errs.ErrInternal.Wrap("host function %s.%s panicked: %v", module, name, r)
				panic(errHostAbort)
			} else if r != nil {
				panic(r)
			}
		}()
		fn(s, stack)
	}
}

// Close releases the runtime and every compiled module. Calls in progress
// must have returned.
func (e *Engine) Close(ctx context.Context) error { return e.rt.Close(ctx) }

// Load compiles the module (WebAssembly type checking included) and builds
// its image (image.go), running its initialiser, into the cache. It returns
// the gas the initialiser used, a function of the module and the limits
// alone. The ledger calls Load at deployment, rejecting a module that fails
// (ErrInvalidModule: it does not compile, or its initialiser fails or needs
// more than Limits.MaxInitGas) and charging the initialiser's gas; Call
// loads on demand.
func (e *Engine) Load(ctx context.Context, mod *Module) (initGas uint64, err error) {
	if mod.Limits != e.lim {
		return 0, errOtherLimits
	}
	c, err := e.acquire(ctx, mod)
	if err != nil {
		return 0, err
	}
	defer e.release(ctx, c)
	return c.img.initGas, nil
}

var errOtherLimits = errors.New("vm: module validated with other limits than the engine's")

// Call runs one entry point of mod in a fresh instance. It returns the gas
// used in every case. Errors: ErrNoEntryPoint, errs.ErrOutOfGas,
// ErrCallDepth, ErrMemoryLimit, ErrTrap, ErrReverted,
// errs.ErrPayloadTooLarge (input, or data the contract passed to the host,
// over its limit), errs.ErrGasLimitTooHigh, ErrInvalidModule (the module
// does not compile), or an error of the Host that is not a refusal (see
// Host), returned unchanged. The caller discards the Host's writes on any
// error.
//
// ctx is passed to wazero, but cancelling it does not stop a running
// contract: gas bounds every call, and stopping on a timer would not be
// deterministic.
func (e *Engine) Call(ctx context.Context, mod *Module, inv Invocation, host Host) (Result, error) {
	if mod.Limits != e.lim {
		return Result{}, errOtherLimits
	}
	if !mod.HasEntry(inv.Entry) {
		return Result{}, fmt.Errorf("%w: %q", ErrNoEntryPoint, inv.Entry)
	}
	if inv.GasLimit > MaxGasLimit {
		return Result{}, errs.ErrGasLimitTooHigh.Wrap("contract gas limit %d above %d", inv.GasLimit, uint64(MaxGasLimit))
	}
	if uint64(len(inv.Input)) > uint64(e.lim.MaxInputBytes) {
		return Result{}, errs.ErrPayloadTooLarge.Wrap("contract input of %d bytes exceeds %d", len(inv.Input), e.lim.MaxInputBytes)
	}
	if host == nil {
		return Result{}, errors.New("vm: nil host")
	}
	c, err := e.acquire(ctx, mod)
	if err != nil {
		return Result{}, err
	}
	defer e.release(ctx, c)
	if c.img.callGas > inv.GasLimit {
		return Result{GasUsed: inv.GasLimit}, errs.ErrOutOfGas.Wrap("contract call costs %d gas before it runs, limit %d",
			c.img.callGas, inv.GasLimit)
	}
	s := &callState{inv: &inv, host: host, lim: &e.lim, gas: &e.lim.Gas}
	cctx := context.WithValue(ctx, stateKey{}, s)
	inst, err := e.start(cctx, c.cm, mod, c.img, s)
	if err != nil {
		return Result{}, err
	}
	defer inst.Close(ctx)
	_, err = inst.ExportedFunction(inv.Entry).Call(cctx)
	res := Result{GasUsed: inv.GasLimit, Output: s.output}
	left := s.gasLeft()
	if left >= 0 {
		res.GasUsed = inv.GasLimit - uint64(left)
	}
	// A negative counter is out of gas even if the code returned normally:
	// the code checks the counter only here and there (doc.go, "Metering").
	if err != nil || left < 0 {
		return res, e.classify(inst, s, err)
	}
	res.Return = s.ret
	return res, nil
}

// classify turns a failed call into its error class, from what the host
// functions recorded and the injected globals: a trap's cause is read from
// state, never from the engine's message, so both engines agree. A call
// that ended with the gas counter negative is out of gas whatever stopped
// it (a trap, the depth budget, or nothing: err may be nil), since the
// counter only decreases and the code would have stopped out of gas had it
// checked the counter after every charge. A host function's record comes
// first: host functions run only with the counter non-negative, and one
// that finds the gas exhausted records the out-of-gas error itself.
func (e *Engine) classify(inst api.Module, s *callState, err error) error {
	if s.err != nil {
		var ex *exitError
		if errors.As(s.err, &ex) {
			if line := firstLine(ex.output); line != "" {
				return fmt.Errorf("%w: %s", s.err, line)
			}
		}
		return s.err
	}
	if s.gasLeft() < 0 {
		return errs.ErrOutOfGas.Wrap("contract used its %d gas", s.inv.GasLimit)
	}
	if d := uint32(inst.ExportedGlobal(exportDepth).Get()); d > e.lim.MaxCallDepth {
		return fmt.Errorf("%w: budget of %d frame units", ErrCallDepth, e.lim.MaxCallDepth)
	}
	if inst.ExportedGlobal(exportFault).Get() == 1 {
		return fmt.Errorf("%w: memory.grow past %d pages", ErrMemoryLimit, e.lim.MaxMemoryPages)
	}
	msg := firstLine([]byte(err.Error()))
	if out := firstLine(s.output); out != "" { // a Go panic prints, then traps
		msg += " (" + out + ")"
	}
	return fmt.Errorf("%w: %s", ErrTrap, msg)
}

// firstLine returns the first non-empty line of b, at most 200 bytes.
func firstLine(b []byte) string {
	for line := range bytes.Lines(b) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			return string(line[:min(len(line), 200)])
		}
	}
	return ""
}

// acquire returns the compiled module, compiling it on a miss; release it
// after use.
func (e *Engine) acquire(ctx context.Context, mod *Module) (*compiled, error) {
	e.mu.Lock()
	c := e.cache[mod.key]
	if c == nil {
		c = &compiled{key: mod.key}
		e.cache[mod.key] = c
	} else {
		e.lru = slices.DeleteFunc(e.lru, func(x *compiled) bool { return x == c })
	}
	e.lru = append(e.lru, c)
	c.refs++
	for len(e.lru) > e.size {
		old := e.lru[0]
		e.lru = e.lru[1:]
		delete(e.cache, old.key)
		old.dead = true
		if old.refs == 0 && old.cm != nil {
			old.cm.Close(ctx)
		}
	}
	e.mu.Unlock()

	c.once.Do(func() {
		c.cm, c.err = e.rt.CompileModule(ctx, mod.Code)
		if c.err != nil {
			c.err = fmt.Errorf("%w: compile: %v", ErrInvalidModule, c.err)
			return
		}
		c.img, c.err = e.buildImage(ctx, c.cm, mod)
	})
	if c.err != nil {
		e.release(ctx, c)
		return nil, c.err
	}
	return c, nil
}

func (e *Engine) release(ctx context.Context, c *compiled) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.refs--; c.refs == 0 && c.dead && c.cm != nil {
		c.cm.Close(ctx)
		c.cm = nil
	}
}
