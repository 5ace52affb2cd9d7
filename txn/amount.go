package txn

import (
	"encoding/binary"
	"math/bits"

	"github.com/hypha-iot/hypha/errs"
)

// Denom is the native token's base unit: 1 HYP = 1,000,000 uhyp.
const Denom = "uhyp"

// Amount is a quantity of uhyp. On the wire it is a CBOR unsigned integer;
// a negative integer or a bignum is rejected with ErrNegativeAmount or
// ErrAmountOverflow rather than a generic decode error.
type Amount uint64

// UnmarshalCBOR reads one CBOR unsigned integer (major type 0).
func (a *Amount) UnmarshalCBOR(b []byte) error {
	if len(b) == 0 {
		return errs.ErrTruncated.Wrap("amount")
	}
	major, info := b[0]>>5, b[0]&0x1f
	switch {
	case major == 1:
		return errs.ErrNegativeAmount.Wrap("amount is a negative integer")
	case major == 6 && (info == 2 || info == 3):
		return errs.ErrAmountOverflow.Wrap("amount is a bignum")
	case major != 0:
		return errs.ErrMalformed.Wrap("amount must be an unsigned integer")
	}
	var v uint64
	switch {
	case info < 24:
		v = uint64(info)
	case info == 24 && len(b) == 2:
		v = uint64(b[1])
	case info == 25 && len(b) == 3:
		v = uint64(binary.BigEndian.Uint16(b[1:]))
	case info == 26 && len(b) == 5:
		v = uint64(binary.BigEndian.Uint32(b[1:]))
	case info == 27 && len(b) == 9:
		v = binary.BigEndian.Uint64(b[1:])
	default:
		return errs.ErrMalformed.Wrap("amount: bad integer head")
	}
	*a = Amount(v)
	return nil
}

// Add returns a+b or ErrAmountOverflow.
func (a Amount) Add(b Amount) (Amount, error) {
	s, carry := bits.Add64(uint64(a), uint64(b), 0)
	if carry != 0 {
		return 0, errs.ErrAmountOverflow.Wrap("%d + %d", a, b)
	}
	return Amount(s), nil
}

// Sub returns a-b or ErrInsufficientFunds when b > a.
func (a Amount) Sub(b Amount) (Amount, error) {
	if b > a {
		return 0, errs.ErrInsufficientFunds.Wrap("need %d%s, have %d%s", b, Denom, a, Denom)
	}
	return a - b, nil
}
