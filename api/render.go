package api

import (
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/reading"
	"github.com/hypha-iot/hypha/txn"
)

// This file turns ledger records (CBOR in query values) into the JSON wire
// types.

// did renders a public key in wire form as did:key ("" if empty; the hex
// form if it does not parse, which a committed record never does).
func did(pub []byte) string {
	if len(pub) == 0 {
		return ""
	}
	pk, err := keys.ParsePublicKey(pub)
	if err != nil {
		return Hex(pub).String()
	}
	return pk.DID()
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func renderAccount(addr keys.Address, a *account.Account) *Account {
	return &Account{Address: addr.Account(), Balance: uint64(a.Balance), Nonce: a.Nonce, PubKey: did(a.PubKey),
		SealKey: Hex(a.SealKey)}
}

// renderDevice renders a device record with what its account adds: the
// counter and the reading head.
func renderDevice(d *device.Device, a *account.Account) (*Device, error) {
	v := &Device{
		ID: d.ID.Device(), PubKey: did(d.PubKey), Owner: d.Owner.Account(), Model: d.Model, Firmware: d.Firmware,
		Tags: d.Tags, SealKey: Hex(d.SealKey), Status: d.Status.String(), Counter: a.Nonce,
		HistoryLen: d.HistoryLen, Registered: d.Registered, Updated: d.Updated,
		KeyRotations: d.KeyRotations,
	}
	if l := d.Location; l != nil {
		v.Location = &Location{LatE7: l.LatE7, LonE7: l.LonE7, AltCM: l.AltCM, AccuracyM: l.AccuracyM}
	}
	if d.PendingOwner != nil {
		v.PendingOwner = d.PendingOwner.Account()
	}
	if d.Auditor != nil {
		v.Auditor = d.Auditor.Account()
	}
	h, err := a.ReadingHead()
	if err != nil {
		return nil, errs.ErrInternal.WithCause(err, "account of %s", d.ID.Device())
	}
	if h != nil {
		v.Readings = h.Count
		v.Latest = renderReading(d.ID, &h.Latest)
	}
	return v, nil
}

func renderReading(id keys.Address, r *account.Reading) *Reading {
	return &Reading{Device: id.Device(), Counter: r.Counter, Index: r.Index, Height: r.Height,
		Time: unixTime(r.Time), TxHash: Hex(r.TxHash), Payload: Hex(r.Payload), SenML: decodeSenML(r.Payload)}
}

func renderRef(id keys.Address, r *reading.Ref) *ReadingRef {
	return &ReadingRef{Device: id.Device(), Index: r.Index, Counter: r.Counter, Height: r.Height,
		Time: unixTime(r.Time), TxHash: Hex(r.TxHash), Digest: Hex(r.Digest), Size: r.Size, Records: r.Records}
}

func renderHistory(id keys.Address, e *device.HistoryEntry) *HistoryEntry {
	v := &HistoryEntry{Device: id.Device(), Seq: e.Seq, Height: e.Height, TxHash: Hex(e.TxHash), Kind: e.Kind,
		Actor: e.Actor.Account()}
	for _, a := range e.Attrs {
		v.Attrs = append(v.Attrs, attr(a.Key, a.Value))
	}
	return v
}

// renderTxBody decodes a tx for display; nil if it does not decode.
func renderTxBody(raw []byte) *TxBody {
	tx, err := txn.Decode(raw, maxChainTxBytes)
	if err != nil {
		return nil
	}
	b := &tx.Body
	v := &TxBody{ChainID: b.ChainID, Signer: b.Signer.Account(), PubKey: did(b.PubKey), Nonce: b.Nonce,
		Fee: uint64(b.Fee.Amount), GasLimit: b.Fee.GasLimit, Memo: b.Memo, Sig: Hex(tx.Sig),
		Msgs: make([]map[string]any, 0, len(b.Msgs))}
	for _, c := range tx.Cosigs {
		v.Cosigners = append(v.Cosigners, did(c.PubKey))
	}
	for _, m := range b.Msgs {
		v.Msgs = append(v.Msgs, renderMsg(m.Msg))
	}
	return v
}

// renderMsg shows one msg as {"type": "device.register", fields…}.
func renderMsg(m txn.Msg) map[string]any {
	out := map[string]any{"type": m.Type().String()}
	set := func(k string, v any) { out[k] = v }
	loc := func(l *txn.Location) *Location {
		if l == nil {
			return nil
		}
		return &Location{LatE7: l.LatE7, LonE7: l.LonE7, AltCM: l.AltCM, AccuracyM: l.AccuracyM}
	}
	switch m := m.(type) {
	case *txn.Send:
		set("to", m.To.Account())
		set("amount", uint64(m.Amount))
	case *txn.DeviceRegister:
		if pk, err := keys.ParsePublicKey(m.PubKey); err == nil {
			set("device", pk.Address().Device())
		}
		set("pubkey", did(m.PubKey))
		set("model", m.Model)
		if m.Firmware != "" {
			set("firmware", m.Firmware)
		}
		if m.Location != nil {
			set("location", loc(m.Location))
		}
		if len(m.Tags) > 0 {
			set("tags", m.Tags)
		}
		if m.SealKey != nil {
			set("seal_key", Hex(m.SealKey))
		}
	case *txn.DeviceUpdate:
		set("device", m.Device.Device())
		if m.Model != nil {
			set("model", *m.Model)
		}
		if m.Firmware != nil {
			set("firmware", *m.Firmware)
		}
		if m.Location != nil {
			set("location", loc(m.Location))
		}
		if m.ClearLocation {
			set("clear_location", true)
		}
		if len(m.AddTags) > 0 {
			set("add_tags", m.AddTags)
		}
		if len(m.RemoveTags) > 0 {
			set("remove_tags", m.RemoveTags)
		}
		if m.SealKey != nil {
			set("seal_key", Hex(m.SealKey))
		}
		if m.Auditor != nil {
			set("auditor", m.Auditor.Account())
		}
		if m.ClearAuditor {
			set("clear_auditor", true)
		}
	case *txn.DeviceRotateKey:
		set("device", m.Device.Device())
		set("new_pubkey", did(m.NewPubKey))
	case *txn.DeviceTransfer:
		set("device", m.Device.Device())
		set("to", m.To.Account())
	case *txn.DeviceAcceptTransfer:
		set("device", m.Device.Device())
	case *txn.DeviceCancelTransfer:
		set("device", m.Device.Device())
	case *txn.DeviceRevoke:
		set("device", m.Device.Device())
		if m.Reason != "" {
			set("reason", m.Reason)
		}
	case *txn.DeviceDecommission:
		set("device", m.Device.Device())
	case *txn.ReadingSubmit:
		set("payload", Hex(m.Payload))
		if s := decodeSenML(m.Payload); s != nil {
			set("senml", s)
		}
	case *txn.SetSealKey:
		set("seal_key", Hex(m.SealKey))
	case *txn.MessageSend:
		// The box is opaque here: its size says enough.
		set("to", m.To.Account())
		set("kind", txn.KindName(m.Kind))
		set("id", Hex(m.ID))
		set("size", len(m.Box))
		if m.ReplyTo != nil {
			set("reply_to", Hex(m.ReplyTo))
		}
	case *txn.MessageReceipt:
		set("sender", m.Sender.Account())
		ids := make([]Hex, len(m.IDs))
		for i, id := range m.IDs {
			ids[i] = Hex(id)
		}
		set("ids", ids)
		set("state", stateName(m.State))
	case *txn.MessageGrant:
		set("device", m.Device.Device())
		set("grantee", m.Grantee.Account())
		kinds := make([]string, len(m.Kinds))
		for i, k := range m.Kinds {
			kinds[i] = txn.KindName(k)
		}
		set("kinds", kinds)
		if m.Expires != 0 {
			set("expires", m.Expires)
		}
	}
	return out
}
