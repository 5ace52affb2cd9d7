package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	stdnet "net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/blob"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/node"
	"github.com/hypha-iot/hypha/txn"
)

// fileNet is a 4-gateway network (one may stop and blocks go on) with fast replication rounds and a short
// network search.
func fileNet(t *testing.T, maxUpload func(k int) int64) *testnet.Network {
	t.Helper()
	return testnet.New(t, testnet.Options{Validators: 4, LogLevel: os.Getenv("HYPHA_TEST_LOG"), Configure: func(k int, c *node.Config) {
		c.App.ReplicateInterval = 200 * time.Millisecond
		c.App.BlobFindTimeout = 2 * time.Second
		if maxUpload != nil {
			c.App.BlobMaxFileSize = maxUpload(k)
		}
	}})
}

func upload(t *testing.T, base string, body io.Reader, size int64) (*api.Upload, *api.Error, int) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/files", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusCreated {
		var u api.Upload
		if err := decodeBytes(raw, &u); err != nil {
			t.Fatalf("upload answer %s: %v", raw, err)
		}
		return &u, nil, resp.StatusCode
	}
	var e struct{ Error api.Error }
	_ = decodeBytes(raw, &e)
	return nil, &e.Error, resp.StatusCode
}

func holders(t *testing.T, base, c string) []string {
	t.Helper()
	var p api.PinPage
	if code := getJSON(t, base+"/v1/files/"+c+"/holders", &p); code != http.StatusOK {
		t.Fatalf("holders: HTTP %d", code)
	}
	var out []string
	for _, h := range p.Items {
		out = append(out, h.Gateway)
	}
	return out
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// A file uploaded to gateway A and published with replicas=2 gets two
// attested holders; with A stopped, gateway C still serves every byte, with
// ranges; the record, its proof and the holders are on the ledger.
func TestFileReplicationAcrossGateways(t *testing.T) {
	net := fileNet(t, nil)
	owner := &signer{key: devKey(t, net.Homes[0]), chain: "hypha-it"}
	data := make([]byte, 3<<20+12345)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	up, apiErr, code := upload(t, net.API(0), bytes.NewReader(data), int64(len(data)))
	if code != http.StatusCreated {
		t.Fatalf("upload: HTTP %d %+v", code, apiErr)
	}
	want, _, err := blob.ComputeCID(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if up.CID != want.String() || up.Size != uint64(len(data)) {
		t.Fatalf("upload answered %+v, want %s", up, want)
	}
	c, _ := cid.Decode(up.CID)
	s, _ := submit(t, net.API(1), owner.tx(t, nil, &txn.FilePublish{CID: c.Bytes(), Size: up.Size, Name: "log.bin",
		MediaType: "application/x-hypha-log", Replicas: 2}), "commit")
	if s.Result == nil || s.Result.Code != 0 {
		t.Fatalf("publish: %+v", s)
	}
	gwA := net.Nodes[0].GatewayAddress().Account()
	testnet.Eventually(t, 60*time.Second, "two attested holders", func() bool {
		return len(holders(t, net.API(2), up.CID)) == 2
	})
	hs := holders(t, net.API(2), up.CID)
	if !slices.Contains(hs, gwA) {
		t.Fatalf("holders %v do not include the uploading gateway %s", hs, gwA)
	}
	// Only one gateway fetched: in ten more rounds the gateways have signed
	// two attestations in all, and no surplus pin and withdrawal.
	time.Sleep(10 * 200 * time.Millisecond)
	signed := uint64(0)
	for k := range net.Nodes {
		var a api.Account
		if code := getJSON(t, net.API(2)+"/v1/accounts/"+net.Nodes[k].GatewayAddress().Account(), &a); code != http.StatusOK {
			t.Fatalf("gateway %d account: HTTP %d", k, code)
		}
		signed += a.Nonce
	}
	if signed != 2 {
		t.Fatalf("gateways signed %d attestation txs, want 2 (a pin by the uploading gateway and by one fetcher)", signed)
	}
	var rec api.File
	if code := getJSON(t, net.API(2)+"/v1/files/"+up.CID+"?prove=true", &rec); code != http.StatusOK || rec.Proof == nil || rec.Holders != 2 {
		t.Fatalf("record: HTTP %d %+v", code, rec)
	}
	// Replication settles: a file with its replicas is no longer wanted.
	var wanted api.FilePage
	getJSON(t, net.API(2)+"/v1/files?wanted=true", &wanted)
	if len(wanted.Items) != 0 {
		t.Fatalf("still wanted: %+v", *wanted.Items[0])
	}

	net.Stop(0)
	resp, body := get(t, net.API(2)+"/v1/files/"+up.CID+"/content", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("download from C with A stopped: HTTP %d, %d bytes, equal=%v", resp.StatusCode, len(body), bytes.Equal(body, data))
	}
	if et := resp.Header.Get("ETag"); et != `"`+up.CID+`"` {
		t.Fatalf("ETag %q", et)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-hypha-log" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "log.bin") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	for _, rg := range [][2]int{{0, 0}, {100, 199}, {1<<20 - 5, 1<<20 + 5}, {len(data) - 10, len(data) - 1}} {
		resp, body := get(t, net.API(1)+"/v1/files/"+up.CID+"/content", map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", rg[0], rg[1])})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[rg[0]:rg[1]+1]) {
			t.Fatalf("range %v: HTTP %d, %d bytes", rg, resp.StatusCode, len(body))
		}
	}
	resp, _ = get(t, net.API(1)+"/v1/files/"+up.CID+"/content", map[string]string{"If-None-Match": `"` + up.CID + `"`})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: HTTP %d", resp.StatusCode)
	}
	resp, _ = get(t, net.API(1)+"/v1/files/"+up.CID+"/content", map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(data)+10)})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: HTTP %d", resp.StatusCode)
	}

	// The publisher retires the file: holders withdraw and drop the blocks.
	owner.nonce = nonceOf(t, net.API(1), owner)
	s, code = submit(t, net.API(1), owner.tx(t, nil, &txn.FileUnpin{CID: c.Bytes()}), "commit")
	if s.Result == nil || s.Result.Code != 0 {
		t.Fatalf("retire: HTTP %d %+v", code, s)
	}
	// A comes back, catches up, and withdraws its copy too.
	net.Start(0)
	testnet.Eventually(t, 60*time.Second, "holders withdraw a retired file", func() bool {
		return len(holders(t, net.API(1), up.CID)) == 0
	})
	for k := range net.Nodes {
		pins, err := net.Nodes[k].Blobs().Pins(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(pins, func(p cid.Cid) bool { return p.Equals(c) }) {
			t.Fatalf("gateway %d still pins the retired file", k)
		}
	}
}

func nonceOf(t *testing.T, base string, s *signer) uint64 {
	t.Helper()
	var a api.Account
	if code := getJSON(t, base+"/v1/accounts/"+s.key.Public().Address().Account(), &a); code != http.StatusOK {
		t.Fatalf("account: HTTP %d", code)
	}
	return a.Nonce
}

// Bad input at the file front door: oversize and truncated uploads, a
// record for content nobody has, an unknown CID, a malformed CID. The node
// keeps serving afterwards.
func TestFileBadInput(t *testing.T) {
	net := fileNet(t, func(k int) int64 {
		if k == 1 {
			return 1 << 20
		}
		return 4 << 30
	})
	owner := &signer{key: devKey(t, net.Homes[0]), chain: "hypha-it"}

	// Oversize: gateway 1 takes at most 1 MiB.
	big := bytes.Repeat([]byte{7}, 1<<20+1)
	if _, e, code := upload(t, net.API(1), bytes.NewReader(big), int64(len(big))); code != http.StatusRequestEntityTooLarge || e.Code != errs.ErrFileTooLarge.Code {
		t.Fatalf("oversize: HTTP %d %+v", code, e)
	}
	// Wrong media type.
	req, _ := http.NewRequest("POST", net.API(0)+"/v1/files", strings.NewReader("x"))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("json upload: %v %v", resp, err)
	}

	// Truncated: the connection closes after half the declared bytes.
	before, err := net.Nodes[0].Blobs().Pins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dial("tcp", strings.TrimPrefix(net.API(0), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 4000000\r\n\r\n")
	conn.Write(bytes.Repeat([]byte{1}, 2_000_000))
	conn.Close()
	testnet.Eventually(t, 10*time.Second, "the truncated upload is dropped", func() bool {
		after, err := net.Nodes[0].Blobs().Pins(context.Background())
		return err == nil && len(after) == len(before)
	})

	// A record for content no gateway holds: it stays wanted with no
	// holders, and downloads answer not-found after a bounded search.
	ghost, _, _ := blob.ComputeCID(strings.NewReader("nobody uploaded this"))
	s, _ := submit(t, net.API(0), owner.tx(t, nil, &txn.FilePublish{CID: ghost.Bytes(), Size: 20, Replicas: 1}), "commit")
	if s.Result == nil || s.Result.Code != 0 {
		t.Fatalf("publish ghost: %+v", s)
	}
	start := time.Now()
	resp, body := get(t, net.API(2)+"/v1/files/"+ghost.String()+"/content", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "ErrBlobNotFound") {
		t.Fatalf("ghost download: HTTP %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("not-found took %v", d)
	}
	for range 3 {
		if err := net.Nodes[1].Replicate(context.Background()); err != nil {
			t.Fatalf("replication round with a ghost record: %v", err)
		}
	}
	if h := holders(t, net.API(0), ghost.String()); len(h) != 0 {
		t.Fatalf("ghost has holders %v", h)
	}

	// Malformed and unsupported CIDs.
	for _, bad := range []string{"notacid", "bafy", "zQmfoo"} {
		resp, body := get(t, net.API(0)+"/v1/files/"+bad+"/content", nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "ErrInvalidCID") {
			t.Fatalf("%s: HTTP %d %s", bad, resp.StatusCode, body)
		}
	}
	// Still serving.
	small := []byte("still here")
	if _, e, code := upload(t, net.API(0), bytes.NewReader(small), int64(len(small))); code != http.StatusCreated {
		t.Fatalf("upload after bad input: HTTP %d %+v", code, e)
	}
}

func decodeBytes(b []byte, v any) error { return json.Unmarshal(b, v) }

// dial opens a raw connection (the test's network is named net).
func dial(network, addr string) (io.WriteCloser, error) { return stdnet.Dial(network, addr) }
