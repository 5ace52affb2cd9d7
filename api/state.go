package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/reading"
	"github.com/hypha-iot/hypha/txn"
)

// This file serves the state routes over Backend.Query. Every route takes
// ?height=; single records also take ?prove=, lists ?after= and ?limit=.

// heightHeader tells the height a state answer was read at.
const heightHeader = "X-Hypha-Height"

// addrParam parses a path or query value as an address (any text form).
func addrParam(s, what string) (keys.Address, error) {
	a, _, err := keys.ParseAddress(s)
	if err != nil {
		return a, errs.ErrInvalidAddress.Wrap("%s %q: want a bech32 (hypha1…, hyphadev1…) or 40-hex address", what, s)
	}
	return a, nil
}

// unmarshalRecord decodes a record read from state; a record that does not
// decode is the node's fault.
func unmarshalRecord(b []byte, v any) error {
	if err := txn.Unmarshal(b, v); err != nil {
		return errs.ErrInternal.WithCause(err, "decode state record")
	}
	return nil
}

// heightParam reads ?height= (0: latest).
func heightParam(r *http.Request) (int64, error) {
	h, _, err := queryUint(r, "height")
	if err != nil {
		return 0, err
	}
	if h > 1<<62 {
		return 0, errs.ErrInvalidQuery.Wrap("height %d out of range", h)
	}
	return int64(h), nil
}

// singleQuery reads one record at ?height= with ?prove=. On success it
// returns the value and the proof (nil unless asked). A ledger failure comes
// back as an *Error carrying the proof of absence when there is one.
func (s *Server) singleQuery(w http.ResponseWriter, r *http.Request, path string) ([]byte, *Proof, error) {
	h, err := heightParam(r)
	if err != nil {
		return nil, nil, err
	}
	prove, err := queryBool(r, "prove")
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	resp, err := s.b.Query(ctx, ledger.QueryRequest{Path: path, Height: h, Prove: prove})
	if err != nil {
		return nil, nil, err
	}
	var proof *Proof
	if prove && resp.Proof != nil {
		pb, err := resp.Proof.Marshal()
		if err != nil {
			return nil, nil, errs.ErrInternal.WithCause(err, "encode proof")
		}
		proof = &Proof{Height: resp.Height, Key: Hex(resp.Key), Proof: pb, AppHashHeight: resp.Height + 1}
		if resp.Code == 0 {
			proof.Value = Hex(resp.Value)
		}
	}
	if resp.Height > 0 {
		w.Header().Set(heightHeader, strconv.FormatInt(resp.Height, 10))
	}
	if resp.Code != 0 {
		e := resultError(resp.Code, resp.Name, resp.Log)
		e.Proof = proof
		return nil, nil, e
	}
	return resp.Value, proof, nil
}

// listQuery reads one page of a list path at ?height= (after already
// checked; lists are not proven as a whole: each item has its own route).
func (s *Server) listQuery(w http.ResponseWriter, r *http.Request, path, after string) (*ledger.Page, error) {
	h, err := heightParam(r)
	if err != nil {
		return nil, err
	}
	var q []string
	if after != "" {
		q = append(q, "after="+after)
	}
	limit, err := limitParam(r)
	if err != nil {
		return nil, err
	}
	if limit != "" {
		q = append(q, "limit="+limit)
	}
	if len(q) > 0 {
		path += "?" + strings.Join(q, "&")
	}
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	resp, err := s.b.Query(ctx, ledger.QueryRequest{Path: path, Height: h})
	if err != nil {
		return nil, err
	}
	if resp.Height > 0 {
		w.Header().Set(heightHeader, strconv.FormatInt(resp.Height, 10))
	}
	if resp.Code != 0 {
		return nil, resultError(resp.Code, resp.Name, resp.Log)
	}
	var page ledger.Page
	if err := unmarshalRecord(resp.Value, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// seqAfter reads ?after= as a sequence cursor.
func seqAfter(r *http.Request) (string, error) {
	n, ok, err := queryUint(r, "after")
	if err != nil || !ok {
		return "", err
	}
	return strconv.FormatUint(n, 10), nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	a, err := addrParam(r.PathValue("addr"), "account")
	if err != nil {
		return err
	}
	v, proof, err := s.singleQuery(w, r, "/account/"+a.Account())
	if err != nil {
		return err
	}
	var rec account.Account
	if err := unmarshalRecord(v, &rec); err != nil {
		return err
	}
	out := renderAccount(a, &rec)
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deviceRecord reads the device record of the path's {id}.
func (s *Server) deviceRecord(w http.ResponseWriter, r *http.Request) (*device.Device, *Proof, error) {
	id, err := addrParam(r.PathValue("id"), "device id")
	if err != nil {
		return nil, nil, err
	}
	v, proof, err := s.singleQuery(w, r, "/device/"+id.Device())
	if err != nil {
		return nil, nil, err
	}
	var d device.Device
	if err := unmarshalRecord(v, &d); err != nil {
		return nil, nil, err
	}
	return &d, proof, nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	d, proof, err := s.deviceRecord(w, r)
	if err != nil {
		return err
	}
	out := renderDevice(d)
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getLatestReading(w http.ResponseWriter, r *http.Request) error {
	d, proof, err := s.deviceRecord(w, r)
	if err != nil {
		return err
	}
	if d.Latest == nil {
		return errs.ErrNotFound.Wrap("device %s has no reading", d.ID.Device())
	}
	out := renderReading(d.ID, d.Latest)
	// The proof covers the device record, which holds the latest reading.
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	owner, tag := q.Get("owner"), q.Get("tag")
	var path string
	switch {
	case owner != "" && tag != "":
		return errs.ErrInvalidQuery.Wrap("give owner or tag, not both")
	case owner != "":
		a, err := addrParam(owner, "owner")
		if err != nil {
			return err
		}
		path = "/devices/owner/" + a.Account()
	case tag != "":
		if len(tag) > txn.MaxTagBytes || strings.ContainsAny(tag, "/?&") {
			// The ledger's query paths cannot carry '/' in a tag.
			return errs.ErrInvalidQuery.Wrap("tag %q: 1 to %d bytes, without / ? &", tag, txn.MaxTagBytes)
		}
		path = "/devices/tag/" + tag
	default:
		return errs.ErrInvalidQuery.Wrap("give owner= or tag=")
	}
	after := ""
	if s := q.Get("after"); s != "" {
		a, err := addrParam(s, "after")
		if err != nil {
			return err
		}
		after = a.Account()
	}
	page, err := s.listQuery(w, r, path, after)
	if err != nil {
		return err
	}
	out, err := renderPage(page, renderDevice)
	if err != nil {
		return err
	}
	if out.Next != "" {
		// The ledger's cursor is the last device's address; show it as a device.
		if a, _, err := keys.ParseAddress(out.Next); err == nil {
			out.Next = a.Device()
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listHistory(w http.ResponseWriter, r *http.Request) error {
	id, err := addrParam(r.PathValue("id"), "device id")
	if err != nil {
		return err
	}
	after, err := seqAfter(r)
	if err != nil {
		return err
	}
	page, err := s.listQuery(w, r, "/device/"+id.Device()+"/history", after)
	if err != nil {
		return err
	}
	out, err := renderPage(page, func(e *device.HistoryEntry) *HistoryEntry { return renderHistory(id, e) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) error {
	id, err := addrParam(r.PathValue("id"), "device id")
	if err != nil {
		return err
	}
	seq, err := pathUint(r, "seq")
	if err != nil {
		return err
	}
	v, proof, err := s.singleQuery(w, r, "/device/"+id.Device()+"/history/"+strconv.FormatUint(seq, 10))
	if err != nil {
		return err
	}
	var e device.HistoryEntry
	if err := unmarshalRecord(v, &e); err != nil {
		return err
	}
	out := renderHistory(id, &e)
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listReadings(w http.ResponseWriter, r *http.Request) error {
	id, err := addrParam(r.PathValue("id"), "device id")
	if err != nil {
		return err
	}
	after, err := seqAfter(r)
	if err != nil {
		return err
	}
	page, err := s.listQuery(w, r, "/reading/"+id.Device(), after)
	if err != nil {
		return err
	}
	out, err := renderPage(page, func(ref *reading.Ref) *ReadingRef { return renderRef(id, ref) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getReading(w http.ResponseWriter, r *http.Request) error {
	id, err := addrParam(r.PathValue("id"), "device id")
	if err != nil {
		return err
	}
	idx, err := pathUint(r, "idx")
	if err != nil {
		return err
	}
	v, proof, err := s.singleQuery(w, r, "/reading/"+id.Device()+"/"+strconv.FormatUint(idx, 10))
	if err != nil {
		return err
	}
	var ref reading.Ref
	if err := unmarshalRecord(v, &ref); err != nil {
		return err
	}
	out := renderRef(id, &ref)
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getParams(w http.ResponseWriter, r *http.Request) error {
	v, proof, err := s.singleQuery(w, r, "/params")
	if err != nil {
		return err
	}
	var p ledger.Params
	if err := unmarshalRecord(v, &p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &Params{Params: p, Proof: proof})
	return nil
}

// renderPage decodes each CBOR record of a ledger page as R and renders it.
func renderPage[R, V any](page *ledger.Page, render func(*R) V) (Page[V], error) {
	out := Page[V]{Items: make([]V, 0, len(page.Items)), Next: page.Next}
	for _, it := range page.Items {
		var rec R
		if err := unmarshalRecord(it, &rec); err != nil {
			return out, err
		}
		out.Items = append(out.Items, render(&rec))
	}
	return out, nil
}
