// Package blob is Hypha's content-addressed file store and its peer-to-peer
// transfer between the gateways of one network.
//
// # Content addressing
//
// Add imports a file with the UnixFS importer and the IPIP-499
// unixfs-v1-2025 profile (CIDv1, sha2-256, raw leaves, 1 MiB chunks,
// balanced DAG, 1024 links per node), so a file's CID equals the one kubo
// gives the same bytes with that profile, and files move to and from the
// IPFS world unchanged. ComputeCID gives the same CID without a store.
// Imports stream: memory stays at a few chunks whatever the file size.
//
// # Trust only what you hashed
//
// Every block read from the datastore is re-hashed and compared with its
// CID; a mismatch is errs.ErrContentMismatch and the block is neither served
// to peers nor returned to readers (Fetch deletes it and fetches it again).
// Blocks from peers arrive through bitswap, which derives a block's CID from
// its bytes, so a block that does not hash to the CID asked for is never
// delivered, let alone stored.
//
// # Storage
//
// Blocks, a small size index and pins live in one pebble datastore (keys in
// blockstore.go). A pin is recursive: GC deletes every block no pin reaches.
// Add and Fetch pin what they store; Open streams without storing. Pebble
// panics when its write-ahead log cannot be written, so every write first
// checks that the file system is writable and keeps a reserve free; a
// refused or failed write is errs.ErrStorage and the store keeps serving
// reads (see diskGuard).
//
// # Network
//
// Each Store runs a libp2p host (TCP; QUIC cannot carry a pre-shared key) in
// a private network: the 32-byte PSK keeps out everyone else, and an
// allow-list (SetPeers, the current validators and gateways) refuses
// connections to and from other key holders. A Kademlia DHT in server mode
// under the network's private protocol prefix, with no bootstrap peers,
// finds providers; bitswap, under the same prefix, moves blocks. Add and
// Fetch announce roots; Reprovide renews the announcements.
//
// A search for blocks no member sends within Config.FindTimeout ends with
// errs.ErrBlobNotFound: an unknown CID after that long, a stalled transfer
// after that long without progress.
//
// # Concurrency and lifetime
//
// All methods are safe for concurrent use. Close ends searches, waits for
// running operations and closes the datastore; afterwards operations fail
// with errs.ErrUnavailable. A File is used by one goroutine at a time.
package blob
