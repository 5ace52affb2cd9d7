package keyring

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hypha-iot/hypha/keys"
)

// fastKDF keeps tests quick; the format and code path are the same.
var fastKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func mustOpen(tb testing.TB) *Keyring {
	tb.Helper()
	r, err := Open(filepath.Join(tb.TempDir(), "keyring"))
	if err != nil {
		tb.Fatal(err)
	}
	r.kdf = fastKDF
	return r
}

func testKey(tb testing.TB, t keys.Type, i byte) keys.PrivateKey {
	tb.Helper()
	var seed [32]byte
	seed[0] = i
	if t == keys.P256 {
		return keys.P256FromSeed(seed)
	}
	return keys.Ed25519FromSeed(seed)
}

func mustSealKey(tb testing.TB, i byte) keys.SealKey {
	tb.Helper()
	b := make([]byte, 32)
	b[0] = i
	s, err := keys.SealKeyFromBytes(b)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func skipOnWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file permissions are not checked on Windows")
	}
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	skipOnWindows(t)
	dir := filepath.Join(t.TempDir(), "a", "b")
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("dir mode = %#o, want 0700", perm)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("Open of a world-writable dir = %v, want error", err)
	}
}

func TestAddGet(t *testing.T) {
	tests := []struct {
		name       string
		typ        keys.Type
		passphrase string
		seal       bool
	}{
		{"ed25519 plain", keys.Ed25519, "", false},
		{"ed25519 encrypted", keys.Ed25519, "correct horse", false},
		{"p256 plain", keys.P256, "", false},
		{"p256 encrypted", keys.P256, "battery staple", false},
		{"ed25519 encrypted with seal", keys.Ed25519, "pw", true},
		{"p256 plain with seal", keys.P256, "", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustOpen(t)
			k := testKey(t, tt.typ, byte(i))
			var seal keys.SealKey
			if tt.seal {
				seal = mustSealKey(t, byte(i))
			}
			if err := r.AddWithSeal("dev-1", k, seal, tt.passphrase); err != nil {
				t.Fatal(err)
			}
			got, err := r.Get("dev-1", tt.passphrase)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Public().Equal(k.Public()) || string(got.Bytes()) != string(k.Bytes()) {
				t.Error("Get returned a different key")
			}
			pub, err := r.Public("dev-1")
			if err != nil || !pub.Equal(k.Public()) {
				t.Errorf("Public = %v, %v", pub, err)
			}
			e, err := r.Lookup("dev-1")
			if err != nil {
				t.Fatal(err)
			}
			if e.Encrypted != (tt.passphrase != "") || e.Name != "dev-1" {
				t.Errorf("Lookup = %+v", e)
			}
			gotSeal, err := r.GetSeal("dev-1", tt.passphrase)
			if tt.seal {
				if err != nil || string(gotSeal.Bytes()) != string(seal.Bytes()) {
					t.Errorf("GetSeal = %v, %v", gotSeal, err)
				}
				if string(e.SealPublic) != string(seal.PublicBytes()) {
					t.Errorf("Entry.SealPublic = %x, want %x", e.SealPublic, seal.PublicBytes())
				}
			} else {
				if !errors.Is(err, ErrNoSealKey) {
					t.Errorf("GetSeal without seal key = %v, want ErrNoSealKey", err)
				}
				if e.SealPublic != nil {
					t.Errorf("Entry.SealPublic = %x, want nil", e.SealPublic)
				}
			}
			// The secret must not appear in clear when encrypted.
			data, err := os.ReadFile(filepath.Join(r.Dir(), "dev-1.json"))
			if err != nil {
				t.Fatal(err)
			}
			var f keyFile
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			if tt.passphrase != "" && strings.Contains(string(f.Secret), string(k.Bytes()[1:])) {
				t.Error("encrypted file contains the secret in clear")
			}
			if f.DID != k.Public().DID() || f.Address != k.Public().Address().Account() {
				t.Errorf("file did/address = %s %s", f.DID, f.Address)
			}
		})
	}
}

func TestWrongPassphrase(t *testing.T) {
	r := mustOpen(t)
	if err := r.AddWithSeal("alice", testKey(t, keys.Ed25519, 1), mustSealKey(t, 1), "right"); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"wrong", "", "right ", "Right"} {
		t.Run(pw, func(t *testing.T) {
			if _, err := r.Get("alice", pw); !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("Get(%q) = %v, want ErrWrongPassphrase", pw, err)
			}
			if _, err := r.GetSeal("alice", pw); !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("GetSeal(%q) = %v, want ErrWrongPassphrase", pw, err)
			}
		})
	}
	// Public parts stay readable without the passphrase.
	if _, err := r.Public("alice"); err != nil {
		t.Errorf("Public: %v", err)
	}
}

func TestUnencryptedIgnoresPassphrase(t *testing.T) {
	r := mustOpen(t)
	k := testKey(t, keys.Ed25519, 1)
	if err := r.Add("bob", k, ""); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get("bob", "anything")
	if err != nil || !got.Public().Equal(k.Public()) {
		t.Errorf("Get = %v, %v", got, err)
	}
}

func TestFilePermissions(t *testing.T) {
	skipOnWindows(t)
	r := mustOpen(t)
	if err := r.Add("k", testKey(t, keys.Ed25519, 1), ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(r.Dir(), "k.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("key file mode = %#o, want 0600", perm)
	}
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o700, false},
		{0o666, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			for name, op := range map[string]func() error{
				"Get":    func() error { _, err := r.Get("k", ""); return err },
				"Public": func() error { _, err := r.Public("k"); return err },
				"List":   func() error { _, err := r.List(); return err },
			} {
				err := op()
				if tt.ok && err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if !tt.ok && !errors.Is(err, ErrPermissions) {
					t.Errorf("%s = %v, want ErrPermissions", name, err)
				}
				if !tt.ok && !strings.Contains(err.Error(), "chmod 600") {
					t.Errorf("%s error %q gives no remedy", name, err)
				}
			}
		})
	}
}

func TestAddExistingAndNames(t *testing.T) {
	r := mustOpen(t)
	k1, k2 := testKey(t, keys.Ed25519, 1), testKey(t, keys.Ed25519, 2)
	if err := r.Add("n", k1, ""); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("n", k2, "pw"); !errors.Is(err, ErrKeyExists) {
		t.Errorf("second Add = %v, want ErrKeyExists", err)
	}
	if got, _ := r.Public("n"); !got.Equal(k1.Public()) {
		t.Error("second Add replaced the key")
	}
	names := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"my-device_01.v2", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"Alice", false},
		{"a/b", false},
		{"../x", false},
		{".hidden", false},
		{"..", false},
		{"a b", false},
		{"é", false},
	}
	for _, tt := range names {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Add(tt.name, k2, "")
			if (err == nil) != tt.ok {
				t.Errorf("Add(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
			if !tt.ok {
				if _, err := r.Get(tt.name, ""); err == nil || errors.Is(err, ErrKeyNotFound) {
					t.Errorf("Get(%q) = %v, want a name error", tt.name, err)
				}
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	r := mustOpen(t)
	if _, err := r.Get("nobody", ""); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Get = %v", err)
	}
	if _, err := r.Public("nobody"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Public = %v", err)
	}
	if err := r.Delete("nobody"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Delete = %v", err)
	}
}

func TestListSortedAndDelete(t *testing.T) {
	r := mustOpen(t)
	// "a-b" sorts before "a" by file name ("a-b.json" < "a.json") but after
	// it by key name.
	names := []string{"zeta", "a-b", "a", "m.1", "b_2"}
	for i, n := range names {
		pw := ""
		if i%2 == 0 {
			pw = "pw"
		}
		if err := r.Add(n, testKey(t, keys.Type(1+i%2), byte(i)), pw); err != nil {
			t.Fatal(err)
		}
	}
	// Files that are not keys are ignored.
	for _, junk := range []string{".tmp-x-123", "README", "Upper.json"} {
		if err := os.WriteFile(filepath.Join(r.Dir(), junk), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name)
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for _, e := range entries {
		i := slices.Index(names, e.Name)
		if e.Encrypted != (i%2 == 0) || e.Public.Type != keys.Type(1+i%2) {
			t.Errorf("entry %+v", e)
		}
	}

	if err := r.Delete("m.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Public("m.1"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("after Delete, Public = %v", err)
	}
	entries, _ = r.List()
	if len(entries) != len(names)-1 {
		t.Errorf("after Delete, %d entries", len(entries))
	}
}

func TestAtomicWrite(t *testing.T) {
	r := mustOpen(t)
	// A temporary file left by a crash is neither listed nor in the way.
	stale := filepath.Join(r.Dir(), tempPrefix+"k-999")
	if err := os.WriteFile(stale, []byte(`{"version":1,"secret":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("k", testKey(t, keys.Ed25519, 1), "pw"); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, de := range des {
		files = append(files, de.Name())
	}
	if want := []string{tempPrefix + "k-999", "k.json"}; !slices.Equal(files, want) {
		t.Errorf("dir holds %v, want %v (no temporary file of our own left behind)", files, want)
	}
	if entries, err := r.List(); err != nil || len(entries) != 1 {
		t.Errorf("List = %v, %v", entries, err)
	}

	// Concurrent Adds of one name: exactly one wins, and the file is whole.
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = r.Add("race", testKey(t, keys.Ed25519, byte(10+i)), "")
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrKeyExists):
			t.Errorf("concurrent Add: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent Adds succeeded, want 1", wins)
	}
	if _, err := r.Get("race", ""); err != nil {
		t.Errorf("Get after race: %v", err)
	}
}

func TestTamperedFiles(t *testing.T) {
	r := mustOpen(t)
	k := testKey(t, keys.Ed25519, 1)
	other := testKey(t, keys.Ed25519, 2)
	if err := r.AddWithSeal("k", k, mustSealKey(t, 1), "pw"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(r.Dir(), "k.json")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(t *testing.T, change func(m map[string]any)) {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	otherPub := other.Public()
	tests := []struct {
		name    string
		change  func(m map[string]any)
		wantErr error // nil: any error
		public  bool  // whether Public should still work
	}{
		{"swapped public key", func(m map[string]any) {
			m["public_key"] = otherPub.Bytes()
			m["did"] = otherPub.DID()
			m["address"] = otherPub.Address().Account()
		}, ErrWrongPassphrase, true},
		{"did mismatch", func(m map[string]any) { m["did"] = otherPub.DID() }, nil, false},
		{"address mismatch", func(m map[string]any) { m["address"] = otherPub.Address().Device() }, nil, false},
		{"unknown field", func(m map[string]any) { m["extra"] = 1 }, nil, false},
		{"version 2", func(m map[string]any) { m["version"] = 2 }, nil, false},
		{"huge argon2 memory", func(m map[string]any) { m["kdf"].(map[string]any)["memory_kib"] = 1 << 30 }, nil, false},
		{"short nonce", func(m map[string]any) { m["nonce"] = "AAAA" }, nil, false},
		{"no kdf", func(m map[string]any) { delete(m, "kdf") }, nil, false},
		{"flipped ciphertext", func(m map[string]any) {
			ct, err := base64.StdEncoding.DecodeString(m["secret"].(string))
			if err != nil {
				panic(err)
			}
			ct[3] ^= 1
			m["secret"] = ct
		}, ErrWrongPassphrase, true},
		{"removed seal public", func(m map[string]any) { delete(m, "seal_public") }, ErrWrongPassphrase, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edit(t, tt.change)
			_, err := r.Get("k", "pw")
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("Get = %v, want %v", err, tt.wantErr)
			}
			if _, err := r.Public("k"); (err == nil) != tt.public {
				t.Errorf("Public = %v, want ok=%v", err, tt.public)
			}
		})
	}

	t.Run("unencrypted secret of another key", func(t *testing.T) {
		r := mustOpen(t)
		if err := r.Add("u", k, ""); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(r.Dir(), "u.json")
		data, _ := os.ReadFile(path)
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		m["secret"] = other.Bytes()
		data, _ = json.Marshal(m)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Get("u", ""); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Errorf("Get = %v, want mismatch error", err)
		}
	})
}

func TestDefaultKDF(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB Argon2id")
	}
	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r.kdf != DefaultKDF {
		t.Fatalf("kdf = %+v, want DefaultKDF", r.kdf)
	}
	k := testKey(t, keys.P256, 1)
	if err := r.Add("d", k, "pw"); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get("d", "pw")
	if err != nil || !got.Public().Equal(k.Public()) {
		t.Errorf("Get = %v, %v", got, err)
	}
}
