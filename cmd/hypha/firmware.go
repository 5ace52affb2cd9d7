package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

func init() {
	commands = append(commands, firmwareCmd)
}

func firmwareCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "firmware",
		Short: "Publish, find and install firmware releases of device models",
		Long: `Publish, find and install firmware releases.

A manufacturer claims a device model (register-model; first come, first
served) and alone publishes its releases: semantic versions, each above the
last, each naming the CID of its image (a published file). A device
installs a release of its own model by downloading the image, checking it
against the CID, and reporting the version it now runs (firmware.report,
signed by the device): the report updates its record and history.`,
	}
	c.AddCommand(firmwareRegisterCmd(g), firmwarePublishCmd(g), firmwareShowCmd(g), firmwareLatestCmd(g),
		firmwareReleasesCmd(g), firmwareInstallCmd(g), firmwareReportCmd(g))
	outFlagHint(c)
	return withRejections(g, group(c))
}

// checkVersion reads a release version as a usage error.
func checkVersion(v string) error {
	if err := txn.CheckVersion(v); err != nil {
		hint := ""
		if strings.HasPrefix(v, "v") {
			hint = " (without the leading v)"
		}
		return usageError{fmt.Errorf("--version %q: want a semantic version MAJOR.MINOR.PATCH%s", v, hint)}
	}
	return nil
}

func firmwareRegisterCmd(g *globals) *cobra.Command {
	var f txFlags
	var from string
	c := &cobra.Command{
		Use:     "register-model MODEL --from KEY",
		Short:   "Claim a device model: --from becomes its manufacturer, the only one who publishes its releases",
		Example: "  hypha firmware register-model thermo-v1 --from acme",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			out, err := g.sendTx(cmd.Context(), &f, s, nil, &txn.FirmwareRegisterModel{Model: args[0]})
			if err != nil {
				return err
			}
			return g.emit(out, func(w io.Writer) { printTx(w, out, fmt.Sprintf("registered model %q to %s", args[0], s.addr)) })
		},
	}
	c.Flags().StringVar(&from, "from", "", "the manufacturer's key (signs)")
	addTxFlags(c, &f)
	return c
}

// firmwarePublishOutput is what firmware publish prints.
type firmwarePublishOutput struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	CID     string `json:"cid"`
	Size    int64  `json:"size"`
	// Reused is set when the image was already published: only the
	// release was sent.
	Reused bool      `json:"reused_file,omitempty"`
	Tx     *txOutput `json:"tx"`
}

func firmwarePublishCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, model, version, notes string
	var replicas int
	var quiet bool
	c := &cobra.Command{
		Use:   "publish PATH --from KEY --model M --version V [--notes TEXT] [--replicas N]",
		Short: "Upload a firmware image and publish it as a release of a model, in one tx",
		Long: `Upload the image at PATH (as file add does, checked against its CID), then
send one tx with file.publish and firmware.release, signed by the model's
manufacturer. An image already published is not published again. The
version must be above the model's latest release.`,
		Example: `  hypha firmware publish thermo-1.2.0.bin --from acme --model thermo-v1 --version 1.2.0 --notes "fixes drift"`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from, "model", model, "version", version); err != nil {
				return err
			}
			if err := checkVersion(version); err != nil {
				return err
			}
			if err := f.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			if err := g.checkManufacturer(ctx, model, version, s.addr); err != nil {
				return err
			}
			lf, err := openLocal(args[0], "", "")
			if err != nil {
				return err
			}
			defer lf.f.Close()
			reps, err := g.replicas(ctx, replicas, cmd.Flags().Changed("replicas"))
			if err != nil {
				return err
			}
			bar := g.newTransferBar(quiet, "upload", lf.size)
			c, n, err := g.uploadVerified(ctx, lf.f, lf.size, bar)
			bar.done()
			if err != nil {
				return err
			}
			out := &firmwarePublishOutput{Model: model, Version: version, CID: c.String(), Size: n}
			var msgs []txn.Msg
			qctx, cancel := context.WithTimeout(ctx, apiTimeout)
			rec, err := g.client().File(qctx, c.String(), nil)
			cancel()
			switch {
			case err == nil && rec.Retired != 0:
				return errs.ErrInvalidMsg.Wrap("image %s was published and retired at height %d: it cannot be released", c, rec.Retired)
			case err == nil:
				out.Reused = true
			case errors.Is(err, errs.ErrNotFound):
				msgs = append(msgs, &txn.FilePublish{CID: c.Bytes(), Size: uint64(n), Name: lf.name, MediaType: lf.mediaType, Replicas: reps})
			default:
				return err
			}
			msgs = append(msgs, &txn.FirmwareRelease{Model: model, Version: version, CID: c.Bytes(), Notes: notes})
			if out.Tx, err = g.sendTx(ctx, &f, s, nil, msgs...); err != nil {
				return err
			}
			return g.emit(out, func(w io.Writer) {
				printTx(w, out.Tx, fmt.Sprintf("released %s %s", model, version))
				fmt.Fprintf(w, "  image  %s (%d bytes)\n", out.CID, out.Size)
				if out.Reused {
					fmt.Fprintln(w, "  the image was already published; only the release was sent")
				}
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "the model's manufacturer (signs)")
	c.Flags().StringVar(&model, "model", "", "device model (required)")
	c.Flags().StringVar(&version, "version", "", "semantic version MAJOR.MINOR.PATCH, above the latest (required)")
	c.Flags().StringVar(&notes, "notes", "", "release notes (at most 1024 bytes)")
	c.Flags().IntVar(&replicas, "replicas", 3, "how many gateways should hold the image (capped by the number of gateways)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	addTxFlags(c, &f)
	return c
}

// checkManufacturer refuses, before any upload, a release the ledger would
// refuse: of an unregistered model, by someone other than its
// manufacturer, or not above its latest version.
func (g *globals) checkManufacturer(ctx context.Context, model, version string, signer keys.Address) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	m, err := g.client().Model(ctx, model, nil)
	if err != nil {
		if errors.Is(err, errs.ErrUnknownModel) {
			return errs.ErrUnknownModel.Wrap("model %q has no manufacturer: register it first (hypha firmware register-model %s --from KEY)", model, model)
		}
		return err
	}
	if a, _, err := keys.ParseAddress(m.Manufacturer); err != nil || a != signer {
		return errs.ErrNotManufacturer.Wrap("%s is not the manufacturer of %q (%s is)", signer, model, m.Manufacturer)
	}
	if m.Releases > 0 && txn.CompareVersions(version, m.Latest) <= 0 {
		return errs.ErrVersionNotNewer.Wrap("version %s of %q; latest is %s", version, model, m.Latest)
	}
	return nil
}

func firmwareShowCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:     "show MODEL",
		Short:   "Show a model's manufacturer and latest version",
		Example: "  hypha firmware show thermo-v1",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := q.options()
			if err != nil {
				return err
			}
			m, err := g.client().Model(cmd.Context(), args[0], opt)
			if err != nil {
				return err
			}
			return g.emit(m, func(w io.Writer) {
				fmt.Fprintf(w, "model %s\n  manufacturer  %s (since height %d)\n  releases      %d", m.Model, m.Manufacturer, m.Registered, m.Releases)
				if m.Latest != "" {
					fmt.Fprintf(w, ", latest %s", m.Latest)
				}
				fmt.Fprintln(w)
				printProof(w, m.Proof)
			})
		},
	}
	addQueryFlags(c, &q)
	return c
}

func firmwareLatestCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:     "latest MODEL",
		Short:   "Show a model's latest firmware release",
		Example: "  hypha firmware latest thermo-v1 --output json",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := q.options()
			if err != nil {
				return err
			}
			r, err := g.client().LatestRelease(cmd.Context(), args[0], opt)
			if err != nil {
				return notFound(err, "model %q has no release (or no manufacturer)", args[0])
			}
			return g.emit(r, func(w io.Writer) { printRelease(w, r) })
		},
	}
	addQueryFlags(c, &q)
	return c
}

func printRelease(w io.Writer, r *api.Release) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "release\t%s %s\n", r.Model, r.Version)
	fmt.Fprintf(tw, "image\t%s (%d bytes)\n", r.CID, r.Size)
	fmt.Fprintf(tw, "manufacturer\t%s\n", r.Manufacturer)
	fmt.Fprintf(tw, "published\tat height %d, %s (tx %s)\n", r.Height, r.Time.Format(time.RFC3339), r.TxHash)
	if r.Notes != "" {
		fmt.Fprintf(tw, "notes\t%s\n", r.Notes)
	}
	tw.Flush()
	printProof(w, r.Proof)
}

func firmwareReleasesCmd(g *globals) *cobra.Command {
	var l listFlags
	c := &cobra.Command{
		Use:     "releases MODEL",
		Short:   "List a model's firmware releases, oldest first",
		Example: "  hypha firmware releases thermo-v1",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := l.options()
			if err != nil {
				return err
			}
			page, err := g.client().Releases(cmd.Context(), args[0], opt)
			if err != nil {
				return err
			}
			return g.emit(page, func(w io.Writer) {
				if len(page.Items) == 0 {
					fmt.Fprintln(w, "no releases")
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tHEIGHT\tSIZE\tCID\tNOTES")
				for _, r := range page.Items {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Version, r.Height, r.Size, r.CID, r.Notes)
				}
				tw.Flush()
				printNext(w, page.Next)
			})
		},
	}
	addListFlags(c, &l)
	return c
}

// deviceKeyFlags are --device-key and --device of device-signed commands.
type deviceKeyFlags struct {
	key, device string
}

func addDeviceKeyFlags(c *cobra.Command, d *deviceKeyFlags) {
	c.Flags().StringVar(&d.key, "device-key", "", "the device's current key (signs the report)")
	c.Flags().StringVar(&d.device, "device", "", "device id (default: the address of --device-key; needed after a key rotation)")
}

// id is the device the flags name.
func (g *globals) deviceID(d deviceKeyFlags) (keys.Address, error) {
	if d.device != "" {
		return g.resolveAddress(d.device)
	}
	e, err := g.lookupKey(d.key)
	if err != nil {
		return keys.Address{}, err
	}
	return e.Public.Address(), nil
}

// firmwareInstallOutput is what firmware install prints.
type firmwareInstallOutput struct {
	Device  string `json:"device"`
	Model   string `json:"model"`
	Version string `json:"version"`
	// Previous is the version the device reported before.
	Previous string    `json:"previous,omitempty"`
	Image    *fetched  `json:"image"`
	Report   *txOutput `json:"report"`
}

func firmwareInstallCmd(g *globals) *cobra.Command {
	var f txFlags
	var d deviceKeyFlags
	var version string
	var noResume, quiet bool
	var o fetchOptions
	c := &cobra.Command{
		Use:   "install --device-key KEY [--device ID] --out PATH [--version V]",
		Short: "Download a release of the device's model, verify it, and report it as installed",
		Long: `Read the device's model from its record, find the release (--version, or
the latest), download its image to PATH (resuming PATH.partial, checked
against the release's CID; an encrypted image is decrypted with the
device's seal key), then send firmware.report signed by the device. An
image that does not verify is removed and nothing is reported.

Flashing PATH is the device's business: run this where the image is
installed, or report later with firmware install-report.`,
		Example: "  hypha firmware install --device-key thermo1 --out /tmp/fw.bin",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("device-key", d.key, "out", o.out); err != nil {
				return err
			}
			if version != "" {
				if err := checkVersion(version); err != nil {
					return err
				}
			}
			if err := f.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			id, err := g.deviceID(d)
			if err != nil {
				return err
			}
			// Unlock before the download: a wrong passphrase should not
			// cost one.
			s, err := g.deviceSigner(d.key, f.passFile, id)
			if err != nil {
				return err
			}
			qctx, cancel := context.WithTimeout(ctx, apiTimeout)
			defer cancel()
			cl := g.client()
			dev, err := cl.Device(qctx, id.Device(), nil)
			if err != nil {
				return notFound(err, "no device %s is registered", id.Device())
			}
			var rel *api.Release
			if version == "" {
				rel, err = cl.LatestRelease(qctx, dev.Model, nil)
				err = notFound(err, "model %q of %s has no release yet", dev.Model, id.Device())
			} else {
				rel, err = cl.Release(qctx, dev.Model, version, nil)
				err = notFound(err, "model %q of %s has no release %s", dev.Model, id.Device(), version)
			}
			if err != nil {
				return err
			}
			cancel()
			c, err := parseCIDArg(rel.CID)
			if err != nil {
				return fmt.Errorf("release %s %s: %w", rel.Model, rel.Version, err)
			}
			o.fresh, o.keyName, o.recipient, o.passFile, o.quiet = noResume, d.key, id.Account(), f.passFile, quiet
			img, err := g.fetchFile(ctx, c, o)
			if err != nil {
				return err
			}
			out := &firmwareInstallOutput{Device: id.Device(), Model: dev.Model, Version: rel.Version, Previous: dev.Firmware, Image: img}
			if out.Report, err = g.sendTx(ctx, &f, s, nil, &txn.FirmwareReport{Version: rel.Version, CID: c.Bytes()}); err != nil {
				return fmt.Errorf("saved and verified %s %s at %s, but the report failed (retry with: hypha firmware install-report --version %s --cid %s): %w",
					rel.Model, rel.Version, img.Path, rel.Version, c, err)
			}
			out.Report.Device = id.Device()
			return g.emit(out, func(w io.Writer) {
				printFetched(w, img)
				printTx(w, out.Report, fmt.Sprintf("reported %s running %s %s", id.Device(), rel.Model, rel.Version))
				if out.Previous != "" && out.Previous != rel.Version {
					fmt.Fprintf(w, "  previous firmware %s\n", out.Previous)
				}
			})
		},
	}
	addDeviceKeyFlags(c, &d)
	c.Flags().StringVar(&o.out, "out", "", "file to write the image to (required); bytes collect in PATH.partial until verified")
	c.Flags().StringVar(&version, "version", "", "release to install (default: the latest)")
	c.Flags().BoolVar(&noResume, "no-resume", false, "discard PATH.partial and download from the start")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	addTxFlags(c, &f)
	return c
}

func firmwareReportCmd(g *globals) *cobra.Command {
	var f txFlags
	var d deviceKeyFlags
	var version, cidArg string
	c := &cobra.Command{
		Use:     "install-report --device-key KEY [--device ID] --version V --cid CID",
		Short:   "Report, signed by the device, that it runs a release of its model (firmware.report)",
		Example: "  hypha firmware install-report --device-key thermo1 --version 1.2.0 --cid bafybei…",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required("device-key", d.key, "version", version, "cid", cidArg); err != nil {
				return err
			}
			if err := checkVersion(version); err != nil {
				return err
			}
			c, err := parseCIDArg(cidArg)
			if err != nil {
				return err
			}
			id, err := g.deviceID(d)
			if err != nil {
				return err
			}
			s, err := g.deviceSigner(d.key, f.passFile, id)
			if err != nil {
				return err
			}
			return g.deviceTx(cmd.Context(), &f, s, nil, id, "reported firmware "+version+" on device",
				&txn.FirmwareReport{Version: version, CID: c.Bytes()})
		},
	}
	addDeviceKeyFlags(c, &d)
	c.Flags().StringVar(&version, "version", "", "the release's version (required)")
	c.Flags().StringVar(&cidArg, "cid", "", "the release's image CID (required)")
	addTxFlags(c, &f)
	return c
}
