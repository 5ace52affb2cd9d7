package file_test

import (
	"bytes"
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/gateway"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// fileBlocks builds, on c, blocks exercising every file and firmware msg:
// publishes, pins by three gateways (one surplus), a withdrawal, a retire,
// grants, a model, releases, device reports and failures of each kind.
func fileBlocks(t *testing.T, c *lt.Chain) [][][]byte {
	alice, bob, dev := lt.Key("alice"), lt.Key("bob"), lt.Key("thermo")
	gw := []keys.PrivateKey{lt.Key("gw1"), lt.Key("gw2"), lt.Key("gw3")}
	img, log := testCID(t, "image"), testCID(t, "log")
	var blocks [][][]byte
	add := func(txs ...[]byte) { blocks = append(blocks, txs); c.Block(txs...) }
	add(c.Tx(alice, &txn.FilePublish{CID: img, Size: 10, Replicas: 2}, &txn.FirmwareRegisterModel{Model: "thermo-v1"},
		&txn.FirmwareRelease{Model: "thermo-v1", Version: "1.0.0", CID: img}),
		c.Tx(bob, &txn.FilePublish{CID: log, Size: 99, Replicas: 1, Name: "log.txt", MediaType: "text/plain"}),
		c.TxCo(alice, []keys.PrivateKey{dev}, lt.Register(dev, "thermo-v1"), &txn.Send{To: dev.Public().Address(), Amount: 1_000_000}))
	add(c.Tx(gw[0], &txn.FilePin{CID: img}), c.Tx(gw[1], &txn.FilePin{CID: img}), c.Tx(gw[2], &txn.FilePin{CID: img}),
		c.Tx(gw[2], &txn.FilePin{CID: log}), c.Tx(bob, &txn.FilePin{CID: log}),
		c.DeviceTx(dev, dev.Public().Address(), 1, nil, &txn.FirmwareReport{Version: "1.0.0", CID: img}))
	add(c.Tx(gw[2], &txn.FileUnpin{CID: img}), c.Tx(bob, &txn.FileUnpin{CID: log}),
		c.Tx(bob, &txn.FirmwareRelease{Model: "thermo-v1", Version: "2.0.0", CID: img}),
		c.Tx(alice, &txn.FirmwareRelease{Model: "thermo-v1", Version: "0.9.0", CID: img}),
		c.DeviceTx(dev, dev.Public().Address(), 2, nil, &txn.FirmwareReport{Version: "9.9.9", CID: img}))
	return blocks
}

func fileGenesis() ledger.Genesis {
	g := ledger.Genesis{}
	for _, n := range []string{"alice", "bob", "gw1", "gw2", "gw3"} {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: lt.Addr(n), Balance: 1_000_000_000})
	}
	for _, n := range []string{"gw1", "gw2", "gw3"} {
		g.Gateways = append(g.Gateways, gateway.Gateway{Address: lt.Addr(n), PeerID: "peer-" + n})
	}
	return g
}

// Two ledgers, one on disk and one in memory, fed the same file and
// firmware blocks reach the same app hash and results after every block;
// a third run in memory agrees too (map order never reaches a result).
func TestFileDeterminism(t *testing.T) {
	ref := lt.NewOn(t, mustStore(t, store.Config{}), fileGenesis())
	blocks := fileBlocks(t, ref)
	disk, err := store.Open(store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { disk.Close() })
	runs := []*lt.Chain{lt.NewOn(t, disk, fileGenesis()), lt.NewOn(t, mustStore(t, store.Config{}), fileGenesis())}
	var hashes [][]byte
	for i, b := range blocks {
		var first []ledger.Result
		for k, c := range runs {
			res, h := c.BlockHash(b...)
			if k == 0 {
				first, hashes = res, append(hashes, h)
				continue
			}
			if !bytes.Equal(h, hashes[i]) {
				t.Fatalf("block %d: app hash %x vs %x", i+1, h, hashes[i])
			}
			for j := range res {
				if res[j].Code != first[j].Code || res[j].GasUsed != first[j].GasUsed || len(res[j].Events) != len(first[j].Events) {
					t.Fatalf("block %d tx %d: %+v vs %+v", i+1, j, res[j], first[j])
				}
			}
		}
	}
	if ref.L.Info().Height != runs[0].L.Info().Height || !bytes.Equal(ref.L.Info().AppHash, runs[0].L.Info().AppHash) {
		t.Fatalf("reference %+v, replay %+v", ref.L.Info(), runs[0].L.Info())
	}
}

func mustStore(t *testing.T, cfg store.Config) *store.Store {
	t.Helper()
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
