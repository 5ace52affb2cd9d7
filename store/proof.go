package store

import (
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// ErrInvalidProof: a proof does not prove the claimed key and value (or
// absence) against the given root.
var ErrInvalidProof = errors.New("store: invalid proof")

// Prove returns the value of key at committed version (0 = latest) with an
// ICS23 proof against that version's root hash: an existence proof when the
// key is present (value != nil), a non-existence proof when it is absent
// (value == nil). The root to check it against is Hash() of that version,
// i.e. the app hash in the header of the next block.
//
// Version errors are those of At. A version whose tree is empty has no
// provable content: Prove returns an error. Safe for concurrent use.
func (s *Store) Prove(key []byte, version int64) (value []byte, proof *ics23.CommitmentProof, err error) {
	if len(key) == 0 {
		return nil, nil, errors.New("store: prove: empty key")
	}
	v, err := s.resolve(version)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.view(v)
	if err != nil {
		return nil, nil, err
	}
	if r.tree == nil || r.tree.Size() == 0 {
		return nil, nil, fmt.Errorf("store: prove %x at version %d: tree is empty", key, v)
	}
	value, err = r.Get(key)
	if err != nil {
		return nil, nil, err
	}
	// iavl v1.3.6 ignores a node-load error while building an existence
	// proof and dereferences nil (proof_ics23.go, createExistenceProof): a
	// version pruned under this reader would crash the process. Turn that
	// into an error instead.
	defer func() {
		if p := recover(); p != nil {
			value, proof = nil, nil
			err = r.wrap("prove", key, fmt.Errorf("iavl panicked: %v", p))
		}
	}()
	proof, err = r.tree.GetProof(key)
	if err != nil {
		return nil, nil, r.wrap("prove", key, err)
	}
	return value, proof, nil
}

// VerifyProof checks an ICS23 proof of key against root using ics23.IavlSpec:
// an existence proof of value when value != nil, a non-existence proof when
// value == nil. It returns nil when the proof holds and an error wrapping
// ErrInvalidProof otherwise. For clients (light client, tests); it needs no
// Store.
func VerifyProof(root []byte, key, value []byte, proof *ics23.CommitmentProof) error {
	switch {
	case proof == nil:
		return fmt.Errorf("%w: no proof", ErrInvalidProof)
	case len(root) == 0:
		return fmt.Errorf("%w: empty root", ErrInvalidProof)
	case len(key) == 0:
		return fmt.Errorf("%w: empty key", ErrInvalidProof)
	}
	proof = ics23.Decompress(proof)
	if value != nil {
		ep := proof.GetExist()
		if ep == nil {
			// A batch proof may still hold it; ics23 finds it by key.
			if ics23.VerifyMembership(ics23.IavlSpec, root, proof, key, value) {
				return nil
			}
			return fmt.Errorf("%w: no existence proof for key %x", ErrInvalidProof, key)
		}
		if err := ep.Verify(ics23.IavlSpec, root, key, value); err != nil {
			return fmt.Errorf("%w: existence of key %x: %w", ErrInvalidProof, key, err)
		}
		return nil
	}
	np := proof.GetNonexist()
	if np == nil {
		if ics23.VerifyNonMembership(ics23.IavlSpec, root, proof, key) {
			return nil
		}
		return fmt.Errorf("%w: no non-existence proof for key %x", ErrInvalidProof, key)
	}
	if err := np.Verify(ics23.IavlSpec, root, key); err != nil {
		return fmt.Errorf("%w: non-existence of key %x: %w", ErrInvalidProof, key, err)
	}
	return nil
}
