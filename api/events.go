package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// EventFilter selects the txs GET /v1/events streams. A tx matches when one
// of its events satisfies every field that is set:
//   - Kind: the event type equals Kind, or starts with Kind + "." (so
//     "device" matches "device.register", "device.transfer", …);
//   - Device: an attribute's value is this device id, in either text form
//     (hyphadev1… as in device events, hypha1… as the signer of the
//     device's own txs or the recipient of tokens);
//   - Account: an attribute's value is this account, in either form (the
//     signer of the "tx" event, either side of a "transfer", a device's
//     owner).
//
// The zero filter matches every tx.
type EventFilter struct {
	Device  string
	Account string
	Kind    string
	// FromHeight replays committed blocks from this height before the live
	// stream (0: live only).
	FromHeight int64
	// After resumes a broken stream after the event with this ID (sent as
	// Last-Event-ID; it takes precedence over FromHeight).
	After string
}

// filter is an EventFilter with each address in both text forms.
type filter struct {
	device, account [2]string
	kind            string
}

func forms(a keys.Address) [2]string { return [2]string{a.Account(), a.Device()} }

func parseFilter(r *http.Request) (filter, error) {
	q := r.URL.Query()
	var f filter
	if s := q.Get("device"); s != "" {
		a, err := addrParam(s, "device")
		if err != nil {
			return f, err
		}
		f.device = forms(a)
	}
	if s := q.Get("account"); s != "" {
		a, err := addrParam(s, "account")
		if err != nil {
			return f, err
		}
		f.account = forms(a)
	}
	f.kind = q.Get("kind")
	if len(f.kind) > 64 {
		return f, errs.ErrInvalidQuery.Wrap("kind longer than 64 bytes")
	}
	return f, nil
}

func (f filter) match(ev *TxEvent) bool {
	if f == (filter{}) {
		return true
	}
	for _, e := range ev.Events {
		if f.kind != "" && e.Type != f.kind && !strings.HasPrefix(e.Type, f.kind+".") {
			continue
		}
		dev, acct := f.device[0] == "", f.account[0] == ""
		for _, a := range e.Attrs {
			dev = dev || a.Value == f.device[0] || a.Value == f.device[1]
			acct = acct || a.Value == f.account[0] || a.Value == f.account[1]
		}
		if dev && acct {
			return true
		}
	}
	return false
}

// cursor is a position in the committed tx sequence: (height, index).
type cursor struct {
	height int64
	index  int64 // -1: none of the height's txs seen yet
}

// startCursor reads where a stream starts: the Last-Event-ID header of a
// reconnecting SSE client ("H:I", resume after it), else ?from_height=H
// (replay from the start of H); the zero cursor means live only.
func startCursor(r *http.Request) (cursor, error) {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		hs, is, ok := strings.Cut(id, ":")
		h, err1 := strconv.ParseInt(hs, 10, 64)
		i, err2 := strconv.ParseInt(is, 10, 64)
		if !ok || err1 != nil || err2 != nil || h < 1 || i < 0 {
			return cursor{}, errs.ErrInvalidQuery.Wrap("Last-Event-ID %q: want <height>:<index>", id)
		}
		return cursor{height: h, index: i}, nil
	}
	n, ok, err := queryUint(r, "from_height")
	if err != nil || !ok {
		return cursor{}, err
	}
	if n < 1 || n > 1<<62 {
		return cursor{}, errs.ErrInvalidQuery.Wrap("from_height %d: want 1 or more", n)
	}
	return cursor{height: int64(n), index: -1}, nil
}

// after tells whether (height, index) comes after c.
func (c cursor) after(height int64, index uint32) bool {
	return height > c.height || height == c.height && int64(index) > c.index
}

// events serves GET /v1/events as Server-Sent Events. Each committed tx that
// matches the filter is one event: "id: <height>:<index>", "event: tx", and
// an Event as JSON data; a block's contract-trigger events follow its txs
// as one more event, index = the block's tx count, name "triggers", no
// hash. A comment line goes out every HeartbeatInterval.
// The stream ends when the client goes away or the backend ends the
// subscription (a subscriber that lags too far is dropped); a client
// reconnects with Last-Event-ID (standard SSE) or ?from_height= and misses
// nothing still in the block store.
//
// Replay reads blocks with Backend.Block and their txs with Backend.Tx; it
// is bounded by MaxReplayBlocks. The subscription is opened first and its
// events at or below the last replayed height are skipped, so replay and
// live stream join without a gap.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	start, err := startCursor(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ch, err := s.b.Subscribe(ctx)
	if err != nil {
		return err
	}
	var replayTo int64
	if start.height > 0 {
		bctx, cancel := s.backendCtx(r)
		latest, err := s.b.Block(bctx, 0)
		cancel()
		if err != nil {
			return err
		}
		replayTo = latest.Height
		if n := replayTo - start.height + 1; n > s.cfg.MaxReplayBlocks {
			return errs.ErrInvalidQuery.Wrap("replay of %d blocks from height %d: at most %d", n, start.height, s.cfg.MaxReplayBlocks)
		}
	}

	out, ok := startSSE(w, s.cfg.WriteTimeout, "hypha events")
	if !ok {
		return nil
	}
	sendEvent := func(ev *TxEvent) bool {
		id := fmt.Sprintf("%d:%d", ev.Height, ev.Index)
		return out.event(id, "tx", &Event{ID: id, Height: ev.Height, Index: ev.Index, Hash: Hex(ev.Hash),
			Code: ev.Code, Name: ev.Name, Events: ev.Events})
	}

	for height := start.height; start.height > 0 && height <= replayTo; height++ {
		evs, err := s.replayBlock(ctx, height)
		if err != nil {
			out.fail(err)
			return nil
		}
		for i := range evs {
			if start.after(evs[i].Height, evs[i].Index) && f.match(&evs[i]) && !sendEvent(&evs[i]) {
				return nil
			}
		}
	}

	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if !out.heartbeat() {
				return nil
			}
		case ev, ok := <-ch:
			if !ok {
				return nil
			}
			if ev.Height <= replayTo || !start.after(ev.Height, ev.Index) || !f.match(&ev) {
				continue
			}
			if !sendEvent(&ev) {
				return nil
			}
		}
	}
}

// replayBlock reads the tx events of one committed block, then the
// block's own (contract triggers).
func (s *Server) replayBlock(ctx context.Context, height int64) ([]TxEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	b, err := s.b.Block(ctx, height)
	if err != nil {
		return nil, fmt.Errorf("replay block %d: %w", height, err)
	}
	out := make([]TxEvent, 0, len(b.TxHashes))
	for _, hash := range b.TxHashes {
		t, err := s.b.Tx(ctx, hash)
		if err != nil {
			return nil, fmt.Errorf("replay block %d tx %x: %w", height, hash, err)
		}
		out = append(out, TxEvent{Height: t.Height, Index: t.Index, Hash: t.Hash, Code: t.Result.Code,
			Name: t.Result.Name, Events: t.Result.Events})
	}
	if len(b.Events) > 0 {
		out = append(out, TxEvent{Height: b.Height, Index: uint32(b.TxCount), Name: BlockEventsName, Events: b.Events})
	}
	return out, nil
}
