package node

import (
	"context"
	"strconv"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/mqtt"
	"github.com/hypha-iot/hypha/txn"
)

// mqttBackend implements mqtt.Backend over the node: identities and inboxes
// from the ledger's committed state, submissions through the mempool (so a
// tx published at any gateway reaches every gateway), and inbox wake-ups
// from the event hub, which fires after a block commits (so an entry is
// readable by the time the broker hears of it).
type mqttBackend struct{ n *Node }

var _ mqtt.Backend = (*mqttBackend)(nil)

func (b *mqttBackend) record(path string, v any) (bool, error) {
	r := b.n.ledger.Query(ledger.QueryRequest{Path: path})
	switch {
	case r.Code == errs.ErrNotFound.Code:
		return false, nil
	case r.Code != 0:
		return false, errs.ByCode(r.Code).Wrap("%s", r.Log)
	}
	if err := txn.Unmarshal(r.Value, v); err != nil {
		return false, errs.ErrInternal.WithCause(err, "decode %s", path)
	}
	return true, nil
}

func (b *mqttBackend) Identity(_ context.Context, id keys.Address) (keys.PublicKey, bool, error) {
	var d device.Device
	ok, err := b.record("/device/"+id.Device(), &d)
	if err != nil {
		return keys.PublicKey{}, false, err
	}
	if ok {
		pk, err := keys.ParsePublicKey(d.PubKey)
		return pk, err == nil && d.Status == device.Active, err
	}
	var a account.Account
	if ok, err = b.record("/account/"+id.String(), &a); err != nil || !ok || a.PubKey == nil {
		return keys.PublicKey{}, false, err
	}
	pk, err := keys.ParsePublicKey(a.PubKey)
	return pk, err == nil, err
}

func (b *mqttBackend) MayRead(_ context.Context, reader, id keys.Address) (bool, error) {
	if reader == id {
		return true, nil
	}
	var d device.Device
	ok, err := b.record("/device/"+id.Device(), &d)
	return ok && d.Auditor != nil && *d.Auditor == reader, err
}

func (b *mqttBackend) Submit(ctx context.Context, tx []byte) (api.Submitted, error) {
	return (&backend{n: b.n}).SubmitCommit(ctx, tx)
}

func (b *mqttBackend) Inbox(_ context.Context, id keys.Address, after string, limit int) ([]mqtt.InboxEntry, string, error) {
	path := "/inbox/" + id.String() + "?limit=" + strconv.Itoa(min(max(limit, 1), ledger.MaxPageLimit))
	if after != "" {
		path += "&after=" + after
	}
	r := b.n.ledger.Query(ledger.QueryRequest{Path: path})
	if r.Code != 0 {
		return nil, "", errs.ByCode(r.Code).Wrap("%s", r.Log)
	}
	var page ledger.Page
	if err := txn.Unmarshal(r.Value, &page); err != nil {
		return nil, "", errs.ErrInternal.WithCause(err, "inbox page")
	}
	out := make([]mqtt.InboxEntry, 0, len(page.Items))
	for _, it := range page.Items {
		var e message.Entry
		if err := txn.Unmarshal(it, &e); err != nil {
			return nil, "", errs.ErrInternal.WithCause(err, "inbox entry")
		}
		c, _ := message.CursorFromBytes(e.Cursor)
		out = append(out, mqtt.InboxEntry{Cursor: c.String(), Recipient: id, Sender: e.Sender, Kind: txn.KindName(e.Kind),
			MsgID: e.ID, Box: e.Box, Height: c.Height, ReplyTo: e.ReplyTo})
	}
	return out, page.Next, nil
}

// SubscribeInbox turns committed "message" events into wake-ups carrying
// the recipient and cursor (the broker reads the entries from state).
func (b *mqttBackend) SubscribeInbox(ctx context.Context) (<-chan mqtt.InboxEntry, error) {
	in := b.n.events.subscribe(ctx)
	out := make(chan mqtt.InboxEntry, subBuffer)
	go func() {
		defer close(out)
		for ev := range in {
			for _, e := range ev.Events {
				if e.Type != "message" {
					continue
				}
				var m mqtt.InboxEntry
				for _, a := range e.Attrs {
					switch a.Key {
					case "to":
						m.Recipient, _, _ = keys.ParseAddress(a.Value)
					case "from":
						m.Sender, _, _ = keys.ParseAddress(a.Value)
					case "kind":
						m.Kind = a.Value
					case "cursor":
						m.Cursor = a.Value
						if c, err := message.ParseCursor(a.Value); err == nil {
							m.Height = c.Height
						}
					}
				}
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
