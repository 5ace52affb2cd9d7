package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/blob"
	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/node"
	"github.com/hypha-iot/hypha/seal"
)

// startFileNode is startNode with fast replication rounds and a short
// network search (the wait before an unknown CID is reported missing).
func startFileNode(t *testing.T) *testNode {
	t.Helper()
	return startNode(t, func(cfg *node.Config) {
		cfg.App.BlobFindTimeout = time.Second
		cfg.App.ReplicateInterval = 200 * time.Millisecond
	})
}

// mustWrite writes n pseudo-random bytes (seeded) to dir/name.
func mustWrite(t *testing.T, dir, name string, n int, seed uint64) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7})
	_, _ = r.Read(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func mustCID(t *testing.T, data []byte) string {
	t.Helper()
	c, n, err := blob.ComputeCID(bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ComputeCID: %v (%d bytes)", err, n)
	}
	return c.String()
}

// mustSame fails unless path holds want.
func mustSame(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d expected", path, len(got), len(want))
	}
}

func mustNotExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists (%v)", p, err)
		}
	}
}

// countingProxy is a reverse proxy in front of a node's API that counts
// the content bytes it serves (in 200 and 206 answers) and records the Range headers asked for;
// flipUpload, when set, corrupts one byte of each upload on its way.
type countingProxy struct {
	url        string
	served     atomic.Int64
	flipUpload atomic.Bool
	mu         sync.Mutex
	ranges     []string
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		if strings.HasSuffix(r.URL.Path, "/content") {
			p.mu.Lock()
			p.ranges = append(p.ranges, r.Header.Get("Range"))
			p.mu.Unlock()
		}
		if r.Method == http.MethodPost && r.URL.Path == "/v1/files" && p.flipUpload.Load() {
			r.Body = &flipper{r: r.Body, at: 1000}
		}
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		ok := resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent
		if ok && strings.HasSuffix(resp.Request.URL.Path, "/content") {
			resp.Body = &countingBody{ReadCloser: resp.Body, n: &p.served}
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *countingProxy) lastRange() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ranges) == 0 {
		return "<none>"
	}
	return p.ranges[len(p.ranges)-1]
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// flipper inverts the byte at offset at.
type flipper struct {
	r   io.ReadCloser
	at  int64
	off int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.at - f.off; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

func (f *flipper) Close() error { return f.r.Close() }

// TestFileAgainstNode drives the file commands against one real node:
// a round trip, resume through a counting proxy, a corrupted partial file,
// an upload the gateway stores wrongly, an unknown CID, and an encrypted
// file read by its recipients only.
func TestFileAgainstNode(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	tn := startFileNode(t)
	dir := t.TempDir()
	for _, name := range []string{"alice", "carol"} {
		tn.run(t, "keys", "add", name)
		tn.run(t, "tx", "send", "--from", "dev", "--to", name, "--amount", "5000000")
	}
	dev := strings.TrimSpace(tn.run(t, "keys", "show", "dev", "--address"))

	const size = 3<<20 + 12345
	path, data := mustWrite(t, dir, "data.bin", size, 1)
	want := mustCID(t, data)

	t.Run("RoundTrip", func(t *testing.T) {
		var add fileAddOutput
		tn.json(t, &add, "file", "add", path, "--from", "dev")
		if add.CID != want || add.Size != size || add.Name != "data.bin" || add.MediaType != "application/octet-stream" ||
			add.Replicas != 1 || add.Tx == nil || add.Tx.Height == 0 || add.Tx.Result == nil || add.Tx.Result.Code != 0 {
			t.Fatalf("file add: %+v (tx %+v), want CID %s", add, add.Tx, want)
		}
		out := filepath.Join(dir, "got.bin")
		var got fetched
		tn.json(t, &got, "file", "get", want, "--out", out)
		if got.CID != want || got.Size != size || got.Resumed != 0 || got.Name != "data.bin" || got.Encrypted {
			t.Errorf("file get: %+v", got)
		}
		mustSame(t, out, data)
		mustNotExist(t, partialName(out))

		var rec api.File
		tn.json(t, &rec, "file", "show", want)
		if rec.CID != want || rec.Size != size || rec.Publisher != dev || rec.Replicas != 1 || rec.Encryption != nil {
			t.Errorf("file show: %+v", rec)
		}
		var page api.FilePage
		tn.json(t, &page, "file", "ls", "--publisher", "dev")
		if len(page.Items) != 1 || page.Items[0].CID != want {
			t.Errorf("file ls: %+v", page)
		}
		// The node's gateway attests holding it.
		testnet.Eventually(t, 15*time.Second, "a holder of "+want, func() bool {
			var h api.PinPage
			mustJSON(t, &h, tn.args("file", "holders", want)...)
			return len(h.Items) == 1
		})

		// Text output, and the type by extension.
		txt := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(txt, bytes.Repeat([]byte("plain text\n"), 10)[:100], 0o644); err != nil {
			t.Fatal(err)
		}
		text := tn.run(t, "file", "add", txt, "--from", "dev", "--replicas", "1", "--quiet")
		for _, w := range []string{"published file ", "committed at height", "100 bytes", "notes.txt (text/plain)"} {
			if !strings.Contains(text, w) {
				t.Errorf("file add text lacks %q:\n%s", w, text)
			}
		}
	})

	t.Run("Resume", func(t *testing.T) {
		proxy := newCountingProxy(t, tn.api)
		out := filepath.Join(dir, "resumed.bin")
		const have = 1<<20 + 7
		if err := os.WriteFile(partialName(out), data[:have], 0o600); err != nil {
			t.Fatal(err)
		}
		var got fetched
		mustJSON(t, &got, "file", "get", want, "--out", out, "--home", tn.home, "--node", proxy.url)
		mustSame(t, out, data)
		mustNotExist(t, partialName(out))
		if got.Resumed != have || got.Size != size {
			t.Errorf("resumed: %+v", got)
		}
		if r := proxy.lastRange(); r != "bytes=1048583-" {
			t.Errorf("Range asked for: %q", r)
		}
		if n := proxy.served.Load(); n != size-have {
			t.Errorf("the proxy served %d content bytes, want %d", n, size-have)
		}
		// A complete partial file costs no content bytes at all.
		served := proxy.served.Load()
		if err := os.WriteFile(partialName(out), data, 0o600); err != nil {
			t.Fatal(err)
		}
		got = fetched{}
		mustJSON(t, &got, "file", "get", want, "--out", out, "--home", tn.home, "--node", proxy.url)
		mustSame(t, out, data)
		if n := proxy.served.Load() - served; n != 0 || got.Resumed != size {
			t.Errorf("complete partial file: %d bytes served, %+v", n, got)
		}
		// --no-resume starts over.
		if err := os.WriteFile(partialName(out), data[:100], 0o600); err != nil {
			t.Fatal(err)
		}
		got = fetched{}
		mustJSON(t, &got, "file", "get", want, "--out", out, "--no-resume", "--home", tn.home, "--node", proxy.url)
		mustSame(t, out, data)
		if got.Resumed != 0 || proxy.lastRange() != "" {
			t.Errorf("--no-resume: %+v, Range %q", got, proxy.lastRange())
		}
	})

	t.Run("CorruptPartial", func(t *testing.T) {
		out := filepath.Join(dir, "corrupt.bin")
		bad := bytes.Clone(data[:2<<20])
		bad[12345] ^= 1
		if err := os.WriteFile(partialName(out), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		tn.fail(t, exitRejected, "ErrContentMismatch", "file", "get", want, "--out", out)
		mustNotExist(t, out, partialName(out))
	})

	t.Run("GatewayStoresOtherBytes", func(t *testing.T) {
		proxy := newCountingProxy(t, tn.api)
		proxy.flipUpload.Store(true)
		p, other := mustWrite(t, dir, "flipped.bin", 5000, 3)
		_, stderr, code := cli(t, "file", "add", p, "--from", "dev", "--home", tn.home, "--node", proxy.url)
		if code != exitRejected || !strings.Contains(stderr, "ErrContentMismatch") || !strings.Contains(stderr, "not publishing") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		tn.fail(t, exitRejected, "ErrNotFound", "file", "show", mustCID(t, other))
	})

	t.Run("UnknownCID", func(t *testing.T) {
		_, never := mustWrite(t, dir, "never.bin", 1000, 4)
		out := filepath.Join(dir, "never-got.bin")
		tn.fail(t, exitRejected, "no ledger record and no gateway holds it", "file", "get", mustCID(t, never), "--out", out)
		tn.fail(t, exitRejected, "ErrBlobNotFound", "file", "get", mustCID(t, never), "--out", out)
		mustNotExist(t, out)
		tn.fail(t, exitRejected, "ErrInvalidCID", "file", "get", "not-a-cid", "--out", out)
	})

	t.Run("Encrypted", func(t *testing.T) {
		plainPath, plain := mustWrite(t, dir, "secret.bin", 200_000, 5)
		// Every reader must have published a seal key.
		tn.fail(t, exitRejected, "ErrNoSealKey", "file", "add", plainPath, "--from", "dev", "--encrypt", "--to", "alice")
		tn.run(t, "msg", "publish-key", "--from", "dev")
		tn.fail(t, exitRejected, "ErrNoSealKey", "file", "add", plainPath, "--from", "dev", "--encrypt", "--to", "alice")
		tn.run(t, "msg", "publish-key", "--from", "alice")

		var add fileAddOutput
		tn.json(t, &add, "file", "add", plainPath, "--from", "dev", "--encrypt", "--to", "alice")
		if !add.Encrypted || add.Size != seal.CiphertextSize(int64(len(plain))) || add.PlainSize != int64(len(plain)) ||
			len(add.Recipients) != 2 || add.CID == mustCID(t, plain) {
			t.Fatalf("encrypted add: %+v", add)
		}
		var rec api.File
		tn.json(t, &rec, "file", "show", add.CID)
		if rec.Encryption == nil || rec.Encryption.Scheme != "hypha-stream-v1" || len(rec.Encryption.Keys) != 2 || rec.Size != uint64(add.Size) {
			t.Fatalf("encrypted record: %+v", rec)
		}

		// The gateway holds ciphertext only.
		body, total, err := api.NewClient(tn.api, nil).OpenContent(context.Background(), add.CID, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := io.ReadAll(body)
		body.Close()
		if err != nil || total != add.Size || int64(len(stored)) != add.Size || bytes.Contains(stored, plain[:64]) {
			t.Fatalf("stored bytes: %d of %d (%v), or they hold plaintext", len(stored), total, err)
		}

		// The recipient decrypts; so does the publisher.
		for _, who := range []string{"alice", "dev"} {
			out := filepath.Join(dir, "secret-"+who)
			var got fetched
			tn.json(t, &got, "file", "get", add.CID, "--out", out, "--from", who)
			if !got.Decrypted || got.PlainSize != int64(len(plain)) || got.Size != add.Size {
				t.Errorf("get by %s: %+v", who, got)
			}
			mustSame(t, out, plain)
			mustNotExist(t, partialName(out))
		}
		// Without a wrapped key, or without --from, there is nothing to open.
		out := filepath.Join(dir, "secret-carol")
		tn.fail(t, exitFailure, "holds no key for", "file", "get", add.CID, "--out", out, "--from", "carol")
		tn.fail(t, exitUsage, "is encrypted: pass --from", "file", "get", add.CID, "--out", out)
		mustNotExist(t, out, partialName(out))
		// --raw saves the ciphertext as stored.
		tn.run(t, "file", "get", add.CID, "--out", out, "--raw")
		mustSame(t, out, stored)

		// The publisher grants carol a key once carol has a seal key.
		tn.fail(t, exitRejected, "ErrNoSealKey", "file", "grant", add.CID, "--from", "dev", "--to", "carol")
		tn.run(t, "msg", "publish-key", "--from", "carol")
		tn.fail(t, exitRejected, "ErrUnauthorized", "file", "grant", add.CID, "--from", "alice", "--to", "carol")
		tn.run(t, "file", "grant", add.CID, "--from", "dev", "--to", "carol")
		var got fetched
		tn.json(t, &got, "file", "get", add.CID, "--out", out, "--from", "carol", "--no-resume")
		mustSame(t, out, plain)

		// Only the publisher retires it.
		tn.fail(t, exitRejected, "ErrUnauthorized", "file", "retire", add.CID, "--from", "alice")
		tn.run(t, "file", "retire", add.CID, "--from", "dev")
		var retired api.File
		tn.json(t, &retired, "file", "show", add.CID)
		if retired.Retired == 0 {
			t.Errorf("after retire: %+v", retired)
		}
	})
}

// TestFirmwareAgainstNode: a manufacturer registers a model and publishes a
// release; a rival cannot; a device installs the release (downloaded,
// verified, reported) and its record and history show it.
func TestFirmwareAgainstNode(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	tn := startFileNode(t)
	dir := t.TempDir()
	tn.run(t, "keys", "add", "rival")
	tn.run(t, "keys", "add", "thermo")
	tn.run(t, "tx", "send", "--from", "dev", "--to", "rival", "--amount", "5000000")
	id := strings.TrimSpace(tn.run(t, "keys", "show", "thermo", "--device"))

	tn.fail(t, exitRejected, "ErrUnknownModel", "firmware", "publish", filepath.Join(dir, "none"), "--from", "dev",
		"--model", "thermo-v1", "--version", "1.0.0")
	tn.run(t, "firmware", "register-model", "thermo-v1", "--from", "dev")
	tn.fail(t, exitRejected, "ErrModelExists", "firmware", "register-model", "thermo-v1", "--from", "rival")

	img, image := mustWrite(t, dir, "thermo-1.0.0.bin", 1<<20+3, 10)
	var pub firmwarePublishOutput
	tn.json(t, &pub, "firmware", "publish", img, "--from", "dev", "--model", "thermo-v1", "--version", "1.0.0", "--notes", "first")
	if pub.CID != mustCID(t, image) || pub.Size != int64(len(image)) || pub.Reused || pub.Tx == nil || pub.Tx.Height == 0 {
		t.Fatalf("firmware publish: %+v", pub)
	}
	var rel api.Release
	tn.json(t, &rel, "firmware", "latest", "thermo-v1")
	if rel.Version != "1.0.0" || rel.CID != pub.CID || rel.Notes != "first" || rel.Size != uint64(len(image)) {
		t.Errorf("latest: %+v", rel)
	}
	if text := tn.run(t, "firmware", "releases", "thermo-v1"); !strings.Contains(text, "1.0.0") || !strings.Contains(text, pub.CID) {
		t.Errorf("releases:\n%s", text)
	}
	// Not above the latest; not the manufacturer; not a version.
	tn.fail(t, exitRejected, "ErrVersionNotNewer", "firmware", "publish", img, "--from", "dev", "--model", "thermo-v1", "--version", "1.0.0")
	other, _ := mustWrite(t, dir, "evil.bin", 5000, 11)
	tn.fail(t, exitRejected, "ErrNotManufacturer", "firmware", "publish", other, "--from", "rival", "--model", "thermo-v1", "--version", "1.1.0")
	tn.fail(t, exitUsage, "without the leading v", "firmware", "publish", img, "--from", "dev", "--model", "thermo-v1", "--version", "v1.1.0")

	tn.run(t, "device", "register", "--from", "dev", "--device-key", "thermo", "--model", "thermo-v1")

	// An image that does not verify is not reported.
	bad := filepath.Join(dir, "bad.bin")
	corrupt := bytes.Clone(image[:4096])
	corrupt[0] ^= 1
	if err := os.WriteFile(partialName(bad), corrupt, 0o600); err != nil {
		t.Fatal(err)
	}
	before := deviceRecord(t, tn)
	tn.fail(t, exitRejected, "ErrContentMismatch", "firmware", "install", "--device-key", "thermo", "--out", bad)
	mustNotExist(t, bad, partialName(bad))
	if d := deviceRecord(t, tn); d.Firmware != "" || d.Counter != before.Counter || d.HistoryLen != before.HistoryLen {
		t.Fatalf("reported after a failed verification: %+v", d)
	}

	out := filepath.Join(dir, "fw.bin")
	var inst firmwareInstallOutput
	tn.json(t, &inst, "firmware", "install", "--device-key", "thermo", "--out", out)
	if inst.Device != id || inst.Model != "thermo-v1" || inst.Version != "1.0.0" || inst.Image == nil || inst.Image.CID != pub.CID ||
		inst.Report == nil || inst.Report.Height == 0 || inst.Report.Signer != id {
		t.Fatalf("install: %+v", inst)
	}
	mustSame(t, out, image)
	d := deviceRecord(t, tn)
	if d.Firmware != "1.0.0" {
		t.Errorf("device firmware %q, want 1.0.0", d.Firmware)
	}
	var hist api.Page[*api.HistoryEntry]
	tn.json(t, &hist, "device", "history", "thermo")
	found := false
	for _, e := range hist.Items {
		if e.Kind == "firmware" {
			found = true
			attrs := map[string]string{}
			for _, a := range e.Attrs {
				attrs[a.Key] = a.Value
			}
			if attrs["version"] != "1.0.0" || attrs["cid"] != pub.CID {
				t.Errorf("firmware history entry: %+v", e.Attrs)
			}
		}
	}
	if !found {
		t.Errorf("no firmware entry in the history: %+v", hist.Items)
	}

	// The report alone checks the release.
	tn.fail(t, exitRejected, "ErrUnknownRelease", "firmware", "install-report", "--device-key", "thermo", "--version", "1.0.0",
		"--cid", mustCID(t, corrupt))
	tn.run(t, "firmware", "install-report", "--device-key", "thermo", "--version", "1.0.0", "--cid", pub.CID)
}

func TestFileContentRangeIgnored(t *testing.T) {
	// A gateway that ignores Range: the client drops the bytes it already has.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("0123456789"))
	}))
	defer srv.Close()
	body, total, err := api.NewClient(srv.URL, nil).OpenContent(context.Background(), "x", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, _ := io.ReadAll(body)
	if string(b) != "456789" || total != 10 {
		t.Errorf("got %q of %d", b, total)
	}
}
