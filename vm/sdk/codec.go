package sdk

import "errors"

// ErrDecode reports input that does not hold what the Decoder was asked for.
var ErrDecode = errors.New("sdk: malformed input")

// Encoder builds arguments and results in the SDK's wire format: a sequence
// of items, each an unsigned LEB128 integer (Uint; Int zigzag-encodes a
// signed one first) or an LEB128 length
// followed by that many bytes (Bytes, String). The format has no field tags
// or types; both sides agree on the order. It is usable outside contracts
// (a client building a call's input, a test) and costs a contract no
// reflection.
type Encoder struct{ buf []byte }

// Uint appends an integer.
func (e *Encoder) Uint(v uint64) *Encoder {
	for v >= 0x80 {
		e.buf = append(e.buf, byte(v)|0x80)
		v >>= 7
	}
	e.buf = append(e.buf, byte(v))
	return e
}

// Int appends a signed integer (zigzag, then as Uint).
func (e *Encoder) Int(v int64) *Encoder { return e.Uint(uint64(v<<1) ^ uint64(v>>63)) }

// Bytes appends a byte string.
func (e *Encoder) Bytes(b []byte) *Encoder {
	e.Uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
	return e
}

// String appends a string.
func (e *Encoder) String(s string) *Encoder {
	e.Uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
	return e
}

// Encoded returns the bytes built so far.
func (e *Encoder) Encoded() []byte { return e.buf }

// Decoder reads what an Encoder wrote. After the first failure every read
// returns a zero value and Err reports ErrDecode, so a contract can read all
// its arguments and check once.
type Decoder struct {
	b   []byte
	bad bool
}

// NewDecoder reads b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Uint reads an integer.
func (d *Decoder) Uint() uint64 {
	var v uint64
	for i := 0; i < 10 && !d.bad; i++ {
		if len(d.b) == 0 {
			break
		}
		c := d.b[0]
		d.b = d.b[1:]
		if i == 9 && c > 1 {
			break
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v
		}
	}
	d.bad = true
	return 0
}

// Int reads a signed integer.
func (d *Decoder) Int() int64 {
	u := d.Uint()
	return int64(u>>1) ^ -int64(u&1)
}

// Bytes reads a byte string; the result aliases the input.
func (d *Decoder) Bytes() []byte {
	n := d.Uint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

// String reads a string.
func (d *Decoder) String() string { return string(d.Bytes()) }

// Err reports whether a read failed.
func (d *Decoder) Err() error {
	if d.bad {
		return ErrDecode
	}
	return nil
}

// Done reports ErrDecode if a read failed or input is left over.
func (d *Decoder) Done() error {
	if d.bad || len(d.b) > 0 {
		return ErrDecode
	}
	return nil
}

// NewEncoder returns an empty Encoder.
func NewEncoder() *Encoder { return &Encoder{} }
