package vm

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// memPool recycles the buffers behind contracts' linear memories. A fresh
// multi-megabyte allocation costs a page fault per 4 KiB on first touch,
// which dominated a call; a recycled buffer is already mapped and only
// needs clearing.
type memPool struct{ pool sync.Pool }

// Allocate implements experimental.MemoryAllocator.
func (p *memPool) Allocate(_, max uint64) experimental.LinearMemory {
	lm := &linearMemory{pool: p, max: max}
	if b, ok := p.pool.Get().(*[]byte); ok {
		lm.buf = (*b)[:0]
	}
	return lm
}

// linearMemory is one instance's memory. Bytes past len(buf) may hold a
// previous instance's data and are cleared when the memory grows over them.
type linearMemory struct {
	pool *memPool
	buf  []byte
	max  uint64
}

// Reallocate implements experimental.LinearMemory.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if n := uint64(len(m.buf)); size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		clear(m.buf[n:])
		return m.buf
	}
	c := size + size/4
	if c > m.max {
		c = m.max
	}
	b := make([]byte, size, c)
	copy(b, m.buf)
	m.buf = b
	return b
}

// Free implements experimental.LinearMemory; wazero calls it when the
// instance closes.
func (m *linearMemory) Free() {
	if cap(m.buf) > 0 {
		b := m.buf[:0]
		m.pool.pool.Put(&b)
	}
	m.buf = nil
}
