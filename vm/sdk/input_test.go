package sdk

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestIntRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, math.MaxInt64, math.MinInt64} {
		d := NewDecoder(NewEncoder().Int(v).Encoded())
		if got := d.Int(); got != v || d.Done() != nil {
			t.Errorf("Int(%d) read back %d (%v)", v, got, d.Done())
		}
	}
	if n := len(NewEncoder().Int(-1).Encoded()); n != 1 {
		t.Errorf("-1 takes %d bytes, want 1 (zigzag)", n)
	}
}

func TestReadingInput(t *testing.T) {
	r := Reading{Device: bytes.Repeat([]byte{7}, 20), Counter: 9, Payload: []byte{0x81, 0xa0}, Height: 12,
		Records: []Record{{"occupied", 1000}, {"temp", -18250}}}
	got, err := ParseReading(EncodeReading(r))
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if v, ok := got.Value("temp"); !ok || v != -18250 {
		t.Errorf("Value(temp) = %d, %v", v, ok)
	}
	if _, ok := got.Value("missing"); ok {
		t.Error("Value(missing) found")
	}
	in := EncodeReading(r)
	for _, bad := range [][]byte{in[:len(in)-1], append(bytes.Clone(in), 0),
		NewEncoder().Bytes(nil).Uint(1).Bytes(nil).Uint(1).Uint(math.MaxUint64).Encoded()} {
		if _, err := ParseReading(bad); !errors.Is(err, ErrDecode) {
			t.Errorf("ParseReading(%x) = %v, want ErrDecode", bad, err)
		}
	}
}

func TestMessageAndTickInput(t *testing.T) {
	m := Message{Sender: bytes.Repeat([]byte{1}, 20), Kind: KindContractCommand, ID: bytes.Repeat([]byte{2}, 16),
		Payload: []byte("hello"), Height: 5, Depth: 2, Command: "open"}
	got, err := ParseMessage(EncodeMessage(m))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := ParseMessage(EncodeMessage(m)[1:]); !errors.Is(err, ErrDecode) {
		t.Errorf("truncated message: %v", err)
	}
	if h, err := ParseTick(NewEncoder().Uint(42).Encoded()); err != nil || h != 42 {
		t.Errorf("ParseTick = %d, %v", h, err)
	}
	if _, err := ParseTick(NewEncoder().Uint(42).Uint(1).Encoded()); !errors.Is(err, ErrDecode) {
		t.Errorf("ParseTick with trailing bytes: %v", err)
	}
}
