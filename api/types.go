package api

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/exec"
)

// This file holds the JSON wire types of the API: what the server writes and
// the Client reads. Addresses are bech32 ("hypha1…" for accounts,
// "hyphadev1…" for devices), public keys did:key, bytes lowercase hex,
// amounts (uhyp) JSON numbers, times RFC 3339 in UTC.

// Hex is bytes shown as lowercase hex in JSON.
type Hex []byte

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(h)))
	hex.Encode(out, h)
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hex) UnmarshalText(b []byte) error {
	out := make([]byte, hex.DecodedLen(len(b)))
	if _, err := hex.Decode(out, b); err != nil {
		return fmt.Errorf("api: hex: %w", err)
	}
	*h = out
	return nil
}

func (h Hex) String() string { return hex.EncodeToString(h) }

// Proof is an ICS23 proof of one state key at Height. Verify it against the
// app hash of version Height, which is in the header of block AppHashHeight
// (= Height+1): store.VerifyProof(appHash, Key, Value, proof) after
// unmarshalling Proof into an ics23.CommitmentProof. Value is nil for a
// proof of absence.
type Proof struct {
	Height int64 `json:"height"`
	Key    Hex   `json:"key"`
	// Value is the exact CBOR bytes proven (the record the response decodes).
	Value Hex `json:"value,omitempty"`
	// Proof is the ICS23 CommitmentProof, protobuf-encoded (base64 in JSON).
	Proof         []byte `json:"proof"`
	AppHashHeight int64  `json:"app_hash_height"`
}

// Submission is the answer to POST /v1/txs.
type Submission struct {
	Hash Hex `json:"hash"`
	// Mode is "sync" (CheckTx passed; the tx is in the mempool) or
	// "commit" (the tx is in a committed block).
	Mode string `json:"mode"`
	// Height and Index place a committed tx (commit mode only).
	Height int64  `json:"height,omitempty"`
	Index  uint32 `json:"index,omitempty"`
	// Result is CheckTx's result in sync mode, the block's in commit mode.
	Result *ledger.Result `json:"result,omitempty"`
}

// Account is an account record.
type Account struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
	// Nonce is the next nonce the account's txs must carry; for a device's
	// account, the highest counter its txs have used (the next must be
	// greater). The device's reading head is shown by the device routes.
	Nonce uint64 `json:"nonce"`
	// PubKey is the key the account proved on its first tx, as did:key.
	PubKey string `json:"pubkey,omitempty"`
	// SealKey is the X25519 key messages to the account are sealed to.
	SealKey Hex    `json:"seal_key,omitempty"`
	Proof   *Proof `json:"proof,omitempty"`
}

// Location is a device's claimed position, in 1e-7 degrees.
type Location struct {
	LatE7     int64  `json:"lat_e7"`
	LonE7     int64  `json:"lon_e7"`
	AltCM     int64  `json:"alt_cm,omitempty"`
	AccuracyM uint32 `json:"accuracy_m,omitempty"`
}

// Device is a device record.
type Device struct {
	ID           string    `json:"id"`
	PubKey       string    `json:"pubkey"`
	Owner        string    `json:"owner"`
	Model        string    `json:"model"`
	Firmware     string    `json:"firmware,omitempty"`
	Location     *Location `json:"location,omitempty"`
	Tags         []string  `json:"tags,omitempty"`
	SealKey      Hex       `json:"seal_key,omitempty"`
	Auditor      string    `json:"auditor,omitempty"` // also sealed to, on every message to or from the device
	Status       string    `json:"status"`
	PendingOwner string    `json:"pending_owner,omitempty"`
	Counter      uint64    `json:"counter"`
	HistoryLen   uint64    `json:"history_len"`
	Registered   int64     `json:"registered_height"`
	Updated      int64     `json:"updated_height"`
	Readings     uint64    `json:"readings"`
	KeyRotations uint32    `json:"key_rotations,omitempty"`
	Latest       *Reading  `json:"latest,omitempty"`
	Proof        *Proof    `json:"proof,omitempty"`
}

// Reading is a direct reading with its body.
type Reading struct {
	Device  string    `json:"device"`
	Counter uint64    `json:"counter"`
	Index   uint64    `json:"index"`
	Height  int64     `json:"height"`
	Time    time.Time `json:"time"`
	TxHash  Hex       `json:"tx_hash"`
	Payload Hex       `json:"payload"`
	// SenML is the payload decoded for display: the SenML pack with labels
	// named as in SenML JSON (RFC 8428 §4); absent if it does not decode.
	SenML []map[string]any `json:"senml,omitempty"`
	Proof *Proof           `json:"proof,omitempty"`
}

// ReadingRef is one entry of a device's reading sequence (a digest, not the body).
type ReadingRef struct {
	Device  string    `json:"device"`
	Index   uint64    `json:"index"`
	Counter uint64    `json:"counter"`
	Height  int64     `json:"height"`
	Time    time.Time `json:"time"`
	TxHash  Hex       `json:"tx_hash"`
	Digest  Hex       `json:"digest"`
	Size    uint32    `json:"size"`
	Records uint32    `json:"records"`
	Proof   *Proof    `json:"proof,omitempty"`
}

// HistoryEntry is one change to a device.
type HistoryEntry struct {
	Device string      `json:"device"`
	Seq    uint64      `json:"seq"`
	Height int64       `json:"height"`
	TxHash Hex         `json:"tx_hash"`
	Kind   string      `json:"kind"`
	Actor  string      `json:"actor"`
	Attrs  []exec.Attr `json:"attrs,omitempty"`
	Proof  *Proof      `json:"proof,omitempty"`
}

// Params are the chain parameters.
type Params struct {
	ledger.Params
	Proof *Proof `json:"proof,omitempty"`
}

// Page is one page of a list. Next is the cursor to pass as ?after= for
// the following page ("" at the end).
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Tx is a committed tx.
type Tx struct {
	Hash   Hex    `json:"hash"`
	Height int64  `json:"height"`
	Index  uint32 `json:"index"`
	Raw    Hex    `json:"raw"`
	// Body is the decoded tx (absent if the bytes do not decode; the
	// result then says why).
	Body   *TxBody       `json:"body,omitempty"`
	Result ledger.Result `json:"result"`
}

// TxBody is a decoded tx for display.
type TxBody struct {
	ChainID   string           `json:"chain_id"`
	Signer    string           `json:"signer"`
	PubKey    string           `json:"pubkey,omitempty"`
	Nonce     uint64           `json:"nonce"`
	Fee       uint64           `json:"fee"`
	GasLimit  uint64           `json:"gas_limit"`
	Msgs      []map[string]any `json:"msgs"`
	Memo      string           `json:"memo,omitempty"`
	Sig       Hex              `json:"sig"`
	Cosigners []string         `json:"cosigners,omitempty"`
}

// Block is a committed block.
type Block struct {
	Height   int64     `json:"height"`
	Hash     Hex       `json:"hash"`
	Time     time.Time `json:"time"`
	Proposer Hex       `json:"proposer"`
	// AppHash is the state root after the previous block: proofs at
	// height Height-1 verify against it.
	AppHash  Hex   `json:"app_hash"`
	TxCount  int   `json:"tx_count"`
	TxHashes []Hex `json:"tx_hashes"`
}

// NodeStatus describes the node.
type NodeStatus struct {
	ChainID         string    `json:"chain_id"`
	NodeID          string    `json:"node_id"`
	Moniker         string    `json:"moniker"`
	LatestHeight    int64     `json:"latest_height"`
	LatestAppHash   Hex       `json:"latest_app_hash"`
	LatestBlockTime time.Time `json:"latest_block_time"`
	CatchingUp      bool      `json:"catching_up"`
	Validator       bool      `json:"validator"`
	Peers           int       `json:"peers"`
}

// Event is one committed tx and its events, as streamed by GET /v1/events.
type Event struct {
	// ID is "<height>:<index>", also the SSE event id.
	ID     string       `json:"id"`
	Height int64        `json:"height"`
	Index  uint32       `json:"index"`
	Hash   Hex          `json:"hash"`
	Code   uint32       `json:"code"`
	Name   string       `json:"name,omitempty"`
	Events []exec.Event `json:"events"`
}

// InboxEntry is one message in a recipient's inbox. The ledger sees only
// this: Box is the sealed content (seal.Box encoding), which the recipient
// opens with a seal.Header rebuilt from From, To, Kind, ID and the chain id.
type InboxEntry struct {
	// Cursor is the entry's place in the inbox, "height.tx.msg": pass it as
	// ?after= (or as the stream's Last-Event-ID) to read what follows.
	Cursor string `json:"cursor"`
	// To is the recipient and From the sender, each in device form
	// (hyphadev1…) when it is a registered device.
	To   string `json:"to"`
	From string `json:"from"`
	// Kind is "data", "command" or "command-result".
	Kind string `json:"kind"`
	ID   Hex    `json:"id"`
	// Box is the sealed message (base64 in JSON).
	Box     []byte `json:"box"`
	ReplyTo Hex    `json:"reply_to,omitempty"`
	// Time is the time of the block that carried the message; Expires the
	// height at whose end the entry is removed.
	Time    time.Time `json:"time"`
	Expires int64     `json:"expires"`
	TxHash  Hex       `json:"tx_hash"`
	Proof   *Proof    `json:"proof,omitempty"`
}

// Message is the sender's record of a message: where it went and whether
// the recipient acknowledged it.
type Message struct {
	Sender    string `json:"sender"`
	ID        Hex    `json:"id"`
	Recipient string `json:"recipient"`
	Kind      string `json:"kind"`
	// Cursor places the message in the recipient's inbox.
	Cursor string `json:"cursor"`
	// State is "sent", "delivered" or "read"; StateHeight is when it last
	// changed (0 while sent).
	State       string `json:"state"`
	StateHeight int64  `json:"state_height,omitempty"`
	Expires     int64  `json:"expires"`
	Proof       *Proof `json:"proof,omitempty"`
}

// Grant lets Grantee send Kinds to Device until the height Expires (0:
// no expiry).
type Grant struct {
	Device  string   `json:"device"`
	Grantee string   `json:"grantee"`
	Kinds   []string `json:"kinds"`
	Expires int64    `json:"expires,omitempty"`
	Proof   *Proof   `json:"proof,omitempty"`
}

// Upload is the answer to a file upload.
type Upload struct {
	CID  string `json:"cid"`
	Size uint64 `json:"size"`
}

// File is a file's ledger record.
type File struct {
	CID        string          `json:"cid"`
	Size       uint64          `json:"size"`
	Name       string          `json:"name,omitempty"`
	MediaType  string          `json:"media_type,omitempty"`
	Publisher  string          `json:"publisher"`
	Replicas   uint8           `json:"replicas"`
	Holders    uint32          `json:"holders"`
	Published  int64           `json:"published_height"`
	TxHash     Hex             `json:"tx_hash"`
	Retired    int64           `json:"retired_height,omitempty"`
	Encryption *FileEncryption `json:"encryption,omitempty"`
	Proof      *Proof          `json:"proof,omitempty"`
}

// FileEncryption lists an encrypted file's wrapped content keys.
type FileEncryption struct {
	Scheme string       `json:"scheme"`
	Keys   []WrappedKey `json:"keys"`
}

// WrappedKey is a content key sealed to one recipient.
type WrappedKey struct {
	Recipient string `json:"recipient"`
	Box       Hex    `json:"box"`
}

// FilePage is a page of file records.
type FilePage struct {
	Items []*File `json:"items"`
	Next  string  `json:"next,omitempty"`
}

// Pin is a gateway's attestation that it holds a file.
type Pin struct {
	Gateway string `json:"gateway"`
	Height  int64  `json:"height"`
	TxHash  Hex    `json:"tx_hash"`
}

// PinPage is a page of a file's holders.
type PinPage struct {
	Items []*Pin `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Gateway is one gateway of the network.
type Gateway struct {
	Address string   `json:"address"`
	PeerID  string   `json:"peer_id"`
	Addrs   []string `json:"addrs,omitempty"`
	Name    string   `json:"name,omitempty"`
}

// GatewayPage is a page of gateways.
type GatewayPage struct {
	Items []*Gateway `json:"items"`
	Next  string     `json:"next,omitempty"`
}

// Model is a device model's manufacturer.
type Model struct {
	Model        string `json:"model"`
	Manufacturer string `json:"manufacturer"`
	Registered   int64  `json:"registered_height"`
	Releases     uint64 `json:"releases"`
	Latest       string `json:"latest,omitempty"`
	Proof        *Proof `json:"proof,omitempty"`
}

// Release is a firmware release.
type Release struct {
	Model        string    `json:"model"`
	Version      string    `json:"version"`
	CID          string    `json:"cid"`
	Size         uint64    `json:"size"`
	Notes        string    `json:"notes,omitempty"`
	Manufacturer string    `json:"manufacturer"`
	Seq          uint64    `json:"seq"`
	Height       int64     `json:"height"`
	Time         time.Time `json:"time"`
	TxHash       Hex       `json:"tx_hash"`
	Proof        *Proof    `json:"proof,omitempty"`
}

// ReleasePage is a page of releases.
type ReleasePage struct {
	Items []*Release `json:"items"`
	Next  string     `json:"next,omitempty"`
}

// Contract is a contract instance's record.
type Contract struct {
	Address  string `json:"address"`
	CodeHash Hex    `json:"code_hash"`
	Creator  string `json:"creator"`
	Admin    string `json:"admin,omitempty"`
	Label    string `json:"label,omitempty"`
	Created  int64  `json:"created_height"`
	Migrated int64  `json:"migrated_height,omitempty"`
	TxHash   Hex    `json:"tx_hash"`
	Proof    *Proof `json:"proof,omitempty"`
}

// ContractState is one entry of a contract's storage.
type ContractState struct {
	Contract string `json:"contract"`
	Key      Hex    `json:"key"`
	Value    Hex    `json:"value"`
	Proof    *Proof `json:"proof,omitempty"`
}

// ContractStatePage is a page of a contract's storage, in key order.
type ContractStatePage struct {
	Items []*ContractState `json:"items"`
	Next  string           `json:"next,omitempty"`
}

// Trigger is one of a contract's subscriptions.
type Trigger struct {
	// Kind is "reading", "tick" or "message".
	Kind string `json:"kind"`
	// Devices whose readings run on_reading, and the CEL condition.
	Devices   []string `json:"devices,omitempty"`
	Condition string   `json:"condition,omitempty"`
	// Every is the tick interval in blocks; Next the height of the next.
	Every uint64 `json:"every,omitempty"`
	Next  int64  `json:"next,omitempty"`
	// Height is where the subscription was set.
	Height int64 `json:"height"`
}

// ContractTriggers lists a contract's subscriptions (none: an empty list).
type ContractTriggers struct {
	Contract string     `json:"contract"`
	Triggers []*Trigger `json:"triggers"`
}

// TriggerQueue is the contract trigger queue: Head is the sequence of the
// next invocation to run, Tail the next free one; Pending = Tail - Head
// invocations wait for a block with trigger gas left.
type TriggerQueue struct {
	Head    uint64 `json:"head"`
	Tail    uint64 `json:"tail"`
	Pending uint64 `json:"pending"`
}

// Code is the record of stored contract code.
type Code struct {
	Hash     Hex      `json:"hash"`
	Size     uint64   `json:"size"`
	Uploader string   `json:"uploader"`
	Chunks   uint32   `json:"chunks"`
	Height   int64    `json:"height"`
	Entries  []string `json:"entries"`
	InitGas  uint64   `json:"init_gas"`
	TxHash   Hex      `json:"tx_hash"`
	Proof    *Proof   `json:"proof,omitempty"`
}
