// Package gobuild compiles Go contracts (package main against vm/sdk) to
// WebAssembly with the settings the runtime expects: GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared, -trimpath and -buildvcs=false, so that a
// source tree gives the same bytes, and code hash, on every machine with the
// same Go toolchain. It runs the go command, which must be on PATH.
package gobuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles the package pkg (a directory, "./…", or an import path)
// and returns the module's bytes. The go command's output is in the error.
func Build(ctx context.Context, pkg string) ([]byte, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("building a contract needs the go command: %w", err)
	}
	if !strings.HasPrefix(pkg, ".") && !filepath.IsAbs(pkg) {
		if st, err := os.Stat(pkg); err == nil && st.IsDir() {
			pkg = "./" + pkg // a relative directory, not an import path
		}
	}
	dir, err := os.MkdirTemp("", "hypha-contract-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "contract.wasm")
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg.String())
	}
	return os.ReadFile(out)
}
