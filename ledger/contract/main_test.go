package contract_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/sdk"
	"github.com/hypha-iot/hypha/vm/vmledger"
)

// Contracts built from Go source once per test binary, as the vm tests do.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	sources   = map[string]string{ // name -> package
		"counter": "../../vm/sdk/examples/counter",
		"probe":   "./testdata/probe",
		"watcher": "./testdata/watcher",
		// The worked examples (README, "Contracts that run themselves").
		"parking":   "../../vm/sdk/examples/parking",
		"coldchain": "../../vm/sdk/examples/coldchain",
		"energy":    "../../vm/sdk/examples/energy",
	}
)

// Runtimes are shared: compiling a Go contract takes a second (several
// under -race), and the module cache is the runtime's job.
var (
	rtMu     sync.Mutex
	runtimes = map[bool]*vmledger.Runtime{} // by Interpreter
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	for _, rt := range runtimes {
		rt.Close(context.Background())
	}
	os.Exit(code)
}

// mustContract returns the wasm of a test contract built with
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
		if buildDir, buildErr = os.MkdirTemp("", "contracttest-"); buildErr != nil {
			return
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for name, pkg := range sources {
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

// mustRuntime returns the shared runtime of the compiler or the interpreter.
func mustRuntime(tb testing.TB, interpreter bool) *vmledger.Runtime {
	tb.Helper()
	rtMu.Lock()
	defer rtMu.Unlock()
	if rt := runtimes[interpreter]; rt != nil {
		return rt
	}
	rt, err := vmledger.New(context.Background(), vmledger.Config{Interpreter: interpreter})
	if err != nil {
		tb.Fatal(err)
	}
	runtimes[interpreter] = rt
	return rt
}

// Funded accounts of every test chain.
var funded = []string{"alice", "bob", "carol"}

const initialBalance = 1_000_000_000

func genesis() ledger.Genesis {
	var g ledger.Genesis
	for _, n := range funded {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: lt.Addr(n), Balance: initialBalance})
	}
	return g
}

// newChain starts an in-memory chain whose ledger runs rt (nil: none).
func newChain(tb testing.TB, rt contract.Runtime) *lt.Chain {
	tb.Helper()
	return newChainOn(tb, rt, store.Config{})
}

func newChainOn(tb testing.TB, rt contract.Runtime, cfg store.Config) *lt.Chain {
	tb.Helper()
	st, err := store.Open(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var lcfg ledger.Config
	if rt != nil {
		lcfg.Contracts = rt
	}
	return lt.NewWith(tb, st, genesis(), lcfg)
}

// tx builds a tx from signer with the gas limit and the smallest fee that
// covers it at the default minimum price (1 uhyp per 1,000 gas).
func tx(c *lt.Chain, signer keys.PrivateKey, gas uint64, msgs ...txn.Msg) []byte {
	c.TB.Helper()
	addr := signer.Public().Address()
	t, err := txn.New(lt.ChainID, addr, c.NextNonce(addr)).WithPubKey(signer.Public()).
		WithFee(fee(gas), gas).Add(msgs...).Sign(signer)
	if err != nil {
		c.TB.Fatal(err)
	}
	return t.Bytes()
}

func fee(gas uint64) uint64 { return (gas + 999) / 1000 }

// Gas limits of the tests' txs.
const (
	callGas  = 2_000_000
	storeGas = 10_000_000 // the chunk that completes a Go contract's upload
	chunkGas = 1_000_000
)

// chunkSize keeps a chunk tx under the default 64 KiB tx limit.
const chunkSize = 60_000

// storeMsgs splits code into contract.store msgs of size bytes.
func storeMsgs(code []byte, size int) []*txn.ContractStore {
	hash := sha256.Sum256(code)
	var out []*txn.ContractStore
	for i := 0; i*size < len(code); i++ {
		end := min((i+1)*size, len(code))
		out = append(out, &txn.ContractStore{CodeHash: hash[:], TotalSize: uint64(len(code)), Index: uint32(i),
			Chunk: code[i*size : end]})
	}
	return out
}

// upload stores code in chunks, one tx each, all in one block, and fails
// the test unless every tx succeeds.
func upload(tb testing.TB, c *lt.Chain, signer keys.PrivateKey, code []byte) [32]byte {
	tb.Helper()
	msgs := storeMsgs(code, chunkSize)
	var txs [][]byte
	for i, m := range msgs {
		gas := uint64(chunkGas)
		if i == len(msgs)-1 {
			gas = storeGas
		}
		txs = append(txs, tx(c, signer, gas, m))
	}
	for i, r := range c.Block(txs...) {
		mustOK(tb, r, "store chunk %d", i)
	}
	return sha256.Sum256(code)
}

// instantiate creates a contract of hash and returns its address.
func instantiate(tb testing.TB, c *lt.Chain, signer keys.PrivateKey, hash [32]byte, admin *keys.Address, funds txn.Amount) keys.Address {
	tb.Helper()
	r := c.Block(tx(c, signer, callGas, &txn.ContractInstantiate{CodeHash: hash[:], Admin: admin, Label: "test",
		Funds: funds}))[0]
	mustOK(tb, r, "instantiate")
	a, _, err := keys.ParseAddress(attr(r, "contract.instantiate", "contract"))
	if err != nil {
		tb.Fatalf("instantiate: contract address: %v", err)
	}
	return a
}

// call runs one contract.call in its own block and returns the result.
func call(tb testing.TB, c *lt.Chain, signer keys.PrivateKey, addr keys.Address, gas uint64, funds txn.Amount, method string, args ...any) ledger.Result {
	tb.Helper()
	return c.Block(tx(c, signer, gas, &txn.ContractCall{Contract: addr, Args: encode(method, args...), Funds: funds}))[0]
}

// returned decodes the "return" attribute of a successful call.
func returned(tb testing.TB, r ledger.Result) *sdk.Decoder {
	tb.Helper()
	mustOK(tb, r, "call")
	b, err := hex.DecodeString(attr(r, "contract.call", "return"))
	if err != nil {
		tb.Fatal(err)
	}
	return sdk.NewDecoder(b)
}

func encode(method string, args ...any) []byte {
	e := sdk.NewEncoder().String(method)
	for _, a := range args {
		switch a := a.(type) {
		case int:
			e.Uint(uint64(a))
		case uint64:
			e.Uint(a)
		case string:
			e.String(a)
		case []byte:
			e.Bytes(a)
		case keys.Address:
			e.Bytes(a[:])
		default:
			panic(fmt.Sprintf("encode: %T", a))
		}
	}
	return e.Encoded()
}

// attr returns the value of key in the first event of type typ ("" if none).
func attr(r ledger.Result, typ, key string) string {
	for _, e := range r.Events {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attrs {
			if a.Key == key {
				return a.Value
			}
		}
	}
	return ""
}

func mustOK(tb testing.TB, r ledger.Result, format string, args ...any) {
	tb.Helper()
	if !r.OK() {
		tb.Fatalf("%s: %s (%d): %s", fmt.Sprintf(format, args...), r.Name, r.Code, r.Log)
	}
}

func mustFail(tb testing.TB, r ledger.Result, want *errs.Class, format string, args ...any) {
	tb.Helper()
	if r.Code != want.Code {
		tb.Fatalf("%s: got %s (%d): %s; want %s", fmt.Sprintf(format, args...), r.Name, r.Code, r.Log, want.Name)
	}
}

// storage reads a contract's storage entry from committed state.
func storage(tb testing.TB, c *lt.Chain, addr keys.Address, key string) ([]byte, bool) {
	tb.Helper()
	r := c.Query("/contract/" + addr.String() + "/state/" + hex.EncodeToString([]byte(key)))
	if r.Code == errs.ErrNotFound.Code {
		return nil, false
	}
	if r.Code != 0 {
		tb.Fatalf("query state %q: %s: %s", key, r.Name, r.Log)
	}
	v, ok := contract.StorageValue(r.Value)
	if !ok {
		tb.Fatalf("state %q: malformed stored value %x", key, r.Value)
	}
	return v, true
}

func decodeUint(tb testing.TB, b []byte) uint64 {
	tb.Helper()
	d := sdk.NewDecoder(b)
	v := d.Uint()
	if err := d.Done(); err != nil {
		tb.Fatalf("decode %x: %v", b, err)
	}
	return v
}

// wasmModule assembles a module with one page of memory and one exported
// entry point, call, whose body is body (without its end).
func wasmModule(body ...byte) []byte {
	b := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, content ...byte) {
		b = append(b, id)
		b = appendULEB(b, uint64(len(content)))
		b = append(b, content...)
	}
	section(1, 1, 0x60, 0, 0)                                                                 // types: [] -> []
	section(3, 1, 0)                                                                          // functions: one of type 0
	section(5, 1, 0x00, 1)                                                                    // memory: min 1 page
	section(7, 1, 4, 'c', 'a', 'l', 'l', 0x00, 0)                                             // export "call" = func 0
	code := append(append([]byte{0}, body...), 0x0b)                                          // no locals, body, end
	section(10, append(append([]byte{1}, appendULEB(nil, uint64(len(code)))...), code...)...) // code
	return b
}

func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// Hand-assembled modules: an infinite loop, and SIMD.
var (
	loopModule = wasmModule(0x03, 0x40, 0x0c, 0x00, 0x0b) // loop br 0 end
	simdModule = wasmModule(0x41, 0x00, 0xfd, 0x0f, 0x1a) // i32.const 0; i8x16.splat; drop
)
