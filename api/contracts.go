package api

import (
	"encoding/hex"
	"net/http"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/contract"
)

// The contract routes read the contract domain's records; contracts are
// stored, instantiated, called and migrated with signed txs (POST /v1/txs).

func (s *Server) getContract(w http.ResponseWriter, r *http.Request) error {
	a, err := addrParam(r.PathValue("addr"), "contract")
	if err != nil {
		return err
	}
	v, proof, err := s.singleQuery(w, r, "/contract/"+a.Account())
	if err != nil {
		return err
	}
	var c contract.Contract
	if err := unmarshalRecord(v, &c); err != nil {
		return err
	}
	out := &Contract{Address: c.Address.Account(), CodeHash: Hex(c.CodeHash), Creator: c.Creator.Account(), Label: c.Label,
		Created: c.Created, Migrated: c.Migrated, TxHash: Hex(c.TxHash), Proof: proof}
	if c.Admin != nil {
		out.Admin = c.Admin.Account()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getContractState answers one storage entry of a contract; {key} is hex.
func (s *Server) getContractState(w http.ResponseWriter, r *http.Request) error {
	a, err := addrParam(r.PathValue("addr"), "contract")
	if err != nil {
		return err
	}
	key, err := hex.DecodeString(r.PathValue("key"))
	if err != nil || len(key) == 0 {
		return errs.ErrInvalidQuery.Wrap("key %q: want the storage key in hex", r.PathValue("key"))
	}
	v, proof, err := s.singleQuery(w, r, "/contract/"+a.Account()+"/state/"+hex.EncodeToString(key))
	if err != nil {
		return err
	}
	if len(v) == 0 {
		return errs.ErrInternal.Wrap("contract storage entry without its marker byte")
	}
	// The store keeps 0x00 || value (it cannot hold an empty value); the
	// proof covers those stored bytes.
	writeJSON(w, http.StatusOK, &ContractState{Contract: a.Account(), Key: Hex(key), Value: Hex(v[1:]), Proof: proof})
	return nil
}

func (s *Server) getCode(w http.ResponseWriter, r *http.Request) error {
	h, err := hex.DecodeString(r.PathValue("hash"))
	if err != nil || len(h) != 32 {
		return errs.ErrInvalidQuery.Wrap("code hash %q: want 64 hex digits", r.PathValue("hash"))
	}
	v, proof, err := s.singleQuery(w, r, "/code/"+hex.EncodeToString(h))
	if err != nil {
		return err
	}
	var c contract.Code
	if err := unmarshalRecord(v, &c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &Code{Hash: Hex(c.Hash), Size: c.Size, Uploader: c.Uploader.Account(), Chunks: c.Chunks,
		Height: c.Height, Entries: c.Entries, InitGas: c.InitGas, TxHash: Hex(c.TxHash), Proof: proof})
	return nil
}
