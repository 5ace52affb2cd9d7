package seal

import (
	"crypto/sha256"

	"github.com/hypha-iot/hypha/keys"
)

// KindFileKey is the Header.Kind of a wrapped file content key. It lies
// outside the ledger's message kinds (0 to 2), so a wrapped key can never be
// replayed as a message, nor a message as a key.
const KindFileKey uint8 = 16

// FileKeyHeader is the header a file's content key is sealed under for one
// recipient: the publisher as sender, the recipient, KindFileKey, and as
// message id the first 16 bytes of SHA-256("hypha/file-key/v1" || cid), so a
// wrapped key opens only for the file (binary CID) and chain it was made for.
func FileKeyHeader(chainID string, publisher, recipient keys.Address, cid []byte) Header {
	h := sha256.New()
	h.Write([]byte("hypha/file-key/v1"))
	h.Write(cid)
	var id [16]byte
	copy(id[:], h.Sum(nil))
	return Header{Sender: publisher, Recipient: recipient, Kind: KindFileKey, MsgID: id, ChainID: chainID}
}
