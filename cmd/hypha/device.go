package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

func init() {
	commands = append(commands, deviceCmd)
}

// defaultDeviceFunds is what device register sends to a new device's own
// account by default: device-signed txs (readings) pay their fees from it.
const defaultDeviceFunds = 1_000_000

func deviceCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "device",
		Short: "Register, change and inspect devices",
		Long: `Register, change and inspect devices.

A device's id (hyphadev1…) is the address of the key it registered with and
never changes; a key rotation replaces the key behind it. Wherever a device
id is asked for, the name of that original key in the keyring works too.`,
	}
	c.AddCommand(deviceRegisterCmd(g), deviceUpdateCmd(g), deviceRotateCmd(g), deviceTransferCmd(g),
		deviceAcceptCmd(g), deviceCancelCmd(g), deviceRevokeCmd(g), deviceDecommissionCmd(g),
		deviceShowCmd(g), deviceHistoryCmd(g), deviceListCmd(g))
	return withRejections(g, group(c))
}

// locationFlags are --lat and --lon, in degrees.
type locationFlags struct {
	lat, lon float64
	changed  func(name string) bool // the command's Flags().Changed
}

func addLocationFlags(c *cobra.Command, l *locationFlags) {
	l.changed = c.Flags().Changed
	c.Flags().Float64Var(&l.lat, "lat", 0, "claimed latitude in degrees (with --lon)")
	c.Flags().Float64Var(&l.lon, "lon", 0, "claimed longitude in degrees (with --lat)")
}

// location returns the claimed location in 1e-7 degrees, or nil if neither
// flag was given.
func (l *locationFlags) location() (*txn.Location, error) {
	lat, lon := l.changed("lat"), l.changed("lon")
	if !lat && !lon {
		return nil, nil
	}
	if lat != lon {
		return nil, usageError{fmt.Errorf("--lat and --lon go together")}
	}
	if math.IsNaN(l.lat) || l.lat < -90 || l.lat > 90 || math.IsNaN(l.lon) || l.lon < -180 || l.lon > 180 {
		return nil, usageError{fmt.Errorf("--lat must be within ±90 and --lon within ±180 degrees")}
	}
	return &txn.Location{LatE7: int64(math.Round(l.lat * 1e7)), LonE7: int64(math.Round(l.lon * 1e7))}, nil
}

// required reports a usage error naming the first empty flag.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return usageError{fmt.Errorf("--%s is required", pairs[i])}
		}
	}
	return nil
}

// ownerOrDevice picks the signer of a msg the owner or the device itself
// may sign: --from OWNER or --as-device KEY (the device's current key).
func (g *globals) ownerOrDevice(from, asDevice, passFile string, id keys.Address) (txSigner, error) {
	switch {
	case from != "" && asDevice != "":
		return txSigner{}, usageError{fmt.Errorf("pass --from OWNER or --as-device KEY, not both")}
	case from != "":
		return g.accountSigner(from, passFile)
	case asDevice != "":
		return g.deviceSigner(asDevice, passFile, id)
	}
	return txSigner{}, usageError{fmt.Errorf("--from OWNER or --as-device KEY is required")}
}

// deviceTx sends msgs and prints the outcome for device id.
func (g *globals) deviceTx(ctx context.Context, f *txFlags, s txSigner, cosigners []keys.PrivateKey, id keys.Address, what string, msgs ...txn.Msg) error {
	out, err := g.sendTx(ctx, f, s, cosigners, msgs...)
	if err != nil {
		return err
	}
	out.Device = id.Device()
	return g.emit(out, func(w io.Writer) { printTx(w, out, what+" "+id.Device()) })
}

func deviceRegisterCmd(g *globals) *cobra.Command {
	var f txFlags
	var loc locationFlags
	var from, devKey, model, firmware string
	var tags []string
	var fund uint64
	c := &cobra.Command{
		Use:   "register --from OWNER --device-key KEY --model M",
		Short: "Register a device owned by --from; the device key co-signs to prove possession",
		Long: `Register a device owned by --from. The device key co-signs the tx to prove
possession; the device's id is that key's address (hyphadev1…), for life.
Its X25519 seal key, if the keyring holds one, is published for sealed
messages. --fund sends uhyp to the device's own account in the same tx: the
txs the device signs (readings) pay their fees from it.`,
		Example: "  hypha device register --from dev --device-key thermo1 --model thermo-v1 --tag cold --lat 52.52 --lon 13.405",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("from", from, "device-key", devKey, "model", model); err != nil {
				return err
			}
			l, err := loc.location()
			if err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			e, err := g.lookupKey(devKey)
			if err != nil {
				return err
			}
			dk, err := g.signingKey(devKey, f.passFile)
			if err != nil {
				return err
			}
			id := dk.Public().Address()
			msgs := []txn.Msg{&txn.DeviceRegister{PubKey: dk.Public().Bytes(), Model: model, Firmware: firmware,
				Location: l, Tags: tags, SealKey: e.SealPublic}}
			if fund > 0 {
				msgs = append(msgs, &txn.Send{To: id, Amount: txn.Amount(fund)})
			}
			return g.deviceTx(cmd.Context(), &f, s, []keys.PrivateKey{dk}, id, "registered device", msgs...)
		},
	}
	c.Flags().StringVar(&from, "from", "", "owner key: signs, pays and becomes the owner")
	c.Flags().StringVar(&devKey, "device-key", "", "the device's key in the keyring (co-signs)")
	c.Flags().StringVar(&model, "model", "", "device model (required)")
	c.Flags().StringVar(&firmware, "firmware", "", "firmware version")
	c.Flags().StringArrayVar(&tags, "tag", nil, "tag (repeatable; a-z 0-9 . _ : = / -)")
	c.Flags().Uint64Var(&fund, "fund", defaultDeviceFunds, "uhyp sent to the device's account for its own fees (0: none)")
	addLocationFlags(c, &loc)
	addTxFlags(c, &f)
	return c
}

func deviceUpdateCmd(g *globals) *cobra.Command {
	var f txFlags
	var loc locationFlags
	var from, dev, model, firmware, auditor string
	var addTags, removeTags []string
	var clearLoc, clearAuditor bool
	c := &cobra.Command{
		Use:     "update --from OWNER --device ID [changes]",
		Short:   "Change a device's model, firmware, tags, location or auditor",
		Example: "  hypha device update --from dev --device thermo1 --firmware 1.1.0 --add-tag warehouse-2 --remove-tag cold",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("from", from, "device", dev); err != nil {
				return err
			}
			l, err := loc.location()
			if err != nil {
				return err
			}
			if l != nil && clearLoc {
				return usageError{fmt.Errorf("--clear-location does not go with --lat/--lon")}
			}
			m := &txn.DeviceUpdate{Location: l, ClearLocation: clearLoc, AddTags: addTags, RemoveTags: removeTags}
			if cmd.Flags().Changed("model") {
				m.Model = &model
			}
			if cmd.Flags().Changed("firmware") {
				m.Firmware = &firmware
			}
			if auditor != "" && clearAuditor {
				return usageError{fmt.Errorf("--clear-auditor does not go with --auditor")}
			}
			if auditor != "" {
				a, err := g.resolveAddress(auditor)
				if err != nil {
					return err
				}
				m.Auditor = &a
			}
			m.ClearAuditor = clearAuditor
			if m.Model == nil && m.Firmware == nil && l == nil && !clearLoc && len(addTags) == 0 && len(removeTags) == 0 &&
				m.Auditor == nil && !clearAuditor {
				return usageError{fmt.Errorf("nothing to change: pass --model, --firmware, --add-tag, --remove-tag, --lat/--lon, --clear-location, --auditor or --clear-auditor")}
			}
			id, err := g.resolveAddress(dev)
			if err != nil {
				return err
			}
			m.Device = id
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			return g.deviceTx(cmd.Context(), &f, s, nil, id, "updated device", m)
		},
	}
	c.Flags().StringVar(&from, "from", "", "owner key")
	c.Flags().StringVar(&dev, "device", "", "device id or its key name")
	c.Flags().StringVar(&model, "model", "", "new model")
	c.Flags().StringVar(&firmware, "firmware", "", "new firmware version")
	c.Flags().StringArrayVar(&addTags, "add-tag", nil, "tag to add (repeatable)")
	c.Flags().StringArrayVar(&removeTags, "remove-tag", nil, "tag to remove (repeatable)")
	c.Flags().BoolVar(&clearLoc, "clear-location", false, "remove the claimed location")
	c.Flags().StringVar(&auditor, "auditor", "", "account every message to or from the device must also be sealed to (address or key name)")
	c.Flags().BoolVar(&clearAuditor, "clear-auditor", false, "remove the auditor")
	addLocationFlags(c, &loc)
	addTxFlags(c, &f)
	return c
}

func deviceRotateCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, asDevice, dev, newKey string
	c := &cobra.Command{
		Use:   "rotate-key --device ID --new-key KEY (--from OWNER | --as-device CURRENTKEY)",
		Short: "Replace the key behind a device id (the new key co-signs); reactivates a revoked device",
		Example: `  hypha keys add thermo1-v2
  hypha device rotate-key --device thermo1 --new-key thermo1-v2 --from dev`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("device", dev, "new-key", newKey); err != nil {
				return err
			}
			id, err := g.resolveAddress(dev)
			if err != nil {
				return err
			}
			s, err := g.ownerOrDevice(from, asDevice, f.passFile, id)
			if err != nil {
				return err
			}
			nk, err := g.signingKey(newKey, f.passFile)
			if err != nil {
				return err
			}
			m := &txn.DeviceRotateKey{Device: id, NewPubKey: nk.Public().Bytes()}
			return g.deviceTx(cmd.Context(), &f, s, []keys.PrivateKey{nk}, id, "rotated the key of device", m)
		},
	}
	c.Flags().StringVar(&dev, "device", "", "device id or its original key name")
	c.Flags().StringVar(&newKey, "new-key", "", "the new key in the keyring (co-signs)")
	c.Flags().StringVar(&from, "from", "", "owner key")
	c.Flags().StringVar(&asDevice, "as-device", "", "sign as the device with its current key")
	addTxFlags(c, &f)
	return c
}

func deviceTransferCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, dev, to, cosign string
	c := &cobra.Command{
		Use:   "transfer --from OWNER --device ID --to ADDR [--cosign NEWOWNERKEY]",
		Short: "Offer a device to a new owner (who accepts later), or hand it over at once with --cosign",
		Example: `  hypha device transfer --from dev --device thermo1 --to $(hypha keys show bob --address)
  hypha device transfer --from dev --device thermo1 --cosign bob`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("from", from, "device", dev); err != nil {
				return err
			}
			if to == "" && cosign == "" {
				return usageError{fmt.Errorf("--to (or --cosign) is required")}
			}
			id, err := g.resolveAddress(dev)
			if err != nil {
				return err
			}
			var cosigners []keys.PrivateKey
			var dest keys.Address
			if cosign != "" {
				k, err := g.signingKey(cosign, f.passFile)
				if err != nil {
					return err
				}
				cosigners, dest = append(cosigners, k), k.Public().Address()
			}
			if to != "" {
				a, err := g.resolveAddress(to)
				if err != nil {
					return err
				}
				if cosign != "" && a != dest {
					return usageError{fmt.Errorf("--to %s is not the address of --cosign %s (%s)", to, cosign, dest)}
				}
				dest = a
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			what := "offered to " + dest.Account() + ": device"
			if cosign != "" {
				what = "transferred to " + dest.Account() + ": device"
			}
			return g.deviceTx(cmd.Context(), &f, s, cosigners, id, what, &txn.DeviceTransfer{Device: id, To: dest})
		},
	}
	c.Flags().StringVar(&from, "from", "", "owner key")
	c.Flags().StringVar(&dev, "device", "", "device id or its original key name")
	c.Flags().StringVar(&to, "to", "", "new owner: address or key name")
	c.Flags().StringVar(&cosign, "cosign", "", "new owner's key: co-signs, so ownership moves at once")
	addTxFlags(c, &f)
	return c
}

// deviceSimpleCmd is a command whose one msg names only the device, signed
// by the account --from.
func deviceSimpleCmd(g *globals, use, short, fromHelp, what string, msg func(keys.Address) txn.Msg) *cobra.Command {
	var f txFlags
	var from, dev string
	c := &cobra.Command{
		Use:   use + " --from KEY --device ID",
		Short: short,
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("from", from, "device", dev); err != nil {
				return err
			}
			id, err := g.resolveAddress(dev)
			if err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			return g.deviceTx(cmd.Context(), &f, s, nil, id, what, msg(id))
		},
	}
	c.Flags().StringVar(&from, "from", "", fromHelp)
	c.Flags().StringVar(&dev, "device", "", "device id or its original key name")
	addTxFlags(c, &f)
	return c
}

func deviceAcceptCmd(g *globals) *cobra.Command {
	return deviceSimpleCmd(g, "accept", "Accept a device transfer offered to --from", "the new owner's key",
		"accepted device", func(id keys.Address) txn.Msg { return &txn.DeviceAcceptTransfer{Device: id} })
}

func deviceCancelCmd(g *globals) *cobra.Command {
	return deviceSimpleCmd(g, "cancel-transfer", "Withdraw a pending transfer offer", "owner key",
		"cancelled the transfer of device", func(id keys.Address) txn.Msg { return &txn.DeviceCancelTransfer{Device: id} })
}

func deviceDecommissionCmd(g *globals) *cobra.Command {
	return deviceSimpleCmd(g, "decommission", "Retire a device for good (its record and history stay)", "owner key",
		"decommissioned device", func(id keys.Address) txn.Msg { return &txn.DeviceDecommission{Device: id} })
}

func deviceRevokeCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, asDevice, dev, reason string
	c := &cobra.Command{
		Use:     "revoke --device ID (--from OWNER | --as-device KEY) [--reason TEXT]",
		Short:   "Mark a device's key lost or compromised; the owner restores it with rotate-key",
		Example: `  hypha device revoke --from dev --device thermo1 --reason "stolen from site 4"`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("device", dev); err != nil {
				return err
			}
			id, err := g.resolveAddress(dev)
			if err != nil {
				return err
			}
			s, err := g.ownerOrDevice(from, asDevice, f.passFile, id)
			if err != nil {
				return err
			}
			return g.deviceTx(cmd.Context(), &f, s, nil, id, "revoked device", &txn.DeviceRevoke{Device: id, Reason: reason})
		},
	}
	c.Flags().StringVar(&dev, "device", "", "device id or its original key name")
	c.Flags().StringVar(&from, "from", "", "owner key")
	c.Flags().StringVar(&asDevice, "as-device", "", "sign as the device with its current key")
	c.Flags().StringVar(&reason, "reason", "", "why (at most 128 bytes)")
	addTxFlags(c, &f)
	return c
}

// queryFlags are --height and --prove of single-record reads.
type queryFlags struct {
	height int64
	prove  bool
}

func addQueryFlags(c *cobra.Command, q *queryFlags) {
	c.Flags().Int64Var(&q.height, "height", 0, "read state at this height (default: latest)")
	c.Flags().BoolVar(&q.prove, "prove", false, "ask for an ICS23 proof against the app hash (in --output json)")
}

func (q *queryFlags) options() (*api.QueryOptions, error) {
	if q.height < 0 {
		return nil, usageError{fmt.Errorf("--height must not be negative")}
	}
	return &api.QueryOptions{Height: q.height, Prove: q.prove}, nil
}

// listFlags are --after and --limit of list reads.
type listFlags struct {
	after string
	limit int
}

func addListFlags(c *cobra.Command, l *listFlags) {
	c.Flags().StringVar(&l.after, "after", "", "cursor: the \"next\" of the previous page")
	c.Flags().IntVar(&l.limit, "limit", 0, "items per page (default: the node's, 50)")
}

func (l *listFlags) options() (api.ListOptions, error) {
	if l.limit < 0 {
		return api.ListOptions{}, usageError{fmt.Errorf("--limit must not be negative")}
	}
	return api.ListOptions{After: l.after, Limit: l.limit}, nil
}

func deviceShowCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:     "show ID",
		Short:   "Show a device record (with its latest reading)",
		Example: "  hypha device show thermo1 --prove --output json",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.showDevice(cmd.Context(), args[0], &q)
		},
	}
	addQueryFlags(c, &q)
	return c
}

// showDevice reads and prints one device record (device show, query device).
func (g *globals) showDevice(ctx context.Context, arg string, q *queryFlags) error {
	opt, err := q.options()
	if err != nil {
		return err
	}
	id, err := g.resolveAddress(arg)
	if err != nil {
		return err
	}
	d, err := g.client().Device(ctx, id.Device(), opt)
	if err != nil {
		return notFound(err, "no device %s is registered", id.Device())
	}
	return g.emit(d, func(w io.Writer) { printDevice(w, d) })
}

func printDevice(w io.Writer, d *api.Device) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "device\t%s\n", d.ID)
	fmt.Fprintf(tw, "status\t%s\n", d.Status)
	fmt.Fprintf(tw, "owner\t%s\n", d.Owner)
	if d.PendingOwner != "" {
		fmt.Fprintf(tw, "offered to\t%s\n", d.PendingOwner)
	}
	model := d.Model
	if d.Firmware != "" {
		model += ", firmware " + d.Firmware
	}
	fmt.Fprintf(tw, "model\t%s\n", model)
	fmt.Fprintf(tw, "key\t%s\n", d.PubKey)
	if len(d.Tags) > 0 {
		fmt.Fprintf(tw, "tags\t%s\n", strings.Join(d.Tags, ", "))
	}
	if l := d.Location; l != nil {
		fmt.Fprintf(tw, "location\t%.7f, %.7f\n", float64(l.LatE7)/1e7, float64(l.LonE7)/1e7)
	}
	if len(d.SealKey) > 0 {
		fmt.Fprintf(tw, "seal key\t%s\n", d.SealKey)
	}
	if d.Auditor != "" {
		fmt.Fprintf(tw, "auditor\t%s\n", d.Auditor)
	}
	fmt.Fprintf(tw, "counter\t%d\n", d.Counter)
	fmt.Fprintf(tw, "readings\t%d\n", d.Readings)
	fmt.Fprintf(tw, "history\t%d entries (registered at height %d, last change at %d)\n", d.HistoryLen, d.Registered, d.Updated)
	if r := d.Latest; r != nil {
		fmt.Fprintf(tw, "latest\t%s (counter %d, height %d)\n", formatSenML(r.SenML), r.Counter, r.Height)
	}
	tw.Flush()
	printProof(w, d.Proof)
}

// printProof says that a proof came with the answer (its bytes are in the
// JSON output).
func printProof(w io.Writer, p *api.Proof) {
	if p == nil {
		return
	}
	fmt.Fprintf(w, "proof: included (ICS23, %d bytes) for state at height %d; verify against the app hash in the header of block %d (see --output json)\n",
		len(p.Proof), p.Height, p.AppHashHeight)
}

func deviceHistoryCmd(g *globals) *cobra.Command {
	var l listFlags
	c := &cobra.Command{
		Use:     "history ID",
		Short:   "List a device's history: every change, oldest first",
		Example: "  hypha device history thermo1 --limit 10",
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
			page, err := g.client().DeviceHistory(cmd.Context(), id.Device(), opt)
			if err != nil {
				return err
			}
			return g.emit(page, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tHEIGHT\tKIND\tACTOR\tDETAILS")
				for _, e := range page.Items {
					var attrs []string
					for _, a := range e.Attrs {
						attrs = append(attrs, a.Key+"="+a.Value)
					}
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", e.Seq, e.Height, e.Kind, e.Actor, strings.Join(attrs, " "))
				}
				tw.Flush()
				printNext(w, page.Next)
			})
		},
	}
	addListFlags(c, &l)
	return c
}

func printNext(w io.Writer, next string) {
	if next != "" {
		fmt.Fprintf(w, "more: --after %s\n", next)
	}
}

func deviceListCmd(g *globals) *cobra.Command {
	var l listFlags
	var owner, tag string
	c := &cobra.Command{
		Use:   "list (--owner ADDR | --tag TAG)",
		Short: "List devices by owner or by tag",
		Example: `  hypha device list --owner dev
  hypha device list --tag cold`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (owner == "") == (tag == "") {
				return usageError{fmt.Errorf("pass one of --owner or --tag")}
			}
			opt, err := l.options()
			if err != nil {
				return err
			}
			f := api.DeviceFilter{Tag: tag}
			if owner != "" {
				a, err := g.resolveAddress(owner)
				if err != nil {
					return err
				}
				f.Owner = a.Account()
			}
			page, err := g.client().Devices(cmd.Context(), f, opt)
			if err != nil {
				return err
			}
			return g.emit(page, func(w io.Writer) {
				if len(page.Items) == 0 {
					fmt.Fprintln(w, "no devices")
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATUS\tMODEL\tOWNER\tTAGS")
				for _, d := range page.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, d.Status, d.Model, d.Owner, strings.Join(d.Tags, ","))
				}
				tw.Flush()
				printNext(w, page.Next)
			})
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "owner: address or key name")
	c.Flags().StringVar(&tag, "tag", "", "tag")
	addListFlags(c, &l)
	return c
}
