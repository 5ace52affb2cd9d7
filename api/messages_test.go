package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

// msgID is a 16-byte message id spelled by name.
func msgID(name string) [txn.MsgIDSize]byte {
	var id [txn.MsgIDSize]byte
	copy(id[:], name)
	return id
}

// sealed builds a message.send from from to to, sealed to the recipient's
// fixed test seal key (named recipient) and to each extra named key.
func sealed(t testing.TB, from, to keys.Address, recipient string, kind uint8, id, text string, extra ...string) *txn.MessageSend {
	t.Helper()
	mid := msgID(id)
	var pubs [][]byte
	for _, n := range extra {
		pubs = append(pubs, ledgertest.SealKey(n).PublicBytes())
	}
	h := seal.Header{Sender: from, Recipient: to, Kind: kind, MsgID: mid, ChainID: ledgertest.ChainID}
	box, err := seal.Seal(nil, h, []byte(text), ledgertest.SealKey(recipient).PublicBytes(), pubs...)
	if err != nil {
		t.Fatal(err)
	}
	return &txn.MessageSend{To: to, Kind: kind, ID: mid[:], Box: box}
}

// open opens an entry's box with the named test seal key, rebuilding the
// header from the entry as a recipient does.
func open(t testing.TB, e *api.InboxEntry, key string) string {
	t.Helper()
	from, _, err1 := keys.ParseAddress(e.From)
	to, _, err2 := keys.ParseAddress(e.To)
	kind := map[string]uint8{"data": txn.KindData, "command": txn.KindCommand, "command-result": txn.KindCommandResult}[e.Kind]
	if err1 != nil || err2 != nil || len(e.ID) != txn.MsgIDSize {
		t.Fatalf("entry %+v", e)
	}
	h := seal.Header{Sender: from, Recipient: to, Kind: kind, MsgID: [txn.MsgIDSize]byte(e.ID), ChainID: ledgertest.ChainID}
	pt, err := seal.Open(h, e.Box, ledgertest.SealKey(key))
	if err != nil {
		t.Fatalf("open %s: %v", e.Cursor, err)
	}
	return string(pt)
}

// msgFixture: alice owns device "lock-1"; alice, bob and the device have
// published seal keys (each its own test seal key by name); carol has none.
type msgFixture struct {
	alice, bob          keys.PrivateKey
	dev                 keys.PrivateKey
	aliceA, bobA, devID keys.Address
	carol               keys.Address
}

func (e *env) msgSetup() msgFixture {
	e.t.Helper()
	f := msgFixture{alice: ledgertest.Key("alice"), bob: ledgertest.Key("bob"), dev: ledgertest.Key("lock-1"),
		carol: ledgertest.Addr("carol")}
	f.aliceA, f.bobA, f.devID = f.alice.Public().Address(), f.bob.Public().Address(), f.dev.Public().Address()
	ctx := ctxT(e.t)
	reg := ledgertest.Register(f.dev, "lock")
	reg.SealKey = ledgertest.SealKey("lock-1").PublicBytes()
	mustCommit(e.t, e.c, ctx, e.b.BuildTxCo(f.alice, []keys.PrivateKey{f.dev}, reg, &txn.Send{To: f.devID, Amount: 1_000_000},
		&txn.SetSealKey{SealKey: ledgertest.SealKey("alice").PublicBytes()}))
	mustCommit(e.t, e.c, ctx, e.b.BuildTx(f.bob, &txn.SetSealKey{SealKey: ledgertest.SealKey("bob").PublicBytes()}))
	return f
}

// TestMessages: the inbox, message record and grant routes over a real
// ledger, with each new error class at its status.
func TestMessages(t *testing.T) {
	e := newEnv(t, api.Config{})
	ctx := ctxT(t)
	f := e.msgSetup()

	// Seal keys show on account and device records.
	var acct api.Account
	e.getJSON("/v1/accounts/"+f.bobA.Account(), 200, &acct)
	if string(acct.SealKey) != string(ledgertest.SealKey("bob").PublicBytes()) {
		t.Errorf("bob's seal key %x", []byte(acct.SealKey))
	}

	// Alice commands her device; the device answers; alice writes to bob.
	cmd := mustCommit(t, e.c, ctx, e.b.BuildTx(f.alice, sealed(t, f.aliceA, f.devID, "lock-1", txn.KindCommand, "c1", "unlock")))
	c1 := msgID("c1")
	res := sealed(t, f.devID, f.aliceA, "alice", txn.KindCommandResult, "r1", "done")
	res.ReplyTo = c1[:]
	mustCommit(t, e.c, ctx, e.b.BuildDeviceTx(f.dev, f.devID, 1, res))
	mustCommit(t, e.c, ctx, e.b.BuildTx(f.alice, sealed(t, f.aliceA, f.bobA, "bob", txn.KindData, "d1", "hello bob")))

	var page api.Page[*api.InboxEntry]
	e.getJSON("/v1/inbox/"+f.devID.Device(), 200, &page)
	if len(page.Items) != 1 {
		t.Fatalf("device inbox: %+v", page)
	}
	in := page.Items[0]
	wantCursor := fmt.Sprintf("%d.%d.0", cmd.Height, cmd.Index)
	if in.Cursor != wantCursor || in.From != f.aliceA.Account() || in.To != f.devID.Device() || in.Kind != "command" ||
		in.ID.String() != fmt.Sprintf("%x", c1) || in.TxHash.String() != cmd.Hash.String() || in.Time.IsZero() ||
		in.Expires <= cmd.Height {
		t.Errorf("device inbox entry: %+v", in)
	}
	if got := open(t, in, "lock-1"); got != "unlock" {
		t.Errorf("opened %q", got)
	}
	// By the account form of the device's address too: the same inbox.
	e.getJSON("/v1/inbox/"+f.devID.Account(), 200, &page)
	if len(page.Items) != 1 || page.Items[0].To != f.devID.Device() {
		t.Errorf("inbox by account form: %+v", page.Items)
	}

	// A device sender is named in device form; reply_to is kept.
	e.getJSON("/v1/inbox/"+f.aliceA.Account(), 200, &page)
	if len(page.Items) != 1 || page.Items[0].From != f.devID.Device() || page.Items[0].Kind != "command-result" ||
		page.Items[0].ReplyTo.String() != fmt.Sprintf("%x", c1) {
		t.Fatalf("alice's inbox: %+v", page.Items)
	}
	if got := open(t, page.Items[0], "alice"); got != "done" {
		t.Errorf("opened %q", got)
	}

	// One entry, proven.
	var one api.InboxEntry
	e.getJSON("/v1/inbox/"+f.devID.Device()+"/"+wantCursor+"?prove=true", 200, &one)
	if one.Cursor != wantCursor || one.Proof == nil {
		t.Fatalf("single entry: %+v", one)
	}
	e.verifyProof(one.Proof)
	if got, err := e.c.InboxEntry(ctx, f.devID.Device(), wantCursor, nil); err != nil || got.Kind != "command" {
		t.Errorf("client InboxEntry: %+v, %v", got, err)
	}

	// The sender's record follows the receipts.
	msg, err := e.c.Message(ctx, f.aliceA.Account(), c1[:], nil)
	if err != nil || msg.State != "sent" || msg.Recipient != f.devID.Device() || msg.Cursor != wantCursor || msg.Kind != "command" {
		t.Fatalf("record: %+v, %v", msg, err)
	}
	rcpt := mustCommit(t, e.c, ctx, e.b.BuildDeviceTx(f.dev, f.devID, 2,
		&txn.MessageReceipt{Sender: f.aliceA, IDs: [][]byte{c1[:]}, State: txn.StateRead}))
	var rec api.Message
	e.getJSON("/v1/messages/"+f.aliceA.Account()+"/"+fmt.Sprintf("%x", c1)+"?prove=true", 200, &rec)
	if rec.State != "read" || rec.StateHeight != rcpt.Height || rec.Sender != f.aliceA.Account() {
		t.Errorf("record after the receipt: %+v", rec)
	}
	e.verifyProof(rec.Proof)

	// A stranger's command: 403 ErrNoGrant; a grant lets it through.
	_, err = e.c.SubmitTx(ctx, e.b.BuildTx(f.bob, sealed(t, f.bobA, f.devID, "lock-1", txn.KindCommand, "b1", "open")), api.ModeCommit)
	if ae := asAPIError(t, err); ae.HTTPStatus != 403 || ae.Name != "ErrNoGrant" {
		t.Errorf("stranger's command: %v", err)
	}
	e.b.Commit() // the failed tx's block, if CheckTx let it in
	grant := mustCommit(t, e.c, ctx, e.b.BuildTx(f.alice, &txn.MessageGrant{Device: f.devID, Grantee: f.bobA,
		Kinds: []uint8{txn.KindCommand, txn.KindData}, Expires: 1000}))
	var g api.Grant
	e.getJSON("/v1/grants/"+f.devID.Device()+"/"+f.bobA.Account()+"?prove=true", 200, &g)
	if strings.Join(g.Kinds, ",") != "data,command" || g.Expires != 1000 || g.Device != f.devID.Device() || g.Grantee != f.bobA.Account() {
		t.Errorf("grant: %+v", g)
	}
	e.verifyProof(g.Proof)
	if got, err := e.c.Grant(ctx, f.devID.Device(), f.bobA.Account(), &api.QueryOptions{Height: grant.Height - 1}); err == nil {
		t.Errorf("grant before it was made: %+v", got)
	}
	mustCommit(t, e.c, ctx, e.b.BuildTx(f.bob, sealed(t, f.bobA, f.devID, "lock-1", txn.KindCommand, "b2", "open")))
	// The tx body shows the msg without its box.
	var tx api.Tx
	e.getJSON("/v1/txs/"+grant.Hash.String(), 200, &tx)
	if m := tx.Body.Msgs[0]; m["type"] != "message.grant" || fmt.Sprint(m["kinds"]) != "[command data]" {
		t.Errorf("grant msg rendered as %v", m)
	}

	// Each new error class at its status.
	refused := func(what string, raw []byte, status int, name string) {
		t.Helper()
		_, err := e.c.SubmitTx(ctx, raw, api.ModeCommit)
		if ae := asAPIError(t, err); ae.HTTPStatus != status || ae.Name != name {
			t.Errorf("%s: %v; want %d %s", what, err, status, name)
		}
		e.b.Commit()
	}
	refused("replay", e.b.BuildTx(f.alice, sealed(t, f.aliceA, f.bobA, "bob", txn.KindData, "d1", "again")), 409, "ErrMessageReplayed")
	refused("no seal key", e.b.BuildTx(f.alice, sealed(t, f.aliceA, f.carol, "bob", txn.KindData, "x1", "hi")), 409, "ErrNoSealKey")
	refused("bad seal", e.b.BuildTx(f.alice, sealed(t, f.aliceA, f.bobA, "alice", txn.KindData, "x2", "hi")), 400, "ErrBadSeal")
	stray := sealed(t, f.devID, f.aliceA, "alice", txn.KindCommandResult, "r9", "?")
	stray.ReplyTo = make([]byte, txn.MsgIDSize)
	refused("unknown command", e.b.BuildDeviceTx(f.dev, f.devID, 3, stray), 404, "ErrUnknownMessage")

	// Bad requests and absent records.
	for _, c := range []struct {
		path   string
		status int
		name   string
	}{
		{"/v1/inbox/nope", 400, "ErrInvalidAddress"},
		{"/v1/inbox/" + f.bobA.Account() + "?after=1.2", 400, "ErrInvalidQuery"},
		{"/v1/inbox/" + f.bobA.Account() + "?limit=0", 400, "ErrInvalidQuery"},
		{"/v1/inbox/" + f.bobA.Account() + "/x.y.z", 400, "ErrInvalidQuery"},
		{"/v1/inbox/" + f.bobA.Account() + "/1.0.0", 404, "ErrNotFound"},
		{"/v1/messages/" + f.aliceA.Account() + "/abcd", 400, "ErrInvalidQuery"},
		{"/v1/messages/" + f.aliceA.Account() + "/" + strings.Repeat("00", 16), 404, "ErrNotFound"},
		{"/v1/grants/" + f.devID.Device() + "/" + f.carol.Account(), 404, "ErrNotFound"},
		{"/v1/inbox/" + f.bobA.Account() + "/stream?after=x", 400, "ErrInvalidQuery"},
	} {
		st, _, body := e.do("GET", c.path, "", nil)
		wantError(t, c.path, c.status, st, body, c.name)
	}

	// Pages: ?after= a cursor and ?limit=.
	for i := range 3 {
		mustCommit(t, e.c, ctx, e.b.BuildTx(f.alice, sealed(t, f.aliceA, f.bobA, "bob", txn.KindData, fmt.Sprintf("p%d", i), "page")))
	}
	first, err := e.c.Inbox(ctx, f.bobA.Account(), api.ListOptions{Limit: 2})
	if err != nil || len(first.Items) != 2 || first.Next != first.Items[1].Cursor {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	rest, err := e.c.Inbox(ctx, f.bobA.Account(), api.ListOptions{After: first.Next})
	if err != nil || len(rest.Items) != 2 || rest.Next != "" || rest.Items[0].Cursor == first.Next {
		t.Fatalf("second page: %+v, %v", rest, err)
	}
}

// collectEntries reads n entries from ch.
func collectEntries(t testing.TB, ch <-chan api.InboxEntry, n int) []api.InboxEntry {
	t.Helper()
	var out []api.InboxEntry
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended after %d of %d entries", len(out), n)
			}
			out = append(out, e)
		case <-timeout:
			t.Fatalf("timed out after %d of %d entries", len(out), n)
		}
	}
	return out
}

// texts opens each entry with bob's key.
func texts(t testing.TB, es []api.InboxEntry) string {
	t.Helper()
	var out []string
	for i := range es {
		out = append(out, open(t, &es[i], "bob"))
	}
	return strings.Join(out, " ")
}

// TestInboxStream: the stream catches up from state, then delivers live;
// a client that read some and went away resumes with Last-Event-ID and
// gets exactly the rest, in order, with messages to others left out.
func TestInboxStream(t *testing.T) {
	e := newEnv(t, api.Config{HeartbeatInterval: 20 * time.Millisecond})
	ctx := ctxT(t)
	f := e.msgSetup()
	toBob := func(n int) []byte {
		return e.b.BuildTx(f.alice, sealed(t, f.aliceA, f.bobA, "bob", txn.KindData, fmt.Sprintf("m%d", n), fmt.Sprintf("m%d", n)))
	}
	toDev := func(n int) []byte {
		return e.b.BuildTx(f.alice, sealed(t, f.aliceA, f.devID, "lock-1", txn.KindData, fmt.Sprintf("x%d", n), "not bob's"))
	}
	for i := 1; i <= 5; i++ {
		mustCommit(t, e.c, ctx, toBob(i))
		mustCommit(t, e.c, ctx, toDev(i))
	}

	// Read three of five, then go away.
	ctx1, cancel1 := context.WithCancel(ctx)
	ch, err := e.c.InboxStream(ctx1, f.bobA.Account(), "")
	if err != nil {
		t.Fatal(err)
	}
	got := collectEntries(t, ch, 3)
	if s := texts(t, got); s != "m1 m2 m3" {
		t.Fatalf("first read: %s", s)
	}
	cancel1()
	waitFor(t, "the first stream to end", func() bool { return e.b.Subscribers() == 0 })

	// Two more to bob in one block (with one to the device between them).
	for _, raw := range [][]byte{toBob(6), toDev(6), toBob(7)} {
		if _, err := e.c.SubmitTx(ctx, raw, api.ModeSync); err != nil {
			t.Fatal(err)
		}
	}
	e.b.Commit()

	// Resume after the third: exactly m4..m7, then live ones.
	ch, err = e.c.InboxStream(ctx, f.bobA.Device(), got[2].Cursor)
	if err != nil {
		t.Fatal(err)
	}
	resumed := collectEntries(t, ch, 4)
	if s := texts(t, resumed); s != "m4 m5 m6 m7" {
		t.Fatalf("resumed: %s", s)
	}
	if h, _, _ := strings.Cut(resumed[2].Cursor, "."); resumed[2].Cursor != h+".0.0" || resumed[3].Cursor != h+".2.0" {
		t.Errorf("m6 and m7 share a block as txs 0 and 2: %s, %s", resumed[2].Cursor, resumed[3].Cursor)
	}
	mustCommit(t, e.c, ctx, toBob(8))
	mustCommit(t, e.c, ctx, toDev(8))
	mustCommit(t, e.c, ctx, toBob(9))
	if s := texts(t, collectEntries(t, ch, 2)); s != "m8 m9" {
		t.Fatalf("live: %s", s)
	}

	// Raw framing: ids are cursors; ?after= starts after one; heartbeats.
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", e.ts.URL+"/v1/inbox/"+f.bobA.Account()+"/stream?after="+resumed[3].Cursor, nil)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	heartbeats := 0
	for sc.Scan() && (len(ids) < 2 || heartbeats == 0) {
		switch line := sc.Text(); {
		case strings.HasPrefix(line, "id: "):
			ids = append(ids, strings.TrimPrefix(line, "id: "))
		case line == "event: message" || strings.HasPrefix(line, "data: ") || line == "":
		case line == ": heartbeat":
			heartbeats++
		}
	}
	m8, err := e.c.Inbox(ctx, f.bobA.Account(), api.ListOptions{After: resumed[3].Cursor})
	if err != nil || len(m8.Items) != 2 {
		t.Fatalf("inbox after m7: %+v, %v", m8, err)
	}
	if len(ids) != 2 || ids[0] != m8.Items[0].Cursor || ids[1] != m8.Items[1].Cursor {
		t.Fatalf("ids %v, want the cursors of m8 and m9", ids)
	}

	// A bad Last-Event-ID is refused before the stream starts.
	req, _ = http.NewRequest("GET", e.ts.URL+"/v1/inbox/"+f.bobA.Account()+"/stream", nil)
	req.Header.Set("Last-Event-ID", "5:1")
	bad, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != 400 {
		t.Errorf("bad Last-Event-ID: status %d", bad.StatusCode)
	}
}
