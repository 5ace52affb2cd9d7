package blob

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	ds "github.com/ipfs/go-datastore"
	"golang.org/x/sys/unix"
)

// faultyDatastore fails (or panics, like pebble on a WAL write error) every
// write while a fault is set. Reads always pass through.
type faultyDatastore struct {
	ds.Batching
	fault atomic.Pointer[error]
	panic atomic.Bool
}

func (f *faultyDatastore) check() error {
	if p := f.fault.Load(); p != nil {
		if f.panic.Load() {
			panic(*p)
		}
		return *p
	}
	return nil
}

func (f *faultyDatastore) set(err error) {
	if err == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&err)
}

func (f *faultyDatastore) Put(ctx context.Context, k ds.Key, v []byte) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Batching.Put(ctx, k, v)
}

func (f *faultyDatastore) Delete(ctx context.Context, k ds.Key) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Batching.Delete(ctx, k)
}

func (f *faultyDatastore) Batch(ctx context.Context) (ds.Batch, error) {
	b, err := f.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &faultyBatch{Batch: b, f: f}, nil
}

type faultyBatch struct {
	ds.Batch
	f *faultyDatastore
}

func (b *faultyBatch) Commit(ctx context.Context) error {
	if err := b.f.check(); err != nil {
		return err
	}
	return b.Batch.Commit(ctx)
}

func withFaults(f *faultyDatastore) storeOpt {
	return func(c *Config) {
		c.wrapDatastore = func(d ds.Batching) ds.Batching {
			f.Batching = d
			return f
		}
	}
}

// checkStorageFailure adds a file, makes the disk fail with breakDisk, checks
// that Add reports ErrStorage while reads keep working, then calls fixDisk
// and checks that adds work again.
func checkStorageFailure(t *testing.T, s *Store, breakDisk, fixDisk func()) {
	t.Helper()
	ctx := context.Background()
	old := uniqueBytes(2<<20 + 1)
	oldCID := mustAdd(t, s, old)
	blocksBefore, _ := s.Usage()

	breakDisk()
	fresh := uniqueBytes(5<<20 + 7)
	if _, _, err := s.Add(ctx, bytes.NewReader(fresh)); errs.Of(err) != errs.ErrStorage {
		t.Fatalf("Add on a failing disk = %v; want ErrStorage", err)
	}
	if got := mustReadAll(t, s, oldCID); !bytes.Equal(got, old) {
		t.Fatal("existing file unreadable after a storage failure")
	}
	if ok, err := s.Has(ctx, oldCID); !ok || err != nil {
		t.Fatalf("Has after a storage failure = %v, %v", ok, err)
	}
	if pins, _ := s.Pins(ctx); len(pins) != 1 {
		t.Fatalf("pins after failed add = %v", pins)
	}

	fixDisk()
	c := mustAdd(t, s, fresh)
	if got := mustReadAll(t, s, c); !bytes.Equal(got, fresh) {
		t.Fatal("file added after recovery reads back wrong")
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if blocks, _ := s.Usage(); blocks != blocksBefore+6+1 {
		t.Errorf("after recovery and GC: %d blocks; want %d", blocks, blocksBefore+7)
	}
}

// TestDiskFull runs the store on a real, tiny tmpfs and fills it. Mounting
// needs CAP_SYS_ADMIN; without it the same checks run with an injected
// ENOSPC.
func TestDiskFull(t *testing.T) {
	mnt := t.TempDir()
	// Pebble preallocates each write-ahead log to the memtable size (32 MiB)
	// and may hold a few, so the reserve must cover several: as in
	// production, the default being 256 MiB.
	const reserve = 160 << 20
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=320m"); err != nil {
		t.Logf("cannot mount tmpfs (%v); injecting ENOSPC instead", err)
		f := &faultyDatastore{}
		s := mustStore(t, withFaults(f))
		checkStorageFailure(t, s, func() { f.set(syscall.ENOSPC) }, func() { f.set(nil) })
		return
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	s := mustStore(t, withDir(filepath.Join(mnt, "db")), func(c *Config) { c.MinFreeBytes = reserve })
	filler := filepath.Join(mnt, "filler")
	checkStorageFailure(t, s,
		func() {
			settle(t, s)
			var st unix.Statfs_t
			if err := unix.Statfs(mnt, &st); err != nil {
				t.Fatal(err)
			}
			// Leave room for the reserve plus half a block.
			free := int64(st.Bavail) * st.Bsize
			if err := os.WriteFile(filler, make([]byte, free-reserve-512<<10), 0o600); err != nil {
				os.Remove(filler)
				t.Fatal(err)
			}
		},
		func() {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		})
}

func TestReadOnlyDisk(t *testing.T) {
	f := &faultyDatastore{}
	s := mustStore(t, withFaults(f))
	checkStorageFailure(t, s, func() { f.set(syscall.EROFS) }, func() { f.set(nil) })

	// Unpin and GC report the failure too, and change nothing.
	ctx := context.Background()
	pins, _ := s.Pins(ctx)
	f.set(syscall.EROFS)
	if err := s.Unpin(ctx, pins[0]); errs.Of(err) != errs.ErrStorage || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Unpin on a read-only disk = %v", err)
	}
	f.set(nil)
}

// TestDatastorePanic: pebble panics when its WAL cannot be written. The
// store turns that into ErrStorage, refuses further writes (pebble's commit
// pipeline is wedged by then) and keeps serving reads; reopening recovers.
func TestDatastorePanic(t *testing.T) {
	dir := t.TempDir()
	f := &faultyDatastore{}
	s := mustStore(t, withDir(dir), withFaults(f))
	ctx := context.Background()
	old := uniqueBytes(1<<20 + 1)
	oldCID := mustAdd(t, s, old)

	f.panic.Store(true)
	f.set(errors.New("write /db/000005.log: no space left on device"))
	if _, _, err := s.Add(ctx, bytes.NewReader(uniqueBytes(10))); errs.Of(err) != errs.ErrStorage {
		t.Fatalf("Add when the datastore panics = %v; want ErrStorage", err)
	}
	f.set(nil)
	if _, _, err := s.Add(ctx, bytes.NewReader(uniqueBytes(10))); errs.Of(err) != errs.ErrStorage {
		t.Fatalf("Add after a datastore panic = %v; want ErrStorage until restart", err)
	}
	if got := mustReadAll(t, s, oldCID); !bytes.Equal(got, old) {
		t.Fatal("reads broken after a datastore panic")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := mustStore(t, withDir(dir))
	mustAdd(t, s2, uniqueBytes(10))
}
