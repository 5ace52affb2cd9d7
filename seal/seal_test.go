package seal_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/seal"
)

func TestRoundTrip(t *testing.T) {
	rcpt, aud1, aud2, aud3 := testSealKey(t, 1), testSealKey(t, 2), testSealKey(t, 3), testSealKey(t, 4)
	large := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	cases := []struct {
		name  string
		pt    []byte
		extra []keys.SealKey
		open  keys.SealKey
	}{
		{"recipient", []byte("open the valve"), nil, rcpt},
		{"recipient-with-auditor", []byte("open the valve"), []keys.SealKey{aud1}, rcpt},
		{"auditor", []byte("open the valve"), []keys.SealKey{aud1}, aud1},
		{"last-of-max-recipients", []byte("x"), []keys.SealKey{aud1, aud2, aud3}, aud3},
		{"empty-plaintext", []byte{}, nil, rcpt},
		{"nil-plaintext", nil, []keys.SealKey{aud1}, aud1},
		{"large-plaintext", large, []keys.SealKey{aud1}, rcpt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var extra [][]byte
			for _, k := range c.extra {
				extra = append(extra, k.PublicBytes())
			}
			box := mustSeal(t, testHeader(), c.pt, rcpt.PublicBytes(), extra...)
			got, err := seal.Open(testHeader(), box, c.open)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, c.pt) {
				t.Fatalf("Open = %d bytes, want %d bytes", len(got), len(c.pt))
			}
			if got == nil {
				t.Fatal("Open returned nil plaintext, want non-nil")
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	to := testSealKey(t, 1).PublicBytes()
	a := mustSeal(t, testHeader(), []byte("same"), to)
	b := mustSeal(t, testHeader(), []byte("same"), to)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same message are equal")
	}
}

// TestOpenKnownBox opens a box sealed by an earlier build, so the format and
// derivations cannot drift unnoticed.
func TestOpenKnownBox(t *testing.T) {
	box, err := hex.DecodeString(knownBox)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []byte{1, 2} {
		t.Run(fmt.Sprintf("key-%d", i), func(t *testing.T) {
			got, err := seal.Open(testHeader(), box, testSealKey(t, i))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if string(got) != "hypha seal v1 known answer" {
				t.Fatalf("Open = %q", got)
			}
		})
	}
}

// knownBox is "hypha seal v1 known answer" sealed under testHeader to keys 1
// and 2.
const knownBox = "a401010282a301481a92f23852dc908d025820cbc18992d85c3d719c3eed89fcb2cb529ea82afb4098d4c1bccecaa6ce" +
	"3f3d64035830962bf4e23733a9c7321d78024aa4bdb429dbd5b76a3a9e6ab6329bcf8473bca12e98918a8540ec5c9fd5" +
	"762d4f6c5812a30148cfa570c653bd212b0258209a62a8927f63973357c795f132b93796eacf0ba11de31616a8bf9bea" +
	"1d4c814f035830c3d236ec1b932bc210f3a7ae94b335abf7d09bd69cd16715ed4554f01b4d333ee7b58f80c9d6ac5fb5" +
	"bccc6359da0ca6035820481964a46c2a9b9e6cddc2d63597d93365e85b6120b6447eb1ba27bd5ab7000904582af9bce5" +
	"64d7f6aa316ef306fda0b1ab40985a3e3b08b3606c7ed592428fc146f272c465707025b42cced5"

func TestOpenWrongKey(t *testing.T) {
	rcpt, aud, other := testSealKey(t, 1), testSealKey(t, 2), testSealKey(t, 9)
	box := mustSeal(t, testHeader(), []byte("hi"), rcpt.PublicBytes(), aud.PublicBytes())
	if _, err := seal.Open(testHeader(), box, other); !errors.Is(err, seal.ErrNotForMe) {
		t.Fatalf("Open with another key: %v, want ErrNotForMe", err)
	}
	if _, err := seal.Open(testHeader(), box, keys.SealKey{}); err == nil {
		t.Fatal("Open with the zero key succeeded")
	}
}

// TestOpenOtherHeader replays one box under every single-field change of its
// header, for the recipient and the auditor.
func TestOpenOtherHeader(t *testing.T) {
	rcpt, aud := testSealKey(t, 1), testSealKey(t, 2)
	box := mustSeal(t, testHeader(), []byte("hi"), rcpt.PublicBytes(), aud.PublicBytes())
	cases := []struct {
		name   string
		change func(*seal.Header)
	}{
		{"another-recipient", func(h *seal.Header) { h.Recipient[19] ^= 1 }},
		{"another-sender", func(h *seal.Header) { h.Sender = keys.Address{9} }},
		{"sender-recipient-swapped", func(h *seal.Header) { h.Sender, h.Recipient = h.Recipient, h.Sender }},
		{"another-kind", func(h *seal.Header) { h.Kind = 2 }},
		{"kind-zero", func(h *seal.Header) { h.Kind = 0 }},
		{"another-msg-id", func(h *seal.Header) { h.MsgID[15] = 1 }},
		{"another-chain", func(h *seal.Header) { h.ChainID = "hypha-main-1" }},
		{"empty-chain", func(h *seal.Header) { h.ChainID = "" }},
	}
	for _, c := range cases {
		for _, k := range []struct {
			name string
			key  keys.SealKey
		}{{"recipient", rcpt}, {"auditor", aud}} {
			t.Run(c.name+"/"+k.name, func(t *testing.T) {
				h := testHeader()
				c.change(&h)
				if _, err := seal.Open(h, box, k.key); !errors.Is(err, seal.ErrTampered) {
					t.Fatalf("Open: %v, want ErrTampered", err)
				}
			})
		}
	}
}

// TestOpenTampered changes one field of a well-formed box.
func TestOpenTampered(t *testing.T) {
	rcpt, aud := testSealKey(t, 1), testSealKey(t, 2)
	box := mustSeal(t, testHeader(), []byte("set point 21.5"), rcpt.PublicBytes(), aud.PublicBytes())
	// other is sealed under the same header to the same keys, with another
	// content key.
	other := mustDecode(t, mustSeal(t, testHeader(), []byte("set point 99.9"), rcpt.PublicBytes(), aud.PublicBytes()))
	cases := []struct {
		name   string
		tamper func(*seal.Box)
		open   keys.SealKey
		want   error
	}{
		{"ciphertext-first-byte", func(b *seal.Box) { b.Ciphertext[0] ^= 1 }, rcpt, seal.ErrTampered},
		{"ciphertext-tag", func(b *seal.Box) { b.Ciphertext[len(b.Ciphertext)-1] ^= 0x80 }, aud, seal.ErrTampered},
		{"ciphertext-truncated", func(b *seal.Box) { b.Ciphertext = b.Ciphertext[:len(b.Ciphertext)-1] }, rcpt, seal.ErrTampered},
		{"ciphertext-from-other-box", func(b *seal.Box) { b.Ciphertext = other.Ciphertext }, rcpt, seal.ErrTampered},
		{"enc", func(b *seal.Box) { b.Entries[0].Enc[5] ^= 1 }, rcpt, seal.ErrTampered},
		{"enc-low-order", func(b *seal.Box) { b.Entries[0].Enc = make([]byte, 32) }, rcpt, seal.ErrTampered},
		{"enc-swapped-entries", func(b *seal.Box) {
			b.Entries[0].Enc, b.Entries[1].Enc = b.Entries[1].Enc, b.Entries[0].Enc
		}, rcpt, seal.ErrTampered},
		{"sealed-key", func(b *seal.Box) { b.Entries[1].SealedKey[0] ^= 1 }, aud, seal.ErrTampered},
		{"sealed-key-tag", func(b *seal.Box) { b.Entries[0].SealedKey[47] ^= 1 }, rcpt, seal.ErrTampered},
		{"commitment", func(b *seal.Box) { b.Commitment[31] ^= 1 }, rcpt, seal.ErrTampered},
		// A sender shows the auditor another content key than the recipient:
		// the commitment catches it even though the entry itself is genuine.
		{"auditor-entry-from-other-box", func(b *seal.Box) { b.Entries[1] = other.Entries[1] }, aud, seal.ErrTampered},
		{"entry-and-commitment-from-other-box", func(b *seal.Box) {
			b.Entries[0], b.Commitment = other.Entries[0], other.Commitment
		}, rcpt, seal.ErrTampered},
		{"key-id", func(b *seal.Box) { b.Entries[0].KeyID[0] ^= 1 }, rcpt, seal.ErrNotForMe},
		{"auditor-entry-dropped", func(b *seal.Box) { b.Entries = b.Entries[:1] }, aud, seal.ErrNotForMe},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := mustDecode(t, box)
			c.tamper(&b)
			if _, err := seal.Open(testHeader(), mustEncode(t, b), c.open); !errors.Is(err, c.want) {
				t.Fatalf("Open: %v, want %v", err, c.want)
			}
		})
	}
	t.Run("other-box-entry-still-opens-for-its-own-key", func(t *testing.T) {
		// Control for auditor-entry-from-other-box: the recipient's untouched
		// entry still opens.
		b := mustDecode(t, box)
		b.Entries[1] = other.Entries[1]
		if _, err := seal.Open(testHeader(), mustEncode(t, b), rcpt); err != nil {
			t.Fatalf("Open: %v", err)
		}
	})
}

func TestOpenMalformed(t *testing.T) {
	rcpt, aud := testSealKey(t, 1), testSealKey(t, 2)
	valid := mustSeal(t, testHeader(), []byte("hello"), rcpt.PublicBytes(), aud.PublicBytes())
	edit := func(f func(*seal.Box)) []byte {
		b := mustDecode(t, valid)
		f(&b)
		return mustEncode(t, b)
	}
	entry := mustDecode(t, valid).Entries[0]
	withID := func(i byte) seal.Entry {
		e := entry
		e.KeyID = []byte{i, 0, 0, 0, 0, 0, 0, 0}
		return e
	}
	cases := []struct {
		name string
		box  []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"break-byte", []byte{0xff}},
		{"cbor-null", []byte{0xf6}},
		{"cbor-array", mustEncode(t, []int{1, 2, 3, 4})},
		{"empty-map", []byte{0xa0}},
		{"trailing-byte", append(bytes.Clone(valid), 0)},
		{"two-boxes", append(bytes.Clone(valid), valid...)},
		{"non-canonical-version", append([]byte{valid[0], 0x01, 0x18, 0x01}, valid[3:]...)},
		{"unknown-field", mustEncode(t, map[int]any{1: 1, 2: []seal.Entry{entry}, 3: make([]byte, 32), 4: make([]byte, 16), 5: 0})},
		{"missing-ciphertext", mustEncode(t, map[int]any{1: 1, 2: []seal.Entry{entry}, 3: make([]byte, 32)})},
		{"version-0", edit(func(b *seal.Box) { b.Version = 0 })},
		{"version-2", edit(func(b *seal.Box) { b.Version = 2 })},
		{"no-entries", edit(func(b *seal.Box) { b.Entries = []seal.Entry{} })},
		{"null-entries", edit(func(b *seal.Box) { b.Entries = nil })},
		{"too-many-entries", edit(func(b *seal.Box) {
			b.Entries = []seal.Entry{withID(1), withID(2), withID(3), withID(4), withID(5)}
		})},
		{"duplicate-key-id", edit(func(b *seal.Box) { b.Entries[1].KeyID = b.Entries[0].KeyID })},
		{"key-id-short", edit(func(b *seal.Box) { b.Entries[0].KeyID = b.Entries[0].KeyID[:7] })},
		{"key-id-long", edit(func(b *seal.Box) { b.Entries[0].KeyID = append(b.Entries[0].KeyID, 0) })},
		{"enc-short", edit(func(b *seal.Box) { b.Entries[1].Enc = b.Entries[1].Enc[:31] })},
		{"enc-empty", edit(func(b *seal.Box) { b.Entries[0].Enc = nil })},
		{"sealed-key-short", edit(func(b *seal.Box) { b.Entries[0].SealedKey = b.Entries[0].SealedKey[:47] })},
		{"sealed-key-long", edit(func(b *seal.Box) { b.Entries[0].SealedKey = append(b.Entries[0].SealedKey, 0) })},
		{"commitment-short", edit(func(b *seal.Box) { b.Commitment = b.Commitment[:31] })},
		{"commitment-missing", edit(func(b *seal.Box) { b.Commitment = nil })},
		{"ciphertext-shorter-than-tag", edit(func(b *seal.Box) { b.Ciphertext = b.Ciphertext[:15] })},
		{"ciphertext-null", edit(func(b *seal.Box) { b.Ciphertext = nil })},
	}
	for i := range valid {
		cases = append(cases, struct {
			name string
			box  []byte
		}{fmt.Sprintf("truncated-%d", i), valid[:i]})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := seal.Open(testHeader(), c.box, rcpt); !errors.Is(err, seal.ErrMalformed) {
				t.Fatalf("Open: %v, want ErrMalformed", err)
			}
			if _, err := seal.Recipients(c.box); !errors.Is(err, seal.ErrMalformed) {
				t.Fatalf("Recipients: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestSealRejects(t *testing.T) {
	k := func(i byte) []byte { return testSealKey(t, i).PublicBytes() }
	lowOrder := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name  string
		to    []byte
		extra [][]byte
	}{
		{"too-many-recipients", k(1), [][]byte{k(2), k(3), k(4), k(5)}},
		{"nil-key", nil, nil},
		{"short-key", k(1)[:31], nil},
		{"long-key", append(k(1), 0), nil},
		{"zero-key", make([]byte, 32), nil},
		{"low-order-u1", lowOrder("0100000000000000000000000000000000000000000000000000000000000000"), nil},
		{"low-order-order8", lowOrder("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), nil},
		{"low-order-p-minus-1", lowOrder("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), nil},
		{"low-order-auditor", k(1), [][]byte{make([]byte, 32)}},
		{"duplicate-key", k(1), [][]byte{k(2), k(1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			box, err := seal.Seal(nil, testHeader(), []byte("x"), c.to, c.extra...)
			if !errors.Is(err, seal.ErrInvalidRecipients) {
				t.Fatalf("Seal: %v, want ErrInvalidRecipients", err)
			}
			if box != nil {
				t.Fatal("Seal returned a box with its error")
			}
		})
	}
	t.Run("failing-random", func(t *testing.T) {
		if _, err := seal.Seal(errReader{}, testHeader(), []byte("x"), k(1)); err == nil {
			t.Fatal("Seal with a failing random source succeeded")
		}
	})
	t.Run("max-recipients-ok", func(t *testing.T) {
		if _, err := seal.Seal(nil, testHeader(), []byte("x"), k(1), k(2), k(3), k(4)); err != nil {
			t.Fatalf("Seal to MaxRecipients keys: %v", err)
		}
	})
}

func TestRecipients(t *testing.T) {
	pubs := [][]byte{testSealKey(t, 3).PublicBytes(), testSealKey(t, 1).PublicBytes(), testSealKey(t, 2).PublicBytes()}
	box := mustSeal(t, testHeader(), []byte("x"), pubs[0], pubs[1:]...)
	got, err := seal.Recipients(box)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pubs) {
		t.Fatalf("Recipients = %d ids, want %d", len(got), len(pubs))
	}
	for i, pub := range pubs {
		sum := sha256.Sum256(pub)
		if want := [8]byte(sum[:8]); got[i] != want || seal.KeyID(pub) != want {
			t.Errorf("id %d = %x, KeyID = %x, want %x", i, got[i], seal.KeyID(pub), want)
		}
	}
}

// TestBoxSize pins the overhead stated in the package doc.
func TestBoxSize(t *testing.T) {
	pubs := [][]byte{testSealKey(t, 1).PublicBytes(), testSealKey(t, 2).PublicBytes(), testSealKey(t, 3).PublicBytes()}
	cases := []struct {
		pt, recipients, want int
	}{
		{0, 1, 155},
		{7, 1, 162},
		{64, 1, 220},
		{64, 2, 317},
		{64, 3, 414},
		{1024, 1, 1181},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%dB/%d", c.pt, c.recipients), func(t *testing.T) {
			box := mustSeal(t, testHeader(), make([]byte, c.pt), pubs[0], pubs[1:c.recipients]...)
			if len(box) != c.want {
				t.Fatalf("box is %d bytes, want %d", len(box), c.want)
			}
		})
	}
}

// TestHeaderEncoding pins the associated data, the canonical CBOR of Header.
func TestHeaderEncoding(t *testing.T) {
	got := hex.EncodeToString(mustEncode(t, testHeader()))
	wantHex := "a5" +
		"0154" + "0102030000000000000000000000000000000000" +
		"0254" + "0405060000000000000000000000000000000000" +
		"0301" +
		"0450" + "07080900000000000000000000000000" +
		"056c" + hex.EncodeToString([]byte("hypha-test-1"))
	if got != wantHex {
		t.Fatalf("header encoding\n got %s\nwant %s", got, wantHex)
	}
}
