// Package keyring stores named signing keys, each with an optional X25519
// seal key, in a directory on disk, for the hypha CLI.
//
// Each key is one JSON file, <dir>/<name>.json, mode 0600, in a directory
// created with mode 0700. The public key (with its did:key and bech32 account
// address, for people reading the file) and the seal public key are stored
// in clear, so Public, Lookup and List need no passphrase. The secrets (the
// signing key and, if present, the seal key) are stored in clear when the
// passphrase is empty, and otherwise encrypted with XChaCha20-Poly1305 under
// a key derived by Argon2id from the passphrase with a random salt.
//
// Files are written atomically: a temporary file in the same directory is
// written, fsynced and then hard-linked (or, where links are unsupported,
// renamed) to its name, and the directory is fsynced, so a crash leaves
// either no key or the whole key, and two concurrent Adds of one name cannot
// both succeed. Reads refuse a key file whose permissions are wider than
// 0600.
//
// A Keyring is safe for concurrent use, also by several processes.
package keyring

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/hypha-iot/hypha/keys"
)

// Errors callers branch on (with errors.Is); they are always returned
// wrapped with the operation and key name. Other errors carry context only.
var (
	ErrKeyNotFound     = errors.New("key not found")
	ErrKeyExists       = errors.New("key already exists")
	ErrWrongPassphrase = errors.New("wrong passphrase")
	ErrNoSealKey       = errors.New("no seal key stored")
	ErrPermissions     = errors.New("key file permissions are wider than 0600")
)

const (
	fileExt    = ".json"
	tempPrefix = ".tmp-"
	maxNameLen = 64
)

// Keyring is a directory of key files.
type Keyring struct {
	dir string
	kdf KDFParams // Argon2id costs for new encrypted keys
}

// Entry describes one stored key without its secrets.
type Entry struct {
	Name      string
	Public    keys.PublicKey
	Encrypted bool
	// SealPublic is the X25519 public key stored with the entry, or nil.
	SealPublic []byte
}

// Open opens the keyring in dir, creating dir with mode 0700 if needed. It
// refuses a directory that others can write to.
func Open(dir string) (*Keyring, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyring: create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("keyring: %s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("keyring: directory %s has permissions %#o, writable by others; run chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return &Keyring{dir: dir, kdf: DefaultKDF}, nil
}

// Dir returns the keyring's directory.
func (r *Keyring) Dir() string { return r.dir }

// ValidName reports whether name may name a key: 1 to 64 characters from
// [a-z0-9._-], not starting with '.'.
func ValidName(name string) error {
	if len(name) == 0 || len(name) > maxNameLen {
		return fmt.Errorf("keyring: key name %q must be 1 to %d characters", name, maxNameLen)
	}
	if name[0] == '.' {
		return fmt.Errorf("keyring: key name %q must not start with '.'", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("keyring: key name %q: only a-z, 0-9, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

// Add stores k under name, encrypted under passphrase unless passphrase is
// empty. It returns ErrKeyExists if name is taken.
func (r *Keyring) Add(name string, k keys.PrivateKey, passphrase string) error {
	return r.AddWithSeal(name, k, keys.SealKey{}, passphrase)
}

// AddWithSeal is Add that also stores seal, an X25519 key for receiving
// sealed messages, in the same file and under the same passphrase. A zero
// seal stores none.
func (r *Keyring) AddWithSeal(name string, k keys.PrivateKey, seal keys.SealKey, passphrase string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if k == nil {
		return errors.New("keyring: add: nil key")
	}
	// Fail fast before the costly key derivation; create rechecks atomically.
	if _, err := os.Lstat(r.path(name)); err == nil {
		return fmt.Errorf("keyring: add %q: %w", name, ErrKeyExists)
	}
	f, err := newKeyFile(k, seal, passphrase, r.kdf)
	if err != nil {
		return fmt.Errorf("keyring: add %q: %w", name, err)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("keyring: add %q: %w", name, err)
	}
	return r.create(name, append(data, '\n'))
}

// Get returns the signing key stored under name. It returns ErrKeyNotFound
// if there is none and ErrWrongPassphrase if the key is encrypted and
// passphrase does not decrypt it (a corrupted ciphertext looks the same).
// The passphrase is ignored for an unencrypted key.
func (r *Keyring) Get(name, passphrase string) (keys.PrivateKey, error) {
	k, _, err := r.unlock(name, passphrase)
	return k, err
}

// GetSeal returns the seal key stored under name, or ErrNoSealKey. Errors
// are otherwise those of Get.
func (r *Keyring) GetSeal(name, passphrase string) (keys.SealKey, error) {
	_, seal, err := r.unlock(name, passphrase)
	if err != nil {
		return keys.SealKey{}, err
	}
	if seal.IsZero() {
		return keys.SealKey{}, fmt.Errorf("keyring: get seal %q: %w", name, ErrNoSealKey)
	}
	return seal, nil
}

func (r *Keyring) unlock(name, passphrase string) (keys.PrivateKey, keys.SealKey, error) {
	f, pub, err := r.read(name)
	if err != nil {
		return nil, keys.SealKey{}, err
	}
	k, seal, err := f.open(passphrase, pub)
	if errors.Is(err, ErrWrongPassphrase) {
		return nil, keys.SealKey{}, fmt.Errorf("keyring: get %q: %w", name, err)
	}
	if err != nil {
		return nil, keys.SealKey{}, fmt.Errorf("keyring: %s: %w", r.path(name), err)
	}
	return k, seal, nil
}

// Public returns the public key stored under name; no passphrase is needed.
func (r *Keyring) Public(name string) (keys.PublicKey, error) {
	e, err := r.Lookup(name)
	return e.Public, err
}

// Lookup returns the entry stored under name; no passphrase is needed.
func (r *Keyring) Lookup(name string) (Entry, error) {
	f, pub, err := r.read(name)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Name: name, Public: pub, Encrypted: f.Encrypted, SealPublic: f.SealPublic}, nil
}

// List returns all entries sorted by name. A file that cannot be read or
// parsed fails the whole listing, naming the file.
func (r *Keyring) List() ([]Entry, error) {
	des, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("keyring: list: %w", err)
	}
	var out []Entry
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), fileExt)
		if !ok || ValidName(name) != nil {
			continue // temporary files and anything that is not ours
		}
		e, err := r.Lookup(name)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Delete removes the key stored under name, or returns ErrKeyNotFound.
func (r *Keyring) Delete(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := os.Remove(r.path(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("keyring: delete %q: %w", name, ErrKeyNotFound)
		}
		return fmt.Errorf("keyring: delete %q: %w", name, err)
	}
	return syncDir(r.dir)
}

func (r *Keyring) path(name string) string {
	return filepath.Join(r.dir, name+fileExt)
}

// read opens, checks and parses the public part of name's key file.
func (r *Keyring) read(name string) (*keyFile, keys.PublicKey, error) {
	if err := ValidName(name); err != nil {
		return nil, keys.PublicKey{}, err
	}
	path := r.path(name)
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, keys.PublicKey{}, fmt.Errorf("keyring: %q: %w", name, ErrKeyNotFound)
		}
		return nil, keys.PublicKey{}, fmt.Errorf("keyring: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("keyring: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, keys.PublicKey{}, fmt.Errorf("keyring: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&^0o600 != 0 {
		return nil, keys.PublicKey{}, fmt.Errorf("keyring: %s: %w (mode %#o); run chmod 600 %s", path, ErrPermissions, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("keyring: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, keys.PublicKey{}, fmt.Errorf("keyring: %s is larger than %d bytes", path, maxFileSize)
	}
	f, pub, err := decodeKeyFile(data)
	if err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("keyring: %s: %w", path, err)
	}
	return f, pub, nil
}

// create writes data to name's file atomically and only if it does not
// exist yet.
func (r *Keyring) create(name string, data []byte) (err error) {
	final := r.path(name)
	tmp, err := os.CreateTemp(r.dir, tempPrefix+name+"-*")
	if err != nil {
		return fmt.Errorf("keyring: add %q: %w", name, err)
	}
	tmpName := tmp.Name()
	defer func() {
		// After a successful link the temporary name is a second link to
		// the key; after a failure it is garbage. Remove it either way.
		if rmErr := os.Remove(tmpName); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("keyring: add %q: remove temporary file: %w", name, rmErr)
		}
	}()
	if err := writeSync(tmp, data); err != nil {
		return fmt.Errorf("keyring: add %q: %w", name, err)
	}
	if err := os.Link(tmpName, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keyring: add %q: %w", name, ErrKeyExists)
		}
		// Hard links unsupported here: check, then rename. Not atomic
		// against a concurrent Add of the same name, but still never leaves
		// a partial file.
		if _, statErr := os.Lstat(final); statErr == nil {
			return fmt.Errorf("keyring: add %q: %w", name, ErrKeyExists)
		}
		if err := os.Rename(tmpName, final); err != nil {
			return fmt.Errorf("keyring: add %q: %w", name, err)
		}
	}
	return syncDir(r.dir)
}

// writeSync sets mode 0600, writes data, fsyncs and closes f.
func writeSync(f *os.File, data []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory so that a new or removed name is durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be fsynced there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keyring: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keyring: sync %s: %w", dir, err)
	}
	return nil
}
