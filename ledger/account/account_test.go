package account_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/exec"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

var (
	alice = lt.Addr("alice")
	bob   = lt.Addr("bob")
	carol = lt.Addr("carol")
)

// env is one block's state over an in-memory store.
type env struct {
	tb    testing.TB
	st    *store.Store
	block *exec.Cache
	gas   exec.GasSchedule
}

func newEnv(tb testing.TB, accts map[keys.Address]account.Account) *env {
	tb.Helper()
	st, err := store.Open(store.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	e := &env{tb: tb, st: st, block: exec.NewCache(st.Working()), gas: exec.DefaultGas()}
	e.run(alice, func(c *exec.Context) error {
		for a, acct := range accts {
			account.Put(c, a, acct)
		}
		return nil
	})
	e.flush()
	return e
}

// result is what one tx left behind.
type result struct {
	err    error
	events []exec.Event
	writes int // keys the tx staged (kept only when err is nil)
	gas    uint64
}

// run executes fn as one tx by signer, as the ledger does: its writes reach
// the block only if it returns nil.
func (e *env) run(signer keys.Address, fn func(c *exec.Context) error) result {
	e.tb.Helper()
	tx := exec.NewCache(e.block)
	m := &exec.Meter{Limit: 1_000_000}
	c := exec.NewContext(exec.Header{Height: 5, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, &e.gas, m, tx)
	c.Signer = signer
	err := fn(c)
	r := result{err: err, events: c.Events(), writes: tx.Len(), gas: m.Used}
	if err == nil {
		tx.WriteTo(e.block)
	}
	return r
}

// flush stages the block's writes into the store.
func (e *env) flush() {
	e.tb.Helper()
	if _, err := e.st.Stage(e.block.Batch()); err != nil {
		e.tb.Fatalf("stage: %v", err)
	}
	e.block.Reset()
}

func (e *env) get(a keys.Address) account.Account {
	e.tb.Helper()
	var acct account.Account
	e.run(a, func(c *exec.Context) error { acct = account.Get(c, a); return nil })
	return acct
}

func transferEvent(from, to keys.Address, amount uint64) exec.Event {
	return exec.Event{Type: "transfer", Attrs: []exec.Attr{
		{Key: "from", Value: from.String(), Index: true},
		{Key: "to", Value: to.String(), Index: true},
		{Key: "amount", Value: exec.U(amount)},
	}}
}

func checkEvents(tb testing.TB, got, want []exec.Event) {
	tb.Helper()
	if !slices.EqualFunc(got, want, func(a, b exec.Event) bool {
		return a.Type == b.Type && slices.Equal(a.Attrs, b.Attrs)
	}) {
		tb.Errorf("events\n got %+v\nwant %+v", got, want)
	}
}

func TestSend(t *testing.T) {
	pk := lt.Key("alice").Public().Bytes()
	start := map[keys.Address]account.Account{
		alice: {Balance: 100, Nonce: 3, PubKey: pk},
		bob:   {Balance: 7},
		carol: {Balance: math.MaxUint64 - 5},
	}
	tests := []struct {
		name     string
		from, to keys.Address
		amount   txn.Amount
		wantErr  *errs.Class
		want     map[keys.Address]account.Account // after, for the accounts named
		noWrites bool
	}{
		{
			name: "normal", from: alice, to: bob, amount: 40,
			want: map[keys.Address]account.Account{alice: {Balance: 60, Nonce: 3, PubKey: pk}, bob: {Balance: 47}},
		},
		{
			name: "whole balance", from: alice, to: bob, amount: 100,
			want: map[keys.Address]account.Account{alice: {Balance: 0, Nonce: 3, PubKey: pk}, bob: {Balance: 107}},
		},
		{
			name: "to a new address", from: bob, to: lt.Addr("dave"), amount: 7,
			want: map[keys.Address]account.Account{bob: {}, lt.Addr("dave"): {Balance: 7}},
		},
		{
			name: "self-transfer changes nothing", from: alice, to: alice, amount: 100,
			want:     map[keys.Address]account.Account{alice: start[alice]},
			noWrites: true,
		},
		{
			name: "self-transfer must be affordable", from: alice, to: alice, amount: 101,
			wantErr: errs.ErrInsufficientFunds, want: map[keys.Address]account.Account{alice: start[alice]}, noWrites: true,
		},
		{
			name: "zero", from: alice, to: bob, amount: 0,
			wantErr: errs.ErrZeroAmount, want: map[keys.Address]account.Account{alice: start[alice], bob: start[bob]}, noWrites: true,
		},
		{
			name: "more than the balance", from: alice, to: bob, amount: 101,
			wantErr: errs.ErrInsufficientFunds, want: map[keys.Address]account.Account{alice: start[alice], bob: start[bob]}, noWrites: true,
		},
		{
			name: "from an unknown address", from: lt.Addr("nobody"), to: bob, amount: 1,
			wantErr: errs.ErrInsufficientFunds, want: map[keys.Address]account.Account{lt.Addr("nobody"): {}, bob: start[bob]}, noWrites: true,
		},
		{
			name: "recipient overflow", from: alice, to: carol, amount: 6,
			wantErr: errs.ErrAmountOverflow, want: map[keys.Address]account.Account{alice: start[alice], carol: start[carol]}, noWrites: true,
		},
		{
			name: "recipient exactly at max", from: alice, to: carol, amount: 5,
			want: map[keys.Address]account.Account{alice: {Balance: 95, Nonce: 3, PubKey: pk}, carol: {Balance: math.MaxUint64}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, start)
			r := e.run(tt.from, func(c *exec.Context) error { return account.Send(c, tt.from, tt.to, tt.amount) })
			checkErr(t, r.err, tt.wantErr)
			if tt.noWrites && r.writes != 0 {
				t.Errorf("%d writes staged, want none", r.writes)
			}
			for a, want := range tt.want {
				if got := e.get(a); !equalAccount(got, want) {
					t.Errorf("account %s = %+v, want %+v", a, got, want)
				}
			}
			if tt.wantErr != nil {
				checkEvents(t, r.events, nil)
			} else {
				checkEvents(t, r.events, []exec.Event{transferEvent(tt.from, tt.to, uint64(tt.amount))})
			}
		})
	}
}

func TestHandleSend(t *testing.T) {
	e := newEnv(t, map[keys.Address]account.Account{alice: {Balance: 10}})
	r := e.run(alice, func(c *exec.Context) error { return account.HandleSend(c, &txn.Send{To: bob, Amount: 4}) })
	if r.err != nil {
		t.Fatalf("HandleSend: %v", r.err)
	}
	if a, b := e.get(alice).Balance, e.get(bob).Balance; a != 6 || b != 4 {
		t.Errorf("balances alice %d bob %d, want 6 4", a, b)
	}
	checkEvents(t, r.events, []exec.Event{transferEvent(alice, bob, 4)})
}

func TestCredit(t *testing.T) {
	pk := lt.Key("alice").Public().Bytes()
	tests := []struct {
		name     string
		start    account.Account
		amount   txn.Amount
		want     account.Account
		wantErr  *errs.Class
		noWrites bool
	}{
		{name: "unknown address", amount: 5, want: account.Account{Balance: 5}},
		{name: "keeps nonce and key", start: account.Account{Balance: 1, Nonce: 9, PubKey: pk}, amount: 5,
			want: account.Account{Balance: 6, Nonce: 9, PubKey: pk}},
		{name: "up to max", start: account.Account{Balance: math.MaxUint64 - 1}, amount: 1,
			want: account.Account{Balance: math.MaxUint64}},
		{name: "overflow", start: account.Account{Balance: math.MaxUint64}, amount: 1,
			want: account.Account{Balance: math.MaxUint64}, wantErr: errs.ErrAmountOverflow, noWrites: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := map[keys.Address]account.Account{}
			if !equalAccount(tt.start, account.Account{}) {
				start[alice] = tt.start
			}
			e := newEnv(t, start)
			r := e.run(alice, func(c *exec.Context) error { return account.Credit(c, alice, tt.amount) })
			checkErr(t, r.err, tt.wantErr)
			if tt.noWrites && r.writes != 0 {
				t.Errorf("%d writes staged, want none", r.writes)
			}
			if got := e.get(alice); !equalAccount(got, tt.want) {
				t.Errorf("account %+v, want %+v", got, tt.want)
			}
			checkEvents(t, r.events, nil)
		})
	}
}

func TestGet(t *testing.T) {
	pk := lt.Key("alice").Public().Bytes()
	e := newEnv(t, map[keys.Address]account.Account{alice: {Balance: 3, Nonce: 1, PubKey: pk}})
	tests := []struct {
		name string
		addr keys.Address
		want account.Account
	}{
		{"known", alice, account.Account{Balance: 3, Nonce: 1, PubKey: pk}},
		{"unknown is zero", bob, account.Account{}},
		{"zero address is zero", keys.Address{}, account.Account{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got account.Account
			r := e.run(alice, func(c *exec.Context) error { got = account.Get(c, tt.addr); return nil })
			if !equalAccount(got, tt.want) {
				t.Errorf("Get = %+v, want %+v", got, tt.want)
			}
			if r.writes != 0 {
				t.Errorf("Get staged %d writes", r.writes)
			}
			if r.gas == 0 {
				t.Error("Get charged no gas")
			}
		})
	}
}

func TestKey(t *testing.T) {
	k := account.Key(alice)
	if string(k[:len(account.Prefix)]) != "acct/" || len(k) != len("acct/")+keys.AddressSize ||
		keys.Address(k[len(account.Prefix):]) != alice {
		t.Errorf("Key(alice) = %q", k)
	}
}

// checkErr fails tb unless err is of class want (nil: no error).
func checkErr(tb testing.TB, err error, want *errs.Class) {
	tb.Helper()
	switch {
	case want == nil && err != nil:
		tb.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		tb.Fatalf("error %v, want %s", err, want.Name)
	}
}

func equalAccount(a, b account.Account) bool {
	return a.Balance == b.Balance && a.Nonce == b.Nonce && slices.Equal(a.PubKey, b.PubKey)
}
