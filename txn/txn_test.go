package txn_test

import (
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"bytes"
	"crypto/sha256"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

func TestSampleMsgsCoverEveryType(t *testing.T) {
	msgs := sampleMsgs(t)
	if len(msgs) != len(txn.Types()) {
		t.Fatalf("sampleMsgs has %d kinds, txn.Types() %d: add the new kind to sampleMsgs", len(msgs), len(txn.Types()))
	}
	seen := map[string]bool{}
	for _, typ := range txn.Types() {
		m, ok := msgs[typ]
		if !ok {
			t.Fatalf("no sample msg for %v (%d)", typ, typ)
		}
		if m.Type() != typ {
			t.Errorf("sample for %v has Type() %v", typ, m.Type())
		}
		name := typ.String()
		if name == "unknown" || seen[name] {
			t.Errorf("type %d: name %q missing or repeated", typ, name)
		}
		seen[name] = true
	}
	if got := txn.MsgType(999).String(); got != "unknown" {
		t.Errorf("MsgType(999).String() = %q, want unknown", got)
	}
}

func TestRoundTrip(t *testing.T) {
	signers := []struct {
		name string
		key  keys.PrivateKey
	}{
		{"ed25519", testKey(1)},
		{"p256", testP256(1)},
	}
	msgs := sampleMsgs(t)
	type tc struct {
		name      string
		msgs      []txn.Msg
		cosigners []keys.PrivateKey
	}
	var cases []tc
	var all []txn.Msg
	for _, typ := range txn.Types() {
		cases = append(cases, tc{name: typ.String(), msgs: []txn.Msg{msgs[typ]}})
		all = append(all, msgs[typ])
	}
	cases = append(cases,
		tc{name: "all-kinds", msgs: all},
		tc{name: "register-cosigned", msgs: []txn.Msg{msgs[txn.TypeDeviceRegister]},
			cosigners: []keys.PrivateKey{testKey(9), testP256(3)}},
	)
	for _, s := range signers {
		for _, c := range cases {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				built, err := txn.New(testChain, s.key.Public().Address(), 42).
					WithPubKey(s.key.Public()).
					WithFee(2000, 200_000).
					WithMemo("round trip ✓").
					Add(c.msgs...).
					Sign(s.key, c.cosigners...)
				if err != nil {
					t.Fatalf("sign: %v", err)
				}
				enc := mustEncode(t, built)
				if !bytes.Equal(built.Bytes(), enc) {
					t.Fatalf("Bytes() differs from Encode()")
				}
				got := mustDecode(t, enc)

				if !reflect.DeepEqual(got.Body, built.Body) {
					t.Errorf("body differs\n got %+v\nwant %+v", got.Body, built.Body)
				}
				for i, m := range got.Body.Msgs {
					if m.Msg.Type() != c.msgs[i].Type() {
						t.Errorf("msg %d: type %v, want %v", i, m.Msg.Type(), c.msgs[i].Type())
					}
					if err := m.Msg.ValidateBasic(); err != nil {
						t.Errorf("msg %d (%v): ValidateBasic: %v", i, m.Msg.Type(), err)
					}
				}
				if got.Hash() != built.Hash() {
					t.Errorf("hash %x, built %x", got.Hash(), built.Hash())
				}
				if want := sha256.Sum256(enc); got.Hash() != want || txn.Hash(enc) != want {
					t.Errorf("hash is not SHA-256 of the encoding")
				}
				again := mustEncode(t, got)
				if !bytes.Equal(again, enc) {
					t.Errorf("re-encoding differs")
				}
				// Re-encoding from the fields alone (no cached bytes) must
				// give the same bytes too.
				fresh, err := (&txn.Tx{Body: got.Body, Sig: got.Sig, Cosigs: got.Cosigs}).Encode()
				if err != nil || !bytes.Equal(fresh, enc) {
					t.Errorf("encoding the decoded fields: err %v, equal %v", err, bytes.Equal(fresh, enc))
				}

				sb, err := got.SignBytes()
				if err != nil {
					t.Fatalf("SignBytes: %v", err)
				}
				if !bytes.HasPrefix(sb, []byte("hypha/tx/v1")) || txn.SignDomain != "hypha/tx/v1" {
					t.Errorf("sign bytes %q... lack the domain", sb[:min(len(sb), 16)])
				}
				builtSB, _ := built.SignBytes()
				bodySB, _ := got.Body.SignBytes()
				if !bytes.Equal(sb, builtSB) || !bytes.Equal(sb, bodySB) {
					t.Errorf("sign bytes differ between decoded, built and re-marshalled body")
				}
				if !s.key.Public().Verify(sb, got.Sig) {
					t.Errorf("signer's signature does not verify over the sign bytes")
				}
				if len(got.Cosigs) != len(c.cosigners) {
					t.Fatalf("%d cosigs, want %d", len(got.Cosigs), len(c.cosigners))
				}
				for i, cs := range got.Cosigs {
					pk, err := keys.ParsePublicKey(cs.PubKey)
					if err != nil {
						t.Fatalf("cosig %d: key: %v", i, err)
					}
					if !pk.Equal(c.cosigners[i].Public()) || !pk.Verify(sb, cs.Sig) {
						t.Errorf("cosig %d does not verify", i)
					}
				}
			})
		}
	}
}

func TestBuilderNilMsg(t *testing.T) {
	k := testKey(1)
	_, err := txn.New(testChain, k.Public().Address(), 0).Add(nil).Sign(k)
	assertClass(t, err, errs.ErrInvalidMsg)
}

func TestHashOfHandBuiltTx(t *testing.T) {
	built := mustTx(t, testKey(1), 3, &txn.Send{To: addr(1), Amount: 1})
	hand := &txn.Tx{Body: built.Body, Sig: built.Sig}
	if hand.Bytes() != nil {
		t.Fatalf("hand-built tx has bytes before encoding")
	}
	if hand.Hash() != built.Hash() {
		t.Fatalf("hash of hand-built tx %x, want %x", hand.Hash(), built.Hash())
	}
	sb, err := hand.SignBytes()
	want, _ := built.SignBytes()
	if err != nil || !bytes.Equal(sb, want) {
		t.Fatalf("SignBytes of hand-built tx: %v", err)
	}
}

// badCase is one input that Decode must reject with class want.
type badCase struct {
	name string
	in   []byte
	max  int // Decode's maxBytes; 0 for the default
	want *errs.Class
}

// badInputs is the table of inputs Decode must reject. It also seeds
// FuzzDecode.
func badInputs(tb testing.TB) []badCase {
	tb.Helper()
	valid := validTx(tb)
	tagged := func(n uint64, v any) cbor.Tag { return cbor.Tag{Number: n, Content: v} }
	raw := func(h string) cbor.RawMessage { return cbor.RawMessage(mustHex(tb, h)) }
	sendMap := func(amount any) map[any]any {
		return map[any]any{uint64(1): addr(1), uint64(2): amount}
	}
	return []badCase{
		// Random and junk bytes.
		{"empty", nil, 0, errs.ErrTruncated},
		{"random/break-code", mustHex(tb, "ff"), 0, errs.ErrMalformed},                   // lone "break"
		{"random/reserved-info", mustHex(tb, "1c"), 0, errs.ErrMalformed},                // additional info 28 is reserved
		{"random/reserved-simple", mustHex(tb, "f818"), 0, errs.ErrMalformed},            // simple value < 32 in two bytes
		{"random/missing-length", mustHex(tb, "98"), 0, errs.ErrTruncated},               // array, 1-byte length absent
		{"random/huge-bytes", mustHex(tb, "5bffffffffffffffff00"), 0, errs.ErrMalformed}, // 2^64-1 bytes: length overflows int
		{"random/long-bytes", mustHex(tb, "5a00010000010203"), 0, errs.ErrTruncated},     // 65536 bytes announced, 3 given
		{"random/map-missing-value", mustHex(tb, "a201"), 0, errs.ErrTruncated},          // 2 pairs announced, 1 key given
		{"random/seeded-1", mustHex(tb, "3f9c0b7e11d2"), 0, errs.ErrMalformed},           // 0x3f: negative int, info 31
		{"random/seeded-2", mustHex(tb, "b7e42a5c7d01"), 0, errs.ErrMalformed},           // map of 23 pairs; 0x5c: reserved info 28
		{"random/seeded-3", mustHex(tb, "0a8f3e"), 0, errs.ErrTrailingBytes},             // the integer 10, then junk
		{"random/seeded-4", mustHex(tb, "80"), 0, errs.ErrMalformed},                     // an empty array, not a tx map
		{"random/text", []byte("hello world"), 0, errs.ErrTrailingBytes},                 // 'h' = text of 8 bytes, then more
		{"random/zeros", make([]byte, 64), 0, errs.ErrTrailingBytes},                     // 0x00 is the integer 0
		{"random/not-a-map", mustCBOR(tb, []any{uint64(1), []byte{2}}), 0, errs.ErrMalformed},
		{"random/deep-nesting", bytes.Repeat([]byte{0x81}, 40), 0, errs.ErrMalformed}, // [[[[...: nesting limit

		// Non-canonical forms.
		{"nonce/8-byte-head", edit(tb, func(_, b map[any]any) { b[uint64(4)] = raw("1b0000000000000007") }), 0, errs.ErrNonCanonical},
		{"nonce/1-byte-head", edit(tb, func(_, b map[any]any) { b[uint64(4)] = raw("1807") }), 0, errs.ErrNonCanonical},
		{"fee/amount-4-byte-head", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): raw("1a000007d0"), uint64(2): uint64(200_000)} // 2000 needs only 19 07d0
		}), 0, errs.ErrNonCanonical},
		{"fee/gas-8-byte-head", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): uint64(2000), uint64(2): raw("1b0000000000030d40")}
		}), 0, errs.ErrNonCanonical},
		{"msg/amount-2-byte-head", editMsg(tb, func(m []any) { m[1] = sendMap(raw("190005")) }), 0, errs.ErrNonCanonical},
		{"msg/type-2-byte-head", editMsg(tb, func(m []any) { m[0] = raw("190001") }), 0, errs.ErrNonCanonical},
		{"memo/long-length-head", edit(tb, func(_, b map[any]any) { b[uint64(7)] = raw("780568656c6c6f") }), 0, errs.ErrNonCanonical},
		// keys.Address decodes itself and rejects a long head before the
		// canonical check runs, with an unclassified error: ErrMalformed.
		{"signer/long-length-head", edit(tb, func(_, b map[any]any) {
			b[uint64(2)] = cbor.RawMessage(append([]byte{0x58, 20}, addrBytes(3)...))
		}), 0, errs.ErrMalformed},
		{"pubkey/long-length-head", edit(tb, func(_, b map[any]any) {
			b[uint64(3)] = cbor.RawMessage(append([]byte{0x59, 0, 33}, testKey(1).Public().Bytes()...)) // 33 fits in 58 21
		}), 0, errs.ErrNonCanonical},
		{"body/keys-out-of-order", edit(tb, func(tx, b map[any]any) {
			tx[uint64(1)] = rawMap(tb, uint64(2), b[uint64(2)], uint64(1), b[uint64(1)], uint64(3), b[uint64(3)],
				uint64(4), b[uint64(4)], uint64(5), b[uint64(5)], uint64(6), b[uint64(6)], uint64(7), b[uint64(7)])
		}), 0, errs.ErrNonCanonical},
		{"tx/keys-out-of-order", func() []byte {
			w := generic(tb, valid)
			return rawMap(tb, uint64(2), w[uint64(2)], uint64(1), w[uint64(1)], uint64(3), w[uint64(3)])
		}(), 0, errs.ErrNonCanonical},
		{"fee/keys-out-of-order", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = rawMap(tb, uint64(2), uint64(200_000), uint64(1), uint64(2000))
		}), 0, errs.ErrNonCanonical},
		{"body/empty-memo-present", edit(tb, func(_, b map[any]any) { b[uint64(7)] = "" }), 0, errs.ErrNonCanonical},
		{"body/empty-pubkey-present", edit(tb, func(_, b map[any]any) { b[uint64(3)] = []byte{} }), 0, errs.ErrNonCanonical},
		{"tx/empty-cosigs-present", edit(tb, func(tx, _ map[any]any) { tx[uint64(3)] = []any{} }), 0, errs.ErrNonCanonical},
		{"tx/missing-sig", edit(tb, func(tx, _ map[any]any) { delete(tx, uint64(2)) }), 0, errs.ErrNonCanonical},
		{"body/missing-nonce", edit(tb, func(_, b map[any]any) { delete(b, uint64(4)) }), 0, errs.ErrNonCanonical},
		{"update/clear-location-false", editMsg(tb, func(m []any) {
			m[0] = uint64(txn.TypeDeviceUpdate)
			m[1] = map[any]any{uint64(1): addr(2), uint64(3): "1.0", uint64(5): false}
		}), 0, errs.ErrNonCanonical},
		{"tx/self-described-tag", append(mustHex(tb, "d9d9f7"), valid...), 0, errs.ErrNonCanonical}, // tag 55799

		// Unknown fields.
		{"tx/unknown-key", edit(tb, func(tx, _ map[any]any) { tx[uint64(4)] = uint64(1) }), 0, errs.ErrUnknownField},
		{"body/unknown-key", edit(tb, func(_, b map[any]any) { b[uint64(8)] = "x" }), 0, errs.ErrUnknownField},
		{"body/key-zero", edit(tb, func(_, b map[any]any) { b[uint64(0)] = uint64(0) }), 0, errs.ErrUnknownField},
		{"body/text-key", edit(tb, func(_, b map[any]any) { b["memo"] = "x" }), 0, errs.ErrUnknownField},
		{"fee/unknown-key", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): uint64(2000), uint64(2): uint64(200_000), uint64(3): uint64(1)}
		}), 0, errs.ErrUnknownField},
		{"msg/unknown-key", editMsg(tb, func(m []any) {
			s := sendMap(uint64(5))
			s[uint64(3)] = "extra"
			m[1] = s
		}), 0, errs.ErrUnknownField},
		{"cosig/unknown-key", edit(tb, func(tx, _ map[any]any) {
			cs := tx[uint64(3)].([]any)[0].(map[any]any)
			cs[uint64(3)] = uint64(0)
		}), 0, errs.ErrUnknownField},

		// Duplicate keys.
		{"tx/duplicate-key", edit(tb, func(tx, b map[any]any) {
			tx[uint64(1)] = rawMap(tb, uint64(1), b[uint64(1)], uint64(2), b[uint64(2)], uint64(3), b[uint64(3)],
				uint64(4), b[uint64(4)], uint64(4), b[uint64(4)], uint64(5), b[uint64(5)], uint64(6), b[uint64(6)],
				uint64(7), b[uint64(7)])
		}), 0, errs.ErrDuplicateKey},
		{"fee/duplicate-key", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = rawMap(tb, uint64(1), uint64(2000), uint64(1), uint64(2000), uint64(2), uint64(1))
		}), 0, errs.ErrDuplicateKey},
		{"msg/duplicate-key", editMsg(tb, func(m []any) {
			m[1] = rawMap(tb, uint64(1), addr(1), uint64(2), uint64(5), uint64(2), uint64(6))
		}), 0, errs.ErrDuplicateKey},

		// Indefinite lengths.
		{"body/indefinite-map", func() []byte {
			def := mustCBOR(tb, generic(tb, valid)[uint64(1)])
			indef := append(append([]byte{0xbf}, def[1:]...), 0xff) // same pairs in 0xbf ... 0xff
			return replaceOnce(tb, valid, def, indef)
		}(), 0, errs.ErrIndefiniteLength},
		{"msgs/indefinite-array", func() []byte {
			def := mustCBOR(tb, generic(tb, valid)[uint64(1)].(map[any]any)[uint64(6)])
			indef := append(append([]byte{0x9f}, def[1:]...), 0xff)
			return replaceOnce(tb, valid, def, indef)
		}(), 0, errs.ErrIndefiniteLength},
		{"memo/indefinite-text", replaceOnce(tb, valid,
			mustCBOR(tb, "hello"),
			mustHex(tb, "7f6368656c626c6fff"), // "hel" "lo" in chunks
		), 0, errs.ErrIndefiniteLength},
		{"sig/indefinite-bytes", func() []byte {
			sig := generic(tb, valid)[uint64(2)].([]byte)
			indef := append(append(append([]byte{0x5f, 0x58, 32}, sig[:32]...), 0x58, 32), sig[32:]...)
			return replaceOnce(tb, valid, mustCBOR(tb, sig), append(indef, 0xff))
		}(), 0, errs.ErrIndefiniteLength},

		// Trailing bytes.
		{"trailing/one-zero", append(bytes.Clone(valid), 0x00), 0, errs.ErrTrailingBytes},
		{"trailing/second-tx", append(bytes.Clone(valid), valid...), 0, errs.ErrTrailingBytes},
		{"trailing/break", append(bytes.Clone(valid), 0xff), 0, errs.ErrTrailingBytes},

		// Size.
		{"size/limit-minus-one", valid, len(valid) - 1, errs.ErrTxTooLarge},
		{"size/default-limit", make([]byte, txn.DefaultMaxTxBytes+1), 0, errs.ErrTxTooLarge},

		// Message types.
		{"msg/unknown-type", editMsg(tb, func(m []any) { m[0] = uint64(999) }), 0, errs.ErrUnknownMsg},
		{"msg/type-zero", editMsg(tb, func(m []any) { m[0] = uint64(0) }), 0, errs.ErrUnknownMsg},
		{"msg/type-above-16-bits", editMsg(tb, func(m []any) { m[0] = uint64(0x10001) }), 0, errs.ErrUnknownMsg}, // low 16 bits = send
		{"msg/type-max-uint64", editMsg(tb, func(m []any) { m[0] = uint64(math.MaxUint64) }), 0, errs.ErrUnknownMsg},
		{"msg/type-negative", editMsg(tb, func(m []any) { m[0] = int64(-1) }), 0, errs.ErrMalformed},
		{"msg/type-text", editMsg(tb, func(m []any) { m[0] = "account.send" }), 0, errs.ErrMalformed},

		// Amounts.
		{"fee/negative", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): int64(-2000), uint64(2): uint64(200_000)}
		}), 0, errs.ErrNegativeAmount},
		{"fee/bignum", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): tagged(2, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}), uint64(2): uint64(1)} // 2^64
		}), 0, errs.ErrAmountOverflow},
		{"fee/small-bignum", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): tagged(2, []byte{5}), uint64(2): uint64(1)} // 5 as a bignum
		}), 0, errs.ErrAmountOverflow},
		{"fee/float", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): 2000.0, uint64(2): uint64(200_000)}
		}), 0, errs.ErrMalformed},
		{"fee/text", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): "2000", uint64(2): uint64(200_000)}
		}), 0, errs.ErrMalformed},
		{"send/negative", editMsg(tb, func(m []any) { m[1] = sendMap(int64(-5)) }), 0, errs.ErrNegativeAmount},
		{"send/negative-bignum", editMsg(tb, func(m []any) { m[1] = sendMap(tagged(3, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0})) }), 0, errs.ErrAmountOverflow},
		{"send/bignum", editMsg(tb, func(m []any) { m[1] = sendMap(tagged(2, bytes.Repeat([]byte{0xff}, 16))) }), 0, errs.ErrAmountOverflow},
		{"send/float", editMsg(tb, func(m []any) { m[1] = sendMap(5.5) }), 0, errs.ErrMalformed},
		{"send/bool", editMsg(tb, func(m []any) { m[1] = sendMap(true) }), 0, errs.ErrMalformed},

		// Wrong types elsewhere.
		{"nonce/float", edit(tb, func(_, b map[any]any) { b[uint64(4)] = 7.0 }), 0, errs.ErrMalformed},
		{"nonce/text", edit(tb, func(_, b map[any]any) { b[uint64(4)] = "7" }), 0, errs.ErrMalformed},
		// A negative nonce or gas limit is classed like a negative amount:
		// classify treats every unsigned Go type alike.
		{"nonce/negative", edit(tb, func(_, b map[any]any) { b[uint64(4)] = int64(-7) }), 0, errs.ErrMalformed},
		{"nonce/too-big", edit(tb, func(_, b map[any]any) {
			b[uint64(4)] = tagged(2, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
		}), 0, errs.ErrMalformed},
		{"memo/invalid-utf8", edit(tb, func(_, b map[any]any) { b[uint64(7)] = raw("62fffe") }), 0, errs.ErrMalformed},
		{"memo/bytes", edit(tb, func(_, b map[any]any) { b[uint64(7)] = []byte("hello") }), 0, errs.ErrMalformed},
		{"chain/invalid-utf8", edit(tb, func(_, b map[any]any) { b[uint64(1)] = raw("63c328ff") }), 0, errs.ErrMalformed},
		{"signer/short", edit(tb, func(_, b map[any]any) { b[uint64(2)] = []byte{1, 2, 3} }), 0, errs.ErrMalformed},
		{"signer/text", edit(tb, func(_, b map[any]any) { b[uint64(2)] = addr(3).Account() }), 0, errs.ErrMalformed},
		{"body/not-a-map", edit(tb, func(tx, _ map[any]any) { tx[uint64(1)] = uint64(5) }), 0, errs.ErrMalformed},
		{"body/array", edit(tb, func(tx, _ map[any]any) { tx[uint64(1)] = []any{} }), 0, errs.ErrMalformed},
		{"msgs/map", edit(tb, func(_, b map[any]any) { b[uint64(6)] = map[any]any{} }), 0, errs.ErrMalformed},
		{"cosigs/not-array", edit(tb, func(tx, _ map[any]any) { tx[uint64(3)] = uint64(1) }), 0, errs.ErrMalformed},

		// Tagged values. The decoder skips tags it does not know and the
		// re-encoding check then sees the missing tag; bignums and dates on
		// typed fields fail earlier.
		{"tag/epoch-on-nonce", edit(tb, func(_, b map[any]any) { b[uint64(4)] = tagged(1, uint64(7)) }), 0, errs.ErrNonCanonical},
		{"tag/uri-on-memo", edit(tb, func(_, b map[any]any) { b[uint64(7)] = tagged(32, "hello") }), 0, errs.ErrNonCanonical},
		{"tag/unknown-on-gas", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): uint64(2000), uint64(2): tagged(1000, uint64(200_000))}
		}), 0, errs.ErrNonCanonical},
		{"tag/on-amount", edit(tb, func(_, b map[any]any) {
			b[uint64(5)] = map[any]any{uint64(1): tagged(1000, uint64(2000)), uint64(2): uint64(200_000)}
		}), 0, errs.ErrMalformed},
		{"tag/on-signer", edit(tb, func(_, b map[any]any) { b[uint64(2)] = tagged(24, addrBytes(3)) }), 0, errs.ErrMalformed},
		{"tag/on-body", edit(tb, func(tx, b map[any]any) { tx[uint64(1)] = tagged(1000, b) }), 0, errs.ErrNonCanonical},
		{"tag/on-msg", editMsg(tb, func(m []any) { m[1] = tagged(1000, sendMap(uint64(5))) }), 0, errs.ErrNonCanonical},
		{"tag/on-tx", mustCBOR(tb, tagged(1000, cbor.RawMessage(valid))), 0, errs.ErrNonCanonical},
		{"tag/bad-epoch-content", edit(tb, func(_, b map[any]any) { b[uint64(4)] = tagged(1, "x") }), 0, errs.ErrMalformed},

		// Msg shape: [type, msg] and nothing else.
		{"msg/one-element", edit(tb, func(_, b map[any]any) { b[uint64(6)] = []any{[]any{uint64(1)}} }), 0, errs.ErrMalformed},
		{"msg/three-elements", edit(tb, func(_, b map[any]any) {
			b[uint64(6)] = []any{[]any{uint64(1), sendMap(uint64(5)), uint64(0)}}
		}), 0, errs.ErrMalformed},
		{"msg/empty-array", edit(tb, func(_, b map[any]any) { b[uint64(6)] = []any{[]any{}} }), 0, errs.ErrMalformed},
		{"msg/map", edit(tb, func(_, b map[any]any) {
			b[uint64(6)] = []any{map[any]any{uint64(1): sendMap(uint64(5))}}
		}), 0, errs.ErrMalformed},
		{"msg/integer", edit(tb, func(_, b map[any]any) { b[uint64(6)] = []any{uint64(1)} }), 0, errs.ErrMalformed},
		{"msg/body-not-map", editMsg(tb, func(m []any) { m[1] = []any{addr(1), uint64(5)} }), 0, errs.ErrMalformed},
		{"msg/body-null", editMsg(tb, func(m []any) { m[1] = nil }), 0, errs.ErrNonCanonical},
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, c := range badInputs(t) {
		t.Run(c.name, func(t *testing.T) {
			tx, err := txn.Decode(c.in, c.max)
			if tx != nil {
				t.Errorf("Decode returned a tx with error %v", err)
			}
			assertClass(t, err, c.want)
		})
	}
}

func TestDecodeTruncated(t *testing.T) {
	inputs := map[string][]byte{"send": validTx(t)}
	for _, typ := range txn.Types() {
		inputs[typ.String()] = mustEncode(t, mustTx(t, testP256(4), 1, sampleMsgs(t)[typ]))
	}
	for name, b := range inputs {
		t.Run(name, func(t *testing.T) {
			for n := range len(b) {
				tx, err := txn.Decode(b[:n], 0)
				if tx != nil || errs.Of(err) != errs.ErrTruncated {
					t.Fatalf("prefix of %d/%d bytes: got %v, want ErrTruncated", n, len(b), err)
				}
			}
		})
	}
}

// TestDecodeRandom feeds seeded random bytes and random single-byte edits of
// a valid tx: Decode must never panic, and every error must carry a decoding
// class rather than ErrInternal.
func TestDecodeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	valid := validTx(t)
	classes := map[*errs.Class]bool{
		errs.ErrMalformed: true, errs.ErrTruncated: true, errs.ErrNonCanonical: true, errs.ErrUnknownField: true,
		errs.ErrDuplicateKey: true, errs.ErrIndefiniteLength: true, errs.ErrTrailingBytes: true,
		errs.ErrUnknownMsg: true, errs.ErrNegativeAmount: true, errs.ErrAmountOverflow: true,
	}
	check := func(t *testing.T, in []byte) {
		t.Helper()
		tx, err := txn.Decode(in, 0)
		if err == nil {
			// Only an edit that leaves a canonical tx may pass (e.g. a
			// changed signature byte); it must then re-encode exactly.
			if got := mustEncode(t, tx); !bytes.Equal(got, in) {
				t.Fatalf("accepted %x but re-encodes as %x", in, got)
			}
			return
		}
		if !classes[errs.Of(err)] {
			t.Fatalf("input %x: error %v has class %s", in, err, errs.Of(err).Name)
		}
	}
	t.Run("random-bytes", func(t *testing.T) {
		for range 2000 {
			in := make([]byte, rng.IntN(64))
			for i := range in {
				in[i] = byte(rng.Uint32())
			}
			check(t, in)
		}
	})
	t.Run("edited-valid", func(t *testing.T) {
		for i := range valid {
			for range 8 {
				in := bytes.Clone(valid)
				in[i] = byte(rng.Uint32())
				check(t, in)
			}
		}
	})
}

func TestValidateBasic(t *testing.T) {
	devKey := testKey(9).Public().Bytes()
	long := func(n int) string { return strings.Repeat("a", n) }
	manyTags := make([]string, txn.MaxTags+1)
	for i := range manyTags {
		manyTags[i] = "t"
	}
	cases := []struct {
		name string
		msg  txn.Msg
		want *errs.Class // nil: valid
	}{
		// Send.
		{"send/ok", &txn.Send{To: addr(1), Amount: 1}, nil},
		{"send/zero-amount", &txn.Send{To: addr(1)}, errs.ErrZeroAmount},
		{"send/empty-to", &txn.Send{Amount: 1}, errs.ErrInvalidAddress},

		// DeviceRegister.
		{"register/ok-minimal", &txn.DeviceRegister{PubKey: devKey, Model: "m"}, nil},
		{"register/ok-p256", &txn.DeviceRegister{PubKey: testP256(9).Public().Bytes(), Model: "m"}, nil},
		{"register/ok-full", sampleMsgs(t)[txn.TypeDeviceRegister], nil},
		{"register/no-key", &txn.DeviceRegister{Model: "m"}, errs.ErrInvalidKey},
		{"register/short-key", &txn.DeviceRegister{PubKey: devKey[:20], Model: "m"}, errs.ErrInvalidKey},
		{"register/unknown-key-type", &txn.DeviceRegister{PubKey: append([]byte{0x7f}, devKey[1:]...), Model: "m"}, errs.ErrInvalidKey},
		{"register/p256-not-on-curve", &txn.DeviceRegister{PubKey: append(testP256(9).Public().Bytes()[:1],
			bytes.Repeat([]byte{0xff}, keys.P256PublicKeySize)...), Model: "m"}, errs.ErrInvalidKey},
		{"register/empty-model", &txn.DeviceRegister{PubKey: devKey}, errs.ErrInvalidMsg},
		{"register/long-model", &txn.DeviceRegister{PubKey: devKey, Model: long(txn.MaxTextBytes + 1)}, errs.ErrInvalidMsg},
		{"register/max-model", &txn.DeviceRegister{PubKey: devKey, Model: long(txn.MaxTextBytes)}, nil},
		{"register/model-control-char", &txn.DeviceRegister{PubKey: devKey, Model: "a\nb"}, errs.ErrInvalidMsg},
		{"register/long-firmware", &txn.DeviceRegister{PubKey: devKey, Model: "m", Firmware: long(65)}, errs.ErrInvalidMsg},
		{"register/tag-upper-case", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: []string{"Floor"}}, errs.ErrInvalidMsg},
		{"register/tag-space", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: []string{"a b"}}, errs.ErrInvalidMsg},
		{"register/tag-unicode", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: []string{"été"}}, errs.ErrInvalidMsg},
		{"register/tag-empty", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: []string{""}}, errs.ErrInvalidMsg},
		{"register/tag-too-long", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: []string{long(txn.MaxTagBytes + 1)}}, errs.ErrInvalidMsg},
		{"register/tag-max-length", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: []string{long(txn.MaxTagBytes)}}, nil},
		{"register/too-many-tags", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: manyTags}, errs.ErrInvalidMsg},
		{"register/max-tags", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: manyTags[:txn.MaxTags]}, nil},
		{"register/tag-all-punctuation", &txn.DeviceRegister{PubKey: devKey, Model: "m", Tags: []string{"a.b_c:d=e/f-0"}}, nil},
		{"register/lat-too-high", &txn.DeviceRegister{PubKey: devKey, Model: "m", Location: &txn.Location{LatE7: 900_000_001}}, errs.ErrInvalidMsg},
		{"register/lat-too-low", &txn.DeviceRegister{PubKey: devKey, Model: "m", Location: &txn.Location{LatE7: -900_000_001}}, errs.ErrInvalidMsg},
		{"register/lon-too-high", &txn.DeviceRegister{PubKey: devKey, Model: "m", Location: &txn.Location{LonE7: 1_800_000_001}}, errs.ErrInvalidMsg},
		{"register/lon-too-low", &txn.DeviceRegister{PubKey: devKey, Model: "m", Location: &txn.Location{LonE7: -1_800_000_001}}, errs.ErrInvalidMsg},
		{"register/lat-lon-at-limits", &txn.DeviceRegister{PubKey: devKey, Model: "m",
			Location: &txn.Location{LatE7: -900_000_000, LonE7: 1_800_000_000}}, nil},
		{"register/seal-key-short", &txn.DeviceRegister{PubKey: devKey, Model: "m", SealKey: make([]byte, 31)}, errs.ErrInvalidKey},
		{"register/seal-key-long", &txn.DeviceRegister{PubKey: devKey, Model: "m", SealKey: make([]byte, 33)}, errs.ErrInvalidKey},
		{"register/seal-key-empty", &txn.DeviceRegister{PubKey: devKey, Model: "m", SealKey: []byte{}}, errs.ErrInvalidKey},

		// DeviceUpdate.
		{"update/ok", sampleMsgs(t)[txn.TypeDeviceUpdate], nil},
		{"update/ok-model-only", &txn.DeviceUpdate{Device: addr(2), Model: ptr("m2")}, nil},
		{"update/empty-device", &txn.DeviceUpdate{Model: ptr("m2")}, errs.ErrInvalidAddress},
		{"update/changes-nothing", &txn.DeviceUpdate{Device: addr(2)}, errs.ErrInvalidMsg},
		{"update/empty-model", &txn.DeviceUpdate{Device: addr(2), Model: ptr("")}, errs.ErrInvalidMsg},
		{"update/empty-firmware", &txn.DeviceUpdate{Device: addr(2), Firmware: ptr("")}, errs.ErrInvalidMsg},
		{"update/location-and-clear", &txn.DeviceUpdate{Device: addr(2), Location: &txn.Location{}, ClearLocation: true}, errs.ErrInvalidMsg},
		{"update/lat-out-of-range", &txn.DeviceUpdate{Device: addr(2), Location: &txn.Location{LatE7: math.MaxInt64}}, errs.ErrInvalidMsg},
		{"update/lon-out-of-range", &txn.DeviceUpdate{Device: addr(2), Location: &txn.Location{LonE7: math.MinInt64}}, errs.ErrInvalidMsg},
		{"update/seal-key-wrong-length", &txn.DeviceUpdate{Device: addr(2), SealKey: make([]byte, 16)}, errs.ErrInvalidKey},
		{"update/seal-key-ok", &txn.DeviceUpdate{Device: addr(2), SealKey: validSealPub(t)}, nil},
		{"update/bad-add-tag", &txn.DeviceUpdate{Device: addr(2), AddTags: []string{"X"}}, errs.ErrInvalidMsg},
		{"update/bad-remove-tag", &txn.DeviceUpdate{Device: addr(2), RemoveTags: []string{"a\x00"}}, errs.ErrInvalidMsg},
		{"update/too-many-add-tags", &txn.DeviceUpdate{Device: addr(2), AddTags: manyTags}, errs.ErrInvalidMsg},

		// DeviceRotateKey.
		{"rotate/ok", sampleMsgs(t)[txn.TypeDeviceRotateKey], nil},
		{"rotate/empty-device", &txn.DeviceRotateKey{NewPubKey: devKey}, errs.ErrInvalidAddress},
		{"rotate/no-key", &txn.DeviceRotateKey{Device: addr(3)}, errs.ErrInvalidKey},
		{"rotate/bad-key", &txn.DeviceRotateKey{Device: addr(3), NewPubKey: []byte{1, 2, 3}}, errs.ErrInvalidKey},

		// DeviceTransfer.
		{"transfer/ok", &txn.DeviceTransfer{Device: addr(4), To: addr(5)}, nil},
		{"transfer/empty-device", &txn.DeviceTransfer{To: addr(5)}, errs.ErrInvalidAddress},
		{"transfer/empty-to", &txn.DeviceTransfer{Device: addr(4)}, errs.ErrInvalidAddress},

		// Single-device msgs.
		{"accept/ok", &txn.DeviceAcceptTransfer{Device: addr(6)}, nil},
		{"accept/empty-device", &txn.DeviceAcceptTransfer{}, errs.ErrInvalidAddress},
		{"cancel/ok", &txn.DeviceCancelTransfer{Device: addr(7)}, nil},
		{"cancel/empty-device", &txn.DeviceCancelTransfer{}, errs.ErrInvalidAddress},
		{"revoke/ok", &txn.DeviceRevoke{Device: addr(8)}, nil},
		{"revoke/max-reason", &txn.DeviceRevoke{Device: addr(8), Reason: long(txn.MaxReasonBytes)}, nil},
		{"revoke/empty-device", &txn.DeviceRevoke{}, errs.ErrInvalidAddress},
		{"revoke/long-reason", &txn.DeviceRevoke{Device: addr(8), Reason: long(txn.MaxReasonBytes + 1)}, errs.ErrInvalidMsg},
		{"decommission/ok", &txn.DeviceDecommission{Device: addr(9)}, nil},
		{"decommission/empty-device", &txn.DeviceDecommission{}, errs.ErrInvalidAddress},

		// ReadingSubmit.
		{"reading/ok", &txn.ReadingSubmit{Payload: senml200(t)}, nil},
		{"reading/nil-payload", &txn.ReadingSubmit{}, errs.ErrInvalidPayload},
		{"reading/empty-payload", &txn.ReadingSubmit{Payload: []byte{}}, errs.ErrInvalidPayload},

		// Files.
		{"publish/ok", sampleMsgs(t)[txn.TypeFilePublish], nil},
		{"publish/ok-dag-pb-v0", &txn.FilePublish{CID: cidV0(t), Replicas: 1}, nil},
		{"publish/no-cid", &txn.FilePublish{Replicas: 1}, errs.ErrInvalidCID},
		{"publish/garbage-cid", &txn.FilePublish{CID: []byte{1, 2, 3}, Replicas: 1}, errs.ErrInvalidCID},
		{"publish/cid-trailing", &txn.FilePublish{CID: append(testCID(t, "x"), 0), Replicas: 1}, errs.ErrInvalidCID},
		{"publish/cid-identity-hash", &txn.FilePublish{CID: identityCID(t), Replicas: 1}, errs.ErrInvalidCID},
		{"publish/zero-replicas", &txn.FilePublish{CID: testCID(t, "x")}, errs.ErrInvalidMsg},
		{"publish/too-many-replicas", &txn.FilePublish{CID: testCID(t, "x"), Replicas: txn.MaxReplicas + 1}, errs.ErrInvalidMsg},
		{"publish/name-slash", &txn.FilePublish{CID: testCID(t, "x"), Replicas: 1, Name: "../etc/passwd"}, errs.ErrInvalidMsg},
		{"publish/name-control", &txn.FilePublish{CID: testCID(t, "x"), Replicas: 1, Name: "a\x00b"}, errs.ErrInvalidMsg},
		{"publish/media-type-bad", &txn.FilePublish{CID: testCID(t, "x"), Replicas: 1, MediaType: "text"}, errs.ErrInvalidMsg},
		{"publish/media-type-params", &txn.FilePublish{CID: testCID(t, "x"), Replicas: 1, MediaType: "text/plain;charset=utf-8"}, nil},
		{"publish/enc-unknown-scheme", &txn.FilePublish{CID: testCID(t, "x"), Replicas: 1,
			Encrypted: &txn.Encryption{Scheme: "rot13", Keys: []txn.WrappedKey{{Recipient: addr(1), Box: []byte{1}}}}}, errs.ErrInvalidMsg},
		{"publish/enc-no-keys", &txn.FilePublish{CID: testCID(t, "x"), Replicas: 1,
			Encrypted: &txn.Encryption{Scheme: txn.EncryptionStream}}, errs.ErrInvalidMsg},
		{"publish/enc-dup-recipient", &txn.FilePublish{CID: testCID(t, "x"), Replicas: 1,
			Encrypted: &txn.Encryption{Scheme: txn.EncryptionStream, Keys: []txn.WrappedKey{{Recipient: addr(1), Box: []byte{1}},
				{Recipient: addr(1), Box: []byte{2}}}}}, errs.ErrInvalidMsg},
		{"grant/empty-box", &txn.FileGrant{CID: testCID(t, "x"), Key: txn.WrappedKey{Recipient: addr(1)}}, errs.ErrInvalidMsg},
		{"grant/huge-box", &txn.FileGrant{CID: testCID(t, "x"), Key: txn.WrappedKey{Recipient: addr(1),
			Box: make([]byte, txn.MaxWrappedKeyBytes+1)}}, errs.ErrInvalidMsg},
		{"pin/bad-cid", &txn.FilePin{CID: []byte("bafy")}, errs.ErrInvalidCID},

		// Firmware.
		{"release/ok", sampleMsgs(t)[txn.TypeFirmwareRelease], nil},
		{"release/ok-build", &txn.FirmwareRelease{Model: "m", Version: "1.0.0+build.7", CID: testCID(t, "x")}, nil},
		{"release/v-prefix", &txn.FirmwareRelease{Model: "m", Version: "v1.0.0", CID: testCID(t, "x")}, errs.ErrInvalidMsg},
		{"release/short-version", &txn.FirmwareRelease{Model: "m", Version: "1.0", CID: testCID(t, "x")}, errs.ErrInvalidMsg},
		{"release/leading-zero", &txn.FirmwareRelease{Model: "m", Version: "01.0.0", CID: testCID(t, "x")}, errs.ErrInvalidMsg},
		{"release/no-model", &txn.FirmwareRelease{Version: "1.0.0", CID: testCID(t, "x")}, errs.ErrInvalidMsg},
		{"release/long-notes", &txn.FirmwareRelease{Model: "m", Version: "1.0.0", CID: testCID(t, "x"), Notes: long(txn.MaxNotesBytes + 1)}, errs.ErrInvalidMsg},
		{"report/bad-version", &txn.FirmwareReport{Version: "latest", CID: testCID(t, "x")}, errs.ErrInvalidMsg},
		{"model/empty", &txn.FirmwareRegisterModel{}, errs.ErrInvalidMsg},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.msg.ValidateBasic()
			if c.want == nil {
				if err != nil {
					t.Fatalf("ValidateBasic: %v, want ok", err)
				}
				return
			}
			assertClass(t, err, c.want)
		})
	}
}

func TestDeviceID(t *testing.T) {
	dev := testP256(9).Public()
	id, err := (&txn.DeviceRegister{PubKey: dev.Bytes()}).DeviceID()
	if err != nil || id != dev.Address() {
		t.Fatalf("DeviceID = %v, %v; want %v", id, err, dev.Address())
	}
	_, err = (&txn.DeviceRegister{PubKey: []byte{1}}).DeviceID()
	assertClass(t, err, errs.ErrInvalidKey)
}

func TestAmountArithmetic(t *testing.T) {
	const max = txn.Amount(math.MaxUint64)
	cases := []struct {
		name string
		op   func(a, b txn.Amount) (txn.Amount, error)
		a, b txn.Amount
		want txn.Amount
		err  *errs.Class
	}{
		{"add/small", txn.Amount.Add, 2, 3, 5, nil},
		{"add/to-max", txn.Amount.Add, max - 1, 1, max, nil},
		{"add/zero-to-max", txn.Amount.Add, max, 0, max, nil},
		{"add/overflow-by-one", txn.Amount.Add, max, 1, 0, errs.ErrAmountOverflow},
		{"add/overflow-max-max", txn.Amount.Add, max, max, 0, errs.ErrAmountOverflow},
		{"add/overflow-halves", txn.Amount.Add, 1 << 63, 1 << 63, 0, errs.ErrAmountOverflow},
		{"sub/small", txn.Amount.Sub, 5, 3, 2, nil},
		{"sub/to-zero", txn.Amount.Sub, 5, 5, 0, nil},
		{"sub/max", txn.Amount.Sub, max, max, 0, nil},
		{"sub/underflow-by-one", txn.Amount.Sub, 5, 6, 0, errs.ErrInsufficientFunds},
		{"sub/from-zero", txn.Amount.Sub, 0, 1, 0, errs.ErrInsufficientFunds},
		{"sub/max-from-one", txn.Amount.Sub, 1, max, 0, errs.ErrInsufficientFunds},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.op(c.a, c.b)
			if c.err != nil {
				assertClass(t, err, c.err)
				if got != 0 {
					t.Errorf("result %d with error, want 0", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %d, %v; want %d", got, err, c.want)
			}
		})
	}
}

// amountInputs are encodings of an Amount and the outcome of txn.Unmarshal
// into one: want nil means ok with value v. They also seed FuzzUnmarshalAmount.
var amountInputs = []struct {
	name string
	hex  string
	v    txn.Amount
	want *errs.Class
}{
	{"zero", "00", 0, nil},
	{"23", "17", 23, nil},
	{"24", "1818", 24, nil},
	{"255", "18ff", 255, nil},
	{"256", "190100", 256, nil},
	{"65536", "1a00010000", 65536, nil},
	{"2^32", "1b0000000100000000", 1 << 32, nil},
	{"max", "1bffffffffffffffff", math.MaxUint64, nil},
	{"empty", "", 0, errs.ErrTruncated},
	{"truncated-head", "19ff", 0, errs.ErrTruncated},
	{"non-canonical-1-byte", "1805", 0, errs.ErrNonCanonical},
	{"non-canonical-8-byte", "1b00000000000000ff", 0, errs.ErrNonCanonical},
	{"negative", "20", 0, errs.ErrNegativeAmount},
	{"negative-large", "3bffffffffffffffff", 0, errs.ErrNegativeAmount},
	{"bignum", "c249010000000000000000", 0, errs.ErrAmountOverflow},
	{"negative-bignum", "c349010000000000000000", 0, errs.ErrAmountOverflow},
	{"bignum-not-bytes", "c201", 0, errs.ErrMalformed},
	{"float", "f93c00", 0, errs.ErrMalformed},
	{"text", "6131", 0, errs.ErrMalformed},
	{"bytes", "4101", 0, errs.ErrMalformed},
	{"null", "f6", 0, errs.ErrMalformed},
	{"other-tag", "c100", 0, errs.ErrMalformed},
	{"reserved-info", "1c", 0, errs.ErrMalformed},
	{"trailing", "0000", 0, errs.ErrTrailingBytes},
}

func TestUnmarshalAmount(t *testing.T) {
	for _, c := range amountInputs {
		t.Run(c.name, func(t *testing.T) {
			var a txn.Amount
			err := txn.Unmarshal(mustHex(t, c.hex), &a)
			if c.want != nil {
				assertClass(t, err, c.want)
				return
			}
			if err != nil || a != c.v {
				t.Fatalf("got %d, %v; want %d", a, err, c.v)
			}
			if b, err := txn.Marshal(a); err != nil || !bytes.Equal(b, mustHex(t, c.hex)) {
				t.Fatalf("Marshal(%d) = %x, %v; want %s", a, b, err, c.hex)
			}
		})
	}
}

// TestDecodeDoesNotAlias checks that a decoded tx owns its bytes: a caller
// may reuse its buffer (a mempool, a network read) after Decode.
func TestDecodeDoesNotAlias(t *testing.T) {
	signer := testKey(1)
	built := mustTx(t, signer, 1, &txn.ReadingSubmit{Payload: senml200(t)})
	buf := bytes.Clone(mustEncode(t, built))
	tx := mustDecode(t, buf)
	for i := range buf {
		buf[i] = 0xAA
	}
	if !reflect.DeepEqual(tx.Body, built.Body) || !bytes.Equal(tx.Sig, built.Sig) {
		t.Fatalf("decoded tx changed with its input buffer")
	}
	if !bytes.Equal(mustEncode(t, tx), mustEncode(t, built)) || tx.Hash() != built.Hash() {
		t.Fatalf("encoding or hash changed with the input buffer")
	}
	sb, _ := tx.SignBytes()
	if !signer.Public().Verify(sb, tx.Sig) {
		t.Fatalf("sign bytes changed with the input buffer")
	}
}

// TestDecodeLeavesToLaterChecks documents inputs that decode, because they
// are canonical, and are rejected later: by ValidateBasic or the ledger
// (empty msgs → ErrEmptyTx, bad signatures, wrong chain). CBOR null and an
// empty string both decode for fields without omitempty; either way the
// value is unusable, so the two encodings cannot make a valid tx malleable.
func TestDecodeLeavesToLaterChecks(t *testing.T) {
	cases := []struct {
		name  string
		in    []byte
		check func(*txn.Tx) bool
	}{
		{"msgs-empty", edit(t, func(_, b map[any]any) { b[uint64(6)] = []any{} }),
			func(tx *txn.Tx) bool { return len(tx.Body.Msgs) == 0 }},
		{"msgs-null", edit(t, func(_, b map[any]any) { b[uint64(6)] = nil }),
			func(tx *txn.Tx) bool { return tx.Body.Msgs == nil }},
		{"sig-empty", edit(t, func(tx, _ map[any]any) { tx[uint64(2)] = []byte{} }),
			func(tx *txn.Tx) bool { return len(tx.Sig) == 0 }},
		{"sig-null", edit(t, func(tx, _ map[any]any) { tx[uint64(2)] = nil }),
			func(tx *txn.Tx) bool { return tx.Sig == nil }},
		{"chain-id-empty", edit(t, func(_, b map[any]any) { b[uint64(1)] = "" }),
			func(tx *txn.Tx) bool { return tx.Body.ChainID == "" }},
		{"reading-payload-null", editMsg(t, func(m []any) {
			m[0] = uint64(txn.TypeReadingSubmit)
			m[1] = map[any]any{uint64(1): nil}
		}), func(tx *txn.Tx) bool {
			return errs.Of(tx.Body.Msgs[0].Msg.ValidateBasic()) == errs.ErrInvalidPayload
		}},
		{"send-zero", editMsg(t, func(m []any) { m[1] = map[any]any{uint64(1): addr(1), uint64(2): uint64(0)} }),
			func(tx *txn.Tx) bool { return errs.Of(tx.Body.Msgs[0].Msg.ValidateBasic()) == errs.ErrZeroAmount }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx := mustDecode(t, c.in)
			if !c.check(tx) {
				t.Fatalf("decoded tx does not have the expected field: %+v", tx.Body)
			}
			if got := mustEncode(t, tx); !bytes.Equal(got, c.in) {
				t.Fatalf("re-encoding differs")
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	ordered := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := txn.CompareVersions(ordered[i], ordered[j]); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

// cidV0 is a CIDv0 (dag-pb, sha2-256) in binary form.
func cidV0(tb testing.TB) []byte {
	tb.Helper()
	mh, err := multihash.Sum([]byte("v0"), multihash.SHA2_256, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return cid.NewCidV0(mh).Bytes()
}

// identityCID is a raw CIDv1 with an identity multihash (content inline).
func identityCID(tb testing.TB) []byte {
	tb.Helper()
	mh, err := multihash.Sum([]byte("inline"), multihash.IDENTITY, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh).Bytes()
}
