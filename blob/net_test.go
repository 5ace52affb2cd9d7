package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

func TestOpenStreamsFromPeer(t *testing.T) {
	a, b := mustStore(t), mustStore(t)
	mustConnect(t, a, b)
	data := uniqueBytes(7<<20 + 333)
	c := mustAdd(t, a, data)

	if ok, _ := b.Has(context.Background(), c); ok {
		t.Fatal("b has the file before reading it")
	}
	if got := mustReadAll(t, b, c); !bytes.Equal(got, data) {
		t.Fatal("b streamed different bytes")
	}
	// Streaming stores nothing.
	if blocks, _ := b.Usage(); blocks != 0 {
		t.Errorf("b stored %d blocks by streaming", blocks)
	}
}

func TestFetchThreeStores(t *testing.T) {
	a, b, c := mustStore(t), mustStore(t), mustStore(t)
	mustConnect(t, a, b, c)
	ctx := context.Background()
	data := uniqueBytes(6<<20 + 1)
	id := mustAdd(t, a, data)

	var last int64
	calls := 0
	err := c.Fetch(ctx, id, func(n int64) {
		if n < last {
			t.Errorf("progress went back from %d to %d", last, n)
		}
		last = n
		calls++
	})
	if err != nil {
		t.Fatalf("fetch on c: %v", err)
	}
	if last != int64(len(data)) || calls < 7 {
		t.Errorf("progress ended at %d after %d calls; want %d bytes over ≥ 7 blocks", last, calls, len(data))
	}
	if ok, err := c.Has(ctx, id); !ok || err != nil {
		t.Fatalf("c.Has after Fetch = %v, %v", ok, err)
	}
	if pins, _ := c.Pins(ctx); len(pins) != 1 || !pins[0].Equals(id) {
		t.Fatalf("c pins = %v", pins)
	}
	// Fetching what is already local only re-verifies it.
	if err := c.Fetch(ctx, id, nil); err != nil {
		t.Fatalf("second fetch: %v", err)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// b holds nothing; with a gone it streams from c.
	if got := mustReadAll(t, b, id); !bytes.Equal(got, data) {
		t.Fatal("b streamed different bytes from c")
	}
}

func TestNonMembers(t *testing.T) {
	ctx := context.Background()
	a := mustStore(t)
	c := mustAdd(t, a, uniqueBytes(1<<20+5))

	t.Run("other PSK", func(t *testing.T) {
		x := mustStore(t, withPSK(bytes.Repeat([]byte{7}, 32)), withFindTimeout(time.Second))
		infos := []peer.AddrInfo{a.AddrInfo(), x.AddrInfo()}
		a.SetPeers(ctx, infos)
		x.SetPeers(ctx, infos)
		if connected(a, x) {
			t.Fatal("stores with different PSKs connected")
		}
		if err := x.host.Connect(ctx, a.AddrInfo()); err == nil {
			t.Fatal("dial across PSKs succeeded")
		}
		if err := x.Fetch(ctx, c, nil); errs.Of(err) != errs.ErrBlobNotFound {
			t.Fatalf("fetch across PSKs = %v; want ErrBlobNotFound", err)
		}
	})

	t.Run("not allow-listed", func(t *testing.T) {
		y := mustStore(t, withFindTimeout(time.Second))
		a.SetPeers(ctx, []peer.AddrInfo{a.AddrInfo()}) // a admits nobody
		y.SetPeers(ctx, []peer.AddrInfo{a.AddrInfo()}) // y would admit a

		// Inbound to a: y dials, a refuses after the handshake.
		if err := y.host.Connect(ctx, a.AddrInfo()); err == nil {
			waitFor(t, 5*time.Second, "a to drop y", func() bool { return !connected(a, y) })
		}
		// Outbound from a: its gater refuses to dial y.
		a.host.Peerstore().AddAddrs(y.ID(), y.AddrInfo().Addrs, time.Minute)
		if err := a.host.Connect(ctx, y.AddrInfo()); err == nil {
			t.Fatal("a dialed a non-member")
		}
		if err := y.Fetch(ctx, c, nil); errs.Of(err) != errs.ErrBlobNotFound {
			t.Fatalf("non-member fetch = %v; want ErrBlobNotFound", err)
		}
		if _, err := y.Open(ctx, c); errs.Of(err) != errs.ErrBlobNotFound {
			t.Fatalf("non-member open = %v; want ErrBlobNotFound", err)
		}

		// Admitted, y gets the file; removed again, it is disconnected.
		mustConnect(t, a, y)
		if err := y.Fetch(ctx, c, nil); err != nil {
			t.Fatalf("member fetch: %v", err)
		}
		a.SetPeers(ctx, nil)
		if a.host.Network().Connectedness(y.ID()) == network.Connected {
			t.Fatal("a kept a connection to a removed member")
		}
		waitFor(t, 5*time.Second, "y to see the connection closed", func() bool { return !connected(a, y) })
	})
}

func connected(a, b *Store) bool {
	return a.host.Network().Connectedness(b.ID()) == network.Connected ||
		b.host.Network().Connectedness(a.ID()) == network.Connected
}

// corrupt overwrites the stored bytes of block c, bypassing every check.
func corrupt(t *testing.T, s *Store, c cid.Cid) {
	t.Helper()
	if err := s.dstore.Put(context.Background(), blkKey(c.Hash()), []byte("not the block you are looking for")); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptBlocks(t *testing.T) {
	ctx := context.Background()
	bad := mustStore(t)
	victim := mustStore(t, withFindTimeout(1500*time.Millisecond))
	mustConnect(t, bad, victim)

	leafFile := uniqueBytes(3<<20 + 9)
	c := mustAdd(t, bad, leafFile)
	links, err := bad.localLinks(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	leaf := links[1].Cid
	corrupt(t, bad, leaf)

	rootFile := uniqueBytes(2 << 20)
	c2 := mustAdd(t, bad, rootFile)
	corrupt(t, bad, c2)

	// The corrupt store refuses to serve its own bad data.
	f, err := bad.Open(ctx, c)
	if err != nil {
		t.Fatalf("open with a corrupt leaf: %v", err)
	}
	_, err = io.Copy(io.Discard, f)
	f.Close()
	if errs.Of(err) != errs.ErrContentMismatch {
		t.Fatalf("reading a corrupt leaf = %v; want ErrContentMismatch", err)
	}
	if _, err := bad.Open(ctx, c2); errs.Of(err) != errs.ErrContentMismatch {
		t.Fatalf("opening a corrupt root = %v; want ErrContentMismatch", err)
	}
	if _, err := bad.GC(ctx); errs.Of(err) != errs.ErrContentMismatch {
		t.Fatalf("GC over a corrupt pinned root = %v; want ErrContentMismatch (and nothing deleted)", err)
	}

	// The victim cannot get the bad blocks and stores nothing bad.
	for _, x := range []cid.Cid{c, c2} {
		err := victim.Fetch(ctx, x, nil)
		if cl := errs.Of(err); cl != errs.ErrBlobNotFound && cl != errs.ErrContentMismatch {
			t.Fatalf("fetch %s from a corrupt peer = %v; want ErrBlobNotFound or ErrContentMismatch", x, err)
		}
	}
	for _, x := range []cid.Cid{leaf, c2} {
		if ok, _ := victim.blocks.Has(ctx, x); ok {
			t.Errorf("victim stored block %s that its peer has corrupt", x)
		}
	}
	if pins, _ := victim.Pins(ctx); len(pins) != 0 {
		t.Errorf("victim pinned %v", pins)
	}
	// Every block the victim did store is intact.
	hashes, err := victim.blocks.allHashes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hashes {
		data, err := victim.dstore.Get(ctx, blkKey(h))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); !bytes.Equal(h[2:], sum[:]) {
			t.Errorf("victim holds block %s with bytes of another hash", h)
		}
	}

	// Fetch repairs a corrupt local block from an honest peer.
	honest := mustStore(t)
	mustConnect(t, bad, honest)
	mustAdd(t, honest, leafFile)
	if err := bad.Fetch(ctx, c, nil); err != nil {
		t.Fatalf("repairing fetch: %v", err)
	}
	if got := mustReadAll(t, bad, c); !bytes.Equal(got, leafFile) {
		t.Fatal("repaired file differs")
	}
}

func TestUnknownCID(t *testing.T) {
	const timeout = time.Second
	a := mustStore(t, withFindTimeout(timeout))
	b := mustStore(t)
	mustConnect(t, a, b)
	sum, _ := mh.Sum([]byte("nobody has this"), mh.SHA2_256, -1)
	unknown := cid.NewCidV1(cid.Raw, sum)

	for name, op := range map[string]func() error{
		"Fetch": func() error { return a.Fetch(context.Background(), unknown, nil) },
		"Open":  func() error { _, err := a.Open(context.Background(), unknown); return err },
	} {
		start := time.Now()
		err := op()
		took := time.Since(start)
		if errs.Of(err) != errs.ErrBlobNotFound {
			t.Errorf("%s of an unknown CID = %v; want ErrBlobNotFound", name, err)
		}
		if took < timeout || took > timeout+3*time.Second {
			t.Errorf("%s gave up after %v; want about %v", name, took, timeout)
		}
	}
	// The caller's deadline wins over FindTimeout.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := a.Fetch(ctx, unknown, nil); err == nil || ctx.Err() == nil {
		t.Errorf("Fetch with a short context = %v", err)
	}
}

func TestCloseDuringTransfer(t *testing.T) {
	ctx := context.Background()
	a, b := mustStore(t), mustStore(t)
	mustConnect(t, a, b)
	streamed := mustAdd(t, a, uniqueBytes(24<<20))
	fetched := mustAdd(t, a, uniqueBytes(24<<20))

	f, err := b.Open(ctx, streamed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(f, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	fetchErr := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		fetchErr <- b.Fetch(ctx, fetched, func(int64) {
			select {
			case <-started:
			default:
				close(started)
			}
		})
	}()
	<-started

	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a transfer ran")
	}
	if err := <-fetchErr; err == nil {
		t.Error("Fetch succeeded across Close")
	} else if errs.Of(err) != errs.ErrUnavailable {
		t.Logf("Fetch ended with %v", err) // it may also have finished its last block
	}
	if _, err := io.Copy(io.Discard, f); errs.Of(err) != errs.ErrUnavailable {
		t.Errorf("read after Close = %v; want ErrUnavailable", err)
	}
	f.Close()
	if _, _, err := b.Add(ctx, bytes.NewReader([]byte("late"))); errs.Of(err) != errs.ErrUnavailable {
		t.Errorf("Add after Close = %v; want ErrUnavailable", err)
	}
	if _, err := b.Pins(ctx); errs.Of(err) != errs.ErrUnavailable {
		t.Errorf("Pins after Close = %v; want ErrUnavailable", err)
	}
}

func TestFetchRejects(t *testing.T) {
	ctx := context.Background()
	a := mustStore(t)
	small := mustStore(t, func(c *Config) { c.MaxFileSize = 2 << 20 })
	mustConnect(t, a, small)

	big := mustAdd(t, a, uniqueBytes(3<<20))
	if err := small.Fetch(ctx, big, nil); errs.Of(err) != errs.ErrFileTooLarge {
		t.Errorf("fetch over MaxFileSize = %v; want ErrFileTooLarge", err)
	}

	dir := merkledag.NodeWithData(ft.FolderPBData())
	if err := dir.SetCidBuilder(profile().CidBuilder()); err != nil {
		t.Fatal(err)
	}
	if err := a.blocks.Put(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(ctx, dir.Cid()); errs.Of(err) != errs.ErrInvalidCID {
		t.Errorf("open of a directory = %v; want ErrInvalidCID", err)
	}
	if err := small.Fetch(ctx, dir.Cid(), nil); errs.Of(err) != errs.ErrInvalidCID {
		t.Errorf("fetch of a directory = %v; want ErrInvalidCID", err)
	}
	if pins, _ := small.Pins(ctx); len(pins) != 0 {
		t.Errorf("rejected fetches pinned %v", pins)
	}
}

func TestFileCloseWhileReading(t *testing.T) {
	a, b := mustStore(t), mustStore(t)
	mustConnect(t, a, b)
	c := mustAdd(t, a, uniqueBytes(16<<20))
	f, err := b.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, f)
		errc <- err
	}()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil {
			return // the copy may have won the race
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read after Close = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a running read")
	}
}
