package ledger_test

import (
	"bytes"
	"crypto/elliptic"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// badChain is the starting state of every bad-input case: funded accounts
// alice and bob, a P-256 account pat, an active funded device dev1, a
// revoked device devR, a decommissioned device devD, and an account whale
// holding the rest of the uint64 range.
func badChain(t *testing.T) *lt.Chain {
	t.Helper()
	st, err := store.Open(store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := ledger.Genesis{Accounts: []ledger.GenesisAccount{
		{Address: lt.Addr("alice"), Balance: 1_000_000_000},
		{Address: lt.Addr("bob"), Balance: 1_000_000_000},
		{Address: lt.P256Key("pat").Public().Address(), Balance: 1_000_000_000},
		{Address: lt.Addr("whale"), Balance: txn.Amount(^uint64(0) - 3_000_000_000)},
	}}
	c := lt.NewOn(t, st, g)
	alice := lt.Key("alice")
	mustOK(t, c.Block(
		c.TxCo(alice, []keys.PrivateKey{lt.Key("dev1")}, withSeal(lt.Register(lt.Key("dev1"), "thermo"), "dev1")),
		c.TxCo(alice, []keys.PrivateKey{lt.Key("devR")}, lt.Register(lt.Key("devR"), "thermo")),
		c.TxCo(alice, []keys.PrivateKey{lt.Key("devD")}, lt.Register(lt.Key("devD"), "thermo")),
		c.Tx(alice, &txn.Send{To: lt.Addr("dev1"), Amount: 1_000_000}),
	))
	mustOK(t, c.Block(
		c.Tx(alice, &txn.DeviceRevoke{Device: lt.Addr("devR")}),
		c.Tx(alice, &txn.DeviceDecommission{Device: lt.Addr("devD")}),
		c.Reading(lt.Key("dev1"), lt.Addr("dev1"), 7, "temp", 20),
	))
	return c
}

func withSeal(r *txn.DeviceRegister, name string) *txn.DeviceRegister {
	r.SealKey = lt.SealKey(name).PublicBytes()
	return r
}

// sealedTo seals a message from sender to recipient's named seal key.
func sealedTo(t *testing.T, sender, recipient keys.Address, sealName string, kind uint8, id []byte) []byte {
	t.Helper()
	box, err := seal.Seal(nil, seal.Header{Sender: sender, Recipient: recipient, Kind: kind, MsgID: [16]byte(id), ChainID: lt.ChainID},
		[]byte("open the door"), lt.SealKey(sealName).PublicBytes())
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func mustOK(t *testing.T, rs []ledger.Result) {
	t.Helper()
	for i, r := range rs {
		if !r.OK() {
			t.Fatalf("setup tx %d: %s: %s", i, r.Name, r.Log)
		}
	}
}

// rawTx signs an arbitrary body (a CBOR map in the tx body's shape) so that
// values the typed builder cannot express (negative amounts, bignums,
// unknown msg types) reach the ledger with a valid signature.
func rawTx(t *testing.T, key keys.PrivateKey, body map[int]any) []byte {
	t.Helper()
	em, _ := cbor.CoreDetEncOptions().EncMode()
	bb, err := em.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := key.Sign(append([]byte(txn.SignDomain), bb...))
	if err != nil {
		t.Fatal(err)
	}
	out, err := em.Marshal(map[int]any{1: cbor.RawMessage(bb), 2: sig})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rawBody(key keys.PrivateKey, nonce uint64, msgs ...any) map[int]any {
	a := key.Public().Address()
	return map[int]any{1: lt.ChainID, 2: a[:], 3: key.Public().Bytes(), 4: nonce,
		5: map[int]any{1: lt.DefaultFee, 2: lt.DefaultGas}, 6: msgs}
}

// buildTx signs a tx for the case with the typed builder.
func buildTx(t *testing.T, c *lt.Chain, signer keys.PrivateKey, nonce uint64, edit func(*txn.Builder), cos []keys.PrivateKey, msgs ...txn.Msg) []byte {
	t.Helper()
	b := txn.New(lt.ChainID, signer.Public().Address(), nonce).WithPubKey(signer.Public()).WithFee(lt.DefaultFee, lt.DefaultGas).Add(msgs...)
	if edit != nil {
		edit(b)
	}
	tx, err := b.Sign(signer, cos...)
	if err != nil {
		t.Fatal(err)
	}
	return tx.Bytes()
}

// flipS replaces a P-256 signature's s with n-s: a valid but high-S
// (malleated) signature.
func flipS(sig []byte) []byte {
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := slices.Clone(sig)
	s.FillBytes(out[32:])
	return out
}

// addL adds the group order L to an ed25519 signature's S: the classic
// malleation that ZIP-215 (like RFC 8032) rejects.
func addL(sig []byte) []byte {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	le := slices.Clone(sig[32:])
	slices.Reverse(le)
	s := new(big.Int).SetBytes(le)
	s.Add(s, l)
	b := make([]byte, 32)
	s.FillBytes(b)
	slices.Reverse(b)
	return append(slices.Clone(sig[:32]), b...)
}

// resign replaces the signer's signature of an encoded tx.
func resign(t *testing.T, raw []byte, f func([]byte) []byte) []byte {
	t.Helper()
	tx, err := txn.Decode(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	tx2 := &txn.Tx{Body: tx.Body, Sig: f(tx.Sig), Cosigs: tx.Cosigs}
	b, err := txn.Marshal(tx2)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type badCase struct {
	name string
	want *errs.Class
	// feeCharged: the tx passes the ante stage, so the fee is paid and the
	// nonce used, but its msgs change nothing.
	feeCharged bool
	tx         func(t *testing.T, c *lt.Chain) []byte
}

func badCases() []badCase {
	bobAddr := lt.Addr("bob")
	alice, bob, pat := lt.Key("alice"), lt.Key("bob"), lt.P256Key("pat")
	dev1 := lt.Key("dev1")
	nonce := func(c *lt.Chain, k keys.PrivateKey) uint64 { return c.Account(k.Public().Address()).Nonce }
	send := func(to string, amt txn.Amount) *txn.Send { return &txn.Send{To: lt.Addr(to), Amount: amt} }
	valid := func(t *testing.T, c *lt.Chain) []byte {
		return buildTx(t, c, alice, nonce(c, alice), nil, nil, send("bob", 1))
	}
	return []badCase{
		{"random bytes", errs.ErrMalformed, false, func(t *testing.T, c *lt.Chain) []byte {
			return []byte{0xff, 0x13, 0x37, 0x00, 0xde, 0xad}
		}},
		{"empty", errs.ErrTruncated, false, func(t *testing.T, c *lt.Chain) []byte { return []byte{} }},
		{"truncated", errs.ErrTruncated, false, func(t *testing.T, c *lt.Chain) []byte {
			b := valid(t, c)
			return b[:len(b)/2]
		}},
		{"trailing bytes", errs.ErrTrailingBytes, false, func(t *testing.T, c *lt.Chain) []byte {
			return append(valid(t, c), 0x00)
		}},
		{"non-canonical integer", errs.ErrNonCanonical, false, func(t *testing.T, c *lt.Chain) []byte {
			// The fee amount 1000 (0x19 0x03e8) re-encoded with a 4-byte head.
			b := valid(t, c)
			i := bytes.Index(b, []byte{0x05, 0xa2, 0x01, 0x19, 0x03, 0xe8})
			if i < 0 {
				t.Fatal("fee not found")
			}
			return slices.Concat(b[:i+3], []byte{0x1a, 0, 0, 0x03, 0xe8}, b[i+6:])
		}},
		{"unknown field", errs.ErrUnknownField, false, func(t *testing.T, c *lt.Chain) []byte {
			body := rawBody(alice, nonce(c, alice), []any{1, map[int]any{1: bobAddr[:], 2: 5}})
			body[99] = "surprise"
			return rawTx(t, alice, body)
		}},
		{"duplicate map key", errs.ErrDuplicateKey, false, func(t *testing.T, c *lt.Chain) []byte {
			// {1: h'', 1: h''}: a tx map whose key 1 appears twice.
			return []byte{0xa2, 0x01, 0x40, 0x01, 0x40}
		}},
		{"indefinite length", errs.ErrIndefiniteLength, false, func(t *testing.T, c *lt.Chain) []byte {
			return []byte{0xbf, 0x01, 0x40, 0xff}
		}},
		{"oversize tx", errs.ErrTxTooLarge, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), nil, nil,
				&txn.DeviceRegister{PubKey: lt.Key("big").Public().Bytes(), Model: "m", SealKey: make([]byte, 32)},
				&txn.ReadingSubmit{Payload: make([]byte, 70_000)})
		}},
		{"unknown msg type", errs.ErrUnknownMsg, false, func(t *testing.T, c *lt.Chain) []byte {
			return rawTx(t, alice, rawBody(alice, nonce(c, alice), []any{999, map[int]any{}}))
		}},
		{"negative amount", errs.ErrNegativeAmount, false, func(t *testing.T, c *lt.Chain) []byte {
			return rawTx(t, alice, rawBody(alice, nonce(c, alice), []any{1, map[int]any{1: bobAddr[:], 2: -5}}))
		}},
		{"bignum amount", errs.ErrAmountOverflow, false, func(t *testing.T, c *lt.Chain) []byte {
			big := cbor.Tag{Number: 2, Content: []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}}
			return rawTx(t, alice, rawBody(alice, nonce(c, alice), []any{1, map[int]any{1: bobAddr[:], 2: big}}))
		}},
		{"wrong chain", errs.ErrWrongChain, false, func(t *testing.T, c *lt.Chain) []byte {
			tx, err := txn.New("other-chain", alice.Public().Address(), nonce(c, alice)).WithFee(lt.DefaultFee, lt.DefaultGas).
				Add(send("bob", 1)).Sign(alice)
			if err != nil {
				t.Fatal(err)
			}
			return tx.Bytes()
		}},
		{"bad ed25519 signature", errs.ErrBadSignature, false, func(t *testing.T, c *lt.Chain) []byte {
			return resign(t, valid(t, c), func(s []byte) []byte { s = slices.Clone(s); s[10] ^= 1; return s })
		}},
		{"malleated ed25519 signature (S+L)", errs.ErrBadSignature, false, func(t *testing.T, c *lt.Chain) []byte {
			return resign(t, valid(t, c), addL)
		}},
		{"signature by another key", errs.ErrBadSignature, false, func(t *testing.T, c *lt.Chain) []byte {
			tx, err := txn.New(lt.ChainID, alice.Public().Address(), nonce(c, alice)).WithFee(lt.DefaultFee, lt.DefaultGas).
				Add(send("bob", 1)).Sign(bob)
			if err != nil {
				t.Fatal(err)
			}
			return tx.Bytes()
		}},
		{"P-256 high-S signature", errs.ErrBadSignature, false, func(t *testing.T, c *lt.Chain) []byte {
			return resign(t, buildTx(t, c, pat, nonce(c, pat), nil, nil, send("bob", 1)), flipS)
		}},
		{"replayed nonce", errs.ErrNonceReplayed, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice)-1, nil, nil, send("bob", 1))
		}},
		{"skipped nonce", errs.ErrNonceGap, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice)+1, nil, nil, send("bob", 1))
		}},
		{"reused reading counter", errs.ErrCounterReused, false, func(t *testing.T, c *lt.Chain) []byte {
			return c.Reading(dev1, lt.Addr("dev1"), 7, "temp", 21)
		}},
		{"revoked device signs", errs.ErrDeviceRevoked, false, func(t *testing.T, c *lt.Chain) []byte {
			return c.Reading(lt.Key("devR"), lt.Addr("devR"), 1, "temp", 21)
		}},
		{"decommissioned device signs", errs.ErrDeviceDecommissioned, false, func(t *testing.T, c *lt.Chain) []byte {
			return c.Reading(lt.Key("devD"), lt.Addr("devD"), 1, "temp", 21)
		}},
		{"unknown device", errs.ErrUnknownDevice, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), nil, nil, &txn.DeviceRevoke{Device: lt.Addr("nobody")})
		}},
		{"reading from an account", errs.ErrUnknownDevice, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), nil, nil, &txn.ReadingSubmit{Payload: lt.SenML("t", 1)})
		}},
		{"register twice", errs.ErrDeviceExists, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, []keys.PrivateKey{dev1}, lt.Register(dev1, "again"))
		}},
		{"registration without device co-signature", errs.ErrMissingSignature, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, lt.Register(lt.Key("dev9"), "x"))
		}},
		{"key already serves a device", errs.ErrKeyInUse, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), nil, []keys.PrivateKey{dev1},
				&txn.DeviceRotateKey{Device: lt.Addr("devR"), NewPubKey: dev1.Public().Bytes()})
		}},
		{"non-owner update", errs.ErrUnauthorized, true, func(t *testing.T, c *lt.Chain) []byte {
			m := "evil"
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, &txn.DeviceUpdate{Device: lt.Addr("dev1"), Model: &m})
		}},
		{"accept without offer", errs.ErrNoPendingTransfer, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, &txn.DeviceAcceptTransfer{Device: lt.Addr("dev1")})
		}},
		{"send more than the balance", errs.ErrInsufficientFunds, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, send("alice", 2_000_000_000))
		}},
		{"zero amount", errs.ErrZeroAmount, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, send("alice", 0))
		}},
		{"fee below minimum", errs.ErrFeeTooLow, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), func(b *txn.Builder) { b.WithFee(1, 1_000_000) }, nil, send("bob", 1))
		}},
		{"gas limit above maximum", errs.ErrGasLimitTooHigh, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), func(b *txn.Builder) { b.WithFee(1_000_000, 1<<40) }, nil, send("bob", 1))
		}},
		{"fee payer cannot pay", errs.ErrInsufficientFee, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, lt.Key("pauper"), 0, nil, nil, send("bob", 1))
		}},
		{"out of gas in msgs", errs.ErrOutOfGas, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), func(b *txn.Builder) { b.WithFee(100, 6000) }, nil, send("bob", 1))
		}},
		{"oversize memo", errs.ErrMemoTooLarge, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), func(b *txn.Builder) { b.WithMemo(strings.Repeat("m", 257)) }, nil, send("bob", 1))
		}},
		{"oversize reading", errs.ErrPayloadTooLarge, false, func(t *testing.T, c *lt.Chain) []byte {
			big := txn.MustMarshal([]map[int]any{{0: "blob", 8: make([]byte, 5000)}})
			return c.DeviceTx(dev1, lt.Addr("dev1"), 8, nil, &txn.ReadingSubmit{Payload: big})
		}},
		{"reading not SenML", errs.ErrInvalidPayload, false, func(t *testing.T, c *lt.Chain) []byte {
			return c.DeviceTx(dev1, lt.Addr("dev1"), 8, nil, &txn.ReadingSubmit{Payload: []byte{0x01}})
		}},
		{"no msgs", errs.ErrEmptyTx, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), nil, nil)
		}},
		{"too many msgs", errs.ErrTooManyMsgs, false, func(t *testing.T, c *lt.Chain) []byte {
			var ms []txn.Msg
			for range 65 {
				ms = append(ms, send("bob", 1))
			}
			return buildTx(t, c, alice, nonce(c, alice), nil, nil, ms...)
		}},
		{"account has no key on record", errs.ErrNoPubKey, false, func(t *testing.T, c *lt.Chain) []byte {
			tx, err := txn.New(lt.ChainID, lt.Addr("bob"), 0).WithFee(lt.DefaultFee, lt.DefaultGas).Add(send("alice", 1)).Sign(bob)
			if err != nil {
				t.Fatal(err)
			}
			return tx.Bytes()
		}},
		{"key does not match signer", errs.ErrPubKeyMismatch, false, func(t *testing.T, c *lt.Chain) []byte {
			tx, err := txn.New(lt.ChainID, lt.Addr("bob"), 0).WithPubKey(alice.Public()).WithFee(lt.DefaultFee, lt.DefaultGas).
				Add(send("alice", 1)).Sign(alice)
			if err != nil {
				t.Fatal(err)
			}
			return tx.Bytes()
		}},
		{"duplicate co-signature", errs.ErrDuplicateCosig, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, []keys.PrivateKey{lt.Key("x"), lt.Key("x")}, send("alice", 1))
		}},
		{"invalid device key", errs.ErrInvalidKey, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, &txn.DeviceRegister{PubKey: []byte{1, 2, 3}, Model: "m"})
		}},
		{"invalid tag", errs.ErrInvalidMsg, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, &txn.DeviceRegister{PubKey: lt.Key("d").Public().Bytes(), Model: "m", Tags: []string{"Bad Tag"}})
		}},
		{"oversize message", errs.ErrPayloadTooLarge, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), nil, nil, &txn.MessageSend{To: lt.Addr("dev1"), Kind: txn.KindCommand,
				ID: make([]byte, 16), Box: make([]byte, 5000)})
		}},
		{"message to a revoked device", errs.ErrDeviceRevoked, true, func(t *testing.T, c *lt.Chain) []byte {
			id := bytes.Repeat([]byte{1}, 16)
			return buildTx(t, c, alice, nonce(c, alice), nil, nil, &txn.MessageSend{To: lt.Addr("devR"), Kind: txn.KindCommand,
				ID: id, Box: sealedTo(t, lt.Addr("alice"), lt.Addr("devR"), "devR", txn.KindCommand, id)})
		}},
		{"message to a recipient without a seal key", errs.ErrNoSealKey, true, func(t *testing.T, c *lt.Chain) []byte {
			id := bytes.Repeat([]byte{2}, 16)
			return buildTx(t, c, alice, nonce(c, alice), nil, nil, &txn.MessageSend{To: lt.Addr("bob"), Kind: txn.KindData,
				ID: id, Box: sealedTo(t, lt.Addr("alice"), lt.Addr("bob"), "bob", txn.KindData, id)})
		}},
		{"message box is not a box", errs.ErrBadSeal, true, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, alice, nonce(c, alice), nil, nil, &txn.MessageSend{To: lt.Addr("dev1"), Kind: txn.KindCommand,
				ID: bytes.Repeat([]byte{3}, 16), Box: []byte("plaintext, not sealed")})
		}},
		{"command from a non-owner", errs.ErrNoGrant, true, func(t *testing.T, c *lt.Chain) []byte {
			id := bytes.Repeat([]byte{4}, 16)
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, &txn.MessageSend{To: lt.Addr("dev1"), Kind: txn.KindCommand,
				ID: id, Box: sealedTo(t, lt.Addr("bob"), lt.Addr("dev1"), "dev1", txn.KindCommand, id)})
		}},
		{"empty recipient", errs.ErrInvalidAddress, false, func(t *testing.T, c *lt.Chain) []byte {
			return buildTx(t, c, bob, nonce(c, bob), nil, nil, &txn.Send{Amount: 1})
		}},
	}
}

// TestBadInput feeds each bad tx to CheckTx and to FinalizeBlock: each gets
// its own error class, nothing panics, and state changes only by the fee
// rules (payer balance, nonce or device counter, fee pool).
func TestBadInput(t *testing.T) {
	for _, tc := range badCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := badChain(t)
			raw := tc.tx(t, c)
			if r := c.L.CheckTx(raw); r.Code != tc.want.Code {
				t.Fatalf("CheckTx: got %s (%d) %q, want %s", r.Name, r.Code, r.Log, tc.want.Name)
			}
			before := dumpState(t, c.Store)
			res := c.Block(raw)
			if r := res[0]; r.Code != tc.want.Code || r.Name != tc.want.Name {
				t.Fatalf("FinalizeBlock: got %s (%d) %q, want %s", r.Name, r.Code, r.Log, tc.want.Name)
			}
			after := dumpState(t, c.Store)
			changed := diffKeys(before, after)
			if !tc.feeCharged {
				if len(changed) != 0 {
					t.Fatalf("state changed: %q", changed)
				}
				return
			}
			tx, err := txn.Decode(raw, 0)
			if err != nil {
				t.Fatal(err)
			}
			allowed := map[string]bool{
				string(account.Key(tx.Body.Signer)):      true,
				string(device.RecordKey(tx.Body.Signer)): true,
				string(ledger.FeePoolKey):                true,
			}
			for _, k := range changed {
				if !allowed[k] {
					t.Errorf("msg failure changed %q", k)
				}
			}
			var was, is account.Account
			_ = txn.Unmarshal([]byte(before[string(account.Key(tx.Body.Signer))]), &was)
			_ = txn.Unmarshal([]byte(after[string(account.Key(tx.Body.Signer))]), &is)
			if was.Balance-is.Balance != tx.Body.Fee.Amount || is.Nonce != was.Nonce+1 {
				t.Errorf("fee rules: balance %d -> %d, nonce %d -> %d, fee %d", was.Balance, is.Balance, was.Nonce, is.Nonce, tx.Body.Fee.Amount)
			}
		})
	}
}

// TestBadInputClassesDistinct: every class named by the table is a distinct
// code and name, and the registry has no duplicates.
func TestBadInputClassesDistinct(t *testing.T) {
	codes, names := map[uint32]string{}, map[string]bool{}
	for _, c := range errs.All() {
		if prev, dup := codes[c.Code]; dup {
			t.Errorf("code %d used by %s and %s", c.Code, prev, c.Name)
		}
		if names[c.Name] {
			t.Errorf("name %s used twice", c.Name)
		}
		codes[c.Code], names[c.Name] = c.Name, true
		if c.Code == 0 {
			t.Errorf("%s has code 0 (success)", c.Name)
		}
	}
}

func dumpState(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	r, err := st.At(st.Version())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := r.Iterate(nil, nil, false, func(k, v []byte) bool { m[string(k)] = string(v); return true }); err != nil {
		t.Fatal(err)
	}
	return m
}

func diffKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestGenesisRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    ledger.Genesis
	}{
		{"supply overflows", ledger.Genesis{Accounts: []ledger.GenesisAccount{
			{Address: lt.Addr("a"), Balance: txn.Amount(^uint64(0))}, {Address: lt.Addr("b"), Balance: 1}}}},
		{"empty address", ledger.Genesis{Accounts: []ledger.GenesisAccount{{Balance: 1}}}},
		{"bad params", ledger.Genesis{Params: &ledger.Params{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(store.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			l, err := ledger.New(st, ledger.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.InitChain(lt.ChainID, tc.g); err == nil {
				t.Fatal("InitChain accepted it")
			}
		})
	}
}
