package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/node"
)

// cli runs the hypha command in-process and returns its output and exit code.
func cli(tb testing.TB, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// mustCLI runs the command and fails the test unless it exits 0.
func mustCLI(tb testing.TB, args ...string) string {
	tb.Helper()
	out, errOut, code := cli(tb, args...)
	if code != exitOK {
		tb.Fatalf("hypha %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mustJSON runs the command with --output json and decodes its stdout into v.
func mustJSON(tb testing.TB, v any, args ...string) {
	tb.Helper()
	out := mustCLI(tb, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		tb.Fatalf("hypha %s: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestKeysAddShowList(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	home := t.TempDir()

	var added keyInfo
	mustJSON(t, &added, "keys", "add", "alice", "--home", home)
	if added.Name != "alice" || added.Type != "ed25519" || added.Encrypted {
		t.Fatalf("keys add: %+v", added)
	}
	a, prefix, err := keys.ParseAddress(added.Address)
	if err != nil || prefix != keys.AccountPrefix {
		t.Fatalf("address %q: %v, prefix %q", added.Address, err, prefix)
	}
	if a.Device() != added.DeviceAddress {
		t.Errorf("device address %q, want %q", added.DeviceAddress, a.Device())
	}
	pk, err := keys.ParseDID(added.DID)
	if err != nil || pk.Address() != a {
		t.Errorf("did %q does not match the address: %v", added.DID, err)
	}
	if added.SealPubKey == "" {
		t.Error("no seal key")
	}

	fi, err := os.Stat(filepath.Join(node.KeyringDir(home), "alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %#o, want 0600", perm)
	}

	// Text output is short and names the addresses.
	out := mustCLI(t, "keys", "add", "sensor", "--type", "p256", "--home", home)
	if !strings.Contains(out, `added key "sensor" (p256, unencrypted)`) || !strings.Contains(out, "hyphadev1") {
		t.Errorf("keys add text:\n%s", out)
	}

	// Single values, for scripts.
	for flag, want := range map[string]string{
		"--address": added.Address, "--device": added.DeviceAddress, "--did": added.DID, "--pubkey": added.PubKey,
	} {
		if got := mustCLI(t, "keys", "show", "alice", flag, "--home", home); got != want+"\n" {
			t.Errorf("keys show %s = %q, want %q", flag, got, want+"\n")
		}
	}
	var shown keyInfo
	mustJSON(t, &shown, "keys", "show", "alice", "--home", home)
	if shown != added {
		t.Errorf("keys show = %+v, want %+v", shown, added)
	}

	var exported map[string]any
	out = mustCLI(t, "keys", "export-public", "alice", "--home", home)
	if err := json.Unmarshal([]byte(out), &exported); err != nil {
		t.Fatalf("export-public is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"name", "type", "pubkey", "did", "address", "device_address"} {
		if exported[k] == nil || exported[k] == "" {
			t.Errorf("export-public lacks %q: %s", k, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("export-public shows a secret: %s", out)
	}

	var list []keyInfo
	mustJSON(t, &list, "keys", "list", "--home", home)
	if len(list) != 2 || list[0].Name != "alice" || list[1].Name != "sensor" || list[1].Type != "p256" {
		t.Errorf("keys list = %+v", list)
	}
	if out := mustCLI(t, "keys", "list", "--home", home); !strings.Contains(out, "alice") || !strings.Contains(out, added.Address) {
		t.Errorf("keys list text:\n%s", out)
	}
}

func TestKeysErrors(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	home := t.TempDir()
	mustCLI(t, "keys", "add", "alice", "--home", home)

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"duplicate name", []string{"keys", "add", "alice"}, exitFailure, `key "alice" already exists`},
		{"bad type", []string{"keys", "add", "bob", "--type", "rsa"}, exitUsage, "--type"},
		{"bad name", []string{"keys", "add", "Bob!"}, exitUsage, "key name"},
		{"missing name", []string{"keys", "add"}, exitUsage, "accepts 1 arg"},
		{"unknown flag", []string{"keys", "list", "--bogus"}, exitUsage, "unknown flag"},
		{"unknown key", []string{"keys", "show", "nobody"}, exitFailure, `no key named "nobody"`},
		{"two values", []string{"keys", "show", "alice", "--address", "--did"}, exitUsage, "at most one"},
		{"delete without --yes", []string{"keys", "delete", "alice"}, exitUsage, "--yes"},
		{"delete unknown", []string{"keys", "delete", "nobody", "--yes"}, exitFailure, `no key named "nobody"`},
		{"bad output", []string{"keys", "list", "--output", "yaml"}, exitUsage, "--output"},
		{"unknown subcommand", []string{"keys", "bogus"}, exitUsage, `unknown command "bogus" for "hypha keys"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := cli(t, append(tt.args, "--home", home)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}

	// JSON errors are JSON on stderr.
	_, stderr, code := cli(t, "keys", "show", "nobody", "--home", home, "--output", "json")
	var e struct{ Error struct{ Message string } }
	if code != exitFailure || json.Unmarshal([]byte(stderr), &e) != nil || !strings.Contains(e.Error.Message, "nobody") {
		t.Errorf("JSON error: exit %d, stderr %q", code, stderr)
	}

	mustCLI(t, "keys", "delete", "alice", "--yes", "--home", home)
	if _, _, code := cli(t, "keys", "show", "alice", "--home", home); code != exitFailure {
		t.Errorf("show after delete: exit %d", code)
	}
}

func TestKeysPassphrase(t *testing.T) {
	home := t.TempDir()
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(passphraseEnv, "")
	var info keyInfo
	mustJSON(t, &info, "keys", "add", "vault", "--passphrase-file", pass, "--home", home)
	if !info.Encrypted {
		t.Fatal("key from --passphrase-file is not encrypted")
	}
	raw, err := os.ReadFile(filepath.Join(node.KeyringDir(home), "vault.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"encrypted": true`)) {
		t.Errorf("key file not encrypted:\n%s", raw)
	}

	g := &globals{home: home}
	if _, err := g.signingKey("vault", ""); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("unlock without passphrase: %v", err)
	}
	t.Setenv(passphraseEnv, "wrong")
	if _, err := g.signingKey("vault", ""); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("unlock with a wrong passphrase: %v", err)
	}
	t.Setenv(passphraseEnv, "correct horse")
	k, err := g.signingKey("vault", "")
	if err != nil {
		t.Fatal(err)
	}
	if k.Public().Address().Account() != info.Address {
		t.Error("unlocked the wrong key")
	}
	if _, err := g.signingKey("vault", pass); err != nil {
		t.Errorf("unlock with --passphrase-file: %v", err)
	}
}

func TestResolveAddress(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	home := t.TempDir()
	var info keyInfo
	mustJSON(t, &info, "keys", "add", "alice", "--home", home)
	a, _, _ := keys.ParseAddress(info.Address)
	g := &globals{home: home}
	for _, in := range []string{"alice", info.Address, info.DeviceAddress, strings.ToUpper(info.Address), hex.EncodeToString(a[:])} {
		got, err := g.resolveAddress(in)
		if err != nil || got != a {
			t.Errorf("resolveAddress(%q) = %v, %v; want %v", in, got, err, a)
		}
	}
	for _, in := range []string{"bob", "hypha1qqqq", "Not A Name"} {
		if _, err := g.resolveAddress(in); err == nil || !strings.Contains(err.Error(), "neither an address") {
			t.Errorf("resolveAddress(%q) error = %v", in, err)
		}
	}
}
