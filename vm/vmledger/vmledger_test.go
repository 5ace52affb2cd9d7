package vmledger

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/vm/vmtest"
)

// module assembles a module with one page of memory and the entry point
// call, whose body is body (without its end).
func module(body ...byte) []byte {
	b := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, content ...byte) {
		b = append(b, id, byte(len(content)))
		b = append(b, content...)
	}
	section(1, 1, 0x60, 0, 0)
	section(3, 1, 0)
	section(5, 1, 0x00, 1)
	section(7, 1, 4, 'c', 'a', 'l', 'l', 0x00, 0)
	code := append(append([]byte{0}, body...), 0x0b)
	section(10, append([]byte{1, byte(len(code))}, code...)...)
	return b
}

func newRuntime(t *testing.T) *Runtime {
	t.Helper()
	r, err := New(context.Background(), Config{Interpreter: true, CacheSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func inv(gas uint64) contract.Invocation {
	return contract.Invocation{Entry: contract.EntryCall, GasLimit: gas, Caller: []byte("alice"), Contract: []byte("c1"),
		Height: 1, Time: time.Unix(1, 0)}
}

func TestDeployAndCall(t *testing.T) {
	r := newRuntime(t)
	nop, loop := module(), module(0x03, 0x40, 0x0c, 0x00, 0x0b)
	dep, err := r.Deploy(nop)
	if err != nil || len(dep.Entries) != 1 || dep.Entries[0] != contract.EntryCall || dep.InitGas != 0 {
		t.Fatalf("Deploy: %+v, %v", dep, err)
	}
	loads := 0
	load := func(code []byte) func() ([]byte, error) {
		return func() ([]byte, error) { loads++; return code, nil }
	}
	h := vmtest.NewHost("c1")
	if _, err := r.Call(sha256.Sum256(nop), load(nop), inv(1_000_000), h); err != nil || loads != 0 {
		t.Fatalf("call of a deployed module: %v, %d loads", err, loads)
	}
	// A module the runtime does not hold is loaded, checked against its
	// hash and validated; an infinite loop runs out of gas.
	res, err := r.Call(sha256.Sum256(loop), load(loop), inv(500_000), h)
	if errs.Of(err) != errs.ErrOutOfGas || res.GasUsed != 500_000 || loads != 1 {
		t.Fatalf("loop: %v, gas %d, %d loads", err, res.GasUsed, loads)
	}
	if _, err := r.Call(sha256.Sum256([]byte("other")), load(loop), inv(500_000), h); errs.Of(err) != errs.ErrInternal {
		t.Errorf("code that does not hash to its hash: %v", err)
	}
	if _, err := r.Deploy([]byte("not wasm")); errs.Of(err) != errs.ErrInvalidModule {
		t.Errorf("garbage: %v", err)
	}
	if _, err := r.Deploy(module(0x41, 0x00, 0xfd, 0x0f, 0x1a)); errs.Of(err) != errs.ErrInvalidModule {
		t.Errorf("SIMD: %v", err)
	}
	in := inv(1_000_000)
	in.Entry = contract.EntryMigrate
	if _, err := r.Call(sha256.Sum256(nop), load(nop), in, h); errs.Of(err) != errs.ErrNoEntryPoint {
		t.Errorf("missing entry: %v", err)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range classes {
		err := classify(fmt.Errorf("%w: detail", c.sentinel))
		if errs.Of(err) != c.class {
			t.Errorf("%v: class %s, want %s", c.sentinel, errs.Of(err).Name, c.class.Name)
		}
	}
	for _, err := range []error{errs.ErrOutOfGas.Wrap("x"), errs.ErrInsufficientFunds.Wrap("host"), errors.New("fault")} {
		if got := classify(err); got != err {
			t.Errorf("classify(%v) = %v, want it unchanged", err, got)
		}
	}
	if classify(nil) != nil {
		t.Error("classify(nil)")
	}
}
