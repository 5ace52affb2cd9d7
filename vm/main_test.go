package vm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/vm/vmtest"
)

// Contracts built from Go source once per test binary run.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	contracts = map[string]string{ // name -> package
		"counter": "./sdk/examples/counter",
		"probe":   "./testdata/probe",
		"badinit": "./testdata/badinit",
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	for _, e := range shared {
		e.Close(context.Background())
	}
	os.Exit(code)
}

// Engines and modules are shared between tests: compiling a Go contract
// takes a second per engine.
var (
	sharedMu  sync.Mutex
	shared    map[string]*Engine // engines of DefaultLimits
	validated = map[[32]byte]*Module{}
)

// mustContract returns the wasm of a contract built with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared; all are built, in parallel,
// on first use.
func mustContract(tb testing.TB, name string) []byte {
	tb.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "vmtest-"); buildErr != nil {
			return
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for name, pkg := range contracts {
			wg.Go(func() {
				cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false",
					"-o", filepath.Join(buildDir, name+".wasm"), pkg)
				cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
				if out, err := cmd.CombinedOutput(); err != nil {
					mu.Lock()
					buildErr = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	})
	if buildErr != nil {
		tb.Fatalf("building test contracts: %v", buildErr)
	}
	b, err := os.ReadFile(filepath.Join(buildDir, name+".wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mustValidate validates code, caching the modules of DefaultLimits.
func mustValidate(tb testing.TB, code []byte, lim Limits) *Module {
	tb.Helper()
	def := lim == DefaultLimits()
	key := sha256.Sum256(code)
	sharedMu.Lock()
	mod := validated[key]
	sharedMu.Unlock()
	if def && mod != nil {
		return mod
	}
	mod, err := Validate(code, lim)
	if err != nil {
		tb.Fatalf("Validate: %v", err)
	}
	verifyGasChecks(tb, mod)
	if def {
		sharedMu.Lock()
		validated[key] = mod
		sharedMu.Unlock()
	}
	return mod
}

// engines returns a compiler and an interpreter engine with the limits;
// those of DefaultLimits are shared.
func engines(tb testing.TB, lim Limits) map[string]*Engine {
	tb.Helper()
	if lim == DefaultLimits() {
		sharedMu.Lock()
		defer sharedMu.Unlock()
		if shared == nil {
			shared = newEngines(tb, lim)
		}
		return shared
	}
	out := newEngines(tb, lim)
	for _, e := range out {
		tb.Cleanup(func() { e.Close(context.Background()) })
	}
	return out
}

func newEngines(tb testing.TB, lim Limits) map[string]*Engine {
	tb.Helper()
	out := map[string]*Engine{}
	for name, interp := range map[string]bool{"compiler": false, "interpreter": true} {
		e, err := NewEngine(context.Background(), Config{Limits: lim, Interpreter: interp})
		if err != nil {
			tb.Fatal(err)
		}
		out[name] = e
	}
	return out
}

var blockTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// inv returns an invocation of entry with input and gas.
func inv(entry string, input []byte, gas uint64) Invocation {
	return Invocation{Entry: entry, Input: input, GasLimit: gas, Caller: []byte("alice"),
		Contract: []byte("c1"), Height: 7, Time: blockTime, Seed: [32]byte{1, 2, 3}}
}

func newHost() *vmtest.Host { return vmtest.NewHost("c1") }
