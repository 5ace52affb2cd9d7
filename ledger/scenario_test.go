package ledger_test

import (
	"net/url"

	"github.com/hypha-iot/hypha/ledger/file"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/ledger/reading"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// TestScenarios runs the golden scripts in testdata/scenarios: txs in,
// results, events and state out. Rewrite the expected output after an
// intended change with: go test ./ledger -run TestScenarios -rewrite
//
// Directives (names stand for the fixed test keys of ledgertest; a device's
// id is the address of the key it registered with, so "dev1" names both):
//
//	genesis NAME...                      new chain, each NAME funded
//	tx signer=NAME [cosign=N,N] [nonce=N] [fee=N] [gas=N]
//	tx device=NAME key=KEYNAME counter=N [cosign=N]
//	    one msg per input line: send to= amount= | register key= model= [firmware=] [tags=a,b] [seal=hex]
//	    | update device= [model=] [firmware=] [add-tags=] [remove-tags=] [lat= lon=] [clear-location]
//	    | rotate device= key= | transfer device= to= | accept device= | cancel device=
//	    | revoke device= [reason=] | decommission device= | reading n= v=
//	block                                 each input line is a tx directive, all in one block
//	balance NAME...   device NAME   history NAME   latest NAME   readings NAME   owner NAME   tag TAG
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		s := &scenario{t: t}
		datadriven.RunTest(t, path, s.run)
	})
}

type scenario struct {
	t      *testing.T
	c      *lt.Chain
	names  map[string]string // rendered address -> name
	sender string            // signer of the tx being built
}

// msgID makes a 16-byte message id from a short label.
func msgID(label string) []byte {
	id := make([]byte, txn.MsgIDSize)
	copy(id, label)
	return id
}

func (s *scenario) name(n string) {
	a := lt.Addr(n)
	s.names[a.Account()] = n
	s.names[a.Device()] = n
}

// render replaces known addresses with their names.
func (s *scenario) render(str string) string {
	ks := make([]string, 0, len(s.names))
	for k := range s.names {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		str = strings.ReplaceAll(str, k, "<"+s.names[k]+">")
	}
	return str
}

func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "genesis":
		s.names = map[string]string{}
		p := ledger.DefaultParams()
		g := ledger.Genesis{Params: &p}
		for _, a := range d.CmdArgs {
			switch a.Key {
			case "retention":
				p.MessageRetention, _ = strconv.ParseInt(a.Vals[0], 10, 64)
			case "ratelimit":
				p.MessageRateLimit, _ = strconv.ParseUint(a.Vals[0], 10, 64)
				p.MessageRateWindow = 10
			case "maxfile":
				p.MaxFileSize, _ = strconv.ParseUint(a.Vals[0], 10, 64)
			case "gateway":
				for _, n := range strings.Split(strings.Join(a.Vals, ","), ",") {
					s.name(n)
					g.Gateways = append(g.Gateways, gateway.Gateway{Address: lt.Addr(n), PeerID: "peer-" + n, Name: n})
					g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: lt.Addr(n), Balance: 1_000_000_000})
				}
			default:
				g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: lt.Addr(a.Key), Balance: 1_000_000_000})
			}
		}
		st, err := store.Open(store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		s.c = lt.NewOn(t, st, g)
		return "ok"
	case "tx":
		tx := s.buildTx(t, d.CmdArgs, d.Input)
		return s.results(s.c.Block(tx))
	case "block":
		var txs [][]byte
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			head, msg, _ := strings.Cut(line, ":")
			txs = append(txs, s.buildTx(t, parseArgs(t, strings.TrimPrefix(head, "tx ")), msg))
		}
		return s.results(s.c.Block(txs...))
	case "balance":
		var b strings.Builder
		for _, a := range d.CmdArgs {
			s.name(a.Key)
			acc := s.c.Account(lt.Addr(a.Key))
			fmt.Fprintf(&b, "%s: %d uhyp, nonce %d\n", a.Key, acc.Balance, acc.Nonce)
		}
		return b.String()
	case "device":
		dv, ok := s.c.Device(lt.Addr(d.CmdArgs[0].Key))
		if !ok {
			return "not found"
		}
		// The counter and reading count live in the device's account.
		a := s.c.Account(dv.ID)
		view := struct {
			device.Device
			Counter  uint64 `json:"counter"`
			Readings uint64 `json:"readings"`
		}{Device: dv, Counter: a.Nonce}
		if h, _ := a.ReadingHead(); h != nil {
			view.Readings = h.Count
		}
		return s.json(view)
	case "history":
		return s.list(t, "/device/"+lt.Addr(d.CmdArgs[0].Key).String()+"/history", func(b []byte) any {
			var e device.HistoryEntry
			mustUnmarshal(t, b, &e)
			e.TxHash = nil
			return e
		})
	case "latest":
		a := s.c.Account(lt.Addr(d.CmdArgs[0].Key))
		h, _ := a.ReadingHead()
		if h == nil {
			return "none"
		}
		h.Latest.TxHash = nil
		return s.json(h.Latest)
	case "readings":
		return s.list(t, "/reading/"+lt.Addr(d.CmdArgs[0].Key).String(), func(b []byte) any {
			var r reading.Ref
			mustUnmarshal(t, b, &r)
			r.TxHash, r.Digest = nil, nil
			return r
		})
	case "inbox":
		return s.list(t, "/inbox/"+lt.Addr(d.CmdArgs[0].Key).String(), func(b []byte) any {
			var e message.Entry
			mustUnmarshal(t, b, &e)
			c, _ := message.CursorFromBytes(e.Cursor)
			return map[string]any{"cursor": c.String(), "from": e.Sender.String(), "kind": txn.KindName(e.Kind),
				"id": strings.TrimRight(string(e.ID), "\x00"), "expires": e.Expires}
		})
	case "msgstate":
		id := hex.EncodeToString(msgID(d.CmdArgs[1].Key))
		r := s.c.Query("/message/" + lt.Addr(d.CmdArgs[0].Key).String() + "/" + id)
		if r.Code != 0 {
			return r.Name
		}
		var rec message.Record
		mustUnmarshal(t, r.Value, &rec)
		return s.render(fmt.Sprintf("to=%s kind=%s state=%d expires=%d", rec.Recipient, txn.KindName(rec.Kind), rec.State, rec.Expires))
	case "advance":
		n, _ := strconv.Atoi(d.CmdArgs[0].Key)
		for range n {
			s.c.Block()
		}
		return fmt.Sprintf("height %d", s.c.Height)
	case "file":
		r := s.c.Query("/file/" + scenarioCID(d.CmdArgs[0].Key).String())
		if r.Code != 0 {
			return r.Name + ": " + r.Log
		}
		var f file.File
		mustUnmarshal(t, r.Value, &f)
		return s.json(fileView(f))
	case "holders":
		return s.list(t, "/file/"+scenarioCID(d.CmdArgs[0].Key).String()+"/holders", func(b []byte) any {
			var p file.Pin
			mustUnmarshal(t, b, &p)
			return map[string]any{"gateway": p.Gateway, "height": p.Height}
		})
	case "wanted", "files":
		path := "/files/wanted"
		if d.Cmd == "files" {
			path = "/files/publisher/" + lt.Addr(d.CmdArgs[0].Key).String()
		}
		return s.list(t, path, func(b []byte) any {
			var f file.File
			mustUnmarshal(t, b, &f)
			return fileView(f)
		})
	case "fwlatest", "releases":
		path := "/firmware/" + url.PathEscape(d.CmdArgs[0].Key) + "/latest"
		if d.Cmd == "releases" {
			return s.list(t, "/firmware/"+url.PathEscape(d.CmdArgs[0].Key)+"/releases", func(b []byte) any {
				var r file.Release
				mustUnmarshal(t, b, &r)
				return map[string]any{"version": r.Version, "cid": file.CIDString(r.CID), "seq": r.Seq, "height": r.Height}
			})
		}
		r := s.c.Query(path)
		if r.Code != 0 {
			return r.Name + ": " + r.Log
		}
		var rel file.Release
		mustUnmarshal(t, r.Value, &rel)
		return s.json(map[string]any{"model": rel.Model, "version": rel.Version, "cid": file.CIDString(rel.CID),
			"size": rel.Size, "notes": rel.Notes, "manufacturer": rel.Manufacturer, "seq": rel.Seq, "height": rel.Height})
	case "owner", "tag":
		path := "/devices/tag/" + d.CmdArgs[0].Key
		if d.Cmd == "owner" {
			path = "/devices/owner/" + lt.Addr(d.CmdArgs[0].Key).String()
		}
		return s.list(t, path, func(b []byte) any {
			var dv device.Device
			mustUnmarshal(t, b, &dv)
			return dv.ID.Device()
		})
	}
	t.Fatalf("%s: unknown directive %q", d.Pos, d.Cmd)
	return ""
}

func (s *scenario) list(t *testing.T, path string, item func([]byte) any) string {
	r := s.c.Query(path)
	if r.Code != 0 {
		return r.Name + ": " + r.Log
	}
	var p ledger.Page
	mustUnmarshal(t, r.Value, &p)
	var b strings.Builder
	for _, it := range p.Items {
		j, _ := json.Marshal(item(it))
		b.WriteString(s.render(string(j)) + "\n")
	}
	if len(p.Items) == 0 {
		return "(empty)"
	}
	return b.String()
}

func (s *scenario) json(v any) string {
	j, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		s.t.Fatal(err)
	}
	return s.render(string(j))
}

func (s *scenario) results(rs []ledger.Result) string {
	var b strings.Builder
	for i, r := range rs {
		if len(rs) > 1 {
			fmt.Fprintf(&b, "tx %d: ", i)
		}
		if r.OK() {
			fmt.Fprintf(&b, "ok gas=%d\n", r.GasUsed)
		} else {
			fmt.Fprintf(&b, "%s (%d): %s\n", r.Name, r.Code, r.Log)
		}
		for _, e := range r.Events {
			b.WriteString("  " + formatEvent(e) + "\n")
		}
	}
	return s.render(b.String())
}

func formatEvent(e exec.Event) string {
	parts := []string{e.Type}
	for _, a := range e.Attrs {
		if a.Key == "digest" {
			continue
		}
		parts = append(parts, a.Key+"="+a.Value)
	}
	return strings.Join(parts, " ")
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := txn.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func parseArgs(t *testing.T, line string) []datadriven.CmdArg {
	var out []datadriven.CmdArg
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		a := datadriven.CmdArg{Key: k}
		if ok {
			a.Vals = []string{v}
		}
		out = append(out, a)
	}
	return out
}

func argMap(args []datadriven.CmdArg) map[string]string {
	m := map[string]string{}
	for _, a := range args {
		m[a.Key] = strings.Join(a.Vals, ",")
	}
	return m
}

func (s *scenario) buildTx(t *testing.T, args []datadriven.CmdArg, input string) []byte {
	t.Helper()
	m := argMap(args)
	s.sender = m["signer"]
	if d, ok := m["device"]; ok {
		s.sender = d
	}
	var msgs []txn.Msg
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			msgs = append(msgs, s.parseMsg(t, line))
		}
	}
	var cos []keys.PrivateKey
	if m["cosign"] != "" {
		for _, n := range strings.Split(m["cosign"], ",") {
			s.name(n)
			cos = append(cos, lt.Key(n))
		}
	}
	num := func(k string, def uint64) uint64 {
		if v, ok := m[k]; ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("%s=%q: %v", k, v, err)
			}
			return n
		}
		return def
	}
	if dev, ok := m["device"]; ok {
		s.name(dev)
		b := txn.New(lt.ChainID, lt.Addr(dev), num("counter", 1)).WithFee(num("fee", lt.DefaultFee), num("gas", lt.DefaultGas)).Add(msgs...)
		tx, err := b.Sign(lt.Key(m["key"]), cos...)
		if err != nil {
			t.Fatal(err)
		}
		return tx.Bytes()
	}
	signer := m["signer"]
	s.name(signer)
	key := lt.Key(signer)
	nonce := s.c.NextNonce(key.Public().Address())
	if _, ok := m["nonce"]; ok {
		nonce = num("nonce", 0)
	}
	b := txn.New(lt.ChainID, key.Public().Address(), nonce).WithPubKey(key.Public()).
		WithFee(num("fee", lt.DefaultFee), num("gas", lt.DefaultGas)).WithMemo(m["memo"]).Add(msgs...)
	tx, err := b.Sign(key, cos...)
	if err != nil {
		t.Fatal(err)
	}
	return tx.Bytes()
}

func (s *scenario) parseMsg(t *testing.T, line string) txn.Msg {
	t.Helper()
	f := strings.Fields(line)
	m := argMap(parseArgs(t, strings.Join(f[1:], " ")))
	addr := func(k string) keys.Address {
		s.name(m[k])
		return lt.Addr(m[k])
	}
	list := func(k string) []string {
		if m[k] == "" {
			return nil
		}
		return strings.Split(m[k], ",")
	}
	switch f[0] {
	case "send":
		n, _ := strconv.ParseUint(m["amount"], 10, 64)
		return &txn.Send{To: addr("to"), Amount: txn.Amount(n)}
	case "register":
		s.name(m["key"])
		r := lt.Register(lt.Key(m["key"]), m["model"], list("tags")...)
		r.Firmware = m["firmware"]
		if _, ok := m["seal"]; ok {
			r.SealKey = lt.SealKey(m["key"]).PublicBytes()
		}
		return r
	case "update":
		u := &txn.DeviceUpdate{Device: addr("device"), AddTags: list("add-tags"), RemoveTags: list("remove-tags")}
		if v, ok := m["model"]; ok {
			u.Model = &v
		}
		if v, ok := m["firmware"]; ok {
			u.Firmware = &v
		}
		if _, ok := m["lat"]; ok {
			lat, _ := strconv.ParseInt(m["lat"], 10, 64)
			lon, _ := strconv.ParseInt(m["lon"], 10, 64)
			u.Location = &txn.Location{LatE7: lat, LonE7: lon}
		}
		_, u.ClearLocation = m["clear-location"]
		if _, ok := m["auditor"]; ok {
			a := addr("auditor")
			u.Auditor = &a
		}
		_, u.ClearAuditor = m["clear-auditor"]
		return u
	case "rotate":
		s.name(m["key"])
		return &txn.DeviceRotateKey{Device: addr("device"), NewPubKey: lt.Key(m["key"]).Public().Bytes()}
	case "transfer":
		return &txn.DeviceTransfer{Device: addr("device"), To: addr("to")}
	case "accept":
		return &txn.DeviceAcceptTransfer{Device: addr("device")}
	case "cancel":
		return &txn.DeviceCancelTransfer{Device: addr("device")}
	case "revoke":
		return &txn.DeviceRevoke{Device: addr("device"), Reason: m["reason"]}
	case "decommission":
		return &txn.DeviceDecommission{Device: addr("device")}
	case "reading":
		v, _ := strconv.ParseInt(m["v"], 10, 64)
		return &txn.ReadingSubmit{Payload: lt.SenML(m["n"], v)}
	case "setseal":
		s.name(m["key"])
		return &txn.SetSealKey{SealKey: lt.SealKey(m["key"]).PublicBytes()}
	case "msg":
		kind := map[string]uint8{"data": txn.KindData, "command": txn.KindCommand, "result": txn.KindCommandResult}[m["kind"]]
		to := addr("to")
		sealTo := m["to"]
		if v, ok := m["sealto"]; ok {
			sealTo = v
		}
		var extra [][]byte
		for _, a := range list("audit") {
			extra = append(extra, lt.SealKey(a).PublicBytes())
		}
		id := msgID(m["id"])
		box, err := seal.Seal(nil, seal.Header{Sender: lt.Addr(s.sender), Recipient: to, Kind: kind, MsgID: [16]byte(id), ChainID: lt.ChainID},
			[]byte(m["text"]), lt.SealKey(sealTo).PublicBytes(), extra...)
		if err != nil {
			t.Fatal(err)
		}
		ms := &txn.MessageSend{To: to, Kind: kind, ID: id, Box: box}
		if r, ok := m["reply"]; ok {
			ms.ReplyTo = msgID(r)
		}
		return ms
	case "receipt":
		r := &txn.MessageReceipt{Sender: addr("sender"), State: txn.StateDelivered}
		if m["state"] == "read" {
			r.State = txn.StateRead
		}
		for _, id := range list("ids") {
			r.IDs = append(r.IDs, msgID(id))
		}
		return r
	case "publish":
		size, _ := strconv.ParseUint(m["size"], 10, 64)
		reps, _ := strconv.ParseUint(m["replicas"], 10, 8)
		return &txn.FilePublish{CID: scenarioCID(m["cid"]).Bytes(), Size: size, Name: m["name"], MediaType: m["type"], Replicas: uint8(reps)}
	case "pin":
		return &txn.FilePin{CID: scenarioCID(m["cid"]).Bytes()}
	case "unpin":
		return &txn.FileUnpin{CID: scenarioCID(m["cid"]).Bytes()}
	case "model":
		return &txn.FirmwareRegisterModel{Model: m["name"]}
	case "release":
		return &txn.FirmwareRelease{Model: m["model"], Version: m["version"], CID: scenarioCID(m["cid"]).Bytes(), Notes: m["notes"]}
	case "report":
		return &txn.FirmwareReport{Version: m["version"], CID: scenarioCID(m["cid"]).Bytes()}
	case "grant":
		g := &txn.MessageGrant{Device: addr("device"), Grantee: addr("grantee")}
		for _, k := range list("kinds") {
			g.Kinds = append(g.Kinds, map[string]uint8{"data": txn.KindData, "command": txn.KindCommand, "result": txn.KindCommandResult}[k])
		}
		g.Expires, _ = strconv.ParseInt(m["expires"], 10, 64)
		return g
	}
	t.Fatalf("unknown msg %q", f[0])
	return nil
}

// scenarioCID is the raw CIDv1 of the bytes of name: scripts name files by
// their content.
func scenarioCID(name string) cid.Cid {
	mh, err := multihash.Sum([]byte(name), multihash.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

func fileView(f file.File) map[string]any {
	v := map[string]any{"cid": file.CIDString(f.CID), "size": f.Size, "publisher": f.Publisher, "replicas": f.Replicas,
		"holders": f.Holders, "published": f.Published}
	if f.Name != "" {
		v["name"] = f.Name
	}
	if f.MediaType != "" {
		v["media_type"] = f.MediaType
	}
	if f.Retired != 0 {
		v["retired"] = f.Retired
	}
	return v
}
