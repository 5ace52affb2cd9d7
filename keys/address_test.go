package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cosmos/btcutil/bech32"
	"github.com/fxamacker/cbor/v2"
)

func testAddress() Address {
	var a Address
	for i := range a {
		a[i] = byte(i * 7)
	}
	return a
}

func mustBech32(tb testing.TB, hrp string, data []byte) string {
	tb.Helper()
	s, err := bech32.EncodeFromBase256(hrp, data)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestAddressRoundTrip(t *testing.T) {
	addrs := []Address{{}, testAddress(), testKey(t, Ed25519, 1).Public().Address(), testKey(t, P256, 1).Public().Address()}
	for _, a := range addrs {
		forms := []struct {
			name, s, prefix string
		}{
			{"account", a.Account(), AccountPrefix},
			{"device", a.Device(), DevicePrefix},
			{"string", a.String(), AccountPrefix},
			{"upper account", strings.ToUpper(a.Account()), AccountPrefix},
			{"hex", hex.EncodeToString(a[:]), ""},
		}
		for _, f := range forms {
			t.Run(f.name+"/"+a.Account(), func(t *testing.T) {
				if f.prefix != "" && !strings.HasPrefix(strings.ToLower(f.s), f.prefix+"1") {
					t.Errorf("%q does not start with %q", f.s, f.prefix+"1")
				}
				got, prefix, err := ParseAddress(f.s)
				if err != nil {
					t.Fatalf("ParseAddress(%q): %v", f.s, err)
				}
				if got != a || prefix != f.prefix {
					t.Errorf("ParseAddress(%q) = %x, %q; want %x, %q", f.s, got, prefix, a, f.prefix)
				}
			})
		}
	}
}

// changeChar replaces s[i] with another bech32 character.
func changeChar(s string, i int) string {
	c := "q"
	if s[i] == 'q' {
		c = "p"
	}
	return s[:i] + c + s[i+1:]
}

func TestParseAddressErrors(t *testing.T) {
	a := testAddress()
	acct := a.Account()
	mixed := acct[:6] + strings.ToUpper(acct[6:10]) + acct[10:]
	tests := []struct {
		name, s string
	}{
		{"empty", ""},
		{"bad checksum", changeChar(acct, len(acct)-1)},
		{"changed data char", changeChar(acct, 10)},
		{"wrong prefix", mustBech32(t, "cosmos", a[:])},
		{"prefix prefix", mustBech32(t, "hyph", a[:])},
		{"19 bytes", mustBech32(t, AccountPrefix, a[:19])},
		{"21 bytes", mustBech32(t, AccountPrefix, append(a[:], 0))},
		{"32 bytes device", mustBech32(t, DevicePrefix, make([]byte, 32))},
		{"mixed case", mixed},
		{"no separator", "hyphaqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"},
		{"hex 39", hex.EncodeToString(a[:])[:39]},
		{"hex 41", hex.EncodeToString(a[:]) + "0"},
		{"upper hex", strings.ToUpper(hex.EncodeToString(a[:]))},
		{"hex with g", "g" + hex.EncodeToString(a[:])[1:]},
		{"0x hex", "0x" + hex.EncodeToString(a[:])},
		{"space", " " + acct},
		{"too long", acct + strings.Repeat("q", 60)},
		{"non-ascii", "hypha1" + strings.Repeat("é", 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s == acct {
				t.Fatal("test case equals the valid address")
			}
			if got, prefix, err := ParseAddress(tt.s); err == nil {
				t.Errorf("ParseAddress(%q) = %x, %q; want error", tt.s, got, prefix)
			}
			var a Address
			if err := a.UnmarshalText([]byte(tt.s)); err == nil {
				t.Errorf("UnmarshalText(%q) succeeded", tt.s)
			}
		})
	}
}

func TestAddressFromBytes(t *testing.T) {
	for _, n := range []int{0, 19, 20, 21, 32} {
		a, err := AddressFromBytes(make([]byte, n))
		if (err == nil) != (n == AddressSize) {
			t.Errorf("AddressFromBytes(%d bytes) = %x, %v", n, a, err)
		}
	}
	if !(Address{}).IsZero() || testAddress().IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestAddressCBOR(t *testing.T) {
	a := testAddress()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		A Address `cbor:"1,keyasint"`
	}
	enc, err := em.Marshal(holder{A: a})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0xa1, 0x01, 0x54}, a[:]...)
	if !bytes.Equal(enc, want) {
		t.Fatalf("Marshal = %x, want %x", enc, want)
	}
	var back holder
	if err := cbor.Unmarshal(enc, &back); err != nil || back.A != a {
		t.Fatalf("Unmarshal = %x, %v", back.A, err)
	}

	bstr := func(n int) []byte { return append([]byte{0x40 | byte(n)}, make([]byte, n)...) }
	tests := []struct {
		name    string
		item    []byte
		wantErr string
	}{
		{"19-byte string", bstr(19), "20-byte"},
		{"21-byte string", bstr(21), "20-byte"},
		{"empty byte string", bstr(0), "20-byte"},
		{"non-canonical length", append([]byte{0x58, 0x14}, make([]byte, 20)...), "canonical"},
		{"indefinite length", append(append([]byte{0x5f}, bstr(20)...), 0xff), "canonical"},
		{"text string", append([]byte{0x74}, bytes.Repeat([]byte{'a'}, 20)...), "major type 3"},
		{"integer", []byte{0x01}, "major type 0"},
		{"array", append([]byte{0x94}, make([]byte, 20)...), "major type 4"},
		{"null", []byte{0xf6}, "major type 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Address
			err := got.UnmarshalCBOR(tt.item)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("UnmarshalCBOR(%x) = %v, want error containing %q", tt.item, err, tt.wantErr)
			}
			// And through the library, inside a struct.
			doc := append([]byte{0xa1, 0x01}, tt.item...)
			var h holder
			if err := cbor.Unmarshal(doc, &h); err == nil {
				t.Errorf("cbor.Unmarshal(%x) succeeded: %x", doc, h.A)
			}
		})
	}
	t.Run("trailing bytes", func(t *testing.T) {
		var got Address
		if err := got.UnmarshalCBOR(append(bstr(20), 0)); err == nil {
			t.Error("UnmarshalCBOR accepted a trailing byte")
		}
	})
}

func TestAddressJSON(t *testing.T) {
	a := testAddress()
	type holder struct {
		A Address `json:"a"`
	}
	enc, err := json.Marshal(holder{A: a})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"` + a.Account() + `"}`; string(enc) != want {
		t.Fatalf("json = %s, want %s", enc, want)
	}
	for _, s := range []string{a.Account(), a.Device(), hex.EncodeToString(a[:])} {
		var h holder
		if err := json.Unmarshal([]byte(`{"a":"`+s+`"}`), &h); err != nil || h.A != a {
			t.Errorf("json.Unmarshal(%q) = %x, %v", s, h.A, err)
		}
	}
	var h holder
	if err := json.Unmarshal([]byte(`{"a":"cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnrql8a"}`), &h); err == nil {
		t.Error("json.Unmarshal accepted a foreign prefix")
	}
}

// TestBech32Memo: renderings come from the memo after the first, stay right
// for both prefixes, and the memo stays bounded.
func TestBech32Memo(t *testing.T) {
	var a Address
	a[0] = 7
	acct, dev := a.Account(), a.Device()
	if acct == dev || acct[:6] != "hypha1" || dev[:9] != "hyphadev1" {
		t.Fatalf("renderings %q %q", acct, dev)
	}
	for i := range b32Max + 10 {
		var b Address
		b[0], b[1], b[2] = byte(i), byte(i>>8), byte(i>>16)
		b[19] = 1
		got, _, err := ParseAddress(b.Device())
		if err != nil || got != b {
			t.Fatalf("address %d: %v %v", i, got, err)
		}
	}
	if a.Account() != acct || a.Device() != dev {
		t.Fatal("rendering changed")
	}
	b32.mu.Lock()
	n := len(b32.m)
	b32.mu.Unlock()
	if n > b32Max {
		t.Fatalf("memo holds %d, more than %d", n, b32Max)
	}
}
