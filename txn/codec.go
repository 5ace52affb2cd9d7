package txn

import (
	"bytes"
	"errors"
	"io"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
)

// encMode is RFC 8949 §4.2.1 core deterministic encoding: shortest integer
// and length forms, map keys sorted bytewise, no indefinite lengths.
var encMode cbor.EncMode

// decMode is strict: duplicate map keys, indefinite lengths, unknown struct
// fields and trailing bytes are errors. Canonical form is checked separately
// by re-encoding (see Unmarshal).
var decMode cbor.DecMode

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsAllowed,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		MaxNestedLevels:   16,
		MaxArrayElements:  4096,
		MaxMapPairs:       256,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v in canonical CBOR. It fails only for types that cannot
// be encoded, which is a programming error in the caller.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// MustMarshal is Marshal for values whose types are known to encode (ledger
// records); it panics otherwise.
func MustMarshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic("txn: marshal: " + err.Error())
	}
	return b
}

// Unmarshal decodes canonical CBOR into v strictly: the input must be exactly
// one well-formed item, in canonical form, with no unknown or duplicate keys.
// Errors carry an errs class (ErrTruncated, ErrNonCanonical, …).
func Unmarshal(b []byte, v any) error {
	if err := decMode.Unmarshal(b, v); err != nil {
		return classify(err)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return errs.ErrMalformed.WithCause(err, "re-encode")
	}
	if !bytes.Equal(again, b) {
		return errs.ErrNonCanonical.Wrap("input differs from its canonical encoding")
	}
	return nil
}

// UnmarshalRecord decodes a record the ledger itself encoded (with
// Marshal) and read back from its authenticated store. It is Unmarshal
// without the re-encoding that proves canonical form: what the store holds
// was canonical when written, and the tree's hashes cover every byte since.
// Anything from outside the ledger (txs, payloads, query answers a client
// receives) goes through Unmarshal.
func UnmarshalRecord(b []byte, v any) error {
	if err := decMode.Unmarshal(b, v); err != nil {
		return classify(err)
	}
	return nil
}

// classify maps a decoder error to its errs class. Errors that already carry
// a class (from custom unmarshalers in this package) keep it.
func classify(err error) error {
	if c := errs.Of(err); c != errs.ErrInternal {
		return err
	}
	var (
		unknown  *cbor.UnknownFieldError
		dup      *cbor.DupMapKeyError
		indef    *cbor.IndefiniteLengthError
		extra    *cbor.ExtraneousDataError
		typeErr  *cbor.UnmarshalTypeError
		syntax   *cbor.SyntaxError
		semantic *cbor.SemanticError
	)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errs.ErrTruncated.WithCause(err, "decode")
	case errors.As(err, &unknown):
		return errs.ErrUnknownField.WithCause(err, "decode")
	case errors.As(err, &dup):
		return errs.ErrDuplicateKey.WithCause(err, "decode")
	case errors.As(err, &indef):
		return errs.ErrIndefiniteLength.WithCause(err, "decode")
	case errors.As(err, &extra):
		return errs.ErrTrailingBytes.WithCause(err, "decode")
	case errors.As(err, &typeErr):
		return errs.ErrMalformed.WithCause(err, "decode")
	case errors.As(err, &syntax), errors.As(err, &semantic):
		return errs.ErrMalformed.WithCause(err, "decode")
	}
	return errs.ErrMalformed.WithCause(err, "decode")
}
