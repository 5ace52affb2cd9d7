package seal_test

import (
	"crypto/hpke"
	"fmt"
	"testing"

	"github.com/hypha-iot/hypha/seal"
)

// benchSizes are the plaintext sizes of the figure.
var benchSizes = []int{64, 1024, 4096}

func benchName(size, recipients int) string {
	return fmt.Sprintf("size=%dB/recipients=%d", size, recipients)
}

func BenchmarkSeal(b *testing.B) {
	to, aud := testSealKey(b, 1).PublicBytes(), testSealKey(b, 2).PublicBytes()
	for _, size := range benchSizes {
		pt := make([]byte, size)
		for _, n := range []int{1, 2} {
			extra := [][]byte{aud}[:n-1]
			b.Run(benchName(size, n), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := seal.Seal(nil, testHeader(), pt, to, extra...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	key, aud := testSealKey(b, 1), testSealKey(b, 2)
	for _, size := range benchSizes {
		pt := make([]byte, size)
		for _, n := range []int{1, 2} {
			extra := [][]byte{aud.PublicBytes()}[:n-1]
			box := mustSeal(b, testHeader(), pt, key.PublicBytes(), extra...)
			b.Run(benchName(size, n), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := seal.Open(testHeader(), box, key); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRawHPKESeal is the baseline for BenchmarkSeal: one crypto/hpke
// single-shot seal of the same plaintext to one recipient, no CBOR, no
// content key.
func BenchmarkRawHPKESeal(b *testing.B) {
	pub, _ := rawHPKEKeys(b)
	kdf, aead := hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
	for _, size := range benchSizes {
		pt := make([]byte, size)
		b.Run(benchName(size, 1), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := hpke.Seal(pub, kdf, aead, []byte("hypha/seal/v1"), pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawHPKEOpen is the baseline for BenchmarkOpen.
func BenchmarkRawHPKEOpen(b *testing.B) {
	pub, priv := rawHPKEKeys(b)
	kdf, aead := hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
	for _, size := range benchSizes {
		ct, err := hpke.Seal(pub, kdf, aead, []byte("hypha/seal/v1"), make([]byte, size))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(benchName(size, 1), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := hpke.Open(priv, kdf, aead, []byte("hypha/seal/v1"), ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func rawHPKEKeys(tb testing.TB) (hpke.PublicKey, hpke.PrivateKey) {
	tb.Helper()
	priv, err := hpke.NewDHKEMPrivateKey(testSealKey(tb, 1).Private())
	if err != nil {
		tb.Fatal(err)
	}
	return priv.PublicKey(), priv
}
