package ledger_test

import (
	"github.com/hypha-iot/hypha/keys"
	"testing"

	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
)

func TestSmoke(t *testing.T) {
	c := lt.New(t, "alice")
	alice, bob := lt.Key("alice"), lt.Addr("bob")
	dev := lt.Key("dev1")
	res := c.Block(c.Tx(alice, &txn.Send{To: bob, Amount: 5}), c.TxCo(alice, []keys.PrivateKey{dev}, lt.Register(dev, "thermo", "cold")))
	for i, r := range res {
		if !r.OK() {
			t.Fatalf("tx %d: %s %s", i, r.Name, r.Log)
		}
	}
	if got := c.Account(bob).Balance; got != 5 {
		t.Fatalf("bob balance %d", got)
	}
	t.Logf("%+v", res[1])
}
