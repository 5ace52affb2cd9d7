package vmtest

import (
	"context"
	"testing"

	"github.com/hypha-iot/hypha/vm/gobuild"
)

// Build compiles the Go contract in package directory dir (a path relative
// to the calling test's package, e.g. "../vm/sdk/examples/counter") to
// WebAssembly with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared (without VCS
// stamps, so the module does not change with the checkout), the way
// contracts are built for Hypha, and returns the module's bytes.
func Build(tb testing.TB, dir string) []byte {
	tb.Helper()
	code, err := gobuild.Build(context.Background(), dir)
	if err != nil {
		tb.Fatalf("build contract %s: %v", dir, err)
	}
	return code
}
