package vm

import (
	"encoding/binary"
	"errors"

	"github.com/hypha-iot/hypha/errs"
	"github.com/tetratelabs/wazero/api"
)

// ABIModule is the import module of the host ABI, version 1. A later,
// incompatible ABI gets a new name (hypha_v2) beside this one, so deployed
// contracts keep working.
const ABIModule = "hypha_v1"

// Entry points a contract may export, each a function of type [] -> [].
// Which ones the ledger calls, and what input it passes, is the ledger's
// contract; the runtime only checks the name and type.
const (
	EntryInstantiate = "instantiate" // once, at deployment
	EntryCall        = "call"        // a transaction calls the contract
	EntryMigrate     = "migrate"     // the code is replaced; runs the new code
	EntryOnReading   = "on_reading"  // a subscribed device reading arrived
	EntryOnMessage   = "on_message"  // a message addressed to the contract
	EntryOnTick      = "on_tick"     // a subscribed block interval elapsed
)

// EntryPoints lists the entry point names.
var EntryPoints = []string{EntryInstantiate, EntryCall, EntryMigrate, EntryOnReading, EntryOnMessage, EntryOnTick}

// initExport is the export the Go toolchain (-buildmode=c-shared) and
// WASI reactors provide to initialise the runtime; the engine runs it once
// per loaded module and snapshots the result (image.go).
const initExport = "_initialize"

// reservedPrefix starts the names of the exports the instrumenter adds; a
// contract may not export such a name itself.
const reservedPrefix = "__hypha"

// Names of the injected globals' exports.
const (
	exportGas   = "__hypha_gas"
	exportDepth = "__hypha_depth"
	exportFault = "__hypha_fault"
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one function of an import module.
type hostFunc struct {
	params, results []api.ValueType
	fn              func(s *callState, stack []uint64)
}

// abiV1 is the hypha_v1 import module. Pointers and lengths are i32 offsets
// into the contract's memory, checked against its bounds before the Host
// sees anything: a bad pointer traps (ErrTrap) and the Host is not called;
// a length over its limit fails the call with errs.ErrPayloadTooLarge.
// Functions that return variable-length data put it in the call's result
// buffer and return its length, or -1 for "none"; read_result copies the
// buffer into the contract's memory. A status is 0 for success or the errs
// class code of the Host's refusal (errs.ErrInsufficientFunds: 34, ...).
//
//	input() -> len                       the call's input into the buffer
//	read_result(dst)                     copy the buffer to dst
//	set_return(ptr, len)                 the call's return data (last wins)
//	revert(ptr, len)                     end the call: ErrReverted, reason
//	caller() -> len                      Invocation.Caller into the buffer
//	self() -> len                        Invocation.Contract into the buffer
//	block_height() -> i64                Invocation.Height
//	block_time() -> i64                  Invocation.Time, Unix ns
//	gas_left() -> i64                    gas left
//	funds() -> i64                       Invocation.Funds: tokens the caller attached
//	storage_get(k, kl) -> len | -1       value into the buffer
//	storage_set(k, kl, v, vl)
//	storage_delete(k, kl)
//	storage_next(p, pl, a, al) -> len|-1 first entry under prefix p after key a,
//	                                     as u32le(len(key)) key value
//	emit(t, tl, d, dl)                   event with topic t and data d
//	device(id, idl) -> len | -1          the device's record (ledger encoding)
//	latest_reading(id, idl) -> len | -1  its latest reading (ledger encoding)
//	balance(a, al, out) -> status        balance as u64le at out
//	transfer(to, tol, amount i64) -> status
//	send(to, tol, kind, kl, p, pl) -> status   command message of kind
var abiV1 = map[string]hostFunc{
	"input":          {nil, []api.ValueType{i32}, hInput},
	"read_result":    {[]api.ValueType{i32}, nil, hReadResult},
	"set_return":     {[]api.ValueType{i32, i32}, nil, hSetReturn},
	"revert":         {[]api.ValueType{i32, i32}, nil, hRevert},
	"caller":         {nil, []api.ValueType{i32}, hCaller},
	"self":           {nil, []api.ValueType{i32}, hSelf},
	"block_height":   {nil, []api.ValueType{i64}, hBlockHeight},
	"block_time":     {nil, []api.ValueType{i64}, hBlockTime},
	"gas_left":       {nil, []api.ValueType{i64}, hGasLeft},
	"funds":          {nil, []api.ValueType{i64}, hFunds},
	"storage_get":    {[]api.ValueType{i32, i32}, []api.ValueType{i32}, hStorageGet},
	"storage_set":    {[]api.ValueType{i32, i32, i32, i32}, nil, hStorageSet},
	"storage_delete": {[]api.ValueType{i32, i32}, nil, hStorageDelete},
	"storage_next":   {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, hStorageNext},
	"emit":           {[]api.ValueType{i32, i32, i32, i32}, nil, hEmit},
	"device":         {[]api.ValueType{i32, i32}, []api.ValueType{i32}, hDevice},
	"latest_reading": {[]api.ValueType{i32, i32}, []api.ValueType{i32}, hLatestReading},
	"balance":        {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, hBalance},
	"transfer":       {[]api.ValueType{i32, i32, i64}, []api.ValueType{i32}, hTransfer},
	"send":           {[]api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, hSend},
}

// errHostAbort is the panic value of a host function that ends the call; the
// engine recovers the cause from the call state, not from the panic.
var errHostAbort = errors.New("host call aborted")

func hInput(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	stack[0] = s.setResult(s.inv.Input)
}

func hReadResult(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.HostByte*uint64(len(s.result)))
	s.write(uint32(stack[0]), s.result)
}

func hSetReturn(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	b := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxReturnBytes, "return data")
	s.ret = b
}

func hRevert(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	msg := s.read(uint32(stack[0]), uint32(stack[1]), 1024, "revert message")
	s.abort(&revertError{msg: string(msg)})
}

func hCaller(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	stack[0] = s.setResult(s.inv.Caller)
}

func hSelf(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	stack[0] = s.setResult(s.inv.Contract)
}

func hBlockHeight(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	stack[0] = uint64(s.inv.Height)
}

func hBlockTime(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	stack[0] = uint64(s.inv.Time.UnixNano())
}

func hFunds(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	stack[0] = s.inv.Funds
}

func hGasLeft(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	stack[0] = uint64(s.gasLeft())
}

func hStorageGet(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.StorageRead)
	key := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "key")
	v, err := s.host.Get(key)
	s.check(err)
	if v == nil {
		s.result = s.result[:0]
		stack[0] = api.EncodeI32(-1)
		return
	}
	s.charge(s.gas.HostByte * uint64(len(v)))
	stack[0] = s.setResult(v)
}

func hStorageSet(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.StorageWrite)
	key := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "key")
	val := s.read(uint32(stack[2]), uint32(stack[3]), s.lim.MaxValueBytes, "value")
	s.charge(s.gas.StorageWriteByte * uint64(len(key)+len(val)))
	s.check(s.host.Set(key, val))
}

func hStorageDelete(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.StorageWrite)
	key := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "key")
	s.check(s.host.Delete(key))
}

// hStorageNext's result is u32le(len(key)) || key || value.
func hStorageNext(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.StorageRead)
	prefix := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "prefix")
	after := s.read(uint32(stack[2]), uint32(stack[3]), s.lim.MaxKeyBytes, "key")
	k, v, err := s.host.Next(prefix, after)
	s.check(err)
	if k == nil {
		s.result = s.result[:0]
		stack[0] = api.EncodeI32(-1)
		return
	}
	s.charge(s.gas.HostByte * uint64(len(k)+len(v)))
	buf := binary.LittleEndian.AppendUint32(s.result[:0], uint32(len(k)))
	buf = append(append(buf, k...), v...)
	stack[0] = s.setResult(buf)
}

func hEmit(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.Event)
	if s.events++; s.events > s.lim.MaxEvents {
		s.fail(errs.ErrPayloadTooLarge, errors.New("more events than the limit"))
	}
	topic := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxEventBytes, "event topic")
	data := s.read(uint32(stack[2]), uint32(stack[3]), s.lim.MaxEventBytes-uint32(len(topic)), "event data")
	s.charge(s.gas.EventByte * uint64(len(topic)+len(data)))
	s.check(s.host.Emit(string(topic), data))
}

func hDevice(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.Query)
	id := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "device id")
	stack[0] = s.queryResult(s.host.Device(id))
}

func hLatestReading(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.Query)
	id := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "device id")
	stack[0] = s.queryResult(s.host.LatestReading(id))
}

// hBalance writes the balance as a u64 (little endian) at its third
// argument and returns a status.
func hBalance(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.Query)
	addr := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "address")
	out := uint32(stack[2])
	s.span(out, 8, "balance") // checked before the Host runs
	bal, err := s.host.Balance(addr)
	if st := s.status(err); st != 0 {
		stack[0] = uint64(st)
		return
	}
	s.write(out, binary.LittleEndian.AppendUint64(nil, bal))
	stack[0] = 0
}

func hTransfer(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.Action)
	to := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "address")
	stack[0] = uint64(s.status(s.host.Transfer(to, stack[2])))
}

func hSend(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall + s.gas.Action)
	to := s.read(uint32(stack[0]), uint32(stack[1]), s.lim.MaxKeyBytes, "address")
	kind := s.read(uint32(stack[2]), uint32(stack[3]), s.lim.MaxKeyBytes, "message kind")
	payload := s.read(uint32(stack[4]), uint32(stack[5]), s.lim.MaxValueBytes, "payload")
	s.charge(s.gas.HostByte * uint64(len(payload)))
	stack[0] = uint64(s.status(s.host.Send(to, string(kind), payload)))
}

// queryResult turns a Host look-up into a result-buffer length: a missing
// record and a refusal both read as -1.
func (s *callState) queryResult(rec []byte, err error) uint64 {
	if s.status(err) != 0 || rec == nil {
		s.result = s.result[:0]
		return api.EncodeI32(-1)
	}
	s.charge(s.gas.HostByte * uint64(len(rec)))
	return s.setResult(rec)
}

// status maps a Host error to the status the contract sees: 0, or the code
// of a refusal class. Other errors — unclassified (errs.ErrInternal), or
// the Host's own out-of-gas — abort the call.
func (s *callState) status(err error) uint32 {
	if err == nil {
		return 0
	}
	c := errs.Of(err)
	if c == errs.ErrInternal || c == errs.ErrOutOfGas {
		s.abort(err)
	}
	return c.Code
}

// check aborts the call on any Host error: storage has no refusals.
func (s *callState) check(err error) {
	if err != nil {
		s.abort(err)
	}
}

type revertError struct{ msg string }

func (e *revertError) Error() string { return "contract reverted: " + e.msg }
func (e *revertError) Unwrap() error { return ErrReverted }
