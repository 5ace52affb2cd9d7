package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
)

// sentMsg is the JSON of msg send (its embedded tx output is not decoded
// into a txOutput: json cannot fill an embedded pointer to an unexported type).
type sentMsg struct {
	Hash   api.Hex `json:"hash"`
	Height int64   `json:"height"`
	Signer string  `json:"signer"`
	ID     api.Hex `json:"id"`
	To     string  `json:"to"`
	Kind   string  `json:"kind"`
	Cursor string  `json:"cursor"`
}

func (tn *testNode) send(t *testing.T, args ...string) sentMsg {
	t.Helper()
	var out sentMsg
	tn.json(t, &out, append([]string{"msg", "send"}, args...)...)
	if len(out.ID) != 16 || out.Cursor == "" || out.Height == 0 {
		t.Fatalf("msg send %v: %+v", args, out)
	}
	return out
}

func (tn *testNode) inbox(t *testing.T, args ...string) inboxPage {
	t.Helper()
	var out inboxPage
	tn.json(t, &out, append([]string{"msg", "inbox"}, args...)...)
	return out
}

func (tn *testNode) status(t *testing.T, sender string, id api.Hex) api.Message {
	t.Helper()
	var m api.Message
	tn.json(t, &m, "msg", "status", "--sender", sender, "--id", id.String())
	return m
}

func text(m inboxMessage) string {
	if m.Text == nil {
		return "<" + m.Error + ">"
	}
	return *m.Text
}

// TestMsgAgainstNode drives the msg commands against one real node: an
// owner commands its device, the device reads and answers, receipts move
// the sender's status, a stranger needs a grant, an auditor reads along,
// and --follow streams a message sent after it started.
func TestMsgAgainstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	t.Setenv(passphraseEnv, "")
	tn := startNode(t)
	for _, name := range []string{"alice", "bob", "lock"} {
		tn.run(t, "keys", "add", name)
	}
	dev := strings.TrimSpace(tn.run(t, "keys", "show", "dev", "--address"))
	lock := strings.TrimSpace(tn.run(t, "keys", "show", "lock", "--device"))

	// init's dev key comes with a seal key: publish-key works at once; keygen
	// replaces the key, with a warning, and the new one is published again.
	tn.run(t, "msg", "publish-key", "--from", "dev")
	var kg struct {
		SealPub  string `json:"seal_pubkey"`
		Replaced bool   `json:"replaced"`
	}
	_, stderr, code := cli(t, tn.args("msg", "keygen", "dev", "-o", "json")...)
	if code != exitOK || !strings.Contains(stderr, "warning: replaced the seal key") {
		t.Fatalf("keygen: exit %d, stderr %q", code, stderr)
	}
	tn.json(t, &kg, "msg", "keygen", "dev")
	if len(kg.SealPub) != 64 || !kg.Replaced {
		t.Fatalf("keygen: %+v", kg)
	}
	var info keyInfo
	tn.json(t, &info, "keys", "show", "dev")
	if info.SealPubKey != kg.SealPub {
		t.Fatalf("keyring has %s, keygen made %s", info.SealPubKey, kg.SealPub)
	}
	tn.run(t, "msg", "publish-key", "--from", "dev")
	var acct api.Account
	tn.json(t, &acct, "query", "account", "dev")
	if acct.SealKey.String() != info.SealPubKey {
		t.Fatalf("published %s, keyring has %s", acct.SealKey, info.SealPubKey)
	}
	for _, who := range []string{"alice", "bob"} {
		tn.run(t, "tx", "send", "--from", "dev", "--to", who, "--amount", "5000000")
	}
	tn.run(t, "device", "register", "--from", "dev", "--device-key", "lock", "--model", "lock-v1")

	// The owner commands the device; the device reads it.
	cmd := tn.send(t, "--from", "dev", "--to", "lock", "--kind", "command", "unlock")
	if cmd.To != lock || cmd.Signer != dev || cmd.Kind != "command" {
		t.Errorf("send: %+v", cmd)
	}
	in := tn.inbox(t, "--key", "lock")
	if len(in.Items) != 1 || text(in.Items[0]) != "unlock" || in.Items[0].From != dev || in.Items[0].Kind != "command" ||
		in.Items[0].ID.String() != cmd.ID.String() || in.Items[0].Cursor != cmd.Cursor || in.Inbox != lock {
		t.Fatalf("device inbox: %+v", in)
	}
	if out := tn.run(t, "msg", "inbox", "--key", "lock"); !strings.Contains(out, cmd.Cursor+"  "+dev+"  command  "+cmd.ID.String()+`  "unlock"`) {
		t.Errorf("inbox text:\n%s", out)
	}

	// Receipts move the sender's status forward.
	if m := tn.status(t, "dev", cmd.ID); m.State != "sent" || m.Recipient != lock || m.Cursor != cmd.Cursor {
		t.Errorf("status: %+v", m)
	}
	tn.run(t, "msg", "receipt", "--from", "lock", "--sender", "dev", "--id", cmd.ID.String())
	if m := tn.status(t, "dev", cmd.ID); m.State != "delivered" || m.StateHeight == 0 {
		t.Errorf("after delivered: %+v", m)
	}

	// The device answers; the owner reads the answer.
	res := tn.send(t, "--from", "lock", "--to", "dev", "--kind", "command-result", "--reply-to", cmd.ID.String(), "unlocked")
	if res.Signer != lock || res.To != dev {
		t.Errorf("result: %+v", res)
	}
	in = tn.inbox(t, "--key", "dev")
	if len(in.Items) != 1 || text(in.Items[0]) != "unlocked" || in.Items[0].From != lock ||
		in.Items[0].Kind != "command-result" || in.Items[0].ReplyTo.String() != cmd.ID.String() {
		t.Fatalf("owner inbox: %+v", in)
	}
	tn.run(t, "msg", "receipt", "--from", "dev", "--sender", "lock", "--id", res.ID.String(), "--read")
	tn.run(t, "msg", "receipt", "--from", "lock", "--sender", "dev", "--id", cmd.ID.String(), "--read")
	if m := tn.status(t, "dev", cmd.ID); m.State != "read" {
		t.Errorf("after read: %+v", m)
	}
	if m := tn.status(t, lock, res.ID); m.State != "read" || m.Kind != "command-result" {
		t.Errorf("result after read: %+v", m)
	}

	// A stranger's command needs a grant; revoking it closes the door again.
	tn.fail(t, exitRejected, "ErrNoGrant", "msg", "send", "--from", "bob", "--to", "lock", "--kind", "command", "open")
	tn.run(t, "msg", "grant", "--from", "dev", "--device", "lock", "--to", "bob", "--kinds", "command")
	open := tn.send(t, "--from", "bob", "--to", "lock", "--kind", "command", "open")
	tn.run(t, "msg", "grant", "--from", "dev", "--device", "lock", "--to", "bob", "--kinds", "")
	tn.fail(t, exitRejected, "ErrNoGrant", "msg", "send", "--from", "bob", "--to", "lock", "--kind", "command", "open again")
	tn.fail(t, exitRejected, "ErrNoSealKey", "msg", "send", "--from", "dev", "--to", "bob", "hi")
	tn.fail(t, exitRejected, "ErrMessageReplayed", "msg", "send", "--from", "dev", "--to", "lock", "--id", cmd.ID.String(), "again")
	tn.fail(t, exitUsage, "--reply-to", "msg", "send", "--from", "lock", "--to", "dev", "--kind", "command-result", "x")

	// An auditor reads along: every message to the device is also sealed to
	// alice; the ones from before are not, and show as sealed.
	tn.run(t, "msg", "publish-key", "--from", "alice")
	tn.run(t, "device", "update", "--from", "dev", "--device", "lock", "--auditor", "alice")
	audited := tn.send(t, "--from", "dev", "--to", "lock", "--kind", "data", "hello, auditor")
	in = tn.inbox(t, "--key", "alice", "--as", "lock")
	var got []string
	for _, m := range in.Items {
		got = append(got, text(m))
	}
	if strings.Join(got, "|") != "<not sealed to this key>|<not sealed to this key>|hello, auditor" {
		t.Errorf("auditor's view: %q", got)
	}
	if out := tn.run(t, "msg", "inbox", "--key", "alice", "--as", "lock"); !strings.Contains(out, "(sealed: not sealed to this key)") {
		t.Errorf("auditor's view, text:\n%s", out)
	}
	// The device opens all of its own, and pages with --limit.
	in = tn.inbox(t, "--key", "lock", "--limit", "2")
	if len(in.Items) != 2 || in.Next != open.Cursor || text(in.Items[1]) != "open" {
		t.Errorf("first page: %+v", in)
	}
	in = tn.inbox(t, "--key", "lock", "--after", in.Next)
	if len(in.Items) != 1 || in.Items[0].Cursor != audited.Cursor || text(in.Items[0]) != "hello, auditor" || in.Next != "" {
		t.Errorf("after the first page: %+v", in)
	}

	// --follow prints a message sent after it started, then stops when
	// cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var ferr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, tn.args("msg", "inbox", "--key", "lock", "--follow", "--after", audited.Cursor, "-o", "json"), pw, &ferr)
		pw.Close()
		done <- code
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	later := tn.send(t, "--from", "dev", "--to", "lock", "follow me")
	select {
	case line, ok := <-lines:
		var m inboxMessage
		if !ok || json.Unmarshal([]byte(line), &m) != nil || m.Cursor != later.Cursor || text(m) != "follow me" {
			t.Fatalf("followed %q (open %v)", line, ok)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("--follow printed nothing within 30s")
	}
	cancel()
	go func() {
		for range lines {
		}
	}()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("--follow exited %d: %s", code, ferr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("--follow did not stop when cancelled")
	}
}
