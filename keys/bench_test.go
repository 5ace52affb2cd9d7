package keys

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

func BenchmarkSign(b *testing.B) {
	msg := make([]byte, 256)
	for _, typ := range allTypes {
		b.Run(typ.String(), func(b *testing.B) {
			k := testKey(b, typ, 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	msg := make([]byte, 256)
	ed := testKey(b, Ed25519, 1)
	edSig := mustSign(b, ed, msg)
	p := testKey(b, P256, 1)
	pSig := mustSign(b, p, msg)
	edPub, pPub := ed.Public(), p.Public()
	cases := []struct {
		name   string
		verify func() bool
	}{
		{"ed25519-zip215", func() bool { return edPub.Verify(msg, edSig) }},
		{"ed25519-std-baseline", func() bool { return ed25519.Verify(ed25519.PublicKey(edPub.Key), msg, edSig) }},
		{"p256", func() bool { return pPub.Verify(msg, pSig) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.verify() {
					b.Fatal("verify failed")
				}
			}
		})
	}
}

func BenchmarkBatchVerify(b *testing.B) {
	for _, n := range []int{1, 8, 64, 256} {
		items := batchItems(b, n, Ed25519)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v := NewBatchVerifier()
				for _, it := range items {
					v.Add(it.pub, it.msg, it.sig)
				}
				if ok, _ := v.Verify(); !ok {
					b.Fatal("batch failed")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
		})
	}
	b.Run("n=64/one-bad", func(b *testing.B) {
		items := batchItems(b, 64, Ed25519)
		items[31].sig = flip(items[31].sig, 5)
		b.ReportAllocs()
		for b.Loop() {
			v := NewBatchVerifier()
			for _, it := range items {
				v.Add(it.pub, it.msg, it.sig)
			}
			if ok, _ := v.Verify(); ok {
				b.Fatal("batch passed")
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, typ := range allTypes {
		pub := testKey(b, typ, 1).Public()
		wireForm, did, addr := pub.Bytes(), pub.DID(), pub.Address().Account()
		b.Run("PublicKey/"+typ.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParsePublicKey(wireForm); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("DID/"+typ.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseDID(did); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Address/"+typ.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := ParseAddress(addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
