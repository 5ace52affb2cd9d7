package blob

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// openPebble opens (creating if needed) the pebble datastore in dir, tuned
// for a few large values: 1 MiB blocks are mostly incompressible or already
// compressed, so sstables are written uncompressed, and a larger memtable
// means fewer flushes while importing.
func openPebble(dir string, log *slog.Logger) (*pebbleds.Datastore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create datastore dir: %w", err)
	}
	opts := &pebble.Options{
		Logger:                      pebbleLogger{log: log},
		MemTableSize:                32 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       32,
		LBaseMaxBytes:               256 << 20,
	}
	opts.EnsureDefaults()
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	d, err := pebbleds.NewDatastore(dir, pebbleds.WithPebbleOpts(opts))
	if err != nil {
		return nil, fmt.Errorf("open pebble datastore %s: %w", dir, err)
	}
	return d, nil
}

// pebbleLogger sends pebble's logs to slog. Fatalf panics instead of exiting
// the process, so that a fatal storage error inside a write we issued is
// recovered by diskGuard (the store then refuses writes and keeps serving
// reads) rather than killing the node. A Fatalf on one of pebble's own
// background goroutines still crashes the process, as exiting would.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble fatal: " + msg)
	panic("pebble fatal: " + msg)
}

// closePebble closes the datastore. go-ds-pebble's Close flushes the
// memtable first, and on a full or read-only disk that flush fails and is
// retried forever; there the DB is closed without it (the WAL still holds
// the unflushed writes, replayed at the next open).
func closePebble(d *pebbleds.Datastore, dir string, minFree int64) error {
	if err := checkRoom(dir, minFree/4); err != nil {
		return d.DB.Close()
	}
	return d.Close()
}

// settle flushes the memtable and waits (up to ctx) until no compaction
// runs, so a measurement that follows is not slowed by earlier writes.
func (s *Store) settle(ctx context.Context) error {
	if err := s.pdb.DB.Flush(); err != nil {
		return fmt.Errorf("flush datastore: %w", err)
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.pdb.DB.Metrics().Compact.NumInProgress > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
