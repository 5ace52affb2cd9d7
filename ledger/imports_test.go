package ledger_test

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The state machine must be deterministic: no network, files, clocks,
// randomness, logging or goroutines in ledger/... (test support in
// ledgertest excepted), and no CometBFT anywhere below it, so that the
// ledger runs the same inside a node, a test or a light-client tool.
var forbiddenImports = []string{"net", "os", "math/rand", "log", "crypto/rand", "syscall", "unsafe", "runtime", "plugin"}

var forbiddenCalls = map[string][]string{
	"time": {"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"},
}

func TestLedgerImports(t *testing.T) {
	pkgs, err := filepath.Glob("*")
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{"."}
	for _, p := range pkgs {
		if p != "testdata" && p != "ledgertest" && isDir(p) {
			dirs = append(dirs, p)
		}
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			bp, err := build.ImportDir(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range bp.Imports {
				for _, bad := range forbiddenImports {
					if imp == bad || strings.HasPrefix(imp, bad+"/") {
						t.Errorf("%s imports %s", dir, imp)
					}
				}
				if strings.Contains(imp, "cometbft") {
					t.Errorf("%s imports %s", dir, imp)
				}
			}
			fset := token.NewFileSet()
			for _, f := range bp.GoFiles {
				file, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, 0)
				if err != nil {
					t.Fatal(err)
				}
				ast.Inspect(file, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.GoStmt:
						t.Errorf("%s: goroutine started", fset.Position(n.Pos()))
					case *ast.SelectorExpr:
						if id, ok := n.X.(*ast.Ident); ok {
							for _, name := range forbiddenCalls[id.Name] {
								if n.Sel.Name == name {
									t.Errorf("%s: uses %s.%s", fset.Position(n.Pos()), id.Name, name)
								}
							}
						}
					}
					return true
				})
			}
		})
	}
}

// TestLedgerNoCometBFT checks the whole dependency closure, not only direct
// imports.
func TestLedgerNoCometBFT(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "cometbft") {
			t.Errorf("ledger depends on %s", p)
		}
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
