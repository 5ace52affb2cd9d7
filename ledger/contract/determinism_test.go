package contract_test

import (
	"bytes"
	"crypto/sha256"
	"reflect"
	"slices"
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// contractBlocks builds, on c, blocks exercising every contract msg:
// chunked uploads (one cancelled, one failing its hash), instantiations
// with funds, calls that write, iterate, transfer, command a device, fail
// in each way, and a migration.
func contractBlocks(t *testing.T, c *lt.Chain) [][][]byte {
	t.Helper()
	alice, bob, dev := lt.Key("alice"), lt.Key("bob"), lt.Key("thermo")
	id := dev.Public().Address()
	var blocks [][][]byte
	add := func(txs ...[]byte) []ledger.Result {
		blocks = append(blocks, txs)
		return c.Block(txs...)
	}
	chunks := func(signer keys.PrivateKey, code []byte) [][]byte {
		var txs [][]byte
		msgs := storeMsgs(code, chunkSize)
		for i, m := range msgs {
			gas := uint64(chunkGas)
			if i == len(msgs)-1 {
				gas = storeGas
			}
			txs = append(txs, tx(c, signer, gas, m))
		}
		return txs
	}
	counter, probe := mustContract(t, "counter"), mustContract(t, "probe")
	ch, ph := sha256.Sum256(counter), sha256.Sum256(probe)

	add(append(chunks(alice, counter), c.TxCo(alice, []keys.PrivateKey{dev}, lt.Register(dev, "thermo-v1"),
		&txn.Send{To: id, Amount: 1_000_000}))...)
	// Probe in two blocks; a loop module; a cancelled upload.
	pt := chunks(bob, probe)
	add(append(slices.Clip(pt[:10]), tx(c, alice, chunkGas, storeMsgs(loopModule, 7)[0]),
		tx(c, alice, chunkGas, &txn.ContractCancelStore{CodeHash: sumOf(loopModule)}))...)
	add(append(pt[10:], tx(c, alice, chunkGas, storeMsgs(simdModule, chunkSize)[0]),
		tx(c, alice, chunkGas, storeMsgs(loopModule, 7)[1]))...)
	admin := lt.Addr("alice")
	res := add(
		tx(c, alice, callGas, &txn.ContractInstantiate{CodeHash: ch[:], Admin: &admin, Label: "counter"}),
		tx(c, bob, callGas, &txn.ContractInstantiate{CodeHash: ph[:], Funds: 5000}),
		c.Tx(alice, &txn.Send{To: bob.Public().Address(), Amount: 1}),
	)
	ctr := contract.Address(lt.Addr("alice"), c.Account(lt.Addr("alice")).Nonce-2, 0)
	prb := contract.Address(lt.Addr("bob"), c.Account(lt.Addr("bob")).Nonce-1, 0)
	for i := range 2 {
		mustOK(t, res[i], "instantiate %d", i)
	}
	pcall := func(signer keys.PrivateKey, gas uint64, funds txn.Amount, method string, args ...any) []byte {
		return tx(c, signer, gas, &txn.ContractCall{Contract: prb, Args: encode(method, args...), Funds: funds})
	}
	add(
		tx(c, bob, callGas, &txn.ContractCall{Contract: ctr, Args: encode("increment", 3)}),
		tx(c, alice, callGas, &txn.ContractCall{Contract: ctr, Args: encode("increment", 4)}),
		pcall(alice, callGas, 10, "set", []byte("k/1"), []byte("one")),
		pcall(alice, callGas, 0, "set", []byte("k/2"), []byte("two")),
		pcall(bob, callGas, 0, "del", []byte("k/1")),
		pcall(bob, 3_000_000, 0, "burn", []byte("k/3")),
		pcall(bob, callGas, 0, "keys", []byte("k/")),
		pcall(alice, callGas, 0, "transfer", lt.Addr("carol"), 1234),
		pcall(alice, callGas, 0, "panic"),
		pcall(alice, callGas, 0, "env"),
		c.Tx(alice, &txn.MessageGrant{Device: id, Grantee: prb, Kinds: []uint8{txn.KindCommand}}),
	)
	add(
		pcall(bob, callGas, 0, "send", id, "defrost", []byte{9}),
		pcall(bob, callGas, 0, "device", id),
		c.Reading(dev, id, 1, "temp", -18),
		pcall(bob, callGas, 0, "reading", id),
		pcall(bob, callGas, 0, "emit", "excursion", []byte{1}),
		tx(c, alice, callGas, &txn.ContractMigrate{Contract: ctr, CodeHash: ph[:], Args: []byte("v2")}),
		tx(c, bob, callGas, &txn.ContractCall{Contract: ctr, Args: encode("keys", []byte(""))}),
	)
	return blocks
}

func sumOf(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// Two ledgers, one on disk running the compiler and one in memory running
// the interpreter, fed the same contract blocks reach the same app hash,
// codes, gas and events after every block as the reference chain that
// built them (in memory, compiler).
func TestContractDeterminism(t *testing.T) {
	ref := newChain(t, mustRuntime(t, false))
	blocks := contractBlocks(t, ref)
	runs := map[string]*lt.Chain{
		"disk+compiler":      newChainOn(t, mustRuntime(t, false), store.Config{Dir: t.TempDir()}),
		"memory+interpreter": newChainOn(t, mustRuntime(t, true), store.Config{}),
	}
	// The reference results, replayed on a fresh in-memory chain.
	replay := newChain(t, mustRuntime(t, false))
	seen := map[uint32]int{}
	for i, b := range blocks {
		want, wantHash := replay.BlockHash(b...)
		for _, r := range want {
			seen[r.Code]++
		}
		for name, c := range runs {
			got, hash := c.BlockHash(b...)
			if !bytes.Equal(hash, wantHash) {
				t.Fatalf("%s: block %d: app hash %x, want %x", name, i+1, hash, wantHash)
			}
			for j := range got {
				if got[j].Code != want[j].Code || got[j].GasUsed != want[j].GasUsed || !reflect.DeepEqual(got[j].Events, want[j].Events) {
					t.Fatalf("%s: block %d tx %d: %+v, want %+v", name, i+1, j, got[j], want[j])
				}
			}
		}
	}
	if !bytes.Equal(replay.L.Info().AppHash, ref.L.Info().AppHash) {
		t.Fatalf("replay ends at %x, the reference at %x", replay.L.Info().AppHash, ref.L.Info().AppHash)
	}
	t.Logf("result codes: %v", seen)
	for _, code := range []uint32{0, 32, 43, 120, 122} { // ok, out of gas, invalid msg, invalid module, trap
		if seen[code] == 0 {
			t.Errorf("the workload never produced code %d", code)
		}
	}
}
