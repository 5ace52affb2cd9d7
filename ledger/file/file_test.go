package file_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/file"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

func testCID(t *testing.T, s string) []byte {
	t.Helper()
	mh, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh).Bytes()
}

func wrap(t *testing.T, publisher, recipient string, to keys.SealKey, c []byte, key []byte) txn.WrappedKey {
	t.Helper()
	h := seal.FileKeyHeader(lt.ChainID, lt.Addr(publisher), lt.Addr(recipient), c)
	box, err := seal.Seal(rand.Reader, h, key, to.PublicBytes())
	if err != nil {
		t.Fatal(err)
	}
	return txn.WrappedKey{Recipient: lt.Addr(recipient), Box: box}
}

func wantCode(t *testing.T, what string, got uint32, want *errs.Class) {
	t.Helper()
	if want == nil && got != 0 || want != nil && got != want.Code {
		t.Fatalf("%s: code %d, want %v", what, got, want)
	}
}

// An encrypted file's content key is wrapped per recipient with HPKE; the
// ledger checks each wrap is sealed to the recipient's current seal key,
// and only the publisher grants more recipients.
func TestEncryptedPublishAndGrant(t *testing.T) {
	ch := lt.New(t, "alice", "bob", "carol")
	alice, bob, carol := lt.Key("alice"), lt.Key("bob"), lt.Key("carol")
	for _, n := range []string{"alice", "bob"} {
		r := ch.Block(ch.Tx(lt.Key(n), &txn.SetSealKey{SealKey: lt.SealKey(n).PublicBytes()}))
		wantCode(t, "set seal key", r[0].Code, nil)
	}
	c := testCID(t, "ciphertext")
	ck := bytes.Repeat([]byte{7}, 32)
	pub := func(keys ...txn.WrappedKey) *txn.FilePublish {
		return &txn.FilePublish{CID: c, Size: 100, Replicas: 1, Encrypted: &txn.Encryption{Scheme: txn.EncryptionStream, Keys: keys}}
	}
	cases := []struct {
		name string
		msg  *txn.FilePublish
		want *errs.Class
	}{
		{"sealed to the wrong key", pub(wrap(t, "alice", "bob", lt.SealKey("alice"), c, ck)), errs.ErrBadSeal},
		{"recipient without seal key", pub(wrap(t, "alice", "carol", lt.SealKey("carol"), c, ck)), errs.ErrNoSealKey},
		{"garbage box", pub(txn.WrappedKey{Recipient: lt.Addr("bob"), Box: []byte{0xa0}}), errs.ErrBadSeal},
		{"ok", pub(wrap(t, "alice", "alice", lt.SealKey("alice"), c, ck), wrap(t, "alice", "bob", lt.SealKey("bob"), c, ck)), nil},
	}
	for _, tc := range cases {
		r := ch.Block(ch.Tx(alice, tc.msg))
		wantCode(t, tc.name, r[0].Code, tc.want)
	}

	// bob opens his wrapped key: the header binds publisher, recipient, CID and chain.
	var f file.File
	resp := ch.Query("/file/" + file.CIDString(c))
	if resp.Code != 0 {
		t.Fatal(resp.Log)
	}
	if err := txn.Unmarshal(resp.Value, &f); err != nil {
		t.Fatal(err)
	}
	got, err := seal.Open(seal.FileKeyHeader(lt.ChainID, lt.Addr("alice"), lt.Addr("bob"), c), f.Encrypted.Keys[1].Box, lt.SealKey("bob"))
	if err != nil || !bytes.Equal(got, ck) {
		t.Fatalf("bob opens his wrapped key: %v", err)
	}
	if _, err := seal.Open(seal.FileKeyHeader(lt.ChainID, lt.Addr("alice"), lt.Addr("bob"), testCID(t, "other")), f.Encrypted.Keys[1].Box, lt.SealKey("bob")); err == nil {
		t.Fatal("a wrapped key opened for another CID")
	}

	// Only the publisher grants; the recipient needs a seal key.
	grant := &txn.FileGrant{CID: c, Key: wrap(t, "alice", "carol", lt.SealKey("carol"), c, ck)}
	wantCode(t, "grant by bob", ch.Block(ch.Tx(bob, grant))[0].Code, errs.ErrUnauthorized)
	wantCode(t, "grant before carol has a key", ch.Block(ch.Tx(alice, grant))[0].Code, errs.ErrNoSealKey)
	wantCode(t, "carol sets key", ch.Block(ch.Tx(carol, &txn.SetSealKey{SealKey: lt.SealKey("carol").PublicBytes()}))[0].Code, nil)
	wantCode(t, "grant", ch.Block(ch.Tx(alice, grant))[0].Code, nil)
	// Granting again replaces the key rather than adding one.
	wantCode(t, "grant again", ch.Block(ch.Tx(alice, grant))[0].Code, nil)
	resp = ch.Query("/file/" + file.CIDString(c))
	f = file.File{}
	if err := txn.Unmarshal(resp.Value, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Encrypted.Keys) != 3 || f.Encrypted.Keys[2].Recipient != lt.Addr("carol") {
		t.Fatalf("keys after grants: %+v", f.Encrypted.Keys)
	}

	// A plain file has nothing to grant.
	plain := testCID(t, "plain")
	wantCode(t, "publish plain", ch.Block(ch.Tx(alice, &txn.FilePublish{CID: plain, Size: 1, Replicas: 1}))[0].Code, nil)
	wantCode(t, "grant on plain", ch.Block(ch.Tx(alice, &txn.FileGrant{CID: plain, Key: grant.Key}))[0].Code, errs.ErrInvalidMsg)
	wantCode(t, "grant on unknown", ch.Block(ch.Tx(alice, &txn.FileGrant{CID: testCID(t, "nope"), Key: grant.Key}))[0].Code, errs.ErrUnknownFile)
}

// Proofs: a file record and the latest release are provable like any state.
func TestFileRecordProvable(t *testing.T) {
	ch := lt.New(t, "alice")
	c := testCID(t, "img")
	r := ch.Block(ch.Tx(lt.Key("alice"), &txn.FilePublish{CID: c, Size: 3, Replicas: 1},
		&txn.FirmwareRegisterModel{Model: "lock/v2 pro"},
		&txn.FirmwareRelease{Model: "lock/v2 pro", Version: "2.0.0", CID: c}))
	wantCode(t, "publish+release", r[0].Code, nil)
	for _, path := range []string{"/file/" + file.CIDString(c), "/firmware/lock%2Fv2%20pro/latest", "/firmware/lock%2Fv2%20pro/version/2.0.0", "/firmware/lock%2Fv2%20pro"} {
		resp := ch.L.Query(ledger.QueryRequest{Path: path, Prove: true})
		if resp.Code != 0 || resp.Proof == nil {
			t.Fatalf("%s: code %d %s, proof %v", path, resp.Code, resp.Log, resp.Proof != nil)
		}
	}
}
