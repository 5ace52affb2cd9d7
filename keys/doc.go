// Package keys holds Hypha's signing keys, account and device addresses,
// did:key rendering, X25519 keys for sealing messages and a batch signature
// verifier.
//
// Two signing key types exist (see DESIGN.md, "Keys and addresses"):
//
//   - Ed25519, the default. Verification follows ZIP-215
//     (github.com/hdevalence/ed25519consensus), so every node accepts exactly
//     the same set of signatures, in single and in batch verification.
//   - ECDSA P-256 over SHA-256, for secure elements (ATECC608, SE050, TPM)
//     that cannot do Ed25519. Public keys are 33-byte SEC1 compressed points;
//     signatures are 64 bytes r||s and must be low-S (s <= n/2).
//
// The wire form of a public key is its type byte followed by the key bytes
// ([PublicKey.Bytes]). An [Address] is the first 20 bytes of SHA-256 of that
// wire form; it renders as bech32 with prefix "hypha" for accounts and
// "hyphadev" for devices.
//
// Everything in this package is deterministic and free of I/O except
// [Generate] and [GenerateSealKey], which read the random source they are
// given, and [BatchVerifier], whose internal random coefficients do not
// change its result. The on-disk keyring lives in the keyring subpackage so
// that the ledger can import keys without importing os.
package keys
