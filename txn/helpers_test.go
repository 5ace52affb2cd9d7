package txn_test

import (
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"bytes"
	"encoding/hex"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

const testChain = "hypha-test-1"

// testKey returns a fixed Ed25519 key from the seed {i, i, ...}.
func testKey(i byte) keys.PrivateKey { return keys.Ed25519FromSeed(seed(i)) }

// testP256 returns a fixed P-256 key from the seed {i, i, ...}.
func testP256(i byte) keys.PrivateKey { return keys.P256FromSeed(seed(i)) }

func seed(i byte) [keys.SeedSize]byte {
	var s [keys.SeedSize]byte
	for j := range s {
		s[j] = i
	}
	return s
}

// addr returns a fixed non-zero address {i, i+1, ...}.
func addr(i byte) keys.Address {
	var a keys.Address
	for j := range a {
		a[j] = i + byte(j)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

// senml200 is a SenML CBOR pack of about 200 bytes: a base name and six
// temperature and humidity records with times.
func senml200(tb testing.TB) []byte {
	tb.Helper()
	pack := []map[int]any{{-2: "urn:dev:ow:10e2073a01080063:", -3: 1_700_000_000, 0: "temp", 1: "Cel", 2: 23.5}}
	for i := 1; len(mustCBOR(tb, pack)) < 190; i++ {
		pack = append(pack, map[int]any{0: "hum", 1: "%RH", 2: 40 + i, 6: i * 10})
	}
	return mustCBOR(tb, pack)
}

// sampleMsgs returns one valid msg of every kind, in txn.Types() order.
func sampleMsgs(tb testing.TB) map[txn.MsgType]txn.Msg {
	tb.Helper()
	dev := testKey(9).Public()
	return map[txn.MsgType]txn.Msg{
		txn.TypeSend: &txn.Send{To: addr(1), Amount: 5_000_000},
		txn.TypeDeviceRegister: &txn.DeviceRegister{PubKey: dev.Bytes(), Model: "thermo-2", Firmware: "1.4.2",
			Location: &txn.Location{LatE7: 523_700_000, LonE7: 48_900_000, AltCM: -120, AccuracyM: 5},
			Tags:     []string{"floor:3", "room/301"}, SealKey: bytes.Repeat([]byte{7}, 32)},
		txn.TypeDeviceUpdate: &txn.DeviceUpdate{Device: addr(2), Firmware: ptr("1.5.0"), ClearLocation: true,
			AddTags: []string{"zone=b"}, RemoveTags: []string{"zone=a"}},
		txn.TypeDeviceRotateKey:      &txn.DeviceRotateKey{Device: addr(3), NewPubKey: testP256(10).Public().Bytes()},
		txn.TypeDeviceTransfer:       &txn.DeviceTransfer{Device: addr(4), To: addr(5)},
		txn.TypeDeviceAcceptTransfer: &txn.DeviceAcceptTransfer{Device: addr(6)},
		txn.TypeDeviceCancelTransfer: &txn.DeviceCancelTransfer{Device: addr(7)},
		txn.TypeDeviceRevoke:         &txn.DeviceRevoke{Device: addr(8), Reason: "lost in transit"},
		txn.TypeDeviceDecommission:   &txn.DeviceDecommission{Device: addr(9)},
		txn.TypeReadingSubmit:        &txn.ReadingSubmit{Payload: senml200(tb)},
		txn.TypeSetSealKey:           &txn.SetSealKey{SealKey: bytes.Repeat([]byte{7}, 32)},
		txn.TypeMessageSend: &txn.MessageSend{To: addr(10), Kind: txn.KindCommandResult, ID: bytes.Repeat([]byte{1}, 16),
			Box: []byte{0xa0}, ReplyTo: bytes.Repeat([]byte{2}, 16)},
		txn.TypeMessageReceipt: &txn.MessageReceipt{Sender: addr(11), IDs: [][]byte{bytes.Repeat([]byte{3}, 16)}, State: txn.StateRead},
		txn.TypeMessageGrant:   &txn.MessageGrant{Device: addr(12), Grantee: addr(13), Kinds: []uint8{txn.KindCommand}, Expires: 99},
		txn.TypeFilePublish: &txn.FilePublish{CID: testCID(tb, "fw"), Size: 12, Name: "fw-1.2.0.bin",
			MediaType: "application/octet-stream", Replicas: 3, Encrypted: &txn.Encryption{Scheme: txn.EncryptionStream,
				Keys: []txn.WrappedKey{{Recipient: addr(14), Box: []byte{0xa0}}}}},
		txn.TypeFilePin:               &txn.FilePin{CID: testCID(tb, "fw")},
		txn.TypeFileUnpin:             &txn.FileUnpin{CID: testCID(tb, "fw")},
		txn.TypeFileGrant:             &txn.FileGrant{CID: testCID(tb, "fw"), Key: txn.WrappedKey{Recipient: addr(15), Box: []byte{0xa0}}},
		txn.TypeFirmwareRegisterModel: &txn.FirmwareRegisterModel{Model: "thermo-2"},
		txn.TypeFirmwareRelease:       &txn.FirmwareRelease{Model: "thermo-2", Version: "1.2.0-rc.1", CID: testCID(tb, "fw"), Notes: "fixes"},
		txn.TypeFirmwareReport:        &txn.FirmwareReport{Version: "1.2.0", CID: testCID(tb, "fw")},
		txn.TypeContractStore: &txn.ContractStore{CodeHash: bytes.Repeat([]byte{0xc0}, 32), TotalSize: 1 << 20, Index: 3,
			Chunk: bytes.Repeat([]byte{0x61}, 100)},
		txn.TypeContractInstantiate: &txn.ContractInstantiate{CodeHash: bytes.Repeat([]byte{0xc0}, 32), Args: []byte{1, 2},
			Admin: ptr(addr(16)), Label: "parking lot 3", Funds: 1_000},
		txn.TypeContractCall:        &txn.ContractCall{Contract: addr(17), Args: []byte("\x09increment\x01"), Funds: 5},
		txn.TypeContractMigrate:     &txn.ContractMigrate{Contract: addr(18), CodeHash: bytes.Repeat([]byte{0xc1}, 32), Args: []byte{0}},
		txn.TypeContractCancelStore: &txn.ContractCancelStore{CodeHash: bytes.Repeat([]byte{0xc0}, 32)},
		txn.TypeContractSubscribe: &txn.ContractSubscribe{Contract: addr(19), Kind: txn.TriggerReading,
			Devices: []keys.Address{addr(20)}, Condition: `records["temp"] > 25000`},
		txn.TypeContractUnsubscribe: &txn.ContractUnsubscribe{Contract: addr(19), Kind: txn.TriggerTick},
		txn.TypeContractAttach:      &txn.ContractAttach{Contract: addr(19), Devices: []keys.Address{addr(21)}},
		txn.TypeContractDetach:      &txn.ContractDetach{Contract: addr(19), Devices: []keys.Address{addr(21)}},
	}
}

// mustTx builds and signs a tx from signer carrying msgs.
func mustTx(tb testing.TB, signer keys.PrivateKey, nonce uint64, msgs ...txn.Msg) *txn.Tx {
	tb.Helper()
	tx, err := txn.New(testChain, signer.Public().Address(), nonce).
		WithPubKey(signer.Public()).
		WithFee(2000, 200_000).
		WithMemo("hello").
		Add(msgs...).
		Sign(signer)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return tx
}

// validTx is the base of the bad-input table: a send from a fixed Ed25519
// key with a pubkey, a memo and one P-256 co-signature.
func validTx(tb testing.TB) []byte {
	tb.Helper()
	signer := testKey(1)
	tx, err := txn.New(testChain, signer.Public().Address(), 7).
		WithPubKey(signer.Public()).
		WithFee(2000, 200_000).
		WithMemo("hello").
		Add(&txn.Send{To: addr(1), Amount: 5}).
		Sign(signer, testP256(2))
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return mustEncode(tb, tx)
}

func mustEncode(tb testing.TB, tx *txn.Tx) []byte {
	tb.Helper()
	b, err := tx.Encode()
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return b
}

func mustDecode(tb testing.TB, b []byte) *txn.Tx {
	tb.Helper()
	tx, err := txn.Decode(b, 0)
	if err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return tx
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// detEnc is core deterministic encoding, independent of the package's own
// encoder, for building test inputs.
var detEnc = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// genDec decodes any CBOR item into generic Go values (map[any]any, []any,
// uint64, []byte, string) so that tests can edit a valid tx.
var genDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{DefaultMapType: nil}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

func mustCBOR(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := detEnc.Marshal(v)
	if err != nil {
		tb.Fatalf("cbor marshal %T: %v", v, err)
	}
	return b
}

// edit decodes the valid tx generically, lets fn change the tx map and its
// body map, and re-encodes the result canonically (map keys sorted). Values
// that must not be canonical are set as cbor.RawMessage, which the encoder
// copies verbatim.
func edit(tb testing.TB, fn func(tx, body map[any]any)) []byte {
	tb.Helper()
	tx := generic(tb, validTx(tb))
	body := tx[uint64(1)].(map[any]any)
	fn(tx, body)
	return mustCBOR(tb, tx)
}

// editMsg is edit for the body's first msg, the array [type, msg].
func editMsg(tb testing.TB, fn func(msg []any)) []byte {
	tb.Helper()
	return edit(tb, func(_, body map[any]any) {
		fn(body[uint64(6)].([]any)[0].([]any))
	})
}

// rawMap encodes a map with its pairs in the order given (keys unsorted,
// duplicates kept), each key and value encoded canonically unless it is a
// cbor.RawMessage.
func rawMap(tb testing.TB, kv ...any) cbor.RawMessage {
	tb.Helper()
	if len(kv)%2 != 0 || len(kv)/2 >= 24 {
		tb.Fatalf("rawMap: bad pair count %d", len(kv))
	}
	out := []byte{0xa0 | byte(len(kv)/2)}
	for _, v := range kv {
		out = append(out, mustCBOR(tb, v)...)
	}
	return out
}

// assertClass fails unless err is an error of class want.
func assertClass(tb testing.TB, err error, want *errs.Class) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %s", want.Name)
	}
	if got := errs.Of(err); got != want {
		tb.Fatalf("got class %s (%v), want %s", got.Name, err, want.Name)
	}
}

// addrBytes is addr(i) as a slice.
func addrBytes(i byte) []byte {
	a := addr(i)
	return a[:]
}

// generic decodes an encoded tx into generic values.
func generic(tb testing.TB, b []byte) map[any]any {
	tb.Helper()
	var tx map[any]any
	if err := genDec.Unmarshal(b, &tx); err != nil {
		tb.Fatalf("generic decode: %v", err)
	}
	return tx
}

// replaceOnce returns a copy of b with its only occurrence of old replaced by
// new, for edits the encoder refuses to make (indefinite lengths, invalid
// UTF-8).
func replaceOnce(tb testing.TB, b, old, new []byte) []byte {
	tb.Helper()
	if n := bytes.Count(b, old); n != 1 {
		tb.Fatalf("replaceOnce: %x occurs %d times", old, n)
	}
	return bytes.Replace(b, old, new, 1)
}

func validSealPub(t testing.TB) []byte {
	t.Helper()
	k, err := keys.SealKeyFromBytes(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicBytes()
}

// testCID is the binary CIDv1 (raw, sha2-256) of content.
func testCID(tb testing.TB, content string) []byte {
	tb.Helper()
	mh, err := multihash.Sum([]byte(content), multihash.SHA2_256, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh).Bytes()
}
