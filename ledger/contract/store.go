package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/txn"
)

// GetCode returns the record of the code hash, or false.
func GetCode(c *exec.Context, hash [32]byte) (Code, bool) {
	var code Code
	ok := c.GetRecord(CodeKey(hash), &code)
	return code, ok
}

func mustCode(c *exec.Context, hash [32]byte) (Code, error) {
	code, ok := GetCode(c, hash)
	if !ok {
		return code, errs.ErrUnknownCode.Wrap("%x", hash)
	}
	return code, nil
}

func requireRuntime(env *Env) error {
	if env == nil || env.Runtime == nil {
		return errs.ErrUnknownMsg.Wrap("this ledger runs no contract runtime (ledger.Config.Contracts is nil)")
	}
	return nil
}

// runtimeContract is the start of every msg on an existing contract: a
// runtime must run, and the contract must exist (ErrUnknownContract).
func runtimeContract(c *exec.Context, env *Env, addr keys.Address) (Contract, error) {
	if err := requireRuntime(env); err != nil {
		return Contract{}, err
	}
	return mustGet(c, addr)
}

// Store executes contract.store: it adds one chunk to the signer's upload
// of the code hash, and completes the upload with the last chunk: the bytes
// must hash to the code hash, and the runtime must admit them
// (ErrInvalidModule otherwise). Completion charges Limits.CodeByteGas per
// byte and the initialiser's gas; the chunks become the stored code.
//
// A completion that fails fails its tx, so the earlier chunks stay under
// the upload: the uploader deletes them with contract.cancel_store.
func Store(c *exec.Context, env *Env, m *txn.ContractStore) error {
	if err := requireRuntime(env); err != nil {
		return err
	}
	hash := [32]byte(m.CodeHash)
	if m.TotalSize > env.Limits.MaxCodeBytes {
		return errs.ErrPayloadTooLarge.Wrap("contract code of %d bytes exceeds %d", m.TotalSize, env.Limits.MaxCodeBytes)
	}
	if old, ok := GetCode(c, hash); ok {
		return errs.ErrInvalidMsg.Wrap("code %x already stored at height %d", hash, old.Height)
	}
	uk := UploadKey(c.Signer, hash)
	var up Upload
	started := c.GetRecord(uk, &up)
	switch {
	case !started && m.Index != 0:
		return errs.ErrInvalidMsg.Wrap("%s has no upload of %x in progress: start with chunk 0", c.Signer, hash)
	case !started:
		up = Upload{Hash: hash[:], Uploader: c.Signer, TotalSize: m.TotalSize, Started: c.Header.Height}
	case m.Index != up.Chunks:
		return errs.ErrInvalidMsg.Wrap("chunk %d of %x; the next is %d", m.Index, hash, up.Chunks)
	case m.TotalSize != up.TotalSize:
		return errs.ErrInvalidMsg.Wrap("total size %d; the upload of %x started with %d", m.TotalSize, hash, up.TotalSize)
	}
	if up.Received+uint64(len(m.Chunk)) > up.TotalSize {
		return errs.ErrInvalidMsg.Wrap("chunk %d ends at byte %d, past the total of %d", m.Index,
			up.Received+uint64(len(m.Chunk)), up.TotalSize)
	}
	c.Set(ChunkKey(hash, c.Signer, m.Index), m.Chunk)
	up.Received += uint64(len(m.Chunk))
	up.Chunks++
	if up.Received < up.TotalSize {
		c.SetRecord(uk, &up)
		c.Emit("code.upload", exec.Ix("code", hex.EncodeToString(hash[:])), exec.Ix("uploader", c.Signer.String()),
			exec.A("chunk", exec.U(uint64(m.Index))), exec.A("received", exec.U(up.Received)),
			exec.A("total", exec.U(up.TotalSize)))
		return nil
	}
	if started {
		c.Delete(uk)
	}
	code := make([]byte, 0, up.TotalSize)
	for i := range up.Chunks - 1 {
		code = append(code, c.Get(ChunkKey(hash, c.Signer, i))...)
	}
	code = append(code, m.Chunk...)
	if sum := sha256.Sum256(code); sum != hash {
		return errs.ErrInvalidMsg.Wrap("the %d bytes uploaded hash to %x, not %x", len(code), sum, hash)
	}
	// Charge before the work, so a tx that cannot pay costs no compilation.
	c.Meter.Consume(env.Limits.CodeByteGas * uint64(len(code)))
	dep, err := env.Runtime.Deploy(code)
	if err != nil {
		return err
	}
	c.Meter.Consume(dep.InitGas)
	rec := Code{Hash: hash[:], Size: up.TotalSize, Uploader: c.Signer, Chunks: up.Chunks, Height: c.Header.Height,
		Entries: slices.Clone(dep.Entries), InitGas: dep.InitGas, TxHash: c.TxHash[:]}
	c.SetRecord(CodeKey(hash), &rec)
	c.Emit("code.store", exec.Ix("code", hex.EncodeToString(hash[:])), exec.Ix("uploader", c.Signer.String()),
		exec.A("size", exec.U(rec.Size)), exec.A("chunks", exec.U(uint64(rec.Chunks))),
		exec.A("entries", strings.Join(rec.Entries, ",")), exec.A("init_gas", exec.U(dep.InitGas)))
	return nil
}

// CancelStore executes contract.cancel_store: it deletes the signer's upload
// of the code hash and its chunks.
func CancelStore(c *exec.Context, env *Env, m *txn.ContractCancelStore) error {
	if err := requireRuntime(env); err != nil {
		return err
	}
	hash := [32]byte(m.CodeHash)
	uk := UploadKey(c.Signer, hash)
	var up Upload
	if !c.GetRecord(uk, &up) {
		return errs.ErrInvalidMsg.Wrap("%s has no upload of %x in progress", c.Signer, hash)
	}
	for i := range up.Chunks {
		c.Delete(ChunkKey(hash, c.Signer, i))
	}
	c.Delete(uk)
	c.Emit("code.cancel", exec.Ix("code", hex.EncodeToString(hash[:])), exec.Ix("uploader", c.Signer.String()),
		exec.A("received", exec.U(up.Received)))
	return nil
}

// loadCode reads stored code from kv without charging gas: the runtime
// asks for it only when its cache misses, which differs between nodes.
func loadCode(kv *exec.Cache, code *Code) ([]byte, error) {
	hash := [32]byte(code.Hash)
	out := make([]byte, 0, code.Size)
	for i := range code.Chunks {
		b := kv.MustGet(ChunkKey(hash, code.Uploader, i))
		if b == nil {
			return nil, errs.ErrInternal.Wrap("code %x: chunk %d of %d missing", hash, i, code.Chunks)
		}
		out = append(out, b...)
	}
	if uint64(len(out)) != code.Size {
		return nil, errs.ErrInternal.Wrap("code %x: %d bytes stored, record says %d", hash, len(out), code.Size)
	}
	return out, nil
}
