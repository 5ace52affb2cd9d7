package sdk

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	b := NewEncoder().String("increment").Uint(0).Uint(math.MaxUint64).Bytes(nil).Bytes([]byte{0, 1, 2}).Encoded()
	d := NewDecoder(b)
	if s, z, max, empty, three := d.String(), d.Uint(), d.Uint(), d.Bytes(), d.Bytes(); s != "increment" || z != 0 ||
		max != math.MaxUint64 || len(empty) != 0 || !bytes.Equal(three, []byte{0, 1, 2}) {
		t.Errorf("decoded %q %d %d %x %x", s, z, max, empty, three)
	}
	if err := d.Done(); err != nil {
		t.Error(err)
	}
}

func TestDecoderRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":                  {},
		"truncated integer":      {0x80},
		"integer over 64 bits":   {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
		"length past the end":    {5, 'a'},
		"integer of eleven byte": bytes.Repeat([]byte{0x80}, 11),
	} {
		d := NewDecoder(b)
		d.Bytes()
		if !errors.Is(d.Err(), ErrDecode) {
			t.Errorf("%s: no error", name)
		}
		if d.Uint() != 0 || d.Bytes() != nil {
			t.Errorf("%s: reads after a failure return values", name)
		}
	}
	d := NewDecoder([]byte{1, 2})
	d.Uint()
	if d.Err() != nil || d.Done() == nil {
		t.Error("left-over input not reported by Done")
	}
}

// FuzzDecoder: decoding arbitrary input never panics, and what decodes
// re-encodes to the same bytes when the input was canonical.
func FuzzDecoder(f *testing.F) {
	f.Add(NewEncoder().String("get").Uint(300).Encoded())
	f.Add([]byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		var items [][]byte
		for i := 0; i < 64 && d.Err() == nil && d.Done() != nil; i++ {
			items = append(items, d.Bytes())
		}
		if d.Err() != nil {
			return
		}
		e := NewEncoder()
		for _, it := range items {
			e.Bytes(it)
		}
		if d.Done() == nil && len(e.Encoded()) > len(b) {
			t.Fatalf("re-encoding grew: %x -> %x", b, e.Encoded())
		}
	})
}
