package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/blob"
)

// hypha bench files runs the whole measurement on a small file and prints
// every figure, as text and as JSON.
func TestBenchFiles(t *testing.T) {
	out, stderr, code := cli(t, "bench", "files", "--size", "8388608", "--dir", t.TempDir(), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r blob.TransferReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Size != 8<<20 || r.SHA256MiBps <= 0 || r.ImportMiBps <= 0 || r.TCPMiBps <= 0 || r.TransferMiBps <= 0 ||
		r.StreamMiBps <= 0 || r.QUICTransferMiBps <= 0 || r.TTFBSamples == 0 || r.TTFBP50 <= 0 || r.PeakHeapBytes == 0 || r.ImportVsSHA256 <= 0 || r.TransferVsTCP <= 0 {
		t.Fatalf("incomplete report: %+v", r)
	}
	out, stderr, code = cli(t, "bench", "files", "--size", "2097152", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"SHA-256", "import", "TCP", "transfer", "first byte", "heap"} {
		if !strings.Contains(out, want) {
			t.Fatalf("text output lacks %q:\n%s", want, out)
		}
	}
}
