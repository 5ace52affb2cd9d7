package contract_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/sdk"
)

// TestScenarios runs the golden scripts in testdata/scenarios: contract txs
// in, results, gas, events and state out. Gas depends on the code the Go
// toolchain emits for the contracts; after a toolchain change or an
// intended change, rewrite the expected output with:
//
//	go test ./ledger/contract -run TestScenarios -rewrite
//
// Directives (names stand for the fixed test keys of ledgertest, contracts
// for the names given with as=; addresses and code hashes render as names):
//
//	genesis                                   new chain, alice, bob and carol funded
//	store signer=NAME code=counter|probe|loop|simd   all chunks in one block; prints the last result
//	instantiate signer=NAME code=CODE as=NAME [admin=NAME] [funds=N] [label=S]
//	call signer=NAME contract=NAME [funds=N] [gas=N]
//	    input: method and arguments: numbers, @name (an address), other words as strings
//	migrate signer=NAME contract=NAME code=CODE
//	state contract=NAME                       the contract's storage, key=value (values hex)
//	balance NAME...
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		s := &scenario{}
		datadriven.RunTest(t, path, s.run)
	})
}

type scenario struct {
	c     *lt.Chain
	names map[string]string       // rendered form -> name
	addrs map[string]keys.Address // contract name -> address
	codes map[string][32]byte
}

func (s *scenario) name(n string, a keys.Address) {
	s.names[a.Account()] = n
	s.names[a.Device()] = n
}

func (s *scenario) render(str string) string {
	ks := make([]string, 0, len(s.names))
	for k := range s.names {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		str = strings.ReplaceAll(str, k, "<"+s.names[k]+">")
	}
	return str
}

func (s *scenario) code(t *testing.T, name string) []byte {
	t.Helper()
	switch name {
	case "loop":
		return loopModule
	case "simd":
		return simdModule
	}
	return mustContract(t, name)
}

func (s *scenario) addr(n string) keys.Address {
	if a, ok := s.addrs[n]; ok {
		return a
	}
	a := lt.Addr(n)
	s.name(n, a)
	return a
}

func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	args := map[string]string{}
	for _, a := range d.CmdArgs {
		args[a.Key] = strings.Join(a.Vals, ",")
	}
	num := func(k string, def uint64) uint64 {
		if v, ok := args[k]; ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %s=%q: %v", d.Pos, k, v, err)
			}
			return n
		}
		return def
	}
	signer := func() keys.PrivateKey {
		s.addr(args["signer"])
		return lt.Key(args["signer"])
	}
	switch d.Cmd {
	case "genesis":
		s.c = newChain(t, mustRuntime(t, false))
		s.names, s.addrs, s.codes = map[string]string{}, map[string]keys.Address{}, map[string][32]byte{}
		for _, n := range funded {
			s.addr(n)
		}
		return "ok"
	case "store":
		code := s.code(t, args["code"])
		hash := sha256.Sum256(code)
		s.codes[args["code"]] = hash
		s.names[hex.EncodeToString(hash[:])] = "code:" + args["code"]
		var txs [][]byte
		msgs := storeMsgs(code, chunkSize)
		for i, m := range msgs {
			gas := uint64(chunkGas)
			if i == len(msgs)-1 {
				gas = storeGas
			}
			txs = append(txs, tx(s.c, signer(), gas, m))
		}
		res := s.c.Block(txs...)
		for i, r := range res[:len(res)-1] {
			mustOK(t, r, "chunk %d", i)
		}
		return fmt.Sprintf("%d chunks\n", len(res)) + s.results(res[len(res)-1:])
	case "instantiate":
		m := &txn.ContractInstantiate{CodeHash: s.hash(t, args["code"]), Label: args["label"], Funds: txn.Amount(num("funds", 0))}
		if a, ok := args["admin"]; ok {
			admin := s.addr(a)
			m.Admin = &admin
		}
		r := s.c.Block(tx(s.c, signer(), num("gas", callGas), m))[0]
		if r.OK() {
			a, _, err := keys.ParseAddress(attr(r, "contract.instantiate", "contract"))
			if err != nil {
				t.Fatal(err)
			}
			s.addrs[args["as"]] = a
			s.name(args["as"], a)
		}
		return s.results([]ledger.Result{r})
	case "call":
		m := &txn.ContractCall{Contract: s.addr(args["contract"]), Args: s.input(d.Input), Funds: txn.Amount(num("funds", 0))}
		return s.results(s.c.Block(tx(s.c, signer(), num("gas", callGas), m)))
	case "migrate":
		m := &txn.ContractMigrate{Contract: s.addr(args["contract"]), CodeHash: s.hash(t, args["code"]), Args: []byte(d.Input)}
		return s.results(s.c.Block(tx(s.c, signer(), num("gas", callGas), m)))
	case "state":
		r := s.c.Query("/contract/" + s.addr(args["contract"]).String() + "/state")
		if r.Code != 0 {
			return r.Name + ": " + r.Log
		}
		var p ledger.Page
		if err := txn.Unmarshal(r.Value, &p); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, it := range p.Items {
			var e ledger.StateEntry
			if err := txn.Unmarshal(it, &e); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%q=%x\n", e.Key, e.Value)
		}
		if b.Len() == 0 {
			return "(empty)"
		}
		return b.String()
	case "balance":
		var b strings.Builder
		for _, a := range d.CmdArgs {
			acc := s.c.Account(s.addr(a.Key))
			fmt.Fprintf(&b, "%s: %d uhyp\n", a.Key, acc.Balance)
		}
		return b.String()
	}
	t.Fatalf("%s: unknown directive %q", d.Pos, d.Cmd)
	return ""
}

func (s *scenario) hash(t *testing.T, code string) []byte {
	h, ok := s.codes[code]
	if !ok {
		h = sha256.Sum256(s.code(t, code))
	}
	return h[:]
}

// input encodes "method arg..." in the SDK's format.
func (s *scenario) input(line string) []byte {
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	e := sdk.NewEncoder().String(f[0])
	for _, a := range f[1:] {
		if n, err := strconv.ParseUint(a, 10, 64); err == nil {
			e.Uint(n)
		} else if strings.HasPrefix(a, "@") {
			addr := s.addr(a[1:])
			e.Bytes(addr[:])
		} else {
			e.String(a)
		}
	}
	return e.Encoded()
}

func (s *scenario) results(rs []ledger.Result) string {
	var b strings.Builder
	for _, r := range rs {
		if r.OK() {
			fmt.Fprintf(&b, "ok gas=%d\n", r.GasUsed)
		} else {
			fmt.Fprintf(&b, "%s (%d) gas=%d: %s\n", r.Name, r.Code, r.GasUsed, r.Log)
		}
		for _, e := range r.Events {
			parts := []string{e.Type}
			for _, a := range e.Attrs {
				parts = append(parts, a.Key+"="+a.Value)
			}
			b.WriteString("  " + strings.Join(parts, " ") + "\n")
		}
	}
	return s.render(b.String())
}
