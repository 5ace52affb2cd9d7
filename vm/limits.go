package vm

import "fmt"

// Limits bound what a contract may be and do. They are consensus
// parameters: every node must use the same Limits for the same module, since
// they shape the instrumented code (gas costs, depth limit) and the outcome
// of every call. The ledger keeps them in its chain parameters.
type Limits struct {
	// MaxCodeBytes bounds the deployed binary (custom sections included).
	MaxCodeBytes uint32
	// MaxFunctions bounds imported plus defined functions.
	MaxFunctions uint32
	// MaxFunctionBytes bounds one function body; it also bounds the time the
	// compiler spends on one function.
	MaxFunctionBytes uint32
	// MaxLocals bounds a function's parameters plus declared locals.
	MaxLocals uint32
	// MaxGlobals bounds the module's globals.
	MaxGlobals uint32
	// MaxExports bounds the module's exports.
	MaxExports uint32
	// MaxTableElements bounds the size of the one function table.
	MaxTableElements uint32
	// MaxMemoryPages bounds linear memory (64 KiB pages), declared or grown.
	MaxMemoryPages uint32
	// MaxCallDepth is the call-stack budget in frame units: an active call of
	// a function costs 1 + (params+locals)/64 + bodyBytes/8192 units (see
	// frameUnits). Entering a function past the budget traps with
	// ErrCallDepth. At most 1800, which keeps every engine far from its own
	// stack limits.
	MaxCallDepth uint32
	// MaxInputBytes bounds the call input; MaxReturnBytes the data a call
	// returns; MaxKeyBytes and MaxValueBytes a storage entry; MaxEventBytes
	// an event's topic plus data.
	MaxInputBytes  uint32
	MaxReturnBytes uint32
	MaxKeyBytes    uint32
	MaxValueBytes  uint32
	MaxEventBytes  uint32
	// MaxEvents bounds the events of one call.
	MaxEvents uint32
	// MaxInitGas bounds the module's initialiser (_initialize: Go's runtime
	// start-up and package initialisers), run once when the module is
	// loaded.
	MaxInitGas uint64
	// Gas is the price list.
	Gas GasSchedule
}

// GasSchedule prices execution. One unit is roughly one simple WebAssembly
// instruction (about a nanosecond of compiled code); the ledger converts
// contract gas into transaction gas.
type GasSchedule struct {
	// Instr is charged for every instruction, per basic block on entry.
	Instr uint64
	// Call is charged on top of Instr for call and call_indirect.
	Call uint64
	// MemoryPage is charged per 64 KiB page that memory.grow asks for,
	// whether or not the growth succeeds.
	MemoryPage uint64
	// Bulk is charged per 16 bytes of memory.copy and memory.fill.
	Bulk uint64
	// HostCall is charged for every call of a host function; HostByte per
	// byte copied across the boundary in either direction.
	HostCall uint64
	HostByte uint64
	// StorageRead is charged per storage_get and storage_next;
	// StorageWrite per storage_set and storage_delete, plus
	// StorageWriteByte per key and value byte written.
	StorageRead      uint64
	StorageWrite     uint64
	StorageWriteByte uint64
	// Event is charged per emitted event; EventByte per byte of it.
	Event     uint64
	EventByte uint64
	// Query is charged per device, reading or balance look-up; Action per
	// transfer or command sent.
	Query  uint64
	Action uint64
	// Instance is charged at the start of every call for the fresh
	// instance, plus InstancePage per 64 KiB page of its initial memory and
	// InstanceTableElem per function-table element: setting up an instance
	// of a Go contract (2.4 MiB of memory, 5,400 table elements) costs more
	// than a simple call's work.
	Instance          uint64
	InstancePage      uint64
	InstanceTableElem uint64
}

// MaxGasPrice bounds each entry of a GasSchedule so that no charge (price
// times at most 2^32) can overflow the 63-bit gas counter.
const MaxGasPrice = 1 << 20

// maxCallDepthCeiling keeps the depth budget below wazero's interpreter
// frame limit (2000) with room for the entry and host frames.
const maxCallDepthCeiling = 1800

// DefaultLimits are the limits of a new chain. They admit a Go contract built
// with GOOS=wasip1 (about 2 MiB of code, 1,300 functions, a 5,400-entry
// table, 2 MiB of initial memory).
func DefaultLimits() Limits {
	return Limits{
		MaxCodeBytes:     4 << 20,
		MaxFunctions:     20_000,
		MaxFunctionBytes: 128 << 10,
		MaxLocals:        1024,
		MaxGlobals:       256,
		MaxExports:       64,
		MaxTableElements: 1 << 16,
		MaxMemoryPages:   512, // 32 MiB
		MaxCallDepth:     1024,
		MaxInputBytes:    64 << 10,
		MaxReturnBytes:   64 << 10,
		MaxKeyBytes:      256,
		MaxValueBytes:    64 << 10,
		MaxEventBytes:    4 << 10,
		MaxEvents:        64,
		MaxInitGas:       50_000_000,
		Gas:              DefaultGas(),
	}
}

// DefaultGas is the default price list.
func DefaultGas() GasSchedule {
	return GasSchedule{
		Instr:            1,
		Call:             3,
		MemoryPage:       4096,
		Bulk:             1,
		HostCall:         200,
		HostByte:         1,
		StorageRead:      1000,
		StorageWrite:     5000,
		StorageWriteByte: 20,
		Event:            2000,
		EventByte:        10,
		Query:            2000,
		Action:           10000,

		Instance:          20_000,
		InstancePage:      2500,
		InstanceTableElem: 25,
	}
}

// Validate checks that the limits are usable.
func (l Limits) Validate() error {
	switch {
	case l.MaxCodeBytes == 0 || l.MaxCodeBytes > 64<<20:
		return fmt.Errorf("vm limits: max_code_bytes %d outside [1, 64 MiB]", l.MaxCodeBytes)
	case l.MaxFunctions == 0 || l.MaxFunctions > 1<<20:
		return fmt.Errorf("vm limits: max_functions %d outside [1, 2^20]", l.MaxFunctions)
	case l.MaxFunctionBytes == 0 || l.MaxFunctionBytes > 1<<20:
		return fmt.Errorf("vm limits: max_function_bytes %d outside [1, 1 MiB]", l.MaxFunctionBytes)
	case l.MaxLocals == 0 || l.MaxLocals > 1<<16:
		return fmt.Errorf("vm limits: max_locals %d outside [1, 65536]", l.MaxLocals)
	case l.MaxGlobals > 1<<16:
		return fmt.Errorf("vm limits: max_globals %d above 65536", l.MaxGlobals)
	case l.MaxTableElements > 1<<20:
		return fmt.Errorf("vm limits: max_table_elements %d above 2^20", l.MaxTableElements)
	case l.MaxMemoryPages == 0 || l.MaxMemoryPages > 65536:
		return fmt.Errorf("vm limits: max_memory_pages %d outside [1, 65536]", l.MaxMemoryPages)
	case l.MaxCallDepth == 0 || l.MaxCallDepth > maxCallDepthCeiling:
		return fmt.Errorf("vm limits: max_call_depth %d outside [1, %d]", l.MaxCallDepth, maxCallDepthCeiling)
	case l.MaxInitGas > MaxGasLimit:
		return fmt.Errorf("vm limits: max_init_gas %d above %d", l.MaxInitGas, uint64(MaxGasLimit))
	case l.MaxInputBytes > 16<<20, l.MaxReturnBytes > 16<<20, l.MaxKeyBytes > 1<<20,
		l.MaxValueBytes > 16<<20, l.MaxEventBytes > 16<<20:
		return fmt.Errorf("vm limits: a byte bound is above 16 MiB")
	}
	g := l.Gas
	for name, v := range map[string]uint64{"instr": g.Instr, "call": g.Call, "memory_page": g.MemoryPage,
		"bulk": g.Bulk, "host_call": g.HostCall, "host_byte": g.HostByte, "storage_read": g.StorageRead,
		"storage_write": g.StorageWrite, "storage_write_byte": g.StorageWriteByte, "event": g.Event,
		"event_byte": g.EventByte, "query": g.Query, "action": g.Action, "instance": g.Instance,
		"instance_page": g.InstancePage, "instance_table_elem": g.InstanceTableElem} {
		if v > MaxGasPrice {
			return fmt.Errorf("vm limits: gas.%s %d above %d", name, v, MaxGasPrice)
		}
	}
	return nil
}
