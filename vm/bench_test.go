package vm

import (
	"context"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/vm/sdk"
	"github.com/hypha-iot/hypha/vm/vmtest"
)

// BenchmarkCall increments the example counter through the whole path:
// Engine.Call, a fresh instance from the module's image, the Go contract,
// the map-backed host. x-native is the time relative to BenchmarkNativeCall.
func BenchmarkCall(b *testing.B) {
	mod := mustValidate(b, mustContract(b, "counter"), DefaultLimits())
	native := nativeNsPerOp()
	for _, name := range []string{"compiler", "interpreter"} {
		b.Run(name, func(b *testing.B) {
			e := engines(b, DefaultLimits())[name]
			if _, err := e.Load(context.Background(), mod); err != nil {
				b.Fatal(err)
			}
			h := newHost()
			in := inv(EntryCall, encode("increment", 1), 1_000_000)
			var gas uint64
			b.ReportAllocs()
			for b.Loop() {
				res, err := e.Call(context.Background(), mod, in, h)
				if err != nil {
					b.Fatal(err)
				}
				gas = res.GasUsed
			}
			b.ReportMetric(float64(gas), "gas/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/native, "x-native")
		})
	}
}

// BenchmarkNativeCall is the counter's logic in plain Go over the same host.
func BenchmarkNativeCall(b *testing.B) {
	h := newHost()
	in := encode("increment", 1)
	b.ReportAllocs()
	for b.Loop() {
		nativeIncrement(h, in)
	}
}

func nativeIncrement(h *vmtest.Host, input []byte) []byte {
	d := sdk.NewDecoder(input)
	if d.String() != "increment" {
		panic("method")
	}
	by := d.Uint()
	var n uint64
	if v, _ := h.Get([]byte("count")); v != nil {
		n = sdk.NewDecoder(v).Uint()
	}
	n += by
	h.Set([]byte("count"), sdk.NewEncoder().Uint(n).Encoded())
	h.Emit("incremented", sdk.NewEncoder().Uint(n).Encoded())
	out := sdk.NewEncoder().Uint(n).Encoded()
	h.Events = h.Events[:0] // keep the host from growing
	return out
}

func nativeNsPerOp() float64 {
	h := newHost()
	in := encode("increment", 1)
	const n = 200_000
	start := time.Now()
	for range n {
		nativeIncrement(h, in)
	}
	return float64(time.Since(start).Nanoseconds()) / n
}

// BenchmarkValidate measures validation and instrumentation of the counter
// (a 1.8 MiB Go module); ns/KiB is the cost per KiB of code.
func BenchmarkValidate(b *testing.B) {
	code := mustContract(b, "counter")
	lim := DefaultLimits()
	b.SetBytes(int64(len(code)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(code, lim); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(float64(len(code))/1024), "ns/KiB")
}

// BenchmarkLoad measures what a cache miss costs: compiling the counter and
// running its initialiser.
func BenchmarkLoad(b *testing.B) {
	mod := mustValidate(b, mustContract(b, "counter"), DefaultLimits())
	for _, interp := range []bool{false, true} {
		name := map[bool]string{false: "compiler", true: "interpreter"}[interp]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				e, err := NewEngine(context.Background(), Config{Limits: DefaultLimits(), Interpreter: interp})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Load(context.Background(), mod); err != nil {
					b.Fatal(err)
				}
				e.Close(context.Background())
			}
		})
	}
}
