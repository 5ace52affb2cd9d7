package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/keys/keyring"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

func init() {
	commands = append(commands, msgCmd)
}

func msgCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "msg",
		Short: "Send, read and acknowledge sealed messages and commands",
		Long: `Send, read and acknowledge sealed messages between accounts and devices.

A message is a tx: the ledger sees sender, recipient, kind, size and a box
sealed (HPKE, X25519) to the recipient's published seal key and to the
auditor of every device involved; only they can open it. Each key in the
keyring holds a seal key (keys add makes one; msg keygen makes or replaces
it); msg publish-key puts its public half on the ledger.

Kinds: data; command (to a device, from its owner or a grantee, see msg
grant); command-result (from a device, answering a command with --reply-to).

Signers: --from NAME signs as the device when NAME's address is a registered
device id, else as the account; --as-device KEY signs as device --device
(default: the key's address; needed after a key rotation).`,
	}
	c.AddCommand(msgKeygenCmd(g), msgPublishKeyCmd(g), msgSendCmd(g), msgInboxCmd(g), msgReceiptCmd(g),
		msgStatusCmd(g), msgGrantCmd(g))
	return withRejections(g, group(c))
}

// signerFlags are --from, --as-device and --device of messaging txs.
type signerFlags struct {
	from, asDevice, device string
}

func addSignerFlags(c *cobra.Command, s *signerFlags, what string) {
	c.Flags().StringVar(&s.from, "from", "", what+" (a device's key signs as the device)")
	c.Flags().StringVar(&s.asDevice, "as-device", "", "sign as a device with this key, its current one")
	c.Flags().StringVar(&s.device, "device", "", "with --as-device: the device id (default: the key's address)")
}

// signer resolves the flags to a tx signer: --from NAME is the device with
// NAME's address if there is one (the ledger takes such a signer as the
// device), else the account; --as-device KEY is device --device.
func (g *globals) msgSigner(ctx context.Context, s signerFlags, passFile string) (txSigner, error) {
	switch {
	case s.from != "" && s.asDevice != "":
		return txSigner{}, usageError{fmt.Errorf("pass --from NAME or --as-device KEY, not both")}
	case s.from == "" && s.asDevice == "":
		return txSigner{}, usageError{fmt.Errorf("--from NAME or --as-device KEY is required")}
	case s.device != "" && s.asDevice == "":
		return txSigner{}, usageError{fmt.Errorf("--device goes with --as-device")}
	case s.asDevice != "":
		var id keys.Address
		if s.device != "" {
			var err error
			if id, err = g.resolveAddress(s.device); err != nil {
				return txSigner{}, err
			}
		} else {
			e, err := g.lookupKey(s.asDevice)
			if err != nil {
				return txSigner{}, err
			}
			id = e.Public.Address()
		}
		return g.deviceSigner(s.asDevice, passFile, id)
	}
	signer, err := g.accountSigner(s.from, passFile)
	if err != nil {
		return txSigner{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	_, err = g.client().Device(ctx, signer.addr.Device(), nil)
	switch {
	case err == nil:
		signer.device = true
	case !errors.Is(err, errs.ErrNotFound):
		return txSigner{}, err
	}
	return signer, nil
}

// parseKind reads a message kind by name.
func parseKind(s string) (uint8, error) {
	for k := txn.KindData; k <= txn.KindCommandResult; k++ {
		if s == txn.KindName(k) {
			return k, nil
		}
	}
	return 0, usageError{fmt.Errorf("kind %q: want data, command or command-result", s)}
}

// parseMsgID reads a message id: 32 hex digits.
func parseMsgID(flag, s string) ([]byte, error) {
	id, err := hex.DecodeString(s)
	if err != nil || len(id) != txn.MsgIDSize {
		return nil, usageError{fmt.Errorf("--%s %q: want %d bytes as %d hex digits", flag, s, txn.MsgIDSize, 2*txn.MsgIDSize)}
	}
	return id, nil
}

func msgKeygenCmd(g *globals) *cobra.Command {
	var passFile string
	c := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Make the X25519 seal key of a key name, replacing one it has (with a warning)",
		Long: `Make a new X25519 seal key for key NAME and store it with NAME's signing
key, under the same passphrase. keys add already makes one; a key without
one (made elsewhere, or by init for the dev account) gets one here. An
existing seal key is replaced: messages sealed to it can no longer be opened
with this keyring, and senders seal to it until msg publish-key runs.`,
		Example: "  hypha msg keygen dev && hypha msg publish-key --from dev",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			e, err := g.lookupKey(name)
			if err != nil {
				return err
			}
			pass := ""
			if e.Encrypted {
				if pass, err = readPassphrase(passFile); err != nil {
					return err
				}
				if pass == "" {
					return fmt.Errorf("key %q is encrypted: pass --passphrase-file or set $%s", name, passphraseEnv)
				}
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			k, err := kr.Get(name, pass)
			if errors.Is(err, keyring.ErrWrongPassphrase) {
				return fmt.Errorf("key %q: wrong passphrase", name)
			}
			if err != nil {
				return err
			}
			sk, err := keys.GenerateSealKey(nil)
			if err != nil {
				return err
			}
			if err := replaceSealKey(kr, name, k, sk, pass); err != nil {
				return err
			}
			replaced := e.SealPublic != nil
			if replaced {
				fmt.Fprintf(g.stderr, "warning: replaced the seal key of %q (was %x): messages sealed to the old key can no longer be opened here; run: hypha msg publish-key --from %s\n",
					name, e.SealPublic, name)
			}
			out := map[string]any{"name": name, "seal_pubkey": hex.EncodeToString(sk.PublicBytes()), "replaced": replaced}
			return g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "seal key of %q: %x\n", name, sk.PublicBytes())
				fmt.Fprintf(w, "publish it with: hypha msg publish-key --from %s\n", name)
			})
		},
	}
	passphraseFlag(c, &passFile)
	return c
}

// replaceSealKey stores k with seal key sk under name, replacing name's
// file atomically: the new file is written under a temporary name by the
// keyring (fsynced, mode 0600), then renamed over <dir>/<name>.json (the
// layout the keyring documents). A crash leaves the old or the new key,
// and at worst a stray temporary key, never none.
func replaceSealKey(kr *keyring.Keyring, name string, k keys.PrivateKey, sk keys.SealKey, pass string) error {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := "rekey-" + hex.EncodeToString(rnd[:])
	if err := kr.AddWithSeal(tmp, k, sk, pass); err != nil {
		return fmt.Errorf("store the new seal key: %w", err)
	}
	if err := os.Rename(filepath.Join(kr.Dir(), tmp+".json"), filepath.Join(kr.Dir(), name+".json")); err != nil {
		_ = kr.Delete(tmp)
		return fmt.Errorf("store the new seal key: %w", err)
	}
	e, err := kr.Lookup(name)
	if err != nil || !slices.Equal(e.SealPublic, sk.PublicBytes()) {
		return fmt.Errorf("store the new seal key of %q: not found after writing it (%v)", name, err)
	}
	return nil
}

func msgPublishKeyCmd(g *globals) *cobra.Command {
	var f txFlags
	var s signerFlags
	c := &cobra.Command{
		Use:   "publish-key (--from NAME | --as-device KEY [--device ID])",
		Short: "Publish a key's seal public key on the ledger, so messages can be sealed to it",
		Long: `Publish the seal public key stored with the signing key (account.set_seal_key):
an account's own, or, signed by a device (--as-device, or --from a device's
key), the device's. A new key replaces the old one.`,
		Example: "  hypha msg publish-key --from dev\n  hypha msg publish-key --as-device thermo1",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			signer, err := g.msgSigner(cmd.Context(), s, f.passFile)
			if err != nil {
				return err
			}
			name := s.from
			if name == "" {
				name = s.asDevice
			}
			e, err := g.lookupKey(name)
			if err != nil {
				return err
			}
			if e.SealPublic == nil {
				return fmt.Errorf("key %q has no seal key: make one with: hypha msg keygen %s", name, name)
			}
			out, err := g.sendTx(cmd.Context(), &f, signer, nil, &txn.SetSealKey{SealKey: e.SealPublic})
			if err != nil {
				return err
			}
			who := signer.addr.Account()
			if signer.device {
				who = signer.addr.Device()
				out.Device = who
			}
			return g.emit(out, func(w io.Writer) { printTx(w, out, fmt.Sprintf("published seal key %x of %s", e.SealPublic, who)) })
		},
	}
	addSignerFlags(c, &s, "key whose seal key to publish; signs")
	addTxFlags(c, &f)
	return c
}

// msgSendOutput is what msg send prints.
type msgSendOutput struct {
	*txOutput
	ID     api.Hex `json:"id"`
	To     string  `json:"to"`
	Kind   string  `json:"kind"`
	Cursor string  `json:"cursor,omitempty"`
}

func msgSendCmd(g *globals) *cobra.Command {
	var f txFlags
	var s signerFlags
	var to, kind, replyTo, idHex string
	c := &cobra.Command{
		Use:   "send (--from NAME | --as-device KEY) --to ID|KEY [--kind K] TEXT",
		Short: "Seal TEXT to a device or account (and its auditors) and send it",
		Long: `Seal TEXT to the recipient's published seal key, and to the auditor of the
recipient and of a sending device, and send it as a message.send tx. The id
is 16 random bytes unless --id is given; it and the message's inbox cursor
are printed. A command-result names the command it answers with --reply-to.`,
		Example: `  hypha msg send --from dev --to thermo1 --kind command "unlock"
  hypha msg send --from thermo1 --to dev --kind command-result --reply-to 5f1c… "unlocked"`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("to", to); err != nil {
				return err
			}
			k, err := parseKind(kind)
			if err != nil {
				return err
			}
			m := &txn.MessageSend{Kind: k}
			if replyTo != "" {
				if m.ReplyTo, err = parseMsgID("reply-to", replyTo); err != nil {
					return err
				}
			}
			if k == txn.KindCommandResult && m.ReplyTo == nil {
				return usageError{fmt.Errorf("a command-result needs --reply-to COMMAND-ID")}
			}
			if k != txn.KindCommandResult && m.ReplyTo != nil {
				return usageError{fmt.Errorf("--reply-to goes with --kind command-result")}
			}
			if m.ID, err = messageID(idHex); err != nil {
				return err
			}
			if m.To, err = g.resolveAddress(to); err != nil {
				return err
			}
			signer, err := g.msgSigner(cmd.Context(), s, f.passFile)
			if err != nil {
				return err
			}
			toName, err := g.sealMessage(cmd.Context(), signer, m, []byte(args[0]))
			if err != nil {
				return err
			}
			tx, err := g.sendTx(cmd.Context(), &f, signer, nil, m)
			if err != nil {
				return err
			}
			out := &msgSendOutput{txOutput: tx, ID: m.ID, To: toName, Kind: kind, Cursor: eventAttr(tx.Result, "message", "cursor")}
			return g.emit(out, func(w io.Writer) {
				printTx(w, tx, fmt.Sprintf("sent %s to %s", kind, toName))
				fmt.Fprintf(w, "  id      %s\n", out.ID)
				if out.Cursor != "" {
					fmt.Fprintf(w, "  cursor  %s\n", out.Cursor)
				}
			})
		},
	}
	addSignerFlags(c, &s, "sender key")
	c.Flags().StringVar(&to, "to", "", "recipient: device id, account, or a key name (required)")
	c.Flags().StringVar(&kind, "kind", "data", "data, command or command-result")
	c.Flags().StringVar(&replyTo, "reply-to", "", "with --kind command-result: the id of the command answered (hex)")
	c.Flags().StringVar(&idHex, "id", "", "message id, 32 hex digits, unique per sender (default: random)")
	addTxFlags(c, &f)
	return c
}

// sealMessage fills m.Box: plaintext sealed to m.To's published seal key
// and to each auditor involved (of a recipient device and of a sending
// device), under the header the recipient rebuilds. It returns the
// recipient's name (device form for a device).
func (g *globals) sealMessage(ctx context.Context, s txSigner, m *txn.MessageSend, plaintext []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	c := g.client()
	st, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	var to []byte
	var auditors []string
	name := m.To.Device()
	d, err := c.Device(ctx, m.To.Device(), nil)
	switch {
	case err == nil:
		to = d.SealKey
		if d.Auditor != "" {
			auditors = append(auditors, d.Auditor)
		}
	case errors.Is(err, errs.ErrNotFound):
		name = m.To.Account()
		a, err := c.Account(ctx, m.To.Account(), nil)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return "", err
		}
		if a != nil {
			to = a.SealKey
		}
	default:
		return "", err
	}
	if to == nil {
		return "", errs.ErrNoSealKey.Wrap("%s has published no seal key (it can with: hypha msg publish-key)", name)
	}
	if s.device {
		sd, err := c.Device(ctx, s.addr.Device(), nil)
		if err != nil {
			return "", err
		}
		if sd.Auditor != "" && !slices.Contains(auditors, sd.Auditor) {
			auditors = append(auditors, sd.Auditor)
		}
	}
	var extra [][]byte
	for _, aud := range auditors {
		a, err := c.Account(ctx, aud, nil)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return "", err
		}
		if a == nil || a.SealKey == nil {
			return "", errs.ErrNoSealKey.Wrap("auditor %s has published no seal key", aud)
		}
		if !slices.Equal(a.SealKey, to) && !slices.ContainsFunc(extra, func(k []byte) bool { return slices.Equal(k, a.SealKey) }) {
			extra = append(extra, a.SealKey)
		}
	}
	h := seal.Header{Sender: s.addr, Recipient: m.To, Kind: m.Kind, MsgID: [txn.MsgIDSize]byte(m.ID), ChainID: st.ChainID}
	if m.Box, err = seal.Seal(nil, h, plaintext, to, extra...); err != nil {
		return "", fmt.Errorf("seal to %s: %w", name, err)
	}
	return name, nil
}

// eventAttr returns the value of attribute key of the first event of type
// typ in r ("" if none, or r is nil).
func eventAttr(r *ledger.Result, typ, key string) string {
	if r == nil {
		return ""
	}
	for _, e := range r.Events {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attrs {
			if a.Key == key {
				return a.Value
			}
		}
	}
	return ""
}

// messageID is --id parsed, or 16 random bytes when it is empty.
func messageID(idHex string) ([]byte, error) {
	if idHex != "" {
		return parseMsgID("id", idHex)
	}
	id := make([]byte, txn.MsgIDSize)
	_, err := rand.Read(id)
	return id, err
}

// inboxMessage is one inbox entry as msg inbox prints it: the entry, and
// its content if the key opens it.
type inboxMessage struct {
	Cursor  string    `json:"cursor"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Kind    string    `json:"kind"`
	ID      api.Hex   `json:"id"`
	ReplyTo api.Hex   `json:"reply_to,omitempty"`
	Time    time.Time `json:"time"`
	Expires int64     `json:"expires"`
	// Text is the content when it is UTF-8, Data (hex) otherwise; Error
	// says why the box did not open.
	Text  *string `json:"text,omitempty"`
	Data  api.Hex `json:"data,omitempty"`
	Error string  `json:"error,omitempty"`
	// Command is the command kind of a contract's command, whose payload
	// (Text or Data) is in the clear: a contract has no key to seal with.
	Command string `json:"command,omitempty"`
}

// openEntry opens e's box with sk under the header rebuilt from the entry
// (the ledger checked sender, recipient, kind and id; the chain id is the
// node's).
func openEntry(e *api.InboxEntry, chainID string, sk keys.SealKey) inboxMessage {
	m := inboxMessage{Cursor: e.Cursor, From: e.From, To: e.To, Kind: e.Kind, ID: e.ID, ReplyTo: e.ReplyTo,
		Time: e.Time, Expires: e.Expires}
	if e.Kind == txn.KindName(txn.KindContractCommand) {
		var cmd contract.Command
		if err := txn.Unmarshal(e.Box, &cmd); err != nil {
			m.Error = "malformed contract command"
			return m
		}
		m.Command = cmd.Kind
		if utf8.Valid(cmd.Payload) && isPrintable(cmd.Payload) {
			s := string(cmd.Payload)
			m.Text = &s
		} else {
			m.Data = cmd.Payload
		}
		return m
	}
	from, _, err1 := keys.ParseAddress(e.From)
	to, _, err2 := keys.ParseAddress(e.To)
	kind, err3 := parseKind(e.Kind)
	if err1 != nil || err2 != nil || err3 != nil || len(e.ID) != txn.MsgIDSize {
		m.Error = "malformed entry"
		return m
	}
	h := seal.Header{Sender: from, Recipient: to, Kind: kind, MsgID: [txn.MsgIDSize]byte(e.ID), ChainID: chainID}
	pt, err := seal.Open(h, e.Box, sk)
	switch {
	case errors.Is(err, seal.ErrNotForMe):
		m.Error = "not sealed to this key"
	case err != nil:
		m.Error = "does not open: " + strings.TrimPrefix(err.Error(), "seal: ")
	case utf8.Valid(pt):
		s := string(pt)
		m.Text = &s
	default:
		m.Data = pt
	}
	return m
}

func printInboxMessage(w io.Writer, m *inboxMessage) {
	var content string
	switch {
	case m.Error != "":
		content = "(sealed: " + m.Error + ")"
	case m.Text != nil:
		content = fmt.Sprintf("%q", *m.Text)
	default:
		content = "0x" + m.Data.String()
	}
	if m.Command != "" {
		content = m.Command + " " + content
	}
	fmt.Fprintf(w, "%s  %s  %s  %s  %s", m.Cursor, m.From, m.Kind, m.ID, content)
	if m.ReplyTo != nil {
		fmt.Fprintf(w, "  (reply to %s)", m.ReplyTo)
	}
	fmt.Fprintln(w)
}

func msgInboxCmd(g *globals) *cobra.Command {
	var key, as, passFile string
	var l listFlags
	var follow bool
	c := &cobra.Command{
		Use:   "inbox --key NAME [--as ID] [--after CURSOR] [--follow]",
		Short: "List an inbox, opening each message with a key's seal key",
		Long: `List the inbox of key NAME's address (or of --as: a device id after a key
rotation, or any inbox whose messages are also sealed to NAME, as an
auditor's are), oldest first, opening each box with NAME's seal key. Each
line: cursor, sender, kind, id, content. With --follow it keeps streaming
new messages as they commit (reconnecting from the last cursor if the
stream breaks) until interrupted; in --output json, then, one JSON object
per line.`,
		Example: "  hypha msg inbox --key thermo1\n  hypha msg inbox --key dev --follow --after 42.0.0",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("key", key); err != nil {
				return err
			}
			opt, err := l.options()
			if err != nil {
				return err
			}
			e, err := g.lookupKey(key)
			if err != nil {
				return err
			}
			addr := e.Public.Address()
			if as != "" {
				if addr, err = g.resolveAddress(as); err != nil {
					return err
				}
			}
			sk, err := g.sealKey(key, e, passFile)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sctx, cancel := context.WithTimeout(ctx, apiTimeout)
			st, err := g.client().Status(sctx)
			cancel()
			if err != nil {
				return err
			}
			if follow {
				return g.followInbox(ctx, addr, opt.After, st.ChainID, sk)
			}
			return g.listInbox(ctx, addr, opt, st.ChainID, sk)
		},
	}
	c.Flags().StringVar(&key, "key", "", "key whose seal key opens the messages (required); its address is the inbox by default")
	c.Flags().StringVar(&as, "as", "", "read this inbox instead: a device id, account or key name")
	c.Flags().BoolVar(&follow, "follow", false, "keep streaming new messages until interrupted")
	addListFlags(c, &l)
	c.Flags().Lookup("after").Usage = "list after this cursor (height.tx.msg)"
	c.Flags().Lookup("limit").Usage = "read one page of this many (default: every page)"
	passphraseFlag(c, &passFile)
	return c
}

// sealKey unlocks the seal key stored with key name.
func (g *globals) sealKey(name string, e keyring.Entry, passFile string) (keys.SealKey, error) {
	if e.SealPublic == nil {
		return keys.SealKey{}, fmt.Errorf("key %q has no seal key: make one with: hypha msg keygen %s", name, name)
	}
	pass := ""
	if e.Encrypted {
		var err error
		if pass, err = readPassphrase(passFile); err != nil {
			return keys.SealKey{}, err
		}
		if pass == "" {
			return keys.SealKey{}, fmt.Errorf("key %q is encrypted: pass --passphrase-file or set $%s", name, passphraseEnv)
		}
	}
	kr, err := g.keyring()
	if err != nil {
		return keys.SealKey{}, err
	}
	sk, err := kr.GetSeal(name, pass)
	if errors.Is(err, keyring.ErrWrongPassphrase) {
		return keys.SealKey{}, fmt.Errorf("key %q: wrong passphrase", name)
	}
	return sk, err
}

// inboxPage is what msg inbox prints without --follow.
type inboxPage struct {
	Inbox string         `json:"inbox"`
	Items []inboxMessage `json:"items"`
	// Next is set when --limit cut the listing: pass it as --after.
	Next string `json:"next,omitempty"`
}

// listInbox prints the inbox of addr after opt.After: one page of
// opt.Limit, or every page when opt.Limit is 0.
func (g *globals) listInbox(ctx context.Context, addr keys.Address, opt api.ListOptions, chainID string, sk keys.SealKey) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	c := g.client()
	out := inboxPage{Inbox: addr.Account(), Items: []inboxMessage{}}
	for {
		page, err := c.Inbox(ctx, addr.Account(), opt)
		if err != nil {
			return err
		}
		for _, e := range page.Items {
			out.Inbox = e.To
			out.Items = append(out.Items, openEntry(e, chainID, sk))
		}
		if page.Next == "" || opt.Limit > 0 {
			out.Next = page.Next
			break
		}
		opt.After = page.Next
	}
	return g.emit(out, func(w io.Writer) {
		if len(out.Items) == 0 {
			fmt.Fprintf(w, "no messages for %s\n", out.Inbox)
			return
		}
		for i := range out.Items {
			printInboxMessage(w, &out.Items[i])
		}
		if out.Next != "" {
			fmt.Fprintf(w, "more: --after %s\n", out.Next)
		}
	})
}

// followRetry is the longest wait before reconnecting a broken stream.
const followRetry = 5 * time.Second

// followInbox prints the inbox of addr after cursor after, then each new
// message as it commits, until ctx ends. A broken stream is reopened after
// the last cursor printed, so nothing is skipped or repeated; only the
// first connection's failure is an error.
func (g *globals) followInbox(ctx context.Context, addr keys.Address, after, chainID string, sk keys.SealKey) error {
	// No client timeout: the stream lasts until ctx ends.
	c := api.NewClient(g.node, nil)
	enc := json.NewEncoder(g.stdout)
	wait := 100 * time.Millisecond
	for first := true; ; first = false {
		ch, err := c.InboxStream(ctx, addr.Account(), after)
		if ctx.Err() != nil {
			return nil
		}
		var ae *api.Error
		if err != nil && (first || errors.As(err, &ae) && ae.HTTPStatus < 500) {
			return err
		}
		if err == nil {
			for e := range ch {
				m := openEntry(&e, chainID, sk)
				if g.output == "json" {
					if err := enc.Encode(&m); err != nil {
						return err
					}
				} else {
					printInboxMessage(g.stdout, &m)
				}
				after, wait = e.Cursor, 100*time.Millisecond
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, followRetry)
	}
}

func msgReceiptCmd(g *globals) *cobra.Command {
	var f txFlags
	var s signerFlags
	var sender string
	var ids []string
	var read bool
	c := &cobra.Command{
		Use:   "receipt (--from KEY | --as-device KEY) --sender ADDR --id IDHEX... [--read]",
		Short: "Acknowledge messages as their recipient: delivered, or with --read, read",
		Long: `Acknowledge messages from --sender, signed by their recipient, so the sender
sees them as delivered (or read, with --read) in msg status. States only
move forward.`,
		Example: "  hypha msg receipt --from thermo1 --sender dev --id 5f1c… --read",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("sender", sender); err != nil {
				return err
			}
			if len(ids) == 0 {
				return usageError{fmt.Errorf("--id is required")}
			}
			m := &txn.MessageReceipt{State: txn.StateDelivered}
			if read {
				m.State = txn.StateRead
			}
			for _, s := range ids {
				id, err := parseMsgID("id", s)
				if err != nil {
					return err
				}
				m.IDs = append(m.IDs, id)
			}
			var err error
			if m.Sender, err = g.resolveAddress(sender); err != nil {
				return err
			}
			signer, err := g.msgSigner(cmd.Context(), s, f.passFile)
			if err != nil {
				return err
			}
			out, err := g.sendTx(cmd.Context(), &f, signer, nil, m)
			if err != nil {
				return err
			}
			state := map[uint8]string{txn.StateDelivered: "delivered", txn.StateRead: "read"}[m.State]
			return g.emit(out, func(w io.Writer) {
				printTx(w, out, fmt.Sprintf("marked %d message(s) from %s %s", len(m.IDs), m.Sender, state))
			})
		},
	}
	addSignerFlags(c, &s, "recipient key")
	c.Flags().StringVar(&sender, "sender", "", "the messages' sender: address or key name (required)")
	c.Flags().StringSliceVar(&ids, "id", nil, "message id, hex (repeatable, or comma-separated)")
	c.Flags().BoolVar(&read, "read", false, "mark read (default: delivered)")
	addTxFlags(c, &f)
	return c
}

func msgStatusCmd(g *globals) *cobra.Command {
	var q queryFlags
	var sender, idHex string
	c := &cobra.Command{
		Use:     "status --sender ADDR --id IDHEX",
		Short:   "Show where a sent message is and whether its recipient acknowledged it",
		Example: "  hypha msg status --sender dev --id 5f1c…",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("sender", sender, "id", idHex); err != nil {
				return err
			}
			id, err := parseMsgID("id", idHex)
			if err != nil {
				return err
			}
			opt, err := q.options()
			if err != nil {
				return err
			}
			a, err := g.resolveAddress(sender)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), apiTimeout)
			defer cancel()
			m, err := g.client().Message(ctx, a.Account(), id, opt)
			if err != nil {
				return notFound(err, "no message %x from %s: never sent, or expired", id, a.Account())
			}
			return g.emit(m, func(w io.Writer) {
				fmt.Fprintf(w, "message %s from %s\n", m.ID, m.Sender)
				fmt.Fprintf(w, "  to       %s\n  kind     %s\n  state    %s", m.Recipient, m.Kind, m.State)
				if m.StateHeight > 0 {
					fmt.Fprintf(w, " (since height %d)", m.StateHeight)
				}
				fmt.Fprintf(w, "\n  cursor   %s\n  expires  at height %d\n", m.Cursor, m.Expires)
				printProof(w, m.Proof)
			})
		},
	}
	c.Flags().StringVar(&sender, "sender", "", "the sender: address or key name (required)")
	c.Flags().StringVar(&idHex, "id", "", "message id, hex (required)")
	addQueryFlags(c, &q)
	return c
}

func msgGrantCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, dev, to, kinds string
	var expires int64
	c := &cobra.Command{
		Use:   "grant --from OWNER --device ID --to GRANTEE --kinds command[,data] [--expires HEIGHT]",
		Short: "Let an account or device send kinds of messages to your device (empty --kinds revokes)",
		Long: `Let --to send the given kinds to --device (signed by its owner, who needs no
grant) until block height --expires (0: no expiry). --kinds "" withdraws
the grant.`,
		Example: "  hypha msg grant --from dev --device thermo1 --to alice --kinds command --expires 100000\n  hypha msg grant --from dev --device thermo1 --to alice --kinds \"\"",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("from", from, "device", dev, "to", to); err != nil {
				return err
			}
			if !cmd.Flags().Changed("kinds") {
				return usageError{fmt.Errorf("--kinds is required (\"\" withdraws the grant)")}
			}
			if expires < 0 {
				return usageError{fmt.Errorf("--expires must not be negative")}
			}
			m := &txn.MessageGrant{Expires: expires}
			var names []string
			for _, k := range strings.Split(kinds, ",") {
				if k = strings.TrimSpace(k); k == "" {
					continue
				}
				kind, err := parseKind(k)
				if err != nil {
					return err
				}
				m.Kinds = append(m.Kinds, kind)
				names = append(names, k)
			}
			var err error
			if m.Device, err = g.resolveAddress(dev); err != nil {
				return err
			}
			if m.Grantee, err = g.resolveAddress(to); err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			what := fmt.Sprintf("granted %s %s on", m.Grantee, strings.Join(names, ","))
			switch {
			case len(m.Kinds) == 0:
				what = fmt.Sprintf("withdrew the grant of %s on", m.Grantee)
			case expires > 0:
				what = fmt.Sprintf("granted %s %s until height %d on", m.Grantee, strings.Join(names, ","), expires)
			}
			return g.deviceTx(cmd.Context(), &f, s, nil, m.Device, what, m)
		},
	}
	c.Flags().StringVar(&from, "from", "", "the device's owner (signs)")
	c.Flags().StringVar(&dev, "device", "", "device id or its key name")
	c.Flags().StringVar(&to, "to", "", "grantee: address or key name")
	c.Flags().StringVar(&kinds, "kinds", "", "comma-separated kinds: data, command, command-result (\"\" revokes)")
	c.Flags().Int64Var(&expires, "expires", 0, "block height at which the grant ends (0: never)")
	addTxFlags(c, &f)
	return c
}
