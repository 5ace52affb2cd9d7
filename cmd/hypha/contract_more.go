package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/gobuild"
	"github.com/hypha-iot/hypha/vm/sdk"
)

func contractBuildCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "build DIR --out FILE.wasm",
		Short: "Build a Go contract (package main using vm/sdk) into WebAssembly",
		Long: `Build the Go package in DIR with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared
-trimpath -buildvcs=false, the settings the runtime expects, so that the same
source gives the same bytes (and code hash) on every machine with the same Go
version. Needs the go command on PATH.`,
		Example: "  hypha contract build ./vm/sdk/examples/parking --out parking.wasm",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("out", out); err != nil {
				return err
			}
			code, err := gobuild.Build(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, code, 0o644); err != nil {
				return err
			}
			res := map[string]any{"file": out, "size": len(code), "code_hash": codeHash(code)}
			return g.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "built %s: %d bytes, code hash %s\n", out, len(code), res["code_hash"])
			})
		},
	}
	c.Flags().StringVar(&out, "out", "", "the .wasm file to write (required)")
	return c
}

func codeHash(code []byte) string {
	h := sha256.Sum256(code)
	return hex.EncodeToString(h[:])
}

// deviceList resolves device ids or key names.
func (g *globals) deviceList(names []string) ([]keys.Address, error) {
	var out []keys.Address
	for _, d := range names {
		a, err := g.resolveAddress(d)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func contractAttachCmd(g *globals, detach bool) *cobra.Command {
	var f txFlags
	var from string
	verb, what := "attach", "Add your devices to a contract's reading trigger"
	if detach {
		verb, what = "detach", "Remove devices from a contract's reading trigger"
	}
	c := &cobra.Command{
		Use:   verb + " CONTRACT DEVICE… --from OWNER",
		Short: what,
		Long: `attach: the owner of the devices lets their direct readings run the contract's
on_reading (the contract's admin subscribed with --attached or --reading, and
its condition applies). detach: the devices' owner, or the contract's admin or
creator, takes them off again.`,
		Example: "  hypha contract " + verb + " hypha1… logger1 --from carrier",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			devs, err := g.deviceList(args[1:])
			if err != nil {
				return err
			}
			var m txn.Msg = &txn.ContractAttach{Contract: addr, Devices: devs}
			if detach {
				m = &txn.ContractDetach{Contract: addr, Devices: devs}
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			out, err := g.sendTx(cmd.Context(), &f, s, nil, m)
			if err != nil {
				return err
			}
			return g.emit(out, func(w io.Writer) {
				printTx(w, out, fmt.Sprintf("%sed %d device(s), contract %s", verb, len(devs), addr.Account()))
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "the devices' owner (or, to detach, the contract's admin)")
	addTxFlags(c, &f)
	return c
}

func contractSendCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, kind, idHex string
	var cargs []string
	c := &cobra.Command{
		Use:   "send CONTRACT --from KEY [--kind data|command] (TEXT | --arg …)",
		Short: "Send a message to a contract: its on_message runs at the end of the block",
		Long: `Send a message.send tx to a contract that subscribed to messages. A contract has
no seal key, so the body goes in the clear: TEXT as is, or --arg values in the
SDK's encoding. The message stays in the contract's inbox (hypha msg inbox --as
CONTRACT), auditable like any other.`,
		Example: `  hypha contract send hypha1… --from dev --kind command --arg s:open --arg u:3`,
		Args:    cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			if len(args) == 0 {
				return usageError{fmt.Errorf("give the contract")}
			}
			if (len(args) == 2) == (len(cargs) > 0) {
				return usageError{fmt.Errorf("give the body as TEXT or as --arg values, one of the two")}
			}
			k, err := parseKind(kind)
			if err != nil {
				return err
			}
			if k != txn.KindData && k != txn.KindCommand {
				return usageError{fmt.Errorf("--kind: a contract takes data or command")}
			}
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			body := []byte(nil)
			if len(args) == 2 {
				body = []byte(args[1])
			} else if body, err = encodeArgs(g, cargs); err != nil {
				return err
			}
			m := &txn.MessageSend{To: addr, Kind: k, Box: body}
			if m.ID, err = messageID(idHex); err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			out, err := g.sendTx(cmd.Context(), &f, s, nil, m)
			if err != nil {
				return err
			}
			res := &msgSendOutput{txOutput: out, ID: m.ID, To: addr.Account(), Kind: kind, Cursor: eventAttr(out.Result, "message", "cursor")}
			return g.emit(res, func(w io.Writer) {
				printTx(w, out, fmt.Sprintf("sent %s to contract %s", kind, addr.Account()))
				fmt.Fprintf(w, "  id      %s\n", res.ID)
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "sender key (signs and pays)")
	c.Flags().StringVar(&kind, "kind", "data", "data or command")
	c.Flags().StringVar(&idHex, "id", "", "message id, 32 hex digits, unique per sender (default: random)")
	c.Flags().StringArrayVar(&cargs, "arg", nil, "the body in the SDK's encoding: "+argKinds+" (repeatable, in order)")
	addTxFlags(c, &f)
	return c
}

// contractEvent is one line of contract events: a committed event that
// names the contract.
type contractEvent struct {
	ID     string `json:"id"` // "<height>:<index>" of the tx, or of the block's triggers
	Height int64  `json:"height"`
	Tx     string `json:"tx,omitempty"` // the tx hash; empty for trigger events
	exec.Event
}

func contractEventsCmd(g *globals) *cobra.Command {
	var from int64
	var limit int
	var wait time.Duration
	var kind string
	c := &cobra.Command{
		Use:   "events CONTRACT [--from-height H] [--kind TYPE] [--limit N] [--wait D]",
		Short: "Stream the events that concern a contract: calls, triggers, its own events, transfers, commands",
		Long: `Stream committed events naming the contract: contract.* events (the
contract's own emits are contract.<topic> with data in hex; contract.trigger
reports each trigger run, its gas and any error), and the transfers and
messages it made. Trigger events come after their block's txs. The stream runs
until interrupted, --limit events were printed, or nothing came for --wait.
With --from-height it first replays committed blocks from that height. A
broken stream is reopened after the last event received.`,
		Example: "  hypha contract events hypha1… --from-height 1\n  hypha contract events hypha1… --limit 1 --wait 30s -o json",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			if from < 0 || limit < 0 || wait < 0 {
				return usageError{fmt.Errorf("--from-height, --limit and --wait must not be negative")}
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			var idle <-chan time.Time
			var timer *time.Timer
			if wait > 0 {
				timer = time.NewTimer(wait)
				defer timer.Stop()
				idle = timer.C
			}
			n := 0
			// show prints ev's events that concern the contract and reports
			// whether --limit is reached.
			show := func(ev *api.Event) (bool, error) {
				for _, e := range ev.Events {
					if !names(e, addr) || kind != "" && e.Type != kind && !strings.HasPrefix(e.Type, kind+".") {
						continue
					}
					ce := contractEvent{ID: ev.ID, Height: ev.Height, Event: e}
					if len(ev.Hash) > 0 {
						ce.Tx = hex.EncodeToString(ev.Hash)
					}
					if err := g.emit(ce, func(w io.Writer) { printContractEvent(w, &ce) }); err != nil {
						return false, err
					}
					if n++; limit > 0 && n >= limit {
						return true, nil
					}
				}
				return false, nil
			}
			// No client timeout: the stream lasts until ctx ends. A broken
			// stream is reopened after the last event received, so nothing
			// is skipped or repeated; only the first connection's failure is
			// an error.
			c := api.NewClient(g.node, nil)
			f := api.EventFilter{Account: addr.Account(), FromHeight: from}
			retry := 100 * time.Millisecond
			for first := true; ; first = false {
				ch, err := c.Events(ctx, f)
				var ae *api.Error
				if err != nil && (first || errors.As(err, &ae) && ae.HTTPStatus < 500) {
					return err
				}
				for ch != nil {
					select {
					case <-idle:
						return nil
					case ev, ok := <-ch:
						if !ok {
							ch = nil
							break
						}
						f.After, retry = ev.ID, 100*time.Millisecond
						if done, err := show(&ev); done || err != nil {
							return err
						}
						if timer != nil {
							timer.Reset(wait)
						}
					}
				}
				if ctx.Err() != nil {
					return nil
				}
				select {
				case <-idle:
					return nil
				case <-time.After(retry):
				}
				retry = min(2*retry, followRetry)
			}
		},
	}
	c.Flags().Int64Var(&from, "from-height", 0, "replay from this height first (default: only new events)")
	c.Flags().IntVar(&limit, "limit", 0, "stop after this many events (default: no limit)")
	c.Flags().DurationVar(&wait, "wait", 0, "stop when no event came for this long (default: never)")
	c.Flags().StringVar(&kind, "kind", "", "only events of this type, or under it (contract.settled, contract, transfer, message)")
	return c
}

// names reports whether an event names the contract in an attribute.
func names(e exec.Event, a keys.Address) bool {
	acct := a.Account()
	for _, at := range e.Attrs {
		if at.Value == acct {
			return true
		}
	}
	return false
}

func printContractEvent(w io.Writer, e *contractEvent) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %s", e.ID, e.Type)
	for _, a := range e.Attrs {
		fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
	}
	fmt.Fprintln(w, b.String())
}

func contractQueryCmd(g *globals) *cobra.Command {
	var l listFlags
	c := &cobra.Command{
		Use:     "query CONTRACT",
		Short:   "List a contract's storage (one page; see also contract state KEY for one entry with a proof)",
		Example: "  hypha contract query hypha1…\n  hypha contract query hypha1… --limit 10 --after 6b6579",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			opt, err := l.options()
			if err != nil {
				return err
			}
			page, err := g.client().ContractStateList(cmd.Context(), addr.Account(), opt)
			if err != nil {
				return err
			}
			return g.emit(page, func(w io.Writer) {
				for _, e := range page.Items {
					fmt.Fprintf(w, "%s = %s\n", printableKey(e.Key), describeValue(e.Value))
				}
				if page.Next != "" {
					fmt.Fprintf(w, "(more: --after %s)\n", page.Next)
				}
			})
		},
	}
	addListFlags(c, &l)
	return c
}

// printableKey shows a storage key as text when it is printable ASCII,
// else as hex; keys that end in an address show it bech32.
func printableKey(k []byte) string {
	if len(k) > 20 {
		if p := k[:len(k)-20]; isPrintable(p) {
			var a keys.Address
			copy(a[:], k[len(k)-20:])
			return string(p) + a.Account()
		}
	}
	if isPrintable(k) {
		return string(k)
	}
	return "0x" + hex.EncodeToString(k)
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return len(b) > 0
}

// describeValue shows a value in hex, with its reading as one SDK integer
// or as text when it is one.
func describeValue(v []byte) string {
	s := hex.EncodeToString(v)
	if d := sdk.NewDecoder(v); len(v) > 0 {
		if n := d.Uint(); d.Done() == nil {
			return fmt.Sprintf("%s (uint %d)", s, n)
		}
	}
	if len(v) == 20 {
		var a keys.Address
		copy(a[:], v)
		return fmt.Sprintf("%s (%s)", s, a.Account())
	}
	return s
}

func contractTriggersCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:   "triggers CONTRACT",
		Short: "Show a contract's triggers and the trigger queue",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			opt, err := q.options()
			if err != nil {
				return err
			}
			tr, err := g.client().ContractTriggers(cmd.Context(), addr.Account(), opt)
			if err != nil {
				return err
			}
			qu, err := g.client().TriggerQueue(cmd.Context(), opt)
			if err != nil {
				return err
			}
			res := map[string]any{"contract": tr.Contract, "triggers": tr.Triggers, "queue": qu}
			return g.emit(res, func(w io.Writer) {
				if len(tr.Triggers) == 0 {
					fmt.Fprintf(w, "%s has no triggers\n", tr.Contract)
				}
				for _, t := range tr.Triggers {
					switch t.Kind {
					case "reading":
						fmt.Fprintf(w, "reading  %d device(s) %s", len(t.Devices), strings.Join(t.Devices, " "))
						if t.Condition != "" {
							fmt.Fprintf(w, " when %s", t.Condition)
						}
						fmt.Fprintln(w)
					case "tick":
						fmt.Fprintf(w, "tick     every %d blocks, next at %d\n", t.Every, t.Next)
					default:
						fmt.Fprintf(w, "%-8s since height %d\n", t.Kind, t.Height)
					}
				}
				fmt.Fprintf(w, "queue    %d pending (all contracts)\n", qu.Pending)
			})
		},
	}
	addQueryFlags(c, &q)
	return c
}
