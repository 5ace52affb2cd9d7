package vmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build compiles the Go contract in package directory dir (a path relative
// to the calling test's package, e.g. "../vm/sdk/examples/counter") to
// WebAssembly with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared (without VCS
// stamps, so the module does not change with the checkout), the way
// contracts are built for Hypha, and returns the module's bytes.
func Build(tb testing.TB, dir string) []byte {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "contract.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, dir)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build contract %s: %v\n%s", dir, err, b)
	}
	code, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return code
}
