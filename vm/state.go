package vm

import (
	"crypto/sha256"
	"fmt"

	"github.com/hypha-iot/hypha/errs"
	"github.com/tetratelabs/wazero/api"
)

// callState is one call in progress. Host functions find it in their
// context; it is used by one goroutine only.
type callState struct {
	inv  *Invocation
	host Host
	lim  *Limits
	gas  *GasSchedule

	mem    api.Memory
	gasG   api.MutableGlobal
	result []byte // the result buffer (read_result)
	ret    []byte // set_return data
	output []byte // captured stdout and stderr
	events uint32

	mono      uint64 // the monotonic clock, ns
	monoBase  uint64 // its reading when the call started
	randOff   uint64
	randBlock [sha256.Size]byte

	// err is why a host function ended the call; set just before it
	// panics with errHostAbort.
	err error
}

// abort ends the call with err.
func (s *callState) abort(err error) {
	s.err = err
	panic(errHostAbort)
}

// fail ends the call with an error of class, wrapping cause.
func (s *callState) fail(class *errs.Class, cause error) {
	s.abort(class.WithCause(cause, "host call"))
}

// trap ends the call as a trap caused by the contract's misuse of the ABI.
func (s *callState) trap(format string, args ...any) {
	s.abort(fmt.Errorf("%w: %s", ErrTrap, fmt.Sprintf(format, args...)))
}

func (s *callState) gasLeft() int64 { return int64(s.gasG.Get()) }

// charge takes n gas from the counter the code also charges, or ends the
// call out of gas (leaving the counter negative).
func (s *callState) charge(n uint64) {
	left := s.gasLeft()
	if left < 0 || n > uint64(left) {
		s.gasG.Set(api.EncodeI64(-1))
		s.abort(errs.ErrOutOfGas.Wrap("contract used its %d gas", s.inv.GasLimit))
	}
	s.gasG.Set(api.EncodeI64(left - int64(n)))
}

// span checks that [ptr, ptr+n) lies in memory.
func (s *callState) span(ptr, n uint32, what string) {
	if uint64(ptr)+uint64(n) > uint64(s.mem.Size()) {
		s.trap("%s at [%d, +%d) outside memory of %d bytes", what, ptr, n, s.mem.Size())
	}
}

// read copies n bytes at ptr out of memory, after charging for them; n
// above max ends the call with errs.ErrPayloadTooLarge.
func (s *callState) read(ptr, n, max uint32, what string) []byte {
	if n > max {
		s.fail(errs.ErrPayloadTooLarge, fmt.Errorf("%s of %d bytes exceeds %d", what, n, max))
	}
	s.span(ptr, n, what)
	s.charge(s.gas.HostByte * uint64(n))
	b, _ := s.mem.Read(ptr, n)
	return append(make([]byte, 0, n), b...)
}

// write copies b into memory at ptr.
func (s *callState) write(ptr uint32, b []byte) {
	s.span(ptr, uint32(len(b)), "destination")
	s.mem.Write(ptr, b)
}

// setResult fills the result buffer and returns its length as the i32
// result of a host function.
func (s *callState) setResult(b []byte) uint64 {
	if len(b) > 1<<30 {
		s.abort(errs.ErrInternal.Wrap("host returned %d bytes", len(b)))
	}
	s.result = append(s.result[:0], b...)
	return api.EncodeI32(int32(len(b)))
}

type exitError struct {
	code   uint32
	output []byte
}

func (e *exitError) Error() string {
	return fmt.Sprintf("contract exited with code %d", e.code)
}
func (e *exitError) Unwrap() error { return ErrTrap }
