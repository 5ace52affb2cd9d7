package api

import (
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger"
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

// listContractState: GET /v1/contracts/{addr}/state?after=HEX&limit=N.
func (s *Server) listContractState(w http.ResponseWriter, r *http.Request) error {
	a, err := addrParam(r.PathValue("addr"), "contract")
	if err != nil {
		return err
	}
	after := r.URL.Query().Get("after")
	if _, err := hex.DecodeString(after); err != nil {
		return errs.ErrInvalidQuery.Wrap("after %q: want the hex cursor of a previous page", after)
	}
	page, err := s.listQuery(w, r, "/contract/"+a.Account()+"/state", after)
	if err != nil {
		return err
	}
	out := &ContractStatePage{Items: []*ContractState{}, Next: page.Next}
	for _, it := range page.Items {
		var e ledger.StateEntry
		if err := unmarshalRecord(it, &e); err != nil {
			return err
		}
		out.Items = append(out.Items, &ContractState{Contract: a.Account(), Key: Hex(e.Key), Value: Hex(e.Value)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getContractTriggers: GET /v1/contracts/{addr}/triggers, each kind the
// contract has, at one height.
func (s *Server) getContractTriggers(w http.ResponseWriter, r *http.Request) error {
	a, err := addrParam(r.PathValue("addr"), "contract")
	if err != nil {
		return err
	}
	if _, _, err := s.singleQuery(w, r, "/contract/"+a.Account()); err != nil {
		return err
	}
	h, err := heightParam(r)
	if err != nil {
		return err
	}
	if h == 0 { // read every kind at the height the contract was read at
		h, _ = strconv.ParseInt(w.Header().Get(heightHeader), 10, 64)
	}
	out := &ContractTriggers{Contract: a.Account(), Triggers: []*Trigger{}}
	for _, kind := range []string{"reading", "tick", "message"} {
		ctx, cancel := s.backendCtx(r)
		resp, err := s.b.Query(ctx, ledger.QueryRequest{Path: "/contract/" + a.Account() + "/trigger/" + kind, Height: h})
		cancel()
		if err != nil {
			return err
		}
		if resp.Code == errs.ErrNotFound.Code {
			continue
		}
		if resp.Code != 0 {
			return resultError(resp.Code, resp.Name, resp.Log)
		}
		var sub contract.Subscription
		if err := unmarshalRecord(resp.Value, &sub); err != nil {
			return err
		}
		t := &Trigger{Kind: kind, Condition: sub.Condition, Every: sub.Every, Next: sub.Next, Height: sub.Height}
		for _, d := range sub.Devices {
			t.Devices = append(t.Devices, d.Device())
		}
		out.Triggers = append(out.Triggers, t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getTriggerQueue: GET /v1/triggers/queue.
func (s *Server) getTriggerQueue(w http.ResponseWriter, r *http.Request) error {
	h, err := heightParam(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	resp, err := s.b.Query(ctx, ledger.QueryRequest{Path: "/triggers/queue", Height: h})
	if err != nil {
		return err
	}
	var pos contract.QueuePos
	switch {
	case resp.Code == errs.ErrNotFound.Code: // nothing was ever queued
	case resp.Code != 0:
		return resultError(resp.Code, resp.Name, resp.Log)
	default:
		if err := unmarshalRecord(resp.Value, &pos); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, &TriggerQueue{Head: pos.Head, Tail: pos.Tail, Pending: pos.Tail - pos.Head})
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
