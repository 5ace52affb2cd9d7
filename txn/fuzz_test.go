package txn_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/txn"
)

// validInputs are encodings Decode accepts: one tx per msg kind from each key
// type, a tx with every kind, the golden tx and the bad-input table's base.
func validInputs(tb testing.TB) [][]byte {
	tb.Helper()
	msgs := sampleMsgs(tb)
	var all []txn.Msg
	out := [][]byte{validTx(tb), mustEncode(tb, goldenTx(tb))}
	for _, typ := range txn.Types() {
		all = append(all, msgs[typ])
		out = append(out,
			mustEncode(tb, mustTx(tb, testKey(1), uint64(typ), msgs[typ])),
			mustEncode(tb, mustTx(tb, testP256(1), uint64(typ), msgs[typ])))
	}
	return append(out, mustEncode(tb, mustTx(tb, testKey(2), 0, all...)))
}

// FuzzDecode checks that Decode never panics, that every error it returns
// carries a class, and that whatever it accepts is the one canonical
// encoding of what it decoded: re-encoding gives the input bytes back, both
// from the cached bytes and from the decoded fields alone.
func FuzzDecode(f *testing.F) {
	for _, b := range validInputs(f) {
		f.Add(b)
	}
	for _, c := range badInputs(f) {
		if len(c.in) <= 4096 && c.max == 0 {
			f.Add(c.in)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tx, err := txn.Decode(in, 0)
		if err != nil {
			if tx != nil {
				t.Fatalf("Decode returned a tx and error %v", err)
			}
			if errs.Of(err) == errs.ErrInternal {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		enc, err := tx.Encode()
		if err != nil || !bytes.Equal(enc, in) {
			t.Fatalf("Encode after Decode: %x, %v; input %x", enc, err, in)
		}
		fresh, err := (&txn.Tx{Body: tx.Body, Sig: tx.Sig, Cosigs: tx.Cosigs}).Encode()
		if err != nil || !bytes.Equal(fresh, in) {
			t.Fatalf("encoding the decoded fields: %x, %v; input %x", fresh, err, in)
		}
		again, err := txn.Decode(enc, 0)
		if err != nil {
			t.Fatalf("Decode of the re-encoding: %v", err)
		}
		if !reflect.DeepEqual(again.Body, tx.Body) || again.Hash() != tx.Hash() ||
			!reflect.DeepEqual(again.Sig, tx.Sig) || !reflect.DeepEqual(again.Cosigs, tx.Cosigs) {
			t.Fatalf("second decode differs")
		}
		sb, _ := tx.SignBytes()
		bodySB, err := tx.Body.SignBytes()
		if err != nil || !bytes.Equal(sb, bodySB) {
			t.Fatalf("sign bytes from the wire differ from the re-marshalled body's: %v", err)
		}
		if tx.Hash() != txn.Hash(in) {
			t.Fatalf("hash is not SHA-256 of the input")
		}
		for _, m := range tx.Body.Msgs {
			_ = m.Msg.ValidateBasic() // must not panic on anything decoded
		}
	})
}

// FuzzUnmarshalAmount checks Amount's decoder against the generic uint64
// decoder: never a panic; txn.Unmarshal accepts exactly the canonical
// unsigned integers, for Amount and uint64 alike, with the same value.
func FuzzUnmarshalAmount(f *testing.F) {
	for _, c := range amountInputs {
		f.Add(mustHex(f, c.hex))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var direct txn.Amount
		directErr := direct.UnmarshalCBOR(in)

		var a txn.Amount
		err := txn.Unmarshal(in, &a)
		var u uint64
		uErr := txn.Unmarshal(in, &u)
		if (err == nil) != (uErr == nil) {
			t.Fatalf("input %x: Amount err %v, uint64 err %v", in, err, uErr)
		}
		if err != nil {
			if errs.Of(err) == errs.ErrInternal {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if uint64(a) != u {
			t.Fatalf("input %x: Amount %d, uint64 %d", in, a, u)
		}
		if directErr != nil || direct != a {
			t.Fatalf("input %x: UnmarshalCBOR gives %d, %v; Unmarshal %d", in, direct, directErr, a)
		}
		if b, err := txn.Marshal(a); err != nil || !bytes.Equal(b, in) {
			t.Fatalf("Marshal(%d) = %x, %v; input %x", a, b, err, in)
		}
	})
}
