package api

import (
	"errors"
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
	resp, proof, err := s.singleResp(w, r, path)
	return resp.Value, proof, err
}

// singleResp is singleQuery returning the whole answer (key, height).
func (s *Server) singleResp(w http.ResponseWriter, r *http.Request, path string) (ledger.QueryResponse, *Proof, error) {
	h, err := heightParam(r)
	if err != nil {
		return ledger.QueryResponse{}, nil, err
	}
	prove, err := queryBool(r, "prove")
	if err != nil {
		return ledger.QueryResponse{}, nil, err
	}
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	resp, err := s.b.Query(ctx, ledger.QueryRequest{Path: path, Height: h, Prove: prove})
	if err != nil {
		return ledger.QueryResponse{}, nil, err
	}
	var proof *Proof
	if prove && resp.Proof != nil {
		pb, err := resp.Proof.Marshal()
		if err != nil {
			return ledger.QueryResponse{}, nil, errs.ErrInternal.WithCause(err, "encode proof")
		}
		proof = &Proof{Height: resp.Height, Key: Hex(resp.Key), Proof: pb, AppHashHeight: resp.Height + 1}
		// A not-found answer may be proven by a record that exists (a
		// device's reading beyond its count, by its account).
		if resp.Value != nil {
			proof.Value = Hex(resp.Value)
		}
	}
	if resp.Height > 0 {
		w.Header().Set(heightHeader, strconv.FormatInt(resp.Height, 10))
	}
	if resp.Code != 0 {
		e := resultError(resp.Code, resp.Name, resp.Log)
		e.Proof = proof
		return ledger.QueryResponse{}, nil, e
	}
	return resp, proof, nil
}

// listQuery reads one page of a list path at ?height= (after already
// checked; lists are not proven as a whole: each item has its own route).
func (s *Server) listQuery(w http.ResponseWriter, r *http.Request, path, after string) (*ledger.Page, error) {
	page, _, err := s.listQueryAt(w, r, path, after)
	return page, err
}

// listQueryAt is listQuery also returning the height the page was read at.
func (s *Server) listQueryAt(w http.ResponseWriter, r *http.Request, path, after string) (*ledger.Page, int64, error) {
	h, err := heightParam(r)
	if err != nil {
		return nil, 0, err
	}
	var q []string
	if after != "" {
		q = append(q, "after="+after)
	}
	limit, err := limitParam(r)
	if err != nil {
		return nil, 0, err
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
		return nil, 0, err
	}
	if resp.Height > 0 {
		w.Header().Set(heightHeader, strconv.FormatInt(resp.Height, 10))
	}
	if resp.Code != 0 {
		return nil, 0, resultError(resp.Code, resp.Name, resp.Log)
	}
	var page ledger.Page
	if err := unmarshalRecord(resp.Value, &page); err != nil {
		return nil, 0, err
	}
	return &page, resp.Height, nil
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

// deviceRecord reads the device record of the path's {id}, and the height
// it was read at.
func (s *Server) deviceRecord(w http.ResponseWriter, r *http.Request) (*device.Device, *Proof, int64, error) {
	id, err := addrParam(r.PathValue("id"), "device id")
	if err != nil {
		return nil, nil, 0, err
	}
	resp, proof, err := s.singleResp(w, r, "/device/"+id.Device())
	if err != nil {
		return nil, nil, 0, err
	}
	var d device.Device
	if err := unmarshalRecord(resp.Value, &d); err != nil {
		return nil, nil, 0, err
	}
	return &d, proof, resp.Height, nil
}

// deviceAccount reads the account of device id at height: its counter and
// reading head. A device no one has funded and that has signed nothing
// has none (the zero account).
func (s *Server) deviceAccount(r *http.Request, id keys.Address, height int64) (*account.Account, error) {
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	resp, err := s.b.Query(ctx, ledger.QueryRequest{Path: "/account/" + id.Account(), Height: height})
	if err != nil {
		return nil, err
	}
	var a account.Account
	switch {
	case resp.Code == errs.ErrNotFound.Code:
	case resp.Code != 0:
		return nil, resultError(resp.Code, resp.Name, resp.Log)
	default:
		if err := unmarshalRecord(resp.Value, &a); err != nil {
			return nil, err
		}
	}
	return &a, nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	d, proof, height, err := s.deviceRecord(w, r)
	if err != nil {
		return err
	}
	a, err := s.deviceAccount(r, d.ID, height)
	if err != nil {
		return err
	}
	out, err := renderDevice(d, a)
	if err != nil {
		return err
	}
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getLatestReading(w http.ResponseWriter, r *http.Request) error {
	id, err := addrParam(r.PathValue("id"), "device id")
	if err != nil {
		return err
	}
	// The latest reading is in the device's account (its reading head),
	// which the proof covers.
	v, proof, err := s.singleQuery(w, r, "/account/"+id.Account())
	if e := (*Error)(nil); errors.As(err, &e) && e.Code == errs.ErrNotFound.Code {
		return errs.ErrNotFound.Wrap("device %s has no reading", id.Device())
	} else if err != nil {
		return err
	}
	var a account.Account
	if err := unmarshalRecord(v, &a); err != nil {
		return err
	}
	h, err := a.ReadingHead()
	if err != nil {
		return errs.ErrInternal.WithCause(err, "account %s", id)
	}
	if h == nil {
		return errs.ErrNotFound.Wrap("device %s has no reading", id.Device())
	}
	out := renderReading(id, &h.Latest)
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
	page, height, err := s.listQueryAt(w, r, path, after)
	if err != nil {
		return err
	}
	out, err := renderPageErr(page, func(d *device.Device) (*Device, error) {
		a, err := s.deviceAccount(r, d.ID, height)
		if err != nil {
			return nil, err
		}
		return renderDevice(d, a)
	})
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
	// The answer is the record holding the ref: the device's account (its
	// newest refs) or a sealed chunk of its reading log; the proof covers it.
	resp, proof, err := s.singleResp(w, r, "/reading/"+id.Device()+"/"+strconv.FormatUint(idx, 10))
	if err != nil {
		return err
	}
	ref, ok, err := reading.Extract(id, resp.Key, resp.Value, idx)
	if err != nil {
		return errs.ErrInternal.WithCause(err, "reading %d of %s", idx, id.Device())
	}
	if !ok {
		return errs.ErrNotFound.Wrap("device %s has no reading %d", id.Device(), idx)
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
	return renderPageErr(page, func(r *R) (V, error) { return render(r), nil })
}

// renderPageErr is renderPage with a render that can fail.
func renderPageErr[R, V any](page *ledger.Page, render func(*R) (V, error)) (Page[V], error) {
	out := Page[V]{Items: make([]V, 0, len(page.Items)), Next: page.Next}
	for _, it := range page.Items {
		var rec R
		if err := unmarshalRecord(it, &rec); err != nil {
			return out, err
		}
		v, err := render(&rec)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}
