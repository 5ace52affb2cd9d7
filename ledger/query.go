package ledger

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/cosmos/ics23/go"
	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/ledger/reading"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// Query paths. Single records can be proven (prove=true): the response then
// carries an ICS23 existence proof, or a non-existence proof when the record
// is absent, against the app hash of version Height (found in the header of
// block Height+1). Lists are pages of records; each item can be proven by
// its own single-record path.
//
//	/account/{addr}
//	/device/{id}
//	/device/{id}/history[?after=SEQ&limit=N]      list
//	/device/{id}/history/{seq}
//	/device/key/{key-address}                      device id whose current key has this address
//	/devices/owner/{addr}[?after=ID&limit=N]        list of device records
//	/devices/tag/{tag}[?after=ID&limit=N]           list of device records
//	/reading/{id}[?after=IDX&limit=N]               list of reading refs, oldest first
//	/reading/{id}/{idx}                            the record holding ref idx: the device's
//	                                               account (newest refs) or a chunk of its
//	                                               reading log; reading.Extract finds the ref.
//	                                               A reading beyond the count is proven absent
//	                                               by the account (its head's count).
//	/inbox/{addr}[?after=H.T.M&limit=N]             list of inbox entries (cursor = height.tx.msg)
//	/inbox/{addr}/{H.T.M}
//	/message/{sender}/{id hex}                     the sender's record of a message (state, cursor)
//	/grant/{device}/{grantee}
//	/file/{cid}                                    a file's record
//	/file/{cid}/holders[?after=ADDR&limit=N]        list of pins (gateways holding it)
//	/files/publisher/{addr}[?after=HEX&limit=N]     list of file records
//	/files/wanted[?after=HEX&limit=N]               file records with fewer holders than wanted
//	/gateways   /gateway/{addr}                     the gateway registry
//	/firmware/{model}                              the model's manufacturer and release count
//	/firmware/{model}/latest                       the latest release
//	/firmware/{model}/version/{version}            one release
//	/firmware/{model}/releases[?after=SEQ&limit=N]  list of releases, oldest first
//	/contract/..., /contracts, /code/..., /codes, /upload/..., /triggers/...   see query_contract.go
//	/params   /fee_pool   /chain_id
//	/store/{hex key}                                raw key
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// QueryRequest asks for state at Height (0 = latest committed).
type QueryRequest struct {
	Path   string
	Height int64
	Prove  bool
}

// QueryResponse answers a query. Value is the stored bytes for single-record
// paths (so that the proof covers exactly these bytes): a canonical CBOR
// record, except /device/key/{addr} (the 20-byte device id) and /chain_id
// (UTF-8 text). For lists it is a CBOR Page.
type QueryResponse struct {
	Code   uint32
	Name   string
	Log    string
	Key    []byte
	Value  []byte
	Height int64
	Proof  *ics23.CommitmentProof
}

// Page is one page of a list query.
type Page struct {
	Items []cbor.RawMessage `cbor:"1,keyasint"`
	// Next is the cursor for the following page ("" at the end).
	Next string `cbor:"2,keyasint,omitempty"`
}

// Query answers req from committed state. Safe for concurrent use.
func (l *Ledger) Query(req QueryRequest) QueryResponse {
	height := req.Height
	if height == 0 {
		height = l.st.Version()
	}
	resp, err := l.query(req, height)
	if err != nil {
		c := errs.Of(err)
		resp.Code, resp.Name, resp.Log = c.Code, c.Name, errs.Message(err)
	}
	resp.Height = height
	return resp
}

func (l *Ledger) query(req QueryRequest, height int64) (QueryResponse, error) {
	if height < 0 || height > l.st.Version() {
		return QueryResponse{}, errs.ErrHeight.Wrap("height %d; latest is %d", height, l.st.Version())
	}
	path, params, err := splitQuery(req.Path)
	if err != nil {
		return QueryResponse{}, err
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	r, err := l.st.At(height)
	if err != nil {
		return QueryResponse{}, heightErr(err, height)
	}
	single := func(key []byte) (QueryResponse, error) { return l.single(r, path, key, height, req.Prove) }
	list := func(prefix []byte, codec cursorCodec, item func(k, v []byte) ([]byte, error)) (QueryResponse, error) {
		if req.Prove {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("lists are not proven as a whole: prove each item by its own path")
		}
		return listPage(r, prefix, params, codec, item)
	}
	switch {
	case len(parts) == 2 && parts[0] == "account":
		a, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		return single(account.Key(a))
	case len(parts) == 2 && parts[0] == "device":
		id, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		return single(device.RecordKey(id))
	case len(parts) == 3 && parts[0] == "device" && parts[1] == "key":
		a, err := parseAddr(parts[2])
		if err != nil {
			return QueryResponse{}, err
		}
		return single(append([]byte("dev/k/"), a[:]...))
	case len(parts) == 3 && parts[0] == "device" && parts[2] == "history":
		id, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		return list(device.HistoryPrefix(id), seqCodec, valueItem)
	case len(parts) == 4 && parts[0] == "device" && parts[2] == "history":
		id, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		seq, err := strconv.ParseUint(parts[3], 10, 64)
		if err != nil {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("history seq %q", parts[3])
		}
		return single(device.HistoryKey(id, seq))
	case len(parts) == 3 && parts[0] == "devices" && (parts[1] == "owner" || parts[1] == "tag"):
		var prefix []byte
		if parts[1] == "owner" {
			a, err := parseAddr(parts[2])
			if err != nil {
				return QueryResponse{}, err
			}
			prefix = device.OwnerPrefix(a)
		} else {
			if len(parts[2]) == 0 || len(parts[2]) > txn.MaxTagBytes {
				return QueryResponse{}, errs.ErrInvalidQuery.Wrap("tag %q", parts[2])
			}
			prefix = device.TagPrefix(parts[2])
		}
		return list(prefix, addrCodec, func(k, _ []byte) ([]byte, error) {
			id, _ := keys.AddressFromBytes(k[len(prefix):])
			return r.Get(device.RecordKey(id))
		})
	case len(parts) == 2 && parts[0] == "reading":
		id, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		if req.Prove {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("lists are not proven as a whole: prove each item by its own path")
		}
		return readingPage(r, id, params)
	case len(parts) == 3 && parts[0] == "reading":
		id, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		idx, err := strconv.ParseUint(parts[2], 10, 64)
		if err != nil {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("reading index %q", parts[2])
		}
		h, err := reading.Head(r, id)
		if err != nil {
			return QueryResponse{}, heightErr(err, height)
		}
		key, ok := reading.Locate(h, id, idx)
		if !ok {
			// Proven absent by the account: its head's count, or no account.
			resp, err := single(account.Key(id))
			if err == nil {
				err = errs.ErrNotFound.Wrap("device %s has no reading %d at height %d", id.Device(), idx, height)
			}
			return resp, err
		}
		return single(key)
	case len(parts) == 2 && parts[0] == "inbox":
		a, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		return list(message.InboxPrefix(a), inboxCodec, valueItem)
	case len(parts) == 3 && parts[0] == "inbox":
		a, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		c, err := message.ParseCursor(parts[2])
		if err != nil {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("%v", err)
		}
		return single(message.InboxKey(a, c))
	case len(parts) == 3 && parts[0] == "message":
		a, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		id, err := hex.DecodeString(parts[2])
		if err != nil || len(id) != txn.MsgIDSize {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("message id must be %d bytes of hex", txn.MsgIDSize)
		}
		return single(message.RecordKey(a, id))
	case len(parts) == 3 && parts[0] == "grant":
		d, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		g, err := parseAddr(parts[2])
		if err != nil {
			return QueryResponse{}, err
		}
		return single(message.GrantKey(d, g))
	case len(parts) >= 2 && (parts[0] == "file" || parts[0] == "files" || parts[0] == "gateway" ||
		parts[0] == "gateways" || parts[0] == "firmware"):
		return l.queryFiles(r, parts, single, list)
	case parts[0] == "contract" || parts[0] == "contracts" || parts[0] == "code" || parts[0] == "codes" || parts[0] == "triggers" ||
		parts[0] == "upload":
		return l.queryContracts(r, parts, single, list)
	case len(parts) == 1 && parts[0] == "gateways":
		return list([]byte(gateway.Prefix), addrCodec, valueItem)
	case len(parts) == 1 && parts[0] == "params":
		return single(keyParams)
	case len(parts) == 1 && parts[0] == "fee_pool":
		return single(FeePoolKey)
	case len(parts) == 1 && parts[0] == "chain_id":
		return single(keyChainID)
	case len(parts) == 2 && parts[0] == "store":
		k, err := hex.DecodeString(parts[1])
		if err != nil || len(k) == 0 {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("store key must be hex")
		}
		return single(k)
	}
	return QueryResponse{}, errs.ErrInvalidQuery.Wrap("unknown path %q", req.Path)
}

func (l *Ledger) single(r store.Reader, path string, key []byte, height int64, prove bool) (QueryResponse, error) {
	resp := QueryResponse{Key: key}
	if prove {
		v, proof, err := l.st.Prove(key, height)
		if err != nil {
			return resp, heightErr(err, height)
		}
		resp.Value, resp.Proof = v, proof
	} else {
		v, err := r.Get(key)
		if err != nil {
			return resp, heightErr(err, height)
		}
		resp.Value = v
	}
	if resp.Value == nil {
		return resp, errs.ErrNotFound.Wrap("nothing at %s at height %d", path, height)
	}
	return resp, nil
}

func heightErr(err error, height int64) error {
	if errors.Is(err, store.ErrVersionPruned) || errors.Is(err, store.ErrVersionNotFound) {
		return errs.ErrHeight.WithCause(err, "height %d", height)
	}
	return errs.ErrInternal.WithCause(err, "read state")
}

func valueItem(_, v []byte) ([]byte, error) { return v, nil }

// cursorCodec turns a page cursor into the key suffix after which the page
// starts, and the last key's suffix back into a cursor.
type cursorCodec struct {
	parse  func(string) ([]byte, error)
	format func([]byte) string
}

// seqCodec: decimal sequence numbers (history seq, release seq).
var seqCodec = cursorCodec{
	parse: func(s string) ([]byte, error) {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, errs.ErrInvalidQuery.Wrap("cursor %q", s)
		}
		return binary.BigEndian.AppendUint64(nil, n), nil
	},
	format: func(b []byte) string { return strconv.FormatUint(binary.BigEndian.Uint64(b), 10) },
}

// addrCodec: addresses (device lists).
var addrCodec = cursorCodec{
	parse: func(s string) ([]byte, error) {
		a, err := parseAddr(s)
		if err != nil {
			return nil, errs.ErrInvalidQuery.Wrap("cursor %q: not an address", s)
		}
		return a[:], nil
	},
	format: func(b []byte) string { a, _ := keys.AddressFromBytes(b); return a.String() },
}

// inboxCodec: inbox cursors "height.tx.msg".
var inboxCodec = cursorCodec{
	parse: func(s string) ([]byte, error) {
		c, err := message.ParseCursor(s)
		if err != nil {
			return nil, errs.ErrInvalidQuery.Wrap("%v", err)
		}
		return c.Bytes(), nil
	},
	format: func(b []byte) string { c, _ := message.CursorFromBytes(b); return c.String() },
}

// pageLimit reads the limit parameter of a list.
func pageLimit(params map[string]string) (int, error) {
	s, ok := params["limit"]
	if !ok {
		return DefaultPageLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPageLimit {
		return 0, errs.ErrInvalidQuery.Wrap("limit must be 1..%d", MaxPageLimit)
	}
	return n, nil
}

// readingPage lists a device's reading refs (reading.List) as a Page; the
// cursor is the last index returned.
func readingPage(r store.Reader, id keys.Address, params map[string]string) (QueryResponse, error) {
	limit, err := pageLimit(params)
	if err != nil {
		return QueryResponse{}, err
	}
	after := int64(-1)
	if s, ok := params["after"]; ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("cursor %q", s)
		}
		after = n
	}
	refs, more, err := reading.List(r, id, after, limit)
	if err != nil {
		return QueryResponse{}, errs.ErrInternal.WithCause(err, "list")
	}
	page := Page{Items: make([]cbor.RawMessage, 0, len(refs))}
	for i := range refs {
		page.Items = append(page.Items, txn.MustMarshal(&refs[i]))
	}
	if more {
		page.Next = strconv.FormatUint(refs[len(refs)-1].Index, 10)
	}
	return QueryResponse{Key: reading.ChunkPrefix(id), Value: txn.MustMarshal(&page)}, nil
}

func listPage(r store.Reader, prefix []byte, params map[string]string, codec cursorCodec,
	item func(k, v []byte) ([]byte, error)) (QueryResponse, error) {
	limit, err := pageLimit(params)
	if err != nil {
		return QueryResponse{}, err
	}
	start := prefix
	after := []byte(nil)
	if s, ok := params["after"]; ok {
		suffix, err := codec.parse(s)
		if err != nil {
			return QueryResponse{}, err
		}
		after = append(append([]byte(nil), prefix...), suffix...)
		start = after
	}
	var page Page
	var lastKey []byte
	var itemErr error
	more := false
	err = r.Iterate(start, prefixEnd(prefix), false, func(k, v []byte) bool {
		if after != nil && string(k) == string(after) {
			return true
		}
		if len(page.Items) == limit {
			more = true
			return false
		}
		b, err := item(k, v)
		if err != nil {
			itemErr = err
			return false
		}
		page.Items = append(page.Items, b)
		lastKey = append(lastKey[:0], k...)
		return true
	})
	if err == nil {
		err = itemErr
	}
	if err != nil {
		return QueryResponse{}, errs.ErrInternal.WithCause(err, "list")
	}
	if more {
		page.Next = codec.format(lastKey[len(prefix):])
	}
	return QueryResponse{Key: prefix, Value: txn.MustMarshal(&page)}, nil
}

// prefixEnd is the first key after every key with prefix p (nil if none).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func parseAddr(s string) (keys.Address, error) {
	a, _, err := keys.ParseAddress(s)
	if err != nil {
		return a, errs.ErrInvalidAddress.WithCause(err, "%q", s)
	}
	return a, nil
}

// splitQuery splits "path?k=v&k=v". Unknown parameters are errors.
func splitQuery(p string) (string, map[string]string, error) {
	path, q, _ := strings.Cut(p, "?")
	params := map[string]string{}
	if q == "" {
		return path, params, nil
	}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k != "after" && k != "limit" {
			return "", nil, errs.ErrInvalidQuery.Wrap("unknown parameter %q", k)
		}
		params[k] = v
	}
	return path, params, nil
}
