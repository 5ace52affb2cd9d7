// Package vmledger adapts the vm package to the ledger: its Runtime is the
// contract.Runtime a node passes in ledger.Config.Contracts. It lives beside
// vm, not under ledger/, so that the ledger's packages never import the
// engine (wazero, with its system calls and goroutines).
//
// Runtime validates code with vm.Validate, compiles it on its Engine, keeps
// validated modules by code hash, and maps the vm's error sentinels to the
// errs classes the ledger reports.
package vmledger

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/vm"
)

// Config configures a Runtime.
type Config struct {
	// Limits are the contract limits; the zero value means
	// vm.DefaultLimits(). They are consensus parameters: every node of a
	// network must use the same.
	Limits vm.Limits
	// Interpreter forces wazero's interpreter (same results and gas, slower
	// calls, faster compilation).
	Interpreter bool
	// CacheSize bounds the modules kept, validated and compiled (0: 64).
	CacheSize int
}

// Runtime implements contract.Runtime on a vm.Engine. Safe for concurrent
// use.
type Runtime struct {
	e    *vm.Engine
	lim  vm.Limits
	size int

	mu   sync.Mutex
	mods map[[32]byte]*vm.Module
	lru  [][32]byte // least recently used first
}

var _ contract.Runtime = (*Runtime)(nil)

// New starts a Runtime; Close releases it.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Limits == (vm.Limits{}) {
		cfg.Limits = vm.DefaultLimits()
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 64
	}
	e, err := vm.NewEngine(ctx, vm.Config{Limits: cfg.Limits, Interpreter: cfg.Interpreter, CacheSize: cfg.CacheSize})
	if err != nil {
		return nil, fmt.Errorf("vmledger: %w", err)
	}
	return &Runtime{e: e, lim: cfg.Limits, size: cfg.CacheSize, mods: map[[32]byte]*vm.Module{}}, nil
}

// Close releases the engine. Calls in progress must have returned.
func (r *Runtime) Close(ctx context.Context) error { return r.e.Close(ctx) }

// Deploy implements contract.Runtime: vm.Validate, then Engine.Load, which
// compiles the module and runs its initialiser.
// A module already held (CheckTx deployed it before the block did) is not
// validated again.
func (r *Runtime) Deploy(code []byte) (contract.Deployment, error) {
	mod, err := r.module(sha256.Sum256(code), func() ([]byte, error) { return code, nil })
	if err != nil {
		return contract.Deployment{}, err
	}
	initGas, err := r.e.Load(context.Background(), mod)
	if err != nil {
		return contract.Deployment{}, classify(err)
	}
	return contract.Deployment{Entries: slices.Clone(mod.Entries), InitGas: initGas}, nil
}

// Call implements contract.Runtime.
func (r *Runtime) Call(hash [32]byte, load func() ([]byte, error), inv contract.Invocation, host contract.Host) (contract.Result, error) {
	mod, err := r.module(hash, load)
	if err != nil {
		return contract.Result{}, err
	}
	// The ledger's limit is what the tx has left; the vm's counter holds at
	// most MaxGasLimit, more than any tx can carry in practice.
	res, err := r.e.Call(context.Background(), mod, vm.Invocation{Entry: inv.Entry, Input: inv.Input,
		GasLimit: min(inv.GasLimit, vm.MaxGasLimit), Caller: inv.Caller, Contract: inv.Contract, Height: inv.Height, Time: inv.Time,
		Funds: inv.Funds, Seed: inv.Seed}, host)
	return contract.Result{GasUsed: res.GasUsed, Return: res.Return, Output: res.Output}, classify(err)
}

// module returns the validated module of hash, loading and validating the
// code on a miss. Validation is deterministic, so a cached module equals a
// fresh one.
func (r *Runtime) module(hash [32]byte, load func() ([]byte, error)) (*vm.Module, error) {
	r.mu.Lock()
	mod := r.mods[hash]
	if mod != nil {
		r.touch(hash)
	}
	r.mu.Unlock()
	if mod != nil {
		return mod, nil
	}
	code, err := load()
	if err != nil {
		return nil, err
	}
	if sha256.Sum256(code) != hash {
		return nil, errs.ErrInternal.Wrap("stored code does not hash to %x", hash)
	}
	mod, err = vm.Validate(code, r.lim)
	if err != nil {
		return nil, classify(err)
	}
	r.put(mod)
	return mod, nil
}

func (r *Runtime) put(mod *vm.Module) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.mods[mod.Hash]; ok {
		r.touch(mod.Hash)
		return
	}
	r.mods[mod.Hash] = mod
	r.lru = append(r.lru, mod.Hash)
	for len(r.lru) > r.size {
		delete(r.mods, r.lru[0])
		r.lru = r.lru[1:]
	}
}

// touch moves hash to the most recently used end; r.mu held.
func (r *Runtime) touch(hash [32]byte) {
	if i := slices.Index(r.lru, hash); i >= 0 {
		r.lru = append(slices.Delete(r.lru, i, i+1), hash)
	}
}

// classes maps the vm's sentinels to errs classes.
var classes = []struct {
	sentinel error
	class    *errs.Class
}{
	{vm.ErrInvalidModule, errs.ErrInvalidModule},
	{vm.ErrNoEntryPoint, errs.ErrNoEntryPoint},
	{vm.ErrTrap, errs.ErrTrap},
	{vm.ErrCallDepth, errs.ErrCallDepth},
	{vm.ErrMemoryLimit, errs.ErrMemoryLimit},
	{vm.ErrReverted, errs.ErrReverted},
}

// classify gives a vm error its errs class. Errors that already have one
// (errs.ErrOutOfGas, errs.ErrPayloadTooLarge, a Host's refusal or fault)
// pass unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, c := range classes {
		if errors.Is(err, c.sentinel) {
			return c.class.Wrap("%v", err)
		}
	}
	return err
}
