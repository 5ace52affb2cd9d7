package api

import (
	"context"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/txn"
)

// This file serves the messaging routes over Backend.Query: a recipient's
// inbox (pages, one entry, and a live stream), a sender's record of a
// message, and grants. The ledger holds sealed boxes only; opening them is
// the recipient's business (see seal.Open).

// inboxStreamPage is how many entries the inbox stream reads from state at
// a time.
const inboxStreamPage = 100

// stateName names a receipt state.
func stateName(s uint8) string {
	switch s {
	case txn.StateSent:
		return "sent"
	case txn.StateDelivered:
		return "delivered"
	case txn.StateRead:
		return "read"
	}
	return "unknown"
}

// grantKinds names the kinds set in a grant's bit set, in kind order.
func grantKinds(bits uint8) []string {
	out := []string{}
	for k := txn.KindData; k <= txn.KindCommandResult; k++ {
		if bits&(1<<k) != 0 {
			out = append(out, txn.KindName(k))
		}
	}
	return out
}

// cursorString renders an encoded inbox cursor ("" if malformed, which a
// committed record never is).
func cursorString(b []byte) string {
	c, ok := message.CursorFromBytes(b)
	if !ok {
		return ""
	}
	return c.String()
}

// namer renders the addresses of messaging answers: in device form when the
// address is a registered device (the ledger then treats its txs as the
// device's), else in account form. It looks each address up once, at one
// height, and keeps the first lookup failure in err (the answer is then an
// error). Not safe for concurrent use.
type namer struct {
	b      Backend
	ctx    context.Context
	height int64
	names  map[keys.Address]string
	err    error
}

func newNamer(ctx context.Context, b Backend, height int64) *namer {
	return &namer{b: b, ctx: ctx, height: height, names: map[keys.Address]string{}}
}

func (n *namer) name(a keys.Address) string {
	if v, ok := n.names[a]; ok {
		return v
	}
	v := a.Account()
	if n.err != nil {
		return v
	}
	resp, err := n.b.Query(n.ctx, ledger.QueryRequest{Path: "/device/" + a.Device(), Height: n.height})
	switch {
	case err != nil:
		n.err = err
	case resp.Code == 0:
		v = a.Device()
	case resp.Code != errs.ErrNotFound.Code:
		n.err = resultError(resp.Code, resp.Name, resp.Log)
	}
	n.names[a] = v
	return v
}

func renderEntry(e *message.Entry, to string, n *namer) *InboxEntry {
	return &InboxEntry{Cursor: cursorString(e.Cursor), To: to, From: n.name(e.Sender), Kind: txn.KindName(e.Kind),
		ID: Hex(e.ID), Box: e.Box, ReplyTo: Hex(e.ReplyTo), Time: unixTime(e.Time), Expires: e.Expires,
		TxHash: Hex(e.TxHash)}
}

// inboxAfter reads ?after= as an inbox cursor, normalised ("" if absent).
func inboxAfter(r *http.Request) (string, error) {
	s := r.URL.Query().Get("after")
	if s == "" {
		return "", nil
	}
	c, err := message.ParseCursor(s)
	if err != nil {
		return "", errs.ErrInvalidQuery.Wrap("after=%q: want a cursor height.tx.msg", s)
	}
	return c.String(), nil
}

// recipientParam reads the path's {addr}.
func recipientParam(r *http.Request) (keys.Address, error) {
	return addrParam(r.PathValue("addr"), "recipient")
}

func (s *Server) listInbox(w http.ResponseWriter, r *http.Request) error {
	a, err := recipientParam(r)
	if err != nil {
		return err
	}
	after, err := inboxAfter(r)
	if err != nil {
		return err
	}
	page, err := s.listQuery(w, r, "/inbox/"+a.Account(), after)
	if err != nil {
		return err
	}
	h, _ := heightParam(r) // listQuery checked it
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	n := newNamer(ctx, s.b, h)
	to := n.name(a)
	out, err := renderPage(page, func(e *message.Entry) *InboxEntry { return renderEntry(e, to, n) })
	if err != nil {
		return err
	}
	if n.err != nil {
		return n.err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getInboxEntry(w http.ResponseWriter, r *http.Request) error {
	a, err := recipientParam(r)
	if err != nil {
		return err
	}
	cs := r.PathValue("cursor")
	c, err := message.ParseCursor(cs)
	if err != nil {
		return errs.ErrInvalidQuery.Wrap("cursor %q: want height.tx.msg", cs)
	}
	v, proof, err := s.singleQuery(w, r, "/inbox/"+a.Account()+"/"+c.String())
	if err != nil {
		return err
	}
	var e message.Entry
	if err := unmarshalRecord(v, &e); err != nil {
		return err
	}
	h, _ := heightParam(r)
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	n := newNamer(ctx, s.b, h)
	out := renderEntry(&e, n.name(a), n)
	if n.err != nil {
		return n.err
	}
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) error {
	sender, err := addrParam(r.PathValue("sender"), "sender")
	if err != nil {
		return err
	}
	ids := r.PathValue("id")
	id, err := hex.DecodeString(ids)
	if err != nil || len(id) != txn.MsgIDSize {
		return errs.ErrInvalidQuery.Wrap("message id %q: want %d bytes as hex", ids, txn.MsgIDSize)
	}
	v, proof, err := s.singleQuery(w, r, "/message/"+sender.Account()+"/"+hex.EncodeToString(id))
	if err != nil {
		return err
	}
	var rec message.Record
	if err := unmarshalRecord(v, &rec); err != nil {
		return err
	}
	h, _ := heightParam(r)
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	n := newNamer(ctx, s.b, h)
	out := &Message{Sender: n.name(sender), ID: Hex(id), Recipient: n.name(rec.Recipient), Kind: txn.KindName(rec.Kind),
		Cursor: cursorString(rec.Cursor), State: stateName(rec.State), StateHeight: rec.StateHeight,
		Expires: rec.Expires, Proof: proof}
	if n.err != nil {
		return n.err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getGrant(w http.ResponseWriter, r *http.Request) error {
	dev, err := addrParam(r.PathValue("device"), "device")
	if err != nil {
		return err
	}
	grantee, err := addrParam(r.PathValue("grantee"), "grantee")
	if err != nil {
		return err
	}
	v, proof, err := s.singleQuery(w, r, "/grant/"+dev.Device()+"/"+grantee.Account())
	if err != nil {
		return err
	}
	var g message.Grant
	if err := unmarshalRecord(v, &g); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &Grant{Device: dev.Device(), Grantee: grantee.Account(), Kinds: grantKinds(g.Kinds),
		Expires: g.Expires, Proof: proof})
	return nil
}

// streamAfter reads where an inbox stream starts: after the Last-Event-ID
// of a reconnecting client, else after ?after=; "" is the oldest entry kept.
func streamAfter(r *http.Request) (string, error) {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		c, err := message.ParseCursor(id)
		if err != nil {
			return "", errs.ErrInvalidQuery.Wrap("Last-Event-ID %q: want a cursor height.tx.msg", id)
		}
		return c.String(), nil
	}
	return inboxAfter(r)
}

// inboxRead is one page of an inbox read from state for the stream.
type inboxRead struct {
	entries []*InboxEntry
	more    bool  // entries follow the page
	height  int64 // the state version read
}

// readInbox reads, from the latest state, up to inboxStreamPage entries of
// a's inbox after cursor after ("": from the oldest).
func (s *Server) readInbox(ctx context.Context, a keys.Address, after string) (*inboxRead, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	path := "/inbox/" + a.Account() + "?limit=" + strconv.Itoa(inboxStreamPage)
	if after != "" {
		path += "&after=" + after
	}
	resp, err := s.b.Query(ctx, ledger.QueryRequest{Path: path})
	if err != nil {
		return nil, err
	}
	if resp.Code != 0 {
		return nil, resultError(resp.Code, resp.Name, resp.Log)
	}
	var page ledger.Page
	if err := unmarshalRecord(resp.Value, &page); err != nil {
		return nil, err
	}
	n := newNamer(ctx, s.b, resp.Height)
	to := n.name(a)
	out, err := renderPage(&page, func(e *message.Entry) *InboxEntry { return renderEntry(e, to, n) })
	if err != nil {
		return nil, err
	}
	if n.err != nil {
		return nil, n.err
	}
	return &inboxRead{entries: out.Items, more: page.Next != "", height: resp.Height}, nil
}

// addressed tells whether ev put a message in the inbox of the address
// whose two text forms are to.
func addressed(ev *TxEvent, to [2]string) bool {
	for _, e := range ev.Events {
		if e.Type != "message" {
			continue
		}
		for _, a := range e.Attrs {
			if a.Key == "to" && (a.Value == to[0] || a.Value == to[1]) {
				return true
			}
		}
	}
	return false
}

// inboxStream serves GET /v1/inbox/{addr}/stream as Server-Sent Events: each
// inbox entry is one event, "id: <cursor>", "event: message", an
// InboxEntry as JSON data, in inbox order. A comment line goes out every
// HeartbeatInterval.
//
// Entries come from state only, never from the events themselves: the
// stream subscribes first, then reads the inbox after the start cursor
// (Last-Event-ID, else ?after=, else from the oldest entry kept) page by
// page; then, on each committed tx with a "message" event to addr, it reads
// the inbox again after the last cursor sent. So every entry goes out once,
// in order, without gaps, across reconnections too; an entry that expired
// before it was read is gone. Should a read see a state older than the
// event that triggered it, the next heartbeat reads again. The stream ends
// when the client goes away, the backend drops the subscription, or a read
// fails (an "error" event first).
func (s *Server) inboxStream(w http.ResponseWriter, r *http.Request) error {
	a, err := recipientParam(r)
	if err != nil {
		return err
	}
	last, err := streamAfter(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ch, err := s.b.Subscribe(ctx)
	if err != nil {
		return err
	}
	// The first read comes before the answer starts, so that its failure is
	// a plain error answer.
	first, err := s.readInbox(ctx, a, last)
	if err != nil {
		return err
	}
	out, ok := startSSE(w, s.cfg.WriteTimeout, "hypha inbox "+a.Account())
	if !ok {
		return nil
	}
	var readAt, wanted int64 // the latest state read; the latest height with a message to a
	// catchUp sends the entries of p and of the pages after it.
	catchUp := func(p *inboxRead) bool {
		for {
			for _, e := range p.entries {
				if !out.event(e.Cursor, "message", e) {
					return false
				}
				last = e.Cursor
			}
			readAt = max(readAt, p.height)
			if !p.more {
				return true
			}
			var err error
			if p, err = s.readInbox(ctx, a, last); err != nil {
				out.fail(err)
				return false
			}
		}
	}
	refresh := func() bool {
		p, err := s.readInbox(ctx, a, last)
		if err != nil {
			out.fail(err)
			return false
		}
		return catchUp(p)
	}
	if !catchUp(first) {
		return nil
	}
	to := forms(a)
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if wanted > readAt && !refresh() {
				return nil
			}
			if !out.heartbeat() {
				return nil
			}
		case ev, ok := <-ch:
			if !ok {
				return nil
			}
			if !addressed(&ev, to) {
				continue
			}
			wanted = max(wanted, ev.Height)
			if !refresh() {
				return nil
			}
		}
	}
}
