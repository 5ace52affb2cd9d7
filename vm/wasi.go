package vm

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// wasiModule is the WASI import module Go's GOOS=wasip1 output uses.
const wasiModule = "wasi_snapshot_preview1"

// WASI errno values (https://github.com/WebAssembly/WASI/blob/snapshot-01/phases/snapshot/docs.md#errno).
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNosys   = 52
	errnoSpipe   = 70
)

// Bounds on what one WASI call may ask for.
const (
	maxIovecs       = 1024
	maxSubscription = 64
	maxRandomBytes  = 64 << 10
)

// Virtual clocks. The monotonic clock starts at monoStart when a module is
// initialised and continues from the image's reading in every call; it
// advances by clockTick at every reading and by the timeout of every sleep
// (poll_oneoff), so that time-based loops in the Go runtime make progress.
// The realtime clock is the block time plus the monotonic time elapsed in
// the call.
// Nothing reads the host's clock.
const (
	monoStart = 1_000_000_000
	clockTick = 1000
)

// wasiV1 is the deterministic subset of wasi_snapshot_preview1 (see doc.go,
// "WASI"). There are no arguments, no environment, no files: stdout and
// stderr are captured into Result.Output (bounded), every other descriptor
// is closed. Functions outside the implemented set that Go's syscall and os
// packages may link are stubs answering ENOSYS.
var wasiV1 = map[string]hostFunc{
	"args_sizes_get":      {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wZeroSizes},
	"args_get":            {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wSuccess},
	"environ_sizes_get":   {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wZeroSizes},
	"environ_get":         {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wSuccess},
	"clock_res_get":       {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wClockRes},
	"clock_time_get":      {[]api.ValueType{i32, i64, i32}, []api.ValueType{i32}, wClockTime},
	"fd_write":            {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, wFdWrite},
	"fd_read":             {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, wBadf},
	"fd_close":            {[]api.ValueType{i32}, []api.ValueType{i32}, wBadf},
	"fd_fdstat_get":       {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wFdstatGet},
	"fd_fdstat_set_flags": {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wNosys},
	"fd_filestat_get":     {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wFilestatGet},
	"fd_prestat_get":      {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wBadf},
	"fd_prestat_dir_name": {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, wBadf},
	"fd_seek":             {[]api.ValueType{i32, i64, i32, i32}, []api.ValueType{i32}, wSeek},
	"path_open":           {[]api.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32}, []api.ValueType{i32}, wBadf},
	"poll_oneoff":         {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, wPollOneoff},
	"proc_exit":           {[]api.ValueType{i32}, nil, wProcExit},
	"random_get":          {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wRandomGet},
	"sched_yield":         {nil, []api.ValueType{i32}, wSuccess},

	// Stubs.
	"fd_advise":               {[]api.ValueType{i32, i64, i64, i32}, []api.ValueType{i32}, wNosys},
	"fd_allocate":             {[]api.ValueType{i32, i64, i64}, []api.ValueType{i32}, wNosys},
	"fd_datasync":             {[]api.ValueType{i32}, []api.ValueType{i32}, wNosys},
	"fd_fdstat_set_rights":    {[]api.ValueType{i32, i64, i64}, []api.ValueType{i32}, wNosys},
	"fd_filestat_set_size":    {[]api.ValueType{i32, i64}, []api.ValueType{i32}, wNosys},
	"fd_filestat_set_times":   {[]api.ValueType{i32, i64, i64, i32}, []api.ValueType{i32}, wNosys},
	"fd_pread":                {[]api.ValueType{i32, i32, i32, i64, i32}, []api.ValueType{i32}, wNosys},
	"fd_pwrite":               {[]api.ValueType{i32, i32, i32, i64, i32}, []api.ValueType{i32}, wNosys},
	"fd_readdir":              {[]api.ValueType{i32, i32, i32, i64, i32}, []api.ValueType{i32}, wNosys},
	"fd_renumber":             {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wNosys},
	"fd_sync":                 {[]api.ValueType{i32}, []api.ValueType{i32}, wNosys},
	"fd_tell":                 {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wNosys},
	"path_create_directory":   {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"path_filestat_get":       {[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"path_filestat_set_times": {[]api.ValueType{i32, i32, i32, i32, i64, i64, i32}, []api.ValueType{i32}, wNosys},
	"path_link":               {[]api.ValueType{i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"path_readlink":           {[]api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"path_remove_directory":   {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"path_rename":             {[]api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"path_symlink":            {[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"path_unlink_file":        {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"proc_raise":              {[]api.ValueType{i32}, []api.ValueType{i32}, wNosys},
	"sock_accept":             {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"sock_recv":               {[]api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"sock_send":               {[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}, wNosys},
	"sock_shutdown":           {[]api.ValueType{i32, i32}, []api.ValueType{i32}, wNosys},
}

func wErrno(s *callState, stack []uint64, errno uint32) {
	s.charge(s.gas.HostCall)
	stack[0] = uint64(errno)
}

func wSuccess(s *callState, stack []uint64) { wErrno(s, stack, errnoSuccess) }
func wBadf(s *callState, stack []uint64)    { wErrno(s, stack, errnoBadf) }
func wNosys(s *callState, stack []uint64)   { wErrno(s, stack, errnoNosys) }

// wZeroSizes answers args_sizes_get and environ_sizes_get: none.
func wZeroSizes(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	if !s.mem.WriteUint32Le(uint32(stack[0]), 0) || !s.mem.WriteUint32Le(uint32(stack[1]), 0) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func wClockRes(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	if uint32(stack[0]) > 3 {
		stack[0] = errnoInval
		return
	}
	if !s.mem.WriteUint64Le(uint32(stack[1]), clockTick) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// wClockTime: clock 0 is realtime, 1 monotonic, 2 and 3 (CPU time) read
// as monotonic.
func wClockTime(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	id, out := uint32(stack[0]), uint32(stack[2])
	if id > 3 {
		stack[0] = errnoInval
		return
	}
	s.mono += clockTick
	t := s.mono
	if id == 0 {
		t = s.realtime()
	}
	if !s.mem.WriteUint64Le(out, t) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// wFdWrite captures stdout and stderr into Result.Output.
func wFdWrite(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	fd, iovs, n, out := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if fd != 1 && fd != 2 {
		stack[0] = errnoBadf
		return
	}
	if n > maxIovecs {
		stack[0] = errnoInval
		return
	}
	var total uint64
	for i := range n {
		ptr, ok1 := s.mem.ReadUint32Le(iovs + 8*i)
		ln, ok2 := s.mem.ReadUint32Le(iovs + 8*i + 4)
		if !ok1 || !ok2 {
			stack[0] = errnoFault
			return
		}
		b, ok := s.mem.Read(ptr, ln)
		if !ok {
			stack[0] = errnoFault
			return
		}
		s.charge(s.gas.HostByte * uint64(ln))
		if room := MaxOutputBytes - len(s.output); room > 0 {
			s.output = append(s.output, b[:min(len(b), room)]...)
		}
		total += uint64(ln)
	}
	if !s.mem.WriteUint32Le(out, uint32(total)) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// realtime is the block time plus the virtual time elapsed in the call.
func (s *callState) realtime() uint64 {
	return uint64(s.inv.Time.UnixNano()) + s.mono - s.monoBase
}

// wFdstatGet describes 0, 1 and 2 as character devices with every right.
func wFdstatGet(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	fd, out := uint32(stack[0]), uint32(stack[1])
	if fd > 2 {
		stack[0] = errnoBadf
		return
	}
	var st [24]byte
	st[0] = 2 // character_device
	binary.LittleEndian.PutUint64(st[8:], ^uint64(0))
	if !s.mem.Write(out, st[:]) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func wFilestatGet(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	fd, out := uint32(stack[0]), uint32(stack[1])
	if fd > 2 {
		stack[0] = errnoBadf
		return
	}
	var st [64]byte
	st[16] = 2 // character_device
	if !s.mem.Write(out, st[:]) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func wSeek(s *callState, stack []uint64) {
	if uint32(stack[0]) <= 2 {
		wErrno(s, stack, errnoSpipe)
		return
	}
	wErrno(s, stack, errnoBadf)
}

// wPollOneoff completes every subscription at once: clock subscriptions
// advance the monotonic clock to the earliest deadline (a sleep takes no
// real time), descriptor subscriptions fail with EBADF.
func wPollOneoff(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	in, out, n, nout := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if n == 0 || n > maxSubscription {
		stack[0] = errnoInval
		return
	}
	subs, ok := s.mem.Read(in, 48*n)
	if !ok {
		stack[0] = errnoFault
		return
	}
	if _, ok := s.mem.Read(out, 32*n); !ok {
		stack[0] = errnoFault
		return
	}
	var wake uint64
	events := make([]byte, 32*n)
	for i := range n {
		sub, ev := subs[48*i:48*i+48], events[32*i:32*i+32]
		copy(ev[0:8], sub[0:8]) // userdata
		ev[10] = sub[8]         // type
		switch sub[8] {
		case 0: // clock
			deadline := binary.LittleEndian.Uint64(sub[24:])
			switch abs := binary.LittleEndian.Uint16(sub[40:])&1 == 1; {
			case !abs:
				deadline += s.mono
			case binary.LittleEndian.Uint32(sub[16:]) == 0: // absolute realtime
				deadline = deadline - s.realtime() + s.mono
			}
			if wake == 0 || deadline < wake {
				wake = deadline
			}
		default:
			binary.LittleEndian.PutUint16(ev[8:], errnoBadf)
		}
	}
	if wake > s.mono && wake-s.mono < 1<<62 {
		s.mono = wake
	}
	s.mem.Write(out, events)
	if !s.mem.WriteUint32Le(nout, n) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func wProcExit(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	s.abort(&exitError{code: uint32(stack[0]), output: s.output})
}

// wRandomGet fills the buffer from a SHA-256 counter-mode stream over the
// invocation's seed: block i is SHA-256(seed || uint64be(i)).
func wRandomGet(s *callState, stack []uint64) {
	s.charge(s.gas.HostCall)
	ptr, n := uint32(stack[0]), uint32(stack[1])
	if n > maxRandomBytes {
		stack[0] = errnoInval
		return
	}
	s.charge(s.gas.HostByte * 4 * uint64(n))
	buf := make([]byte, n)
	for i := range buf {
		if s.randOff%sha256.Size == 0 {
			var blk [40]byte
			copy(blk[:], s.inv.Seed[:])
			binary.BigEndian.PutUint64(blk[32:], s.randOff/sha256.Size)
			s.randBlock = sha256.Sum256(blk[:])
		}
		buf[i] = s.randBlock[s.randOff%sha256.Size]
		s.randOff++
	}
	if !s.mem.Write(ptr, buf) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}
