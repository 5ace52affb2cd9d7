package keys

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/cosmos/btcutil/bech32"
)

// AddressSize is the size of an address in bytes.
const AddressSize = 20

// Bech32 human-readable prefixes.
const (
	AccountPrefix = "hypha"    // accounts: hypha1...
	DevicePrefix  = "hyphadev" // devices: hyphadev1...
)

// Address identifies an account or a device: the first 20 bytes of
// SHA-256(type byte || public key), see [PublicKey.Address]. The same bytes
// render with either prefix; which one applies is a matter of what the
// address names, not of the bytes.
//
// In CBOR an Address is a 20-byte byte string; in text (and so JSON) it is
// the bech32 account form.
type Address [AddressSize]byte

// AddressFromBytes converts exactly 20 bytes to an Address.
func AddressFromBytes(b []byte) (Address, error) {
	if len(b) != AddressSize {
		return Address{}, fmt.Errorf("keys: address is %d bytes, want %d", len(b), AddressSize)
	}
	return Address(b), nil
}

// Account returns the bech32 account form, "hypha1...".
func (a Address) Account() string { return a.bech32(AccountPrefix) }

// Device returns the bech32 device form, "hyphadev1...".
func (a Address) Device() string { return a.bech32(DevicePrefix) }

// String returns the account form.
func (a Address) String() string { return a.Account() }

// IsZero reports whether all bytes of a are zero.
func (a Address) IsZero() bool { return a == Address{} }

func (a Address) bech32(prefix string) string {
	k := b32Key{addr: a, prefix: prefix}
	b32.mu.Lock()
	s, ok := b32.m[k]
	b32.mu.Unlock()
	if ok {
		return s
	}
	s, err := bech32.EncodeFromBase256(prefix, a[:])
	if err != nil {
		// Unreachable: 20 bytes and a constant, valid prefix.
		panic("keys: bech32 encode: " + err.Error())
	}
	b32.mu.Lock()
	if len(b32.m) >= b32Max {
		clear(b32.m)
	}
	b32.m[k] = s
	b32.mu.Unlock()
	return s
}

// b32 memoizes bech32 renderings: the ledger names the same signers and
// devices in the events of block after block, and encoding costs about a
// microsecond each time. It holds at most b32Max strings and is emptied
// when full; what it holds never changes a result.
var b32 = struct {
	mu sync.Mutex
	m  map[b32Key]string
}{m: make(map[b32Key]string)}

const b32Max = 1 << 16

type b32Key struct {
	addr   Address
	prefix string
}

// ParseAddress parses an address in any of its text forms and returns the
// prefix it was written with:
//
//   - bech32 with prefix "hypha" or "hyphadev" (all lower or all upper case,
//     per BIP-173) and a 20-byte payload, returning that prefix;
//   - exactly 40 lowercase hex characters, returning the prefix "".
//
// Any other prefix, a bad checksum, mixed case, padding bits that are not
// zero or a payload of another length is an error.
func ParseAddress(s string) (Address, string, error) {
	if len(s) == 2*AddressSize && isLowerHex(s) {
		var a Address
		if _, err := hex.Decode(a[:], []byte(s)); err != nil {
			return Address{}, "", fmt.Errorf("keys: parse address %q: %w", s, err)
		}
		return a, "", nil
	}
	hrp, data, err := bech32.DecodeToBase256(s)
	if err != nil {
		return Address{}, "", fmt.Errorf("keys: parse address %q: %w", s, err)
	}
	if hrp != AccountPrefix && hrp != DevicePrefix {
		return Address{}, "", fmt.Errorf("keys: parse address %q: prefix %q, want %q or %q", s, hrp, AccountPrefix, DevicePrefix)
	}
	if len(data) != AddressSize {
		return Address{}, "", fmt.Errorf("keys: parse address %q: payload is %d bytes, want %d", s, len(data), AddressSize)
	}
	return Address(data), hrp, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// cborAddressHeader is the CBOR initial byte of a 20-byte byte string:
// major type 2, length 20 in the additional information (RFC 8949 §3.1).
const cborAddressHeader = 2<<5 | AddressSize

// MarshalCBOR encodes a as a 20-byte CBOR byte string.
func (a Address) MarshalCBOR() ([]byte, error) {
	out := make([]byte, 1+AddressSize)
	out[0] = cborAddressHeader
	copy(out[1:], a[:])
	return out, nil
}

// UnmarshalCBOR decodes a CBOR byte string of exactly 20 bytes in its
// canonical (shortest) form. Any other major type, length or encoding,
// including indefinite-length strings, is an error.
func (a *Address) UnmarshalCBOR(data []byte) error {
	if len(data) == 0 {
		return errors.New("keys: cbor address: empty input")
	}
	if major := data[0] >> 5; major != 2 {
		return fmt.Errorf("keys: cbor address: got major type %d, want byte string (2)", major)
	}
	if data[0] != cborAddressHeader {
		return fmt.Errorf("keys: cbor address: want a canonical 20-byte byte string, got header 0x%02x", data[0])
	}
	if len(data) != 1+AddressSize {
		return fmt.Errorf("keys: cbor address: %d bytes after header, want %d", len(data)-1, AddressSize)
	}
	copy(a[:], data[1:])
	return nil
}

// MarshalText returns the bech32 account form.
func (a Address) MarshalText() ([]byte, error) {
	return []byte(a.Account()), nil
}

// UnmarshalText accepts any form ParseAddress accepts.
func (a *Address) UnmarshalText(text []byte) error {
	v, _, err := ParseAddress(string(text))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
