package blob

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/hypha-iot/hypha/errs"
)

// diskGuard runs every datastore write of the store. Pebble panics when its
// write-ahead log cannot be written (a full or read-only disk), and its commit
// pipeline stays wedged afterwards, so the guard
//
//   - refuses a write unless the file system is writable and keeps minFree
//     bytes free after it (errs.ErrStorage, nothing written);
//   - recovers a panic raised inside a write, reports errs.ErrStorage and from
//     then on refuses all writes (reads keep working; a restart clears it);
//   - classifies every write error as errs.ErrStorage.
//
// Safe for concurrent use.
type diskGuard struct {
	dir     string
	minFree int64
	log     *slog.Logger
	broken  atomic.Pointer[error]
}

// write runs fn, a datastore write of about n bytes.
func (g *diskGuard) write(what string, n int64, fn func() error) error {
	return g.run(what, g.minFree+2*n, fn)
}

// remove runs fn, a datastore deletion. Deletions only append small
// tombstones, so they need a quarter of the reserve: that lets GC free space
// on a disk that writes were refused on.
func (g *diskGuard) remove(what string, fn func() error) error {
	return g.run(what, g.minFree/4, fn)
}

func (g *diskGuard) run(what string, need int64, fn func() error) (err error) {
	if p := g.broken.Load(); p != nil {
		return errs.ErrStorage.WithCause(*p, "%s: datastore refuses writes after a fatal error (restart the node)", what)
	}
	if err := checkRoom(g.dir, need); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer func() {
		if r := recover(); r != nil {
			cause := fmt.Errorf("datastore panicked: %v", r)
			g.broken.Store(&cause)
			g.log.Error("blob datastore failed; writes disabled until restart", "op", what, "err", cause)
			err = errs.ErrStorage.WithCause(cause, "%s", what)
		}
	}()
	if err := fn(); err != nil {
		if errs.Of(err) == errs.ErrStorage {
			return err
		}
		return errs.ErrStorage.WithCause(err, "%s", what)
	}
	return nil
}
