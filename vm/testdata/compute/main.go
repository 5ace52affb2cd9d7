//go:build wasip1

// Command compute is a CPU-bound benchmark contract (BenchmarkMetering):
// deterministic kernels over a few KiB of static memory, so that a call with
// many rounds is dominated by contract code rather than by instance
// start-up. It neither allocates per round nor calls the host in its loops.
// Call input (sdk.Encoder): the kernel's name, then the number of rounds.
// It returns a checksum (Uint) of the work.
//
//	sieve n   n times: the primes below 16384 (sieve of Eratosthenes)
//	sort n    n times: 2048 xorshift uint32s, sorted (slices.Sort)
//	sha256 n  n times: SHA-256 of a 4 KiB buffer, chained into the buffer
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/hypha-iot/hypha/vm/sdk"
)

var (
	composite [16384]bool
	keys      [2048]uint32
	buf       [4096]byte
)

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	kernel, n := d.String(), int(d.Uint())
	var sum uint64
	switch kernel {
	case "sieve":
		sum = sieve(n)
	case "sort":
		sum = sortKeys(n)
	case "sha256":
		sum = hash(n)
	default:
		sdk.Revert("unknown kernel " + kernel)
	}
	sdk.Return(sdk.NewEncoder().Uint(sum).Encoded())
}

func sieve(n int) uint64 {
	var sum uint64
	for r := range n {
		for i := range composite {
			composite[i] = false
		}
		primes := 0
		for i := 2; i < len(composite); i++ {
			if composite[i] {
				continue
			}
			primes++
			for j := i * i; j < len(composite); j += i {
				composite[j] = true
			}
		}
		sum = sum*31 + uint64(primes+r)
	}
	return sum
}

func sortKeys(n int) uint64 {
	var sum uint64
	x := uint32(2463534242)
	for range n {
		for i := range keys {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			keys[i] = x
		}
		slices.Sort(keys[:])
		sum = sum*31 + uint64(keys[0]) + uint64(keys[len(keys)/2])
	}
	return sum
}

func hash(n int) uint64 {
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for range n {
		h := sha256.Sum256(buf[:])
		copy(buf[:], h[:])
	}
	return binary.LittleEndian.Uint64(buf[:8])
}

func main() {}
