package txn_test

import (
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

func benchTxs(b *testing.B) []struct {
	name string
	tx   *txn.Tx
} {
	b.Helper()
	return []struct {
		name string
		tx   *txn.Tx
	}{
		{"transfer", mustTx(b, testKey(1), 7, &txn.Send{To: addr(1), Amount: 5_000_000})},
		{"reading-200B", mustTx(b, testKey(1), 7, &txn.ReadingSubmit{Payload: senml200(b)})},
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchTxs(b) {
		enc := mustEncode(b, c.tx)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := txn.Decode(enc, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range benchTxs(b) {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.tx.Bytes())))
			b.ReportAllocs()
			for b.Loop() {
				// A fresh Tx: Encode of a built or decoded tx returns cached bytes.
				fresh := &txn.Tx{Body: c.tx.Body, Sig: c.tx.Sig}
				if _, err := fresh.Encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSign measures Builder.Sign end to end: body encoding, signature,
// tx encoding and hash.
func BenchmarkSign(b *testing.B) {
	signers := []struct {
		name string
		key  keys.PrivateKey
	}{
		{"ed25519", testKey(1)},
		{"p256", testP256(1)},
	}
	for _, s := range signers {
		b.Run(s.name+"/transfer", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := txn.New(testChain, s.key.Public().Address(), 7).
					WithFee(2000, 200_000).
					Add(&txn.Send{To: addr(1), Amount: 5_000_000}).
					Sign(s.key)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
