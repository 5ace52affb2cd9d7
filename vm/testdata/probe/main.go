//go:build wasip1

// Command probe is a test contract that exercises the runtime: the Go
// runtime's floats, maps, hashing, time and randomness, and the ways a call
// can fail. Its methods (call input: sdk.Encoder, method name first):
//
//	work n          a deterministic workload of size n; returns a digest
//	time            returns time.Now and sdk.BlockTime, in ns
//	loop            never returns
//	recurse n       recursion n deep
//	alloc mib       allocates and touches mib MiB
//	panic           panics
//	transfer to amt returns the transfer's status
//	iterate prefix  returns the keys under prefix, comma separated
//	caller          returns caller and self
package main

import (
	"crypto/sha256"
	"math"
	"slices"
	"time"

	"github.com/hypha-iot/hypha/vm/sdk"
)

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	switch method := d.String(); method {
	case "work":
		sdk.Return(work(int(d.Uint())))
	case "time":
		sdk.Return(sdk.NewEncoder().Uint(uint64(time.Now().UnixNano())).Uint(uint64(sdk.BlockTime())).Encoded())
	case "loop":
		for i := 0; ; i++ {
			sink = i
		}
	case "recurse":
		sdk.Return(sdk.NewEncoder().Uint(uint64(recurse(int(d.Uint())))).Encoded())
	case "alloc":
		mib := int(d.Uint())
		var bufs [][]byte
		for range mib {
			b := make([]byte, 1<<20)
			b[0], b[len(b)-1] = 1, 1
			bufs = append(bufs, b)
		}
		sdk.Return(sdk.NewEncoder().Uint(uint64(len(bufs))).Encoded())
	case "panic":
		panic("boom")
	case "transfer":
		to, amount := d.Bytes(), d.Uint()
		var st uint64
		if err := sdk.Transfer(to, amount); err != nil {
			st = uint64(err.(sdk.Status))
		}
		sdk.Return(sdk.NewEncoder().Uint(st).Encoded())
	case "iterate":
		var out []byte
		sdk.Iterate(d.Bytes(), func(k, v []byte) bool {
			out = append(append(out, k...), ',')
			return true
		})
		sdk.Return(out)
	case "caller":
		sdk.Return(sdk.NewEncoder().Bytes(sdk.Caller()).Bytes(sdk.Self()).Encoded())
	default:
		sdk.Revert("unknown method " + method)
	}
}

var sink int

//go:noinline
func recurse(n int) int {
	if n == 0 {
		return 0
	}
	return recurse(n-1) + 1
}

// work mixes what could differ between engines or machines if the runtime
// were not deterministic: NaN payloads, float rounding, map iteration
// order, memory growth, the random seed.
func work(n int) []byte {
	h := sha256.New()
	put := func(v uint64) {
		var b [8]byte
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		h.Write(b[:])
	}
	zero := 0.0
	x := 1.0
	m := make(map[int]float64)
	for i := 1; i <= n; i++ {
		x = math.Sqrt(x*1.0001 + float64(i)/3)
		nan := zero / zero * x // a NaN whose bits the hardware picks
		put(math.Float64bits(nan))
		put(math.Float64bits(float64(float32(x) / 7)))
		m[i] = x
	}
	var order []int
	for k := range m { // Go randomises this order from the runtime's seed
		order = append(order, k)
	}
	put(uint64(len(order)))
	for i, k := range order[:min(len(order), 8)] {
		put(uint64(i*1000 + k))
	}
	slices.Sort(order)
	for _, k := range order {
		put(math.Float64bits(m[k]))
	}
	var r [16]byte
	sdk.Random(r[:])
	h.Write(r[:])
	big := make([]byte, n*256)
	h.Write(big)
	return h.Sum(nil)
}

func main() {}
