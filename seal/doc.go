// Package seal encrypts peer-to-peer messages to a recipient's published
// X25519 key and, optionally, to extra recipients such as an auditor key that
// an owner set on a device (DESIGN.md, "Peer-to-peer messaging"). The ledger
// carries the sealed [Box] in a message.send transaction and sees only the
// sender, recipient, kind, size and ciphertext; it never opens a box.
//
// # Construction
//
// [Seal] draws one random 32-byte content key K. From K it derives, with
// HKDF-Expand-SHA256 (RFC 5869, info "hypha/seal/v1 payload"), a 32-byte
// payload key and a 32-byte key commitment. The plaintext is encrypted once
// with ChaCha20-Poly1305 (RFC 8439) under the payload key, an all-zero nonce
// (the key is fresh for every box) and associated data A, the canonical
// CBOR encoding of the [Header]. K is then sealed to each recipient key with
// HPKE (RFC 9180) in base mode, suite DHKEM(X25519, HKDF-SHA256) /
// HKDF-SHA256 / ChaCha20-Poly1305, a single Seal call per recipient with
// info "hypha/seal/v1" and aad A. The main recipient's entry comes first,
// then the extra recipients in the order given.
//
// # Format
//
// A box is canonical CBOR (RFC 8949 §4.2.1) with integer map keys, decoded
// strictly by txn.Unmarshal (no unknown or duplicate keys, no indefinite
// lengths, no trailing bytes, canonical form only):
//
//	Box   = { 1: version     uint, always 1
//	          2: entries     [+ Entry], 1 to MaxRecipients, key ids distinct
//	          3: commitment  bstr .size 32
//	          4: ciphertext  bstr, len(plaintext) + 16 }
//	Entry = { 1: key id      bstr .size 8, SHA-256(X25519 public key)[:8]
//	          2: enc         bstr .size 32, the HPKE encapsulated key
//	          3: sealed key  bstr .size 48, HPKE ciphertext of K }
//
// The associated data A is the canonical CBOR encoding of
//
//	Header = { 1: sender bstr .size 20, 2: recipient bstr .size 20,
//	           3: kind uint, 4: message id bstr .size 16, 5: chain id tstr }
//
// A box to one recipient is the plaintext plus 155 to 157 bytes (for
// plaintexts under 64 KiB; the CBOR length prefix of the ciphertext grows with
// it); each extra recipient adds 97 bytes.
//
// # Security properties
//
//   - Confidentiality: only holders of a listed X25519 private key learn the
//     plaintext. Key ids and the number of recipients are public; so is the
//     plaintext length.
//   - Binding: every HPKE entry and the payload are authenticated together
//     with the header (sender, recipient, kind, message id, chain id). A box
//     opened under any other header (replayed to another recipient, kind or
//     chain, or under another sender or message id) fails with ErrTampered,
//     as does any modified byte of an entry, the commitment or the ciphertext.
//   - One plaintext for all recipients: the key commitment makes a box open to
//     the same plaintext for every listed key, or fail. A sender cannot show
//     the auditor one message and the recipient another (ChaCha20-Poly1305
//     alone is not key-committing).
//   - No sender authentication: HPKE base mode proves nothing about who
//     sealed. The sender is authenticated by the signature of the transaction
//     that carries the box, so a recipient must build the Header from that
//     signed transaction, never from unauthenticated input. Any recipient of a
//     box learns K and could forge another box under the same header; it
//     cannot get that box onto the ledger without the sender's signature.
//   - Replay of the very same transaction (same header) is not detected here:
//     the ledger must reject a reused message id per sender.
//   - Whether an auditor entry truly opens is known only to the auditor; the
//     ledger can check that the auditor's key id is listed ([Recipients]),
//     not that the entry under it is valid.
//
// All functions are safe for concurrent use.
package seal
