package vm

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// chunk is a run of bytes at an offset of linear memory.
type chunk struct {
	off  uint32
	data []byte
}

// image is the state every call of a module starts from: memory size and
// contents, the module's mutable globals, the monotonic clock.
//
// For a module that exports _initialize (Go's c-shared output), the engine
// runs _initialize once when it loads the module — Go's runtime start-up
// and package initialisers, about a million instructions — and snapshots
// the result, the way Wizer pre-initialises modules. Every call then starts
// from the snapshot instead of re-running start-up. The snapshot is a pure
// function of the module and the limits (the initialiser sees Unix time 0,
// a seed derived from the code hash and no host), so every node builds the
// same one; its gas is reported by Load for the ledger to charge at
// deployment, and calls are charged only for their own work.
//
// The compiled code declares an empty memory and no data segments; the
// engine grows the memory to the image's size and writes its chunks, which
// is cheaper than wazero applying Go's twenty thousand small data segments.
type image struct {
	pages   uint32
	chunks  []chunk
	globals []uint64 // values of Module.globals; nil keeps the initial values
	mono    uint64
	initGas uint64
	callGas uint64 // charged at the start of every call (GasSchedule.Instance)
}

// chunkGap is the run of zero bytes that splits a snapshot chunk.
const chunkGap = 64

// buildImage returns the image of mod; for a module with _initialize it
// runs the initialiser in a fresh instance of cm.
func (e *Engine) buildImage(ctx context.Context, cm wazero.CompiledModule, mod *Module) (*image, error) {
	base := &image{pages: mod.memPages, chunks: mod.data, mono: monoStart}
	if !mod.initializes {
		base.callGas = e.callGas(mod, base)
		return base, nil
	}
	inv := &Invocation{GasLimit: e.lim.MaxInitGas, Time: time.Unix(0, 0), Seed: mod.Hash}
	s := &callState{inv: inv, lim: &e.lim, gas: &e.lim.Gas}
	cctx := context.WithValue(ctx, stateKey{}, s)
	inst, err := e.start(cctx, cm, mod, base, s)
	if err != nil {
		return nil, err
	}
	defer inst.Close(ctx)
	if _, err := inst.ExportedFunction(initExport).Call(cctx); err != nil || s.gasLeft() < 0 {
		err = e.classify(inst, s, err) // out of gas if the counter is negative, even if err is nil
		return nil, fmt.Errorf("%w: %s failed: %v", ErrInvalidModule, initExport, err)
	}
	img := &image{pages: s.mem.Size() / 65536, mono: s.mono, initGas: inv.GasLimit - uint64(s.gasLeft())}
	buf, _ := s.mem.Read(0, s.mem.Size())
	img.chunks = nonZeroRuns(buf)
	for _, name := range mod.globals {
		img.globals = append(img.globals, inst.ExportedGlobal(name).Get())
	}
	img.callGas = e.callGas(mod, img)
	return img, nil
}

func (e *Engine) callGas(mod *Module, img *image) uint64 {
	g := &e.lim.Gas
	return g.Instance + uint64(img.pages)*g.InstancePage + uint64(mod.tableSize)*g.InstanceTableElem
}

// start instantiates cm and loads img: the instance is ready to run an
// entry point with s.inv.GasLimit gas less img.callGas, which the caller
// has checked.
func (e *Engine) start(ctx context.Context, cm wazero.CompiledModule, mod *Module, img *image, s *callState) (api.Module, error) {
	inst, err := e.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, &e.mem), cm,
		wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("%w: instantiate: %v", ErrInvalidModule, err)
	}
	s.mem = inst.Memory()
	if _, ok := s.mem.Grow(img.pages); !ok {
		inst.Close(ctx)
		return nil, fmt.Errorf("%w: initial memory of %d pages exceeds the limit", ErrInvalidModule, img.pages)
	}
	for _, c := range img.chunks {
		s.mem.Write(c.off, c.data)
	}
	for i, v := range img.globals {
		inst.ExportedGlobal(mod.globals[i]).(api.MutableGlobal).Set(v)
	}
	s.mono, s.monoBase = img.mono, img.mono
	s.gasG = inst.ExportedGlobal(exportGas).(api.MutableGlobal)
	s.gasG.Set(s.inv.GasLimit - img.callGas)
	return inst, nil
}

// nonZeroRuns returns the runs of mem that hold non-zero bytes, split at
// gaps of at least chunkGap zero bytes; the data is copied.
func nonZeroRuns(mem []byte) []chunk {
	var out []chunk
	start, lastNZ := -1, -1
	for i := 0; i < len(mem); {
		if i%8 == 0 && i+8 <= len(mem) && binary.LittleEndian.Uint64(mem[i:]) == 0 {
			i += 8
			if start >= 0 && i-lastNZ > chunkGap {
				out = append(out, chunk{off: uint32(start), data: append([]byte(nil), mem[start:lastNZ+1]...)})
				start = -1
			}
			continue
		}
		if mem[i] != 0 {
			if start < 0 {
				start = i
			}
			lastNZ = i
		} else if start >= 0 && i-lastNZ > chunkGap {
			out = append(out, chunk{off: uint32(start), data: append([]byte(nil), mem[start:lastNZ+1]...)})
			start = -1
		}
		i++
	}
	if start >= 0 {
		out = append(out, chunk{off: uint32(start), data: append([]byte(nil), mem[start:lastNZ+1]...)})
	}
	return out
}
