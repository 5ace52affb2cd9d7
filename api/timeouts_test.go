package api_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/api/apitest"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
)

// serveHTTP runs srv.HTTPServer on a loopback port and returns its address.
func serveHTTP(t *testing.T, srv *api.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer(ln.Addr().String())
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		hs.Close()
	})
	return ln.Addr().String()
}

// closedWithin reads from conn until the server closes it; it fails if that
// does not happen within the (generous) deadline.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) []byte {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v (read %q)", d, b)
	}
	return b
}

// TestSlowClients: a client that stalls in its headers, or sends headers
// and then stalls in its body, is cut off by the configured timeouts.
func TestSlowClients(t *testing.T) {
	cfg := api.Config{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 400 * time.Millisecond,
		WriteTimeout: 400 * time.Millisecond, IdleTimeout: 400 * time.Millisecond}
	addr := serveHTTP(t, api.New(apitest.New(t, "alice"), cfg))
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("stalled headers", func(t *testing.T) {
		c := dial()
		io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: x\r\n")
		closedWithin(t, c, 10*time.Second)
	})
	t.Run("stalled body", func(t *testing.T) {
		c := dial()
		io.WriteString(c, "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/cbor\r\nContent-Length: 1000\r\n\r\nabc")
		closedWithin(t, c, 10*time.Second)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial()
		io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
		b := closedWithin(t, c, 10*time.Second)
		if len(b) < 12 || string(b[:12]) != "HTTP/1.1 200" {
			t.Fatalf("answer %q", b)
		}
	})
}

// TestLongRequestsOutliveTimeouts: an event stream and a commit-mode wait
// may last longer than ReadTimeout and WriteTimeout.
func TestLongRequestsOutliveTimeouts(t *testing.T) {
	cfg := api.Config{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond}
	b := apitest.New(t, "alice", "bob")
	addr := serveHTTP(t, api.New(b, cfg))
	c := api.NewClient("http://"+addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ch, err := c.Events(ctx, api.EventFilter{Kind: "transfer"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // past both timeouts: the stream must still be open
	raw := b.BuildTx(ledgertest.Key("alice"), &txn.Send{To: ledgertest.Addr("bob"), Amount: 1})
	if _, err := c.SubmitTx(ctx, raw, api.ModeCommit); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("stream closed by the server's timeouts")
		}
		if ev.Height == 0 {
			t.Fatalf("event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}

	// A commit-mode wait longer than the read and write timeouts still answers.
	b.HoldCommits(true)
	raw = b.BuildTx(ledgertest.Key("alice"), &txn.Send{To: ledgertest.Addr("bob"), Amount: 2})
	sctx, scancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer scancel()
	_, err = c.SubmitTx(sctx, raw, api.ModeCommit)
	if ae := asAPIError(t, err); ae.HTTPStatus != 504 {
		t.Fatalf("%+v", ae)
	}
}
