package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/txn"
)

func init() {
	commands = append(commands, readingCmd)
}

func readingCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "reading",
		Short: "Send and read direct device readings (SenML)",
	}
	c.AddCommand(readingSendCmd(g), readingLatestCmd(g), readingListCmd(g))
	return withRejections(g, group(c))
}

func readingSendCmd(g *globals) *cobra.Command {
	var f txFlags
	var devKey, dev string
	var values, units []string
	var counter uint64
	c := &cobra.Command{
		Use:   "send --device-key KEY --value name=number...",
		Short: "Sign a SenML reading with a device key and send it as a device-signed tx",
		Long: `Build a SenML pack (RFC 8428, CBOR) from --value and --unit, sign it with
the device's key and send it as a device-signed tx: the signer is the device
id, the nonce its counter. The counter defaults to the larger of the
device's last counter + 1 and the Unix time in milliseconds, so it keeps
increasing across lost packets. The fee is paid from the device's account
(see device register --fund).`,
		Example: "  hypha reading send --device-key thermo1 --value temp=21.5 --unit temp=Cel --value hum=40 --unit hum=%RH",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("device-key", devKey); err != nil {
				return err
			}
			ms, err := parseMeasurements(values, units)
			if err != nil {
				return usageError{err}
			}
			var id keys.Address
			if dev != "" {
				if id, err = g.resolveAddress(dev); err != nil {
					return err
				}
			} else {
				pk, err := g.lookupKey(devKey)
				if err != nil {
					return err
				}
				id = pk.Public.Address()
			}
			payload, err := encodeSenML(id, ms)
			if err != nil {
				return err
			}
			s, err := g.deviceSigner(devKey, f.passFile, id)
			if err != nil {
				return err
			}
			s.counter = counter
			out, err := g.sendTx(cmd.Context(), &f, s, nil, &txn.ReadingSubmit{Payload: payload})
			if err != nil {
				return err
			}
			out.Device = id.Device()
			return g.emit(out, func(w io.Writer) {
				printTx(w, out, fmt.Sprintf("sent reading %s from %s (counter %d)", formatMeasurements(ms), id.Device(), out.Nonce))
			})
		},
	}
	c.Flags().StringVar(&devKey, "device-key", "", "the device's current key (signs)")
	c.Flags().StringVar(&dev, "device", "", "device id (default: the address of --device-key; needed after a key rotation)")
	c.Flags().StringArrayVar(&values, "value", nil, "measurement name=number (repeatable)")
	c.Flags().StringArrayVar(&units, "unit", nil, "unit of a measurement, name=UNIT, e.g. temp=Cel (repeatable)")
	c.Flags().Uint64Var(&counter, "counter", 0, "counter (tx nonce) to use; must exceed the device's last (default: max(last+1, Unix ms))")
	addTxFlags(c, &f)
	return c
}

func readingLatestCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:     "latest ID",
		Short:   "Show a device's latest reading, decoded",
		Example: "  hypha reading latest thermo1",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := q.options()
			if err != nil {
				return err
			}
			id, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			r, err := g.client().LatestReading(cmd.Context(), id.Device(), opt)
			if err != nil {
				return notFound(err, "no reading from %s: not a registered device, or it has sent none", id.Device())
			}
			return g.emit(r, func(w io.Writer) {
				fmt.Fprintf(w, "%s\n", formatSenML(r.SenML))
				fmt.Fprintf(w, "  device %s, counter %d, index %d, height %d, %s\n", r.Device, r.Counter, r.Index, r.Height,
					r.Time.Format(time.RFC3339))
				printProof(w, r.Proof)
			})
		},
	}
	addQueryFlags(c, &q)
	return c
}

func readingListCmd(g *globals) *cobra.Command {
	var l listFlags
	c := &cobra.Command{
		Use:     "list ID",
		Short:   "List a device's readings (digests; bodies of all but the latest stay off the ledger)",
		Example: "  hypha reading list thermo1 --limit 20",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := l.options()
			if err != nil {
				return err
			}
			id, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			page, err := g.client().Readings(cmd.Context(), id.Device(), opt)
			if err != nil {
				return err
			}
			return g.emit(page, func(w io.Writer) {
				if len(page.Items) == 0 {
					fmt.Fprintln(w, "no readings")
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "INDEX\tCOUNTER\tHEIGHT\tTIME\tRECORDS\tDIGEST")
				for _, r := range page.Items {
					fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\t%s\n", r.Index, r.Counter, r.Height, r.Time.Format(time.RFC3339), r.Records, r.Digest)
				}
				tw.Flush()
				printNext(w, page.Next)
			})
		},
	}
	addListFlags(c, &l)
	return c
}

// SenML CBOR labels (RFC 8428 §6, Table 6).
const (
	senmlBaseName = -2
	senmlName     = 0
	senmlUnit     = 1
	senmlValue    = 2
)

// measurement is one --value name=number, with its --unit.
type measurement struct {
	name  string
	value any // int64 or float64
	unit  string
}

// parseMeasurements reads --value name=number and --unit name=UNIT flags.
// Integers stay integers in CBOR; other numbers are floats. Names hold only
// the characters RFC 8428 §4.5.1 allows (the base name supplies the first).
func parseMeasurements(values, units []string) ([]measurement, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("at least one --value name=number is required")
	}
	var ms []measurement
	seen := map[string]int{}
	for _, kv := range values {
		name, num, ok := strings.Cut(kv, "=")
		if !ok || name == "" || num == "" {
			return nil, fmt.Errorf("--value %q: want name=number", kv)
		}
		if !senmlNameOK(name) {
			return nil, fmt.Errorf("--value %q: a name may hold only A-Z a-z 0-9 - : . / _", kv)
		}
		if _, dup := seen[name]; dup {
			return nil, fmt.Errorf("--value %q: %s given twice", kv, name)
		}
		var v any
		if i, err := strconv.ParseInt(num, 10, 64); err == nil {
			v = i
		} else if f, err := strconv.ParseFloat(num, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			v = f
		} else {
			return nil, fmt.Errorf("--value %q: %q is not a finite number", kv, num)
		}
		seen[name] = len(ms)
		ms = append(ms, measurement{name: name, value: v})
	}
	for _, kv := range units {
		name, unit, ok := strings.Cut(kv, "=")
		if !ok || unit == "" {
			return nil, fmt.Errorf("--unit %q: want name=UNIT (e.g. temp=Cel)", kv)
		}
		i, ok := seen[name]
		if !ok {
			return nil, fmt.Errorf("--unit %q: no --value named %s", kv, name)
		}
		ms[i].unit = unit
	}
	return ms, nil
}

func senmlNameOK(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-:./_", c) >= 0) {
			return false
		}
	}
	return true
}

// senmlBase is the base name of a device's records, "urn:dev:hypha:<id>:",
// so that each record's resolved name is globally unique (RFC 8428 §4.5.1).
func senmlBase(id keys.Address) string { return contract.DeviceBaseName(id) }

// encodeSenML builds a SenML pack in CBOR: the first record carries the base
// name, every record a name, an optional unit and a numeric value. The
// encoding is the canonical one, so floats take their shortest exact form.
func encodeSenML(id keys.Address, ms []measurement) ([]byte, error) {
	pack := make([]map[int]any, 0, len(ms))
	for i, m := range ms {
		rec := map[int]any{senmlName: m.name, senmlValue: m.value}
		if i == 0 {
			rec[senmlBaseName] = senmlBase(id)
		}
		if m.unit != "" {
			rec[senmlUnit] = m.unit
		}
		pack = append(pack, rec)
	}
	return txn.Marshal(pack)
}

func formatMeasurements(ms []measurement) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		s := fmt.Sprintf("%s=%v", m.name, m.value)
		if m.unit != "" {
			s += " " + m.unit
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// formatSenML renders a decoded pack (SenML JSON labels, as the API gives
// it) on one line: "temp=21.5 Cel, hum=40 %RH". Names are shown without
// the base name.
func formatSenML(pack []map[string]any) string {
	if len(pack) == 0 {
		return "(payload is not SenML)"
	}
	var parts []string
	for _, rec := range pack {
		name, _ := rec["n"].(string)
		if name == "" {
			name, _ = rec["bn"].(string)
		}
		var val any
		for _, k := range []string{"v", "vs", "vb", "vd", "s"} {
			if v, ok := rec[k]; ok {
				val = v
				break
			}
		}
		s := fmt.Sprintf("%s=%v", name, val)
		if u, ok := rec["u"].(string); ok {
			s += " " + u
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
