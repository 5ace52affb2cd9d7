//go:build wasip1

package sdk

import "unsafe"

//go:wasmimport hypha_v1 input
func hostInput() int32

//go:wasmimport hypha_v1 read_result
func hostReadResult(dst unsafe.Pointer)

//go:wasmimport hypha_v1 set_return
func hostSetReturn(ptr unsafe.Pointer, n uint32)

//go:wasmimport hypha_v1 revert
func hostRevert(ptr unsafe.Pointer, n uint32)

//go:wasmimport hypha_v1 caller
func hostCaller() int32

//go:wasmimport hypha_v1 self
func hostSelf() int32

//go:wasmimport hypha_v1 block_height
func hostBlockHeight() int64

//go:wasmimport hypha_v1 block_time
func hostBlockTime() int64

//go:wasmimport hypha_v1 funds
func hostFunds() uint64

//go:wasmimport hypha_v1 gas_left
func hostGasLeft() int64

//go:wasmimport hypha_v1 storage_get
func hostStorageGet(kp unsafe.Pointer, kl uint32) int32

//go:wasmimport hypha_v1 storage_set
func hostStorageSet(kp unsafe.Pointer, kl uint32, vp unsafe.Pointer, vl uint32)

//go:wasmimport hypha_v1 storage_delete
func hostStorageDelete(kp unsafe.Pointer, kl uint32)

//go:wasmimport hypha_v1 storage_next
func hostStorageNext(pp unsafe.Pointer, pl uint32, ap unsafe.Pointer, al uint32) int32

//go:wasmimport hypha_v1 emit
func hostEmit(tp unsafe.Pointer, tl uint32, dp unsafe.Pointer, dl uint32)

//go:wasmimport hypha_v1 device
func hostDevice(ip unsafe.Pointer, il uint32) int32

//go:wasmimport hypha_v1 latest_reading
func hostLatestReading(ip unsafe.Pointer, il uint32) int32

//go:wasmimport hypha_v1 balance
func hostBalance(ap unsafe.Pointer, al uint32, out unsafe.Pointer) uint32

//go:wasmimport hypha_v1 transfer
func hostTransfer(tp unsafe.Pointer, tl uint32, amount uint64) uint32

//go:wasmimport hypha_v1 send
func hostSend(tp unsafe.Pointer, tl uint32, kp unsafe.Pointer, kl uint32, pp unsafe.Pointer, pl uint32) uint32

//go:wasmimport wasi_snapshot_preview1 random_get
func wasiRandomGet(buf unsafe.Pointer, n uint32) uint32

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func sptr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// result fetches the result buffer of the host call that returned n; n < 0
// means none.
func result(n int32) ([]byte, bool) {
	if n < 0 {
		return nil, false
	}
	b := make([]byte, n)
	if n > 0 {
		hostReadResult(ptr(b))
	}
	return b, true
}

// Input returns the call's input.
func Input() []byte {
	b, _ := result(hostInput())
	return b
}

// Caller returns the address that caused the call (empty for on_tick).
func Caller() []byte {
	b, _ := result(hostCaller())
	return b
}

// Self returns the contract's own address.
func Self() []byte {
	b, _ := result(hostSelf())
	return b
}

// Height returns the block height.
func Height() int64 { return hostBlockHeight() }

// BlockTime returns the block time in Unix nanoseconds; time.Now reads the
// same clock.
func BlockTime() int64 { return hostBlockTime() }

// Funds returns the tokens (uhyp) the caller attached to this call; they
// are already in the contract's balance. 0 for triggers.
func Funds() uint64 { return hostFunds() }

// GasLeft returns the gas the call has left.
func GasLeft() int64 { return hostGasLeft() }

// Get returns the value stored under key.
func Get(key []byte) ([]byte, bool) {
	return result(hostStorageGet(ptr(key), uint32(len(key))))
}

// Set stores value under key.
func Set(key, value []byte) {
	hostStorageSet(ptr(key), uint32(len(key)), ptr(value), uint32(len(value)))
}

// Delete removes key.
func Delete(key []byte) { hostStorageDelete(ptr(key), uint32(len(key))) }

// Iterate calls fn for each entry whose key starts with prefix, in key
// order, until fn returns false.
func Iterate(prefix []byte, fn func(key, value []byte) bool) {
	var after []byte
	for {
		buf, ok := result(hostStorageNext(ptr(prefix), uint32(len(prefix)), ptr(after), uint32(len(after))))
		if !ok || len(buf) < 4 {
			return
		}
		kl := uint32(buf[0]) | uint32(buf[1])<<8 | uint32(buf[2])<<16 | uint32(buf[3])<<24
		key, value := buf[4:4+kl:4+kl], buf[4+kl:]
		if !fn(key, value) {
			return
		}
		after = key
	}
}

// Emit records an event.
func Emit(topic string, data []byte) {
	hostEmit(sptr(topic), uint32(len(topic)), ptr(data), uint32(len(data)))
}

// Return sets the data the call returns (the last call wins).
func Return(data []byte) { hostSetReturn(ptr(data), uint32(len(data))) }

// Revert ends the call, discarding its effects, with msg as the reason.
// It does not return.
func Revert(msg string) {
	hostRevert(sptr(msg), uint32(len(msg)))
	panic("unreachable")
}

// Device returns a device's record, as encoded by the ledger.
func Device(id []byte) ([]byte, bool) {
	return result(hostDevice(ptr(id), uint32(len(id))))
}

// LatestReading returns a device's latest reading, as encoded by the ledger.
func LatestReading(id []byte) ([]byte, bool) {
	return result(hostLatestReading(ptr(id), uint32(len(id))))
}

// Balance returns an account's balance in the base denomination.
func Balance(addr []byte) (uint64, error) {
	var out [8]byte
	if st := hostBalance(ptr(addr), uint32(len(addr)), unsafe.Pointer(&out)); st != 0 {
		return 0, Status(st)
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(out[i])
	}
	return v, nil
}

// Transfer sends amount of the contract's tokens to addr.
func Transfer(to []byte, amount uint64) error {
	return statusErr(hostTransfer(ptr(to), uint32(len(to)), amount))
}

// Send sends a command message of kind to a device or account.
func Send(to []byte, kind string, payload []byte) error {
	return statusErr(hostSend(ptr(to), uint32(len(to)), sptr(kind), uint32(len(kind)), ptr(payload), uint32(len(payload))))
}

// Random fills b with bytes drawn from the call's seed: the same on every
// node, different for every transaction; never use it for secrets.
func Random(b []byte) {
	if len(b) > 0 {
		wasiRandomGet(ptr(b), uint32(len(b)))
	}
}

func statusErr(st uint32) error {
	if st == 0 {
		return nil
	}
	return Status(st)
}

// Typed storage: values in the SDK's encoding under text keys, the way the
// examples keep their state.

// GetUint returns the integer stored under key, 0 if there is none.
func GetUint(key string) uint64 {
	v, ok := Get([]byte(key))
	if !ok {
		return 0
	}
	return NewDecoder(v).Uint()
}

// SetUint stores an integer under key.
func SetUint(key string, v uint64) { Set([]byte(key), NewEncoder().Uint(v).Encoded()) }

// GetInt returns the signed integer stored under key, 0 if there is none.
func GetInt(key string) int64 {
	v, ok := Get([]byte(key))
	if !ok {
		return 0
	}
	return NewDecoder(v).Int()
}

// SetInt stores a signed integer under key.
func SetInt(key string, v int64) { Set([]byte(key), NewEncoder().Int(v).Encoded()) }

// GetBytes returns the bytes stored under key, nil if there are none.
func GetBytes(key string) []byte {
	v, _ := Get([]byte(key))
	return v
}
