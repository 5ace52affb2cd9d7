package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/keys/keyring"
	"github.com/hypha-iot/hypha/node"
	"github.com/hypha-iot/hypha/txn"
)

// This file holds the helpers shared by the client commands: the keyring of
// --home (unlocking a key, reading an address argument that may be a key
// name), the API client of --node, and building, signing and submitting a
// tx.

// passphraseEnv names the environment variable that holds the keyring
// passphrase when --passphrase-file is not given. A passphrase is never
// taken as a flag value: it would show in ps and the shell history.
const passphraseEnv = "HYPHA_PASSPHRASE"

// keyring opens the keyring of --home.
func (g *globals) keyring() (*keyring.Keyring, error) {
	return keyring.Open(node.KeyringDir(g.home))
}

// lookupKey returns the public entry of key name, with an error that says
// where it looked when there is none.
func (g *globals) lookupKey(name string) (keyring.Entry, error) {
	kr, err := g.keyring()
	if err != nil {
		return keyring.Entry{}, err
	}
	e, err := kr.Lookup(name)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return keyring.Entry{}, fmt.Errorf("no key named %q in %s (see: hypha keys list --home %s)", name, kr.Dir(), g.home)
	}
	return e, err
}

// signingKey unlocks key name, reading the passphrase only if the key is
// encrypted.
func (g *globals) signingKey(name, passFile string) (keys.PrivateKey, error) {
	e, err := g.lookupKey(name)
	if err != nil {
		return nil, err
	}
	pass := ""
	if e.Encrypted {
		if pass, err = readPassphrase(passFile); err != nil {
			return nil, err
		}
		if pass == "" {
			return nil, fmt.Errorf("key %q is encrypted: pass --passphrase-file or set $%s", name, passphraseEnv)
		}
	}
	kr, err := g.keyring()
	if err != nil {
		return nil, err
	}
	k, err := kr.Get(name, pass)
	if errors.Is(err, keyring.ErrWrongPassphrase) {
		return nil, fmt.Errorf("key %q: wrong passphrase", name)
	}
	return k, err
}

// readPassphrase returns the first line of file, or $HYPHA_PASSPHRASE when
// file is "", or "" when neither is set.
func readPassphrase(file string) (string, error) {
	if file == "" {
		return os.Getenv(passphraseEnv), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("passphrase file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("passphrase file %s: first line is empty", file)
	}
	return line, nil
}

func passphraseFlag(c *cobra.Command, file *string) {
	c.Flags().StringVar(file, "passphrase-file", "", "read the keyring passphrase from the first line of this file (default $"+passphraseEnv+")")
}

// resolveAddress reads an address argument: bech32 (hypha1… or hyphadev1…),
// 40 hex characters, or the name of a key in the keyring (its address).
func (g *globals) resolveAddress(s string) (keys.Address, error) {
	if a, _, err := keys.ParseAddress(s); err == nil {
		return a, nil
	}
	if keyring.ValidName(s) != nil {
		return keys.Address{}, fmt.Errorf("%q is neither an address (hypha1…, hyphadev1…, 40 hex digits) nor a key name", s)
	}
	kr, err := g.keyring()
	if err != nil {
		return keys.Address{}, err
	}
	pk, err := kr.Public(s)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return keys.Address{}, fmt.Errorf("%q is neither an address (hypha1…, hyphadev1…, 40 hex digits) nor a key in %s", s, kr.Dir())
	}
	if err != nil {
		return keys.Address{}, err
	}
	return pk.Address(), nil
}

// apiTimeout bounds one command's calls to the node. A commit-mode
// submission passes its deadline on as the server-side wait.
const apiTimeout = 30 * time.Second

// client returns an API client for --node. Its timeout is a backstop for a
// node that stops answering; commands also bound their calls with contexts.
func (g *globals) client() *api.Client {
	return api.NewClient(g.node, &http.Client{Timeout: apiTimeout + 10*time.Second})
}

// rejectionOf turns an API error into the rejection the CLI reports with
// exit code 3 (its code and name printed); other errors pass unchanged,
// transport failures gaining the node's URL.
func rejectionOf(err error, nodeURL string) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		msg := ae.Message
		if ae.Submission != nil && len(ae.Submission.Hash) > 0 {
			msg = fmt.Sprintf("%s (tx %s)", msg, ae.Submission.Hash)
		}
		return &rejection{Code: ae.Code, Name: ae.Name, Message: msg}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("node %s: %w (is it running? set --node or $HYPHA_NODE)", nodeURL, ue.Err)
	}
	return err
}

// withRejections wraps the RunE of c and of its subcommands so that API
// errors become rejections.
func withRejections(g *globals, c *cobra.Command) *cobra.Command {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return rejectionOf(run(cmd, args), g.node)
		}
	}
	for _, sub := range c.Commands() {
		withRejections(g, sub)
	}
	return c
}

// notFound rewrites the message of an ErrNotFound answer, which names raw
// state keys, into one for people.
func notFound(err error, format string, args ...any) error {
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == errs.ErrNotFound.Code {
		e := *ae
		e.Message = fmt.Sprintf(format, args...)
		return &e
	}
	return err
}

// defaultGas is the default gas limit of a tx, enough for any one msg kind here.
const defaultGas = 200_000

// txFlags are the flags of every command that sends a tx.
type txFlags struct {
	fee      uint64
	gas      uint64
	memo     string
	mode     string
	passFile string
	changed  func(name string) bool // the command's Flags().Changed
}

func addTxFlags(c *cobra.Command, f *txFlags) {
	f.changed = c.Flags().Changed
	c.Flags().Uint64Var(&f.fee, "fee", 0, "fee in uhyp (default: gas limit × the chain's minimum gas price, rounded up)")
	c.Flags().Uint64Var(&f.gas, "gas", defaultGas, "gas limit")
	c.Flags().StringVar(&f.memo, "memo", "", "memo (at most the chain's max_memo_bytes)")
	c.Flags().StringVar(&f.mode, "mode", api.ModeCommit, "sync: return once the node's mempool accepts the tx; commit: wait for its block")
	passphraseFlag(c, &f.passFile)
}

func (f *txFlags) check() error {
	if f.mode != api.ModeSync && f.mode != api.ModeCommit {
		return usageError{fmt.Errorf("--mode must be sync or commit")}
	}
	if f.gas == 0 {
		return usageError{fmt.Errorf("--gas must be positive")}
	}
	return nil
}

// txSigner is who signs a tx: an account (nonce from its record) or a
// device (signer = device id, nonce = a counter above the device's last).
type txSigner struct {
	key    keys.PrivateKey
	addr   keys.Address // the body's signer: account address or device id
	device bool
	// counter, if not 0, is the device counter to use instead of the
	// default (see deviceCounter).
	counter uint64
	// nonce, if set, is the account nonce to use instead of the committed
	// one: for a run of txs sent to the mempool one after the other.
	nonce *uint64
}

// accountSigner unlocks key name as an account signer.
func (g *globals) accountSigner(name, passFile string) (txSigner, error) {
	k, err := g.signingKey(name, passFile)
	if err != nil {
		return txSigner{}, err
	}
	return txSigner{key: k, addr: k.Public().Address()}, nil
}

// deviceSigner unlocks key name as the signer of device id.
func (g *globals) deviceSigner(name, passFile string, id keys.Address) (txSigner, error) {
	k, err := g.signingKey(name, passFile)
	if err != nil {
		return txSigner{}, err
	}
	return txSigner{key: k, addr: id, device: true}, nil
}

// txOutput is what a tx command prints: the node's answer and what was
// signed, plus Device for device commands.
type txOutput struct {
	*api.Submission
	Signer   string `json:"signer"`
	Nonce    uint64 `json:"nonce"`
	Fee      uint64 `json:"fee"`
	GasLimit uint64 `json:"gas_limit"`
	Device   string `json:"device,omitempty"`
}

// sendTx builds msgs into a tx from s, fetching what it needs from the node
// (chain id, nonce or device counter, minimum gas price), signs it with s's
// key and each co-signer, and submits it. A tx the node or ledger refuses is
// an *api.Error.
func (g *globals) sendTx(ctx context.Context, f *txFlags, s txSigner, cosigners []keys.PrivateKey, msgs ...txn.Msg) (*txOutput, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	c := g.client()
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	fee := f.fee
	if !f.changed("fee") {
		p, err := c.Params(ctx, nil)
		if err != nil {
			return nil, err
		}
		fee = minFee(f.gas, p.MinGasPriceMilli)
	}
	var nonce uint64
	attachKey := false
	switch {
	case s.device && s.counter != 0:
		nonce = s.counter
	case !s.device && s.nonce != nil:
		nonce = *s.nonce
	case s.device:
		d, err := c.Device(ctx, s.addr.Device(), nil)
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.ErrUnknownDevice.Wrap("%s is not registered (after a key rotation, name the device by its original id, e.g. with --device)", s.addr.Device())
		}
		if err != nil {
			return nil, err
		}
		nonce = deviceCounter(d.Counter, time.Now())
	default:
		a, err := c.Account(ctx, s.addr.Account(), nil)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			attachKey = true
		case err != nil:
			return nil, err
		default:
			nonce, attachKey = a.Nonce, a.PubKey == ""
		}
	}
	b := txn.New(st.ChainID, s.addr, nonce).WithFee(fee, f.gas).WithMemo(f.memo).Add(msgs...)
	if attachKey {
		b = b.WithPubKey(s.key.Public())
	}
	tx, err := b.Sign(s.key, cosigners...)
	if err != nil {
		return nil, err
	}
	sub, err := c.SubmitTx(ctx, tx.Bytes(), f.mode)
	if err != nil {
		return nil, err
	}
	if r := sub.Result; r != nil && r.Code != 0 {
		return nil, &rejection{Code: r.Code, Name: r.Name, Message: fmt.Sprintf("%s (tx %s)", r.Log, sub.Hash)}
	}
	signer := s.addr.Account()
	if s.device {
		signer = s.addr.Device()
	}
	return &txOutput{Submission: sub, Signer: signer, Nonce: nonce, Fee: fee, GasLimit: f.gas}, nil
}

// minFee is the least fee the chain takes for gas at priceMilli uhyp per
// 1,000 gas, rounded up.
func minFee(gas, priceMilli uint64) uint64 {
	hi, lo := bits.Mul64(gas, priceMilli)
	lo, carry := bits.Add64(lo, 999, 0)
	hi += carry
	if hi >= 1000 {
		return ^uint64(0) // more than any balance: the node will say so
	}
	q, _ := bits.Div64(hi, lo, 1000)
	return q
}

// deviceCounter picks the counter (nonce) of a device-signed tx: above the
// device's last, and at least the current Unix time in milliseconds, so that
// it keeps increasing across lost packets and other senders using the same
// rule.
func deviceCounter(last uint64, now time.Time) uint64 {
	return max(last+1, uint64(now.UnixMilli()))
}

// printTx prints a tx outcome in text form, with lines of its own after.
func printTx(w io.Writer, out *txOutput, what string) {
	if out.Mode == api.ModeSync {
		fmt.Fprintf(w, "%s: tx %s accepted into the mempool (not committed yet)\n", what, out.Hash)
		return
	}
	gas := uint64(0)
	if out.Result != nil {
		gas = out.Result.GasUsed
	}
	fmt.Fprintf(w, "%s: tx %s committed at height %d (gas %d/%d, fee %d%s)\n", what, out.Hash, out.Height, gas, out.GasLimit, out.Fee, txn.Denom)
}

// group makes c, a command that only holds subcommands, answer an unknown
// subcommand with a usage error (cobra would print the help and exit 0).
func group(c *cobra.Command) *cobra.Command {
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unknown command %q for %q (see: %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())}
		}
		return cmd.Help()
	}
	return c
}
