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
// # File streams
//
// A file in the distributed file store is encrypted under its own random
// 32-byte content key K ([NewContentKey]) by [EncryptWriter] or
// [EncryptReader]; K is sealed to each recipient separately with [Seal].
// The stream is the STREAM online authenticated encryption construction
// (Hoang, Reyhanitabar, Rogaway and Vizár, CRYPTO 2015), as in age's v1
// payload:
//
//	stream    = header || segment_0 || ... || segment_(n-1)
//	header    = "hypha-file/v1\n" (14 bytes) || salt (16 bytes) || commitment (32 bytes)
//	Kp || commitment = HKDF-SHA256(secret K, salt, info "hypha/file/v1"), 64 bytes
//	segment_i = ChaCha20-Poly1305-Seal(Kp, nonce_i, P_i, empty associated data)
//	nonce_i   = i as 11 bytes big-endian || 0x01 if i = n-1, else 0x00
//
// HKDF is Extract then Expand (RFC 5869); the salt is fresh from the random
// source for every stream. The plaintext is split into n >= 1 segments P_i
// of 64 KiB each except the last, which holds the remaining 1 to 65536 bytes
// and is empty only when the whole plaintext is (n = 1). A stream is thus
// 62 + len(plaintext) + 16n bytes ([CiphertextSize], [PlaintextSize]) and
// has exactly one encoding for a given K, salt and plaintext.
//
// [DecryptReader] checks the magic (else ErrMalformed) and the commitment, in
// constant time (else [ErrWrongKey]), before it returns. It then reads one
// segment and one byte beyond it at a time: a segment followed by more data
// must open as non-final, a segment at the end of the stream as final.
// Plaintext is released a segment at a time, each only after its tag
// verifies. A segment that opens under neither flag is ErrTampered; one that
// opens only as non-final at the end of the stream means whole segments were
// cut off ([ErrTruncatedStream]); one that opens only as final with data after
// it means data was appended (ErrTampered); an empty final segment after
// full ones is ErrMalformed.
//
// Security properties of file streams:
//
//   - Confidentiality and integrity of the whole file: only holders of K read
//     it; any modified, reordered, duplicated, dropped or added byte, a cut
//     inside the stream or at a segment boundary, and an extension are all
//     detected. The plaintext length is public.
//   - Online release: a reader gets each segment's plaintext once that
//     segment authenticates, before later ones are read, and io.EOF only after
//     the final segment authenticates. A consumer that must not act on part of
//     a file (installing firmware, say) must wait for io.EOF and discard what
//     it read on any error.
//   - The header is authenticated without a MAC of its own: the magic must
//     match exactly, and salt and commitment must match K.
//   - Key commitment: the header commits to K, so a stream opens under at
//     most one content key (ChaCha20-Poly1305 alone is not key-committing).
//     Since each recipient's K is sealed in a separate box, this is what
//     keeps a publisher from wrapping different keys that make one stream
//     (one CID) read as different files to different recipients, such as a
//     device and its auditor: the second key fails with ErrWrongKey.
//   - Key reuse: the salt gives every stream its own payload key, so one K may
//     encrypt many files (salts collide with probability about s^2/2^129 for
//     s streams). Nothing in a stream names its file: a stream is bound to a
//     file only by its CID, which the wrapped key's header commits to
//     ([FileKeyHeader]).
//
// The readers and the writer of a stream are not safe for concurrent use.
//
// All functions are safe for concurrent use.
package seal
