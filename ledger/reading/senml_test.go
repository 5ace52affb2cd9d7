package reading_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/reading"
)

// SenML CBOR labels, RFC 8428 §6 Table 6.
const (
	bver = -1
	bn   = -2
	bt   = -3
	bu   = -4
	bv   = -5
	bs   = -6
	n    = 0
	u    = 1
	v    = 2
	vs   = 3
	vb   = 4
	s    = 5
	t_   = 6
	ut   = 7
	vd   = 8
)

var detEnc = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// pack encodes SenML records given with integer labels.
func pack(tb testing.TB, recs ...map[int]any) []byte {
	tb.Helper()
	if recs == nil {
		recs = []map[int]any{}
	}
	return mustCBOR(tb, recs)
}

func mustCBOR(tb testing.TB, x any) []byte {
	tb.Helper()
	b, err := detEnc.Marshal(x)
	if err != nil {
		tb.Fatalf("cbor marshal %T: %v", x, err)
	}
	return b
}

func mustHex(tb testing.TB, h string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		tb.Fatalf("hex %q: %v", h, err)
	}
	return b
}

// records returns k copies of a minimal valid record.
func records(k int) []map[int]any {
	out := make([]map[int]any, k)
	for i := range out {
		out[i] = map[int]any{n: "temp", v: i}
	}
	return out
}

// nested returns depth levels of one-element arrays around 1.
func nested(depth int) any {
	var x any = 1
	for range depth {
		x = []any{x}
	}
	return x
}

// validPacks are SenML packs ValidateSenML accepts, with their record
// counts. The rfc/ ones are RFC 8428 §5 examples in the CBOR form of §6.
func validPacks(tb testing.TB) []struct {
	name string
	in   []byte
	n    int
} {
	tb.Helper()
	return []struct {
		name string
		in   []byte
		n    int
	}{
		{"rfc/5.1.1-single-datapoint", pack(tb,
			map[int]any{n: "urn:dev:ow:10e2073a01080063", u: "Cel", v: 23.1}), 1},
		{"rfc/5.1.2-multiple-datapoints", pack(tb,
			map[int]any{bn: "urn:dev:ow:10e2073a01080063:", n: "voltage", u: "V", v: 120.1},
			map[int]any{n: "current", u: "A", v: 1.2}), 2},
		{"rfc/5.1.3-multiple-measurements", pack(tb,
			map[int]any{bn: "urn:dev:ow:10e2073a0108006:", bt: 1.276020076001e+09, bu: "A", bver: 5,
				n: "voltage", u: "V", v: 120.1},
			map[int]any{n: "current", t_: -5, v: 1.2},
			map[int]any{n: "current", t_: -4, v: 1.3},
			map[int]any{n: "current", t_: -3, v: 1.4},
			map[int]any{n: "current", t_: -2, v: 1.5},
			map[int]any{n: "current", t_: -1, v: 1.6},
			map[int]any{n: "current", v: 1.7}), 7},
		{"rfc/5.1.4-resolved", pack(tb,
			map[int]any{n: "urn:dev:ow:10e2073a0108006:voltage", u: "V", v: 120.1, t_: 1.276020076001e+09},
			map[int]any{n: "urn:dev:ow:10e2073a0108006:current", u: "A", v: 1.2, t_: 1.276020071001e+09}), 2},
		{"rfc/5.1.5-multiple-data-types", pack(tb,
			map[int]any{bn: "urn:dev:ow:10e2073a01080063:", n: "temperature", v: 23.1, u: "Cel"},
			map[int]any{n: "label", vs: "Machine Room"},
			map[int]any{n: "open", vb: false},
			map[int]any{n: "nfc-reader", vd: []byte("hi\n")}), 4},
		{"ipv6-base-name", pack(tb,
			map[int]any{bn: "2001:db8::2/", bt: 1.320078429e+09, n: "temperature", v: 27.2, u: "Cel"},
			map[int]any{n: "humidity", v: 80, u: "%RH"}), 2},
		{"sum-and-update-time", pack(tb,
			map[int]any{bn: "urn:dev:ow:10e2073a01080063:", bu: "kWh", bs: 0, n: "energy", s: 1234.5, ut: 60},
			map[int]any{n: "energy", s: 1240.25, t_: 60}), 2},
		{"base-value", pack(tb, map[int]any{bn: "dev1/", bv: 10, n: "x", v: -1.5}), 1},
		{"base-name-only", pack(tb, map[int]any{bn: "urn:dev:mac:0024befffe804ff1", v: 1}), 1},
		{"base-name-changes", pack(tb,
			map[int]any{bn: "a/", n: "x", v: 1},
			map[int]any{bn: "b/", n: "x", v: 2},
			map[int]any{n: "y", v: 3}), 3},
		{"value-and-sum", pack(tb, map[int]any{n: "e", v: 1, s: 10}), 1},
		{"integer-values", pack(tb, map[int]any{n: "a", v: math.MaxInt64, t_: math.MinInt64, ut: 0}), 1},
		{"float32-value", pack(tb, map[int]any{n: "a", v: float32(1.5)}), 1},
		{"empty-string-and-bytes-values", pack(tb,
			map[int]any{n: "a", vs: ""}, map[int]any{n: "b", vd: []byte{}}), 2},
		{"name-all-allowed-chars", pack(tb, map[int]any{n: "Az09-:./_x", v: 1}), 1},
		{"text-extension-label", mustCBOR(tb, []map[any]any{{int64(n): "a", int64(v): 1, "ext": []any{1, "x"}}}), 1},
		{"max-records", pack(tb, records(reading.MaxRecords)...), reading.MaxRecords},
		{"indefinite-length-pack", mustHex(tb, "9fa2006161020aff"), 1}, // [_ {0: "a", 2: 10}]
	}
}

func TestValidateSenMLValid(t *testing.T) {
	for _, c := range validPacks(t) {
		t.Run(c.name, func(t *testing.T) {
			got, err := reading.ValidateSenML(c.in)
			if err != nil || got != c.n {
				t.Fatalf("ValidateSenML = %d, %v; want %d records", got, err, c.n)
			}
		})
	}
}

// invalidPacks are inputs ValidateSenML must reject with ErrInvalidPayload.
func invalidPacks(tb testing.TB) []struct {
	name string
	in   []byte
} {
	tb.Helper()
	withKey := func(k, val any) []byte { // a valid record plus one label
		return mustCBOR(tb, []map[any]any{{int64(n): "a", int64(v): 1, k: val}})
	}
	return []struct {
		name string
		in   []byte
	}{
		// Not a pack.
		{"empty-input", nil},
		{"not-array/map", mustCBOR(tb, map[int]any{n: "a", v: 1})},
		{"not-array/int", mustCBOR(tb, 1)},
		{"not-array/text", mustCBOR(tb, "a")},
		{"not-array/bytes", mustCBOR(tb, []byte{0x80})},
		{"not-array/null", mustHex(tb, "f6")},
		{"empty-array", pack(tb)},
		{"array-of-ints", mustCBOR(tb, []any{1})},
		{"array-of-arrays", mustCBOR(tb, []any{[]any{}})},
		{"array-with-null", mustCBOR(tb, []any{map[int]any{n: "a", v: 1}, nil})},
		{"truncated", pack(tb, map[int]any{n: "a", v: 1})[:5]},
		{"trailing-bytes", append(pack(tb, map[int]any{n: "a", v: 1}), 0)},
		{"malformed/reserved-info", mustHex(tb, "81a1001c")},

		// Values.
		{"no-value", pack(tb, map[int]any{n: "a"})},
		{"no-value-only-unit", pack(tb, map[int]any{n: "a", u: "Cel", t_: 1})},
		{"empty-record", pack(tb, map[int]any{})},
		{"second-record-no-value", pack(tb, map[int]any{n: "a", v: 1}, map[int]any{n: "b"})},
		{"two-values/v-vs", pack(tb, map[int]any{n: "a", v: 1, vs: "x"})},
		{"two-values/v-vb", pack(tb, map[int]any{n: "a", v: 1, vb: true})},
		{"two-values/vs-vd", pack(tb, map[int]any{n: "a", vs: "x", vd: []byte{1}})},
		{"four-values", pack(tb, map[int]any{n: "a", v: 1, vs: "x", vb: true, vd: []byte{1}})},
		{"base-value-is-not-a-value", pack(tb, map[int]any{n: "a", bv: 1})},
		{"base-sum-is-not-a-sum", pack(tb, map[int]any{n: "a", bs: 1})},

		// Wrong types, per label class.
		{"type/bn-int", pack(tb, map[int]any{bn: 1, n: "a", v: 1})},
		{"type/n-int", pack(tb, map[int]any{n: 1, v: 1})},
		{"type/n-bytes", pack(tb, map[int]any{n: []byte("a"), v: 1})},
		{"type/bu-int", pack(tb, map[int]any{bu: 1, n: "a", v: 1})},
		{"type/u-bool", pack(tb, map[int]any{u: true, n: "a", v: 1})},
		{"type/vs-int", pack(tb, map[int]any{n: "a", vs: 1})},
		{"type/vs-bytes", pack(tb, map[int]any{n: "a", vs: []byte("x")})},
		{"type/bt-text", pack(tb, map[int]any{bt: "now", n: "a", v: 1})},
		{"type/bv-bool", pack(tb, map[int]any{bv: true, n: "a", v: 1})},
		{"type/bs-null", pack(tb, map[int]any{bs: nil, n: "a", v: 1})},
		{"type/v-text", pack(tb, map[int]any{n: "a", v: "1"})},
		{"type/v-bool", pack(tb, map[int]any{n: "a", v: true})},
		{"type/v-array", pack(tb, map[int]any{n: "a", v: []any{1}})},
		{"type/v-bignum", pack(tb, map[int]any{n: "a", v: cbor.Tag{Number: 2, Content: []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}}})},
		{"type/v-uint64-above-int64", pack(tb, map[int]any{n: "a", v: uint64(math.MaxUint64)})},
		{"type/v-epoch-tag", pack(tb, map[int]any{n: "a", v: cbor.Tag{Number: 1, Content: 5}})},
		{"type/s-bytes", pack(tb, map[int]any{n: "a", s: []byte{1}})},
		{"type/t-text", pack(tb, map[int]any{n: "a", v: 1, t_: "2024-01-01"})},
		{"type/ut-bool", pack(tb, map[int]any{n: "a", v: 1, ut: false})},
		{"type/vb-int", pack(tb, map[int]any{n: "a", vb: 1})},
		{"type/vb-text", pack(tb, map[int]any{n: "a", vb: "true"})},
		{"type/vd-text", pack(tb, map[int]any{n: "a", vd: "aGkgCg"})},
		{"type/bver-text", pack(tb, map[int]any{bver: "5", n: "a", v: 1})},
		{"type/bver-zero", pack(tb, map[int]any{bver: 0, n: "a", v: 1})},
		{"type/bver-negative", pack(tb, map[int]any{bver: -5, n: "a", v: 1})},
		{"type/bver-float", pack(tb, map[int]any{bver: 5.0, n: "a", v: 1})},

		// Labels.
		{"label/must-understand", withKey("foo_", 1)},
		{"label/must-understand-underscore-only", withKey("_", 1)},
		{"label/empty-text", withKey("", 1)},
		{"label/unknown-negative", withKey(int64(-99), 1)},
		{"label/unknown-negative-7", withKey(int64(-7), 1)},
		{"label/unknown-9", withKey(int64(9), 1)},
		{"label/unknown-large", withKey(uint64(math.MaxInt64), 1)},
		{"label/above-int64", withKey(uint64(math.MaxUint64), 1)},
		{"label/below-int64", mustHex(tb, "81a300616102013bffffffffffffffff01")}, // key -2^64
		{"label/float", withKey(2.5, 1)},
		{"label/bytes", withKey(cbor.ByteString("n"), 1)},
		{"label/bool", withKey(true, 1)},
		{"label/null", withKey(nil, 1)},
		{"label/tagged", withKey(cbor.Tag{Number: 1000, Content: 0}, 1)},
		{"label/duplicate", mustHex(tb, "81a3006161020100626162")}, // [{0: "a", 2: 1, 0: "ab"}]

		// Names.
		{"name/none", pack(tb, map[int]any{v: 1})},
		{"name/empty", pack(tb, map[int]any{n: "", v: 1})},
		{"name/empty-base-and-name", pack(tb, map[int]any{bn: "", n: "", v: 1})},
		{"name/starts-with-dash", pack(tb, map[int]any{n: "-a", v: 1})},
		{"name/starts-with-slash", pack(tb, map[int]any{n: "/a", v: 1})},
		{"name/base-starts-with-colon", pack(tb, map[int]any{bn: ":dev", n: "a", v: 1})},
		{"name/space", pack(tb, map[int]any{n: "a b", v: 1})},
		{"name/unicode", pack(tb, map[int]any{n: "température", v: 1})},
		{"name/nul", pack(tb, map[int]any{n: "a\x00", v: 1})},
		{"name/invalid-utf8", mustHex(tb, "81a20062c3280201")},
		{"name/later-record-without-base", pack(tb, map[int]any{n: "a", v: 1}, map[int]any{v: 2})},

		// Limits.
		{"too-many-records", pack(tb, records(reading.MaxRecords+1)...)},
		{"deeply-nested", withKey("ext", nested(8))},
		{"very-deeply-nested", bytes.Repeat([]byte{0x81}, 10_000)},
		{"too-many-labels", mustCBOR(tb, []map[any]any{func() map[any]any {
			m := map[any]any{int64(n): "a", int64(v): 1}
			for i := range 40 {
				m[strings.Repeat("x", i+1)] = i
			}
			return m
		}()})},
		{"huge-length", mustHex(tb, "9bffffffffffffffff")},
	}
}

func TestValidateSenMLInvalid(t *testing.T) {
	for _, c := range invalidPacks(t) {
		t.Run(c.name, func(t *testing.T) {
			got, err := reading.ValidateSenML(c.in)
			if err == nil {
				t.Fatalf("accepted %x (%d records)", c.in, got)
			}
			if errs.Of(err) != errs.ErrInvalidPayload {
				t.Fatalf("class %s (%v), want ErrInvalidPayload", errs.Of(err).Name, err)
			}
			if got != 0 {
				t.Errorf("returned %d records with an error", got)
			}
		})
	}
}

// FuzzValidateSenML checks that ValidateSenML never panics, classes every
// error as ErrInvalidPayload, and counts records within 1..MaxRecords.
func FuzzValidateSenML(f *testing.F) {
	for _, c := range validPacks(f) {
		f.Add(c.in)
	}
	for _, c := range invalidPacks(f) {
		if len(c.in) <= 4096 {
			f.Add(c.in)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := reading.ValidateSenML(in)
		if err != nil {
			if errs.Of(err) != errs.ErrInvalidPayload || got != 0 {
				t.Fatalf("got %d, %v; want 0 and ErrInvalidPayload", got, err)
			}
			return
		}
		if got < 1 || got > reading.MaxRecords {
			t.Fatalf("accepted with %d records", got)
		}
	})
}

func BenchmarkValidateSenML(b *testing.B) {
	sizes := []int{1, 10, reading.MaxRecords}
	for _, k := range sizes {
		recs := []map[int]any{{bn: "urn:dev:ow:10e2073a01080063:", bt: 1.7e9, bu: "Cel", n: "temp", v: 21.5}}
		for i := 1; i < k; i++ {
			recs = append(recs, map[int]any{n: "temp", t_: i * 10, v: 21.5 + float64(i)/10})
		}
		in := pack(b, recs...)
		b.Run(strconv.Itoa(k)+"-records", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reading.ValidateSenML(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
