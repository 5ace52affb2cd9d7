package ledgertest

import (
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/store"
)

// NewWith starts a chain on st with genesis g and the ledger configuration
// cfg (a contract runtime, for instance).
func NewWith(tb testing.TB, st *store.Store, g ledger.Genesis, cfg ledger.Config) *Chain {
	tb.Helper()
	l, err := ledger.New(st, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := l.InitChain(ChainID, g); err != nil {
		tb.Fatal(err)
	}
	return &Chain{TB: tb, L: l, Store: st, Time: Genesis, pending: map[keys.Address]uint64{}}
}
