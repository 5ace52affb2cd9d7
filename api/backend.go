// Package api is Hypha's HTTP/JSON front door (/v1/...): submit txs, query
// accounts, devices, history, readings, inboxes, messages, grants, txs and
// blocks (with proofs on request), stream committed events and inboxes, and
// serve the OpenAPI document. It is
// thin: everything goes through the small Backend interface, which the node
// implements over CometBFT and the ledger (and apitest implements over a
// ledgertest chain).
//
// Routes (openapi.json describes each; a test keeps the two in step):
//
//	POST /v1/txs[?mode=sync|commit&timeout=D]     raw CBOR or {"tx": base64}
//	GET  /v1/txs/{hash}
//	GET  /v1/accounts/{addr}                        ?height= ?prove=
//	GET  /v1/devices?owner=|tag=&after=&limit=
//	GET  /v1/devices/{id}                           ?height= ?prove=
//	GET  /v1/devices/{id}/history?after=&limit=
//	GET  /v1/devices/{id}/history/{seq}             ?height= ?prove=
//	GET  /v1/devices/{id}/readings?after=&limit=
//	GET  /v1/devices/{id}/readings/latest           ?height= ?prove=
//	GET  /v1/devices/{id}/readings/{idx}            ?height= ?prove=
//	GET  /v1/inbox/{addr}?after=&limit=             a recipient's inbox (cursor height.tx.msg)
//	GET  /v1/inbox/{addr}/stream?after=             Server-Sent Events of the inbox, resumable
//	GET  /v1/inbox/{addr}/{cursor}                  ?height= ?prove=
//	GET  /v1/messages/{sender}/{id}                 ?height= ?prove=   the sender's record
//	GET  /v1/grants/{device}/{grantee}              ?height= ?prove=
//	GET  /v1/params                                 ?height= ?prove=
//	POST /v1/files                                  raw bytes, streamed → {cid, size}
//	GET  /v1/files?publisher=|wanted=true&after=&limit=
//	GET  /v1/files/{cid}                            ?height= ?prove=   the ledger record
//	GET  /v1/files/{cid}/content                    the bytes (Range, ETag = CID, HEAD)
//	GET  /v1/files/{cid}/holders?after=&limit=      gateways attesting a copy
//	GET  /v1/gateways
//	GET  /v1/firmware/{model}                       ?height= ?prove=   manufacturer
//	GET  /v1/firmware/{model}/latest                ?height= ?prove=
//	GET  /v1/firmware/{model}/releases?after=&limit=
//	GET  /v1/firmware/{model}/releases/{version}    ?height= ?prove=
//	GET  /v1/contracts/{addr}                       ?height= ?prove=
//	GET  /v1/contracts/{addr}/state/{hex key}       ?height= ?prove=
//	GET  /v1/codes/{hash}                           ?height= ?prove=
//	GET  /v1/blocks/latest, /v1/blocks/{height}
//	GET  /v1/status
//	GET  /v1/events?device=&account=&kind=&from_height=   Server-Sent Events
//	GET  /v1/openapi.json
//
// Every error is JSON, {"error": {"code", "name", "message"}}, with the
// HTTP status of its class (status.go holds the one table).
package api

import (
	"context"
	"time"

	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/exec"
)

// Backend is what the API needs from a node. Its methods are called
// concurrently, each with the request's context (bounded by the server's
// timeouts).
//
// Errors: return an errs class where one applies: errs.ErrNotFound (unknown
// tx), errs.ErrHeight or errs.ErrNotFound (block not available),
// errs.ErrUnavailable (starting, catching up, mempool full, a dependency
// down: 503), errs.ErrTimeout (504), errs.ErrDuplicateTx (409). A context
// error counts as ErrTimeout (deadline) or ErrUnavailable (canceled). Any
// other error is a 500 whose text is logged, never shown to the client.
type Backend interface {
	// SubmitSync hands a tx to the mempool and returns the CheckTx result.
	SubmitSync(ctx context.Context, tx []byte) (Submitted, error)
	// SubmitCommit hands a tx to the mempool and waits until it is in a
	// committed block (Height > 0, Result is the block result) or ctx ends
	// (errs.ErrTimeout). A tx CheckTx refuses returns at once with that
	// result.
	SubmitCommit(ctx context.Context, tx []byte) (Submitted, error)
	// Query reads ledger state at a height (0 = latest).
	Query(ctx context.Context, req ledger.QueryRequest) (ledger.QueryResponse, error)
	// Tx looks a committed tx up by hash (ErrNotFound if unknown).
	Tx(ctx context.Context, hash []byte) (TxInfo, error)
	// Block returns a committed block (height 0 = latest). The event stream's
	// replay (?from_height=) reads blocks with it and their txs with Tx.
	Block(ctx context.Context, height int64) (BlockInfo, error)
	// Status describes the node.
	Status(ctx context.Context) (Status, error)
	// Subscribe streams committed txs' events from the next block on,
	// until ctx ends. The channel closes when the subscription ends.
	Subscribe(ctx context.Context) (<-chan TxEvent, error)
}

// Submitted is the outcome of a submission.
type Submitted struct {
	Hash   []byte        `json:"hash"`
	Height int64         `json:"height,omitempty"`
	Index  uint32        `json:"index,omitempty"`
	Result ledger.Result `json:"result"`
}

// TxInfo is a committed tx.
type TxInfo struct {
	Hash   []byte        `json:"hash"`
	Height int64         `json:"height"`
	Index  uint32        `json:"index"`
	Tx     []byte        `json:"tx"`
	Result ledger.Result `json:"result"`
}

// BlockInfo is a committed block.
type BlockInfo struct {
	Height   int64     `json:"height"`
	Hash     []byte    `json:"hash"`
	Time     time.Time `json:"time"`
	Proposer []byte    `json:"proposer"`
	// AppHash is the state root after the previous block.
	AppHash  []byte   `json:"app_hash"`
	TxCount  int      `json:"tx_count"`
	TxHashes [][]byte `json:"tx_hashes"`
	// Events are the block's own events, after its txs': those of the
	// contract triggers it ran.
	Events []exec.Event `json:"events,omitempty"`
}

// Status describes the node.
type Status struct {
	ChainID         string    `json:"chain_id"`
	NodeID          string    `json:"node_id"`
	Moniker         string    `json:"moniker"`
	LatestHeight    int64     `json:"latest_height"`
	LatestAppHash   []byte    `json:"latest_app_hash"`
	LatestBlockTime time.Time `json:"latest_block_time"`
	CatchingUp      bool      `json:"catching_up"`
	Validator       bool      `json:"validator"`
	Peers           int       `json:"peers"`
}

// TxEvent is one committed tx with its events, for streams. A block's own
// events (contract triggers, run after its txs) come as one more TxEvent
// with Index = the block's tx count, no Hash and Name BlockEventsName.
const BlockEventsName = "triggers"

type TxEvent struct {
	Height int64        `json:"height"`
	Index  uint32       `json:"index"`
	Hash   []byte       `json:"hash"`
	Code   uint32       `json:"code"`
	Name   string       `json:"name,omitempty"`
	Events []exec.Event `json:"events"`
}
