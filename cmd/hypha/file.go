package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/blob"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

func init() {
	commands = append(commands, fileCmd)
}

func fileCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "file",
		Short: "Share files through the gateways: add, get, show, list, retire, grant",
		Long: `Share files through the network's gateways.

A file is stored by the gateways' blob stores under its CID (the IPFS
UnixFS CID of its bytes, computed here too: every upload and download is
checked against it). Its ledger record (file.publish) names the publisher,
size, name, media type and how many gateways should hold it; gateways
attest holding it with file.pin. Name, media type and size are public.

An encrypted file (add --encrypt) is stored as a STREAM of
ChaCha20-Poly1305 segments under a random content key, wrapped to the
publisher's and each recipient's published seal key (see msg publish-key);
its CID and size are those of the ciphertext.`,
	}
	c.AddCommand(fileAddCmd(g), fileGetCmd(g), fileShowCmd(g), fileListCmd(g), fileHoldersCmd(g),
		fileRetireCmd(g), fileGrantCmd(g))
	outFlagHint(c)
	return withRejections(g, group(c))
}

// outFlagHint makes the usage error of "-o PATH" (-o is the global
// --output) point at --out in the commands of c that write a file.
func outFlagHint(c *cobra.Command) {
	c.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		root := cmd.Root()
		if root.PersistentPreRunE == nil {
			return nil
		}
		err := root.PersistentPreRunE(cmd, args)
		if err != nil && cmd.Flags().Lookup("out") != nil {
			return usageError{fmt.Errorf("%w (-o is --output; name the file to write with --out PATH)", err)}
		}
		return err
	}
}

// localFile is a file to upload: open, with its size, name and media type.
type localFile struct {
	f         *os.File
	size      int64
	name      string
	mediaType string
}

// openLocal opens path for upload. name and mediaType default to the base
// name and the type by extension, else by content (the first 512 bytes).
func openLocal(path, name, mediaType string) (*localFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, usageError{fmt.Errorf("%s is not a regular file", path)}
	}
	lf := &localFile{f: f, size: fi.Size(), name: name, mediaType: mediaType}
	if lf.name == "" {
		lf.name = filepath.Base(path)
	}
	if lf.mediaType == "" {
		lf.mediaType = mime.TypeByExtension(filepath.Ext(path))
		if lf.mediaType == "" {
			head := make([]byte, 512)
			n, err := io.ReadFull(f, head)
			if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
				f.Close()
				return nil, err
			}
			lf.mediaType = http.DetectContentType(head[:n])
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				f.Close()
				return nil, err
			}
		}
		// The ledger takes a bare type/subtype.
		if mt, _, err := mime.ParseMediaType(lf.mediaType); err == nil {
			lf.mediaType = mt
		}
	}
	return lf, nil
}

// replicas picks the replica count: want, capped by the number of gateways
// (at least 1); a cap of an explicit --replicas is reported on stderr.
func (g *globals) replicas(ctx context.Context, want int, explicit bool) (uint8, error) {
	if want < 1 || want > txn.MaxReplicas {
		return 0, usageError{fmt.Errorf("--replicas must be within 1 and %d", txn.MaxReplicas)}
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	n := 0
	opt := api.ListOptions{}
	for n < want {
		page, err := g.client().Gateways(ctx, opt)
		if err != nil {
			return 0, err
		}
		n += len(page.Items)
		if page.Next == "" {
			break
		}
		opt.After = page.Next
	}
	got := max(1, min(want, n))
	if explicit && got < want {
		fmt.Fprintf(g.stderr, "warning: --replicas %d capped at %d: the network has %d gateway(s)\n", want, got, n)
	}
	return uint8(got), nil
}

// fileAddOutput is what file add prints.
type fileAddOutput struct {
	CID        string    `json:"cid"`
	Size       int64     `json:"size"`
	PlainSize  int64     `json:"plaintext_size,omitempty"`
	Name       string    `json:"name,omitempty"`
	MediaType  string    `json:"media_type,omitempty"`
	Replicas   uint8     `json:"replicas,omitempty"`
	Encrypted  bool      `json:"encrypted,omitempty"`
	Recipients []string  `json:"recipients,omitempty"`
	Tx         *txOutput `json:"tx,omitempty"`
}

// sealRecipient is one account or device a content key is wrapped to.
type sealRecipient struct {
	addr keys.Address
	pub  []byte
	name string
}

func fileAddCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, name, mediaType string
	var to []string
	var replicas int
	var encrypt, noPublish, quiet bool
	c := &cobra.Command{
		Use:   "add PATH --from KEY [--replicas N] [--name NAME] [--type MEDIA] [--encrypt [--to ADDR,...]] [--no-publish]",
		Short: "Upload a file to the gateway and publish its record (file.publish)",
		Long: `Stream PATH to the gateway of --node, computing its CID here from the same
bytes; a gateway that stores anything else is refused (ErrContentMismatch)
and nothing is published. Then sign and send file.publish with --from.

--replicas is how many gateways should hold the file (default 3, capped by
the number of gateways). --name defaults to the base name, --type to the
type by extension, else by content; both are public.

--encrypt uploads the file encrypted under a fresh content key, wrapped to
--from's own published seal key and to each --to recipient's (accounts or
devices; each must have published one, see msg publish-key). --no-publish
only uploads and prints the CID.`,
		Example: `  hypha file add report.pdf --from dev
  hypha file add secrets.tar --from dev --encrypt --to alice,thermo1`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !noPublish {
				if err := required("from", from); err != nil {
					return err
				}
				if err := f.check(); err != nil {
					return err
				}
			}
			if len(to) > 0 && !encrypt {
				return usageError{fmt.Errorf("--to goes with --encrypt")}
			}
			if encrypt && noPublish {
				return usageError{fmt.Errorf("--encrypt needs the record --no-publish leaves out: its wrapped keys")}
			}
			lf, err := openLocal(args[0], name, mediaType)
			if err != nil {
				return err
			}
			defer lf.f.Close()
			out := &fileAddOutput{Name: lf.name, MediaType: lf.mediaType, Encrypted: encrypt}

			// Everything that can fail before the upload does.
			var s txSigner
			var recips []sealRecipient
			var chainID string
			if !noPublish {
				if s, err = g.msgSigner(ctx, signerFlags{from: from}, f.passFile); err != nil {
					return err
				}
				if out.Replicas, err = g.replicas(ctx, replicas, cmd.Flags().Changed("replicas")); err != nil {
					return err
				}
			}
			if encrypt {
				if recips, chainID, err = g.fileRecipients(ctx, from, s.addr, to); err != nil {
					return err
				}
			}

			src, size := io.Reader(lf.f), lf.size
			var contentKey []byte
			if encrypt {
				if contentKey, err = seal.NewContentKey(rand.Reader); err != nil {
					return err
				}
				if src, err = seal.EncryptReader(rand.Reader, lf.f, contentKey); err != nil {
					return err
				}
				size = seal.CiphertextSize(lf.size)
				out.PlainSize = lf.size
			}
			bar := g.newTransferBar(quiet, "upload", size)
			c, n, err := g.uploadVerified(ctx, src, size, bar)
			bar.done()
			if err != nil {
				return err
			}
			out.CID, out.Size = c.String(), n
			if noPublish {
				out.Replicas = 0
				return g.emit(out, func(w io.Writer) {
					fmt.Fprintf(w, "uploaded %s (%d bytes, verified); not published\n", out.CID, out.Size)
				})
			}
			m := &txn.FilePublish{CID: c.Bytes(), Size: uint64(n), Name: lf.name, MediaType: lf.mediaType, Replicas: out.Replicas}
			if encrypt {
				m.Encrypted = &txn.Encryption{Scheme: txn.EncryptionStream}
				for _, r := range recips {
					wk, err := wrapKey(chainID, s.addr, r.addr, m.CID, contentKey, r.pub)
					if err != nil {
						return err
					}
					m.Encrypted.Keys = append(m.Encrypted.Keys, wk)
					out.Recipients = append(out.Recipients, r.name)
				}
			}
			if out.Tx, err = g.sendTx(ctx, &f, s, nil, m); err != nil {
				return fmt.Errorf("uploaded %s but did not publish it: %w", out.CID, err)
			}
			return g.emit(out, func(w io.Writer) { printFileAdd(w, out) })
		},
	}
	c.Flags().StringVar(&from, "from", "", "publisher key: signs and pays (a registered device's key publishes as the device)")
	c.Flags().IntVar(&replicas, "replicas", 3, "how many gateways should hold the file (capped by the number of gateways)")
	c.Flags().StringVar(&name, "name", "", "file name in the record (default: PATH's base name)")
	c.Flags().StringVar(&mediaType, "type", "", "media type in the record (default: by extension, else by content)")
	c.Flags().BoolVar(&encrypt, "encrypt", false, "encrypt under a fresh content key, wrapped to --from and each --to")
	c.Flags().StringSliceVar(&to, "to", nil, "with --encrypt: recipients (addresses, device ids or key names; repeatable or comma-separated)")
	c.Flags().BoolVar(&noPublish, "no-publish", false, "only upload, and print the CID")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	addTxFlags(c, &f)
	return c
}

// fileRecipients returns who an encrypted file's key is wrapped to: the
// publisher first (key from's seal key, which must be the one it
// published), then each of to with its published seal key; and the chain
// id the wrapping binds to.
func (g *globals) fileRecipients(ctx context.Context, from string, publisher keys.Address, to []string) ([]sealRecipient, string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	cl := g.client()
	st, err := cl.Status(ctx)
	if err != nil {
		return nil, "", err
	}
	e, err := g.lookupKey(from)
	if err != nil {
		return nil, "", err
	}
	if e.SealPublic == nil {
		return nil, "", fmt.Errorf("key %q has no seal key to read its own file with: make one with: hypha msg keygen %s && hypha msg publish-key --from %s",
			from, from, from)
	}
	pub, who, err := publishedSealKey(ctx, cl, publisher)
	if err != nil {
		return nil, "", err
	}
	switch {
	case pub == nil:
		return nil, "", errs.ErrNoSealKey.Wrap("%s (key %q) has published no seal key, and the file's key is wrapped to it: run hypha msg publish-key --from %s",
			who, from, from)
	case !slices.Equal(pub, e.SealPublic):
		return nil, "", fmt.Errorf("the seal key of %q in the keyring (%x) is not the one %s published (%x): run hypha msg publish-key --from %s",
			from, e.SealPublic, who, []byte(pub), from)
	}
	out := []sealRecipient{{addr: publisher, pub: pub, name: who}}
	for _, s := range to {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		a, err := g.resolveAddress(s)
		if err != nil {
			return nil, "", err
		}
		if slices.ContainsFunc(out, func(r sealRecipient) bool { return r.addr == a }) {
			continue
		}
		pub, who, err := publishedSealKey(ctx, cl, a)
		if err != nil {
			return nil, "", err
		}
		if pub == nil {
			return nil, "", errs.ErrNoSealKey.Wrap("recipient %s has published no seal key (it can with: hypha msg publish-key)", who)
		}
		out = append(out, sealRecipient{addr: a, pub: pub, name: who})
	}
	if len(out) > txn.MaxFileRecipients {
		return nil, "", usageError{fmt.Errorf("%d recipients: at most %d, the publisher included", len(out), txn.MaxFileRecipients)}
	}
	return out, st.ChainID, nil
}

func printFileAdd(w io.Writer, o *fileAddOutput) {
	printTx(w, o.Tx, "published file "+o.CID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  cid\t%s\n", o.CID)
	if o.Encrypted {
		fmt.Fprintf(tw, "  size\t%d bytes encrypted (%d of plaintext)\n", o.Size, o.PlainSize)
		fmt.Fprintf(tw, "  readers\t%s\n", strings.Join(o.Recipients, ", "))
	} else {
		fmt.Fprintf(tw, "  size\t%d bytes\n", o.Size)
	}
	fmt.Fprintf(tw, "  name\t%s (%s)\n", o.Name, o.MediaType)
	fmt.Fprintf(tw, "  replicas\t%d wanted\n", o.Replicas)
	tw.Flush()
}

// parseCIDArg reads a CID argument.
func parseCIDArg(s string) (cid.Cid, error) {
	c, err := blob.ParseCID(s)
	if err != nil {
		return cid.Undef, err
	}
	if err := txn.CheckCID(c.Bytes()); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

func fileGetCmd(g *globals) *cobra.Command {
	var o fetchOptions
	var as string
	var noResume bool
	c := &cobra.Command{
		Use:   "get CID --out PATH [--from KEY] [--no-resume]",
		Short: "Download a file, resuming and verifying it against its CID; decrypt it with --from",
		Long: `Download the file CID into PATH.partial, resuming from what is there (a
Range request), then check the whole file against the CID: the bytes already
there and the new ones are hashed in one pass. A verified file is renamed to
PATH; one that does not match is removed (ErrContentMismatch).

An encrypted file needs --from: the key whose seal key opens the content
key wrapped for its address (or for --as). The ciphertext is verified first,
then decrypted into PATH; PATH never holds unauthenticated plaintext.
--raw saves the ciphertext instead.`,
		Example: `  hypha file get bafybei… --out report.pdf
  hypha file get bafybei… --out secrets.tar --from alice`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("out", o.out); err != nil {
				return err
			}
			if o.raw && o.keyName != "" {
				return usageError{fmt.Errorf("--raw saves the ciphertext: it does not go with --from")}
			}
			c, err := parseCIDArg(args[0])
			if err != nil {
				return err
			}
			o.fresh = noResume
			o.recipient = as
			if o.recipient == "" {
				o.recipient = o.keyName
			}
			got, err := g.fetchFile(cmd.Context(), c, o)
			if err != nil {
				return err
			}
			return g.emit(got, func(w io.Writer) { printFetched(w, got) })
		},
	}
	c.Flags().StringVar(&o.out, "out", "", "file to write (required); bytes collect in PATH.partial until verified")
	c.Flags().StringVar(&o.keyName, "from", "", "key whose seal key decrypts an encrypted file")
	c.Flags().StringVar(&as, "as", "", "with --from: the recipient whose wrapped key to open (default: --from's address)")
	c.Flags().BoolVar(&noResume, "no-resume", false, "discard PATH.partial and download from the start")
	c.Flags().BoolVar(&o.raw, "raw", false, "save an encrypted file's ciphertext, without decrypting")
	c.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar")
	passphraseFlag(c, &o.passFile)
	return c
}

func fileShowCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:     "show CID",
		Short:   "Show a file's ledger record",
		Example: "  hypha file show bafybei… --prove --output json",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := q.options()
			if err != nil {
				return err
			}
			c, err := parseCIDArg(args[0])
			if err != nil {
				return err
			}
			f, err := g.client().File(cmd.Context(), c.String(), opt)
			if err != nil {
				return notFound(err, "no file %s is published", c)
			}
			return g.emit(f, func(w io.Writer) { printFile(w, f) })
		},
	}
	addQueryFlags(c, &q)
	return c
}

func printFile(w io.Writer, f *api.File) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", f.CID)
	fmt.Fprintf(tw, "size\t%d bytes\n", f.Size)
	if f.Name != "" || f.MediaType != "" {
		fmt.Fprintf(tw, "name\t%s (%s)\n", f.Name, f.MediaType)
	}
	fmt.Fprintf(tw, "publisher\t%s\n", f.Publisher)
	fmt.Fprintf(tw, "published\tat height %d (tx %s)\n", f.Published, f.TxHash)
	fmt.Fprintf(tw, "replicas\t%d held of %d wanted\n", f.Holders, f.Replicas)
	if f.Retired != 0 {
		fmt.Fprintf(tw, "retired\tat height %d\n", f.Retired)
	}
	if e := f.Encryption; e != nil {
		var who []string
		for _, k := range e.Keys {
			who = append(who, k.Recipient)
		}
		fmt.Fprintf(tw, "encrypted\t%s, readers: %s\n", e.Scheme, strings.Join(who, ", "))
	}
	tw.Flush()
	printProof(w, f.Proof)
}

func fileListCmd(g *globals) *cobra.Command {
	var l listFlags
	var publisher string
	var wanted bool
	c := &cobra.Command{
		Use:   "ls (--publisher ADDR | --wanted)",
		Short: "List a publisher's files, or the files that lack replicas",
		Example: `  hypha file ls --publisher dev
  hypha file ls --wanted`,
		Aliases: []string{"list"},
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (publisher == "") == !wanted {
				return usageError{fmt.Errorf("pass one of --publisher or --wanted")}
			}
			opt, err := l.options()
			if err != nil {
				return err
			}
			pub := ""
			if publisher != "" {
				a, err := g.resolveAddress(publisher)
				if err != nil {
					return err
				}
				pub = a.Account()
			}
			page, err := g.client().Files(cmd.Context(), pub, wanted, opt)
			if err != nil {
				return err
			}
			return g.emit(page, func(w io.Writer) {
				if len(page.Items) == 0 {
					fmt.Fprintln(w, "no files")
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CID\tSIZE\tHELD\tNAME\tPUBLISHER\tFLAGS")
				for _, f := range page.Items {
					var flags []string
					if f.Encryption != nil {
						flags = append(flags, "encrypted")
					}
					if f.Retired != 0 {
						flags = append(flags, "retired")
					}
					fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%s\t%s\t%s\n", f.CID, f.Size, f.Holders, f.Replicas, f.Name, f.Publisher,
						strings.Join(flags, ","))
				}
				tw.Flush()
				printNext(w, page.Next)
			})
		},
	}
	c.Flags().StringVar(&publisher, "publisher", "", "publisher: address or key name")
	c.Flags().BoolVar(&wanted, "wanted", false, "files with fewer holders than replicas wanted")
	addListFlags(c, &l)
	return c
}

func fileHoldersCmd(g *globals) *cobra.Command {
	var l listFlags
	c := &cobra.Command{
		Use:     "holders CID",
		Short:   "List the gateways that attested holding a file",
		Example: "  hypha file holders bafybei…",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := l.options()
			if err != nil {
				return err
			}
			c, err := parseCIDArg(args[0])
			if err != nil {
				return err
			}
			page, err := g.client().Holders(cmd.Context(), c.String(), opt)
			if err != nil {
				return notFound(err, "no file %s is published", c)
			}
			return g.emit(page, func(w io.Writer) {
				if len(page.Items) == 0 {
					fmt.Fprintln(w, "no gateway has attested holding it yet")
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "GATEWAY\tHEIGHT\tTX")
				for _, p := range page.Items {
					fmt.Fprintf(tw, "%s\t%d\t%s\n", p.Gateway, p.Height, p.TxHash)
				}
				tw.Flush()
				printNext(w, page.Next)
			})
		},
	}
	addListFlags(c, &l)
	return c
}

func fileRetireCmd(g *globals) *cobra.Command {
	var f txFlags
	var from string
	c := &cobra.Command{
		Use:   "retire CID --from KEY",
		Short: "Retire a file you published: no replicas are wanted any more (file.unpin)",
		Long: `Retire a file, signed by its publisher (file.unpin): no replicas are wanted
any more and gateways may drop it. The record stays, marked retired.`,
		Example: "  hypha file retire bafybei… --from dev",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			c, err := parseCIDArg(args[0])
			if err != nil {
				return err
			}
			s, err := g.msgSigner(cmd.Context(), signerFlags{from: from}, f.passFile)
			if err != nil {
				return err
			}
			out, err := g.sendTx(cmd.Context(), &f, s, nil, &txn.FileUnpin{CID: c.Bytes()})
			if err != nil {
				return err
			}
			return g.emit(out, func(w io.Writer) { printTx(w, out, "retired file "+c.String()) })
		},
	}
	c.Flags().StringVar(&from, "from", "", "the publisher's key (signs)")
	addTxFlags(c, &f)
	return c
}

func fileGrantCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, to string
	c := &cobra.Command{
		Use:   "grant CID --from KEY --to ADDR",
		Short: "Let another account or device read an encrypted file you published (file.grant)",
		Long: `Unwrap the file's content key with --from's seal key and wrap it to the
published seal key of --to (an account or device), signed by --from, the
publisher. A grant cannot be taken back from whoever already read the key.`,
		Example: "  hypha file grant bafybei… --from dev --to bob",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from, "to", to); err != nil {
				return err
			}
			c, err := parseCIDArg(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			recipient, err := g.resolveAddress(to)
			if err != nil {
				return err
			}
			s, err := g.msgSigner(ctx, signerFlags{from: from}, f.passFile)
			if err != nil {
				return err
			}
			m, who, err := g.grantMsg(ctx, c, from, f.passFile, s.addr, recipient)
			if err != nil {
				return err
			}
			out, err := g.sendTx(ctx, &f, s, nil, m)
			if err != nil {
				return err
			}
			return g.emit(out, func(w io.Writer) { printTx(w, out, fmt.Sprintf("granted %s the key of %s", who, c)) })
		},
	}
	c.Flags().StringVar(&from, "from", "", "the publisher's key: signs, and its seal key unwraps the content key")
	c.Flags().StringVar(&to, "to", "", "reader to add: address, device id or key name")
	addTxFlags(c, &f)
	return c
}

// grantMsg builds the file.grant of c's content key to recipient: the key
// unwrapped for signer with key name's seal key, wrapped anew.
func (g *globals) grantMsg(ctx context.Context, c cid.Cid, name, passFile string, signer, recipient keys.Address) (*txn.FileGrant, string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	cl := g.client()
	rec, err := cl.File(ctx, c.String(), nil)
	if err != nil {
		return nil, "", notFound(err, "no file %s is published", c)
	}
	if rec.Encryption == nil {
		return nil, "", errs.ErrInvalidMsg.Wrap("%s is not encrypted: anyone can read it", c)
	}
	pub, _, err := keys.ParseAddress(rec.Publisher)
	if err != nil {
		return nil, "", fmt.Errorf("file %s: publisher %q: %w", c, rec.Publisher, err)
	}
	if pub != signer {
		return nil, "", errs.ErrUnauthorized.Wrap("only the publisher %s grants keys to %s, not %s", rec.Publisher, c, signer)
	}
	st, err := cl.Status(ctx)
	if err != nil {
		return nil, "", err
	}
	key, err := g.contentKey(rec, st.ChainID, name, passFile, signer)
	if err != nil {
		return nil, "", err
	}
	sealPub, who, err := publishedSealKey(ctx, cl, recipient)
	if err != nil {
		return nil, "", err
	}
	if sealPub == nil {
		return nil, "", errs.ErrNoSealKey.Wrap("%s has published no seal key (it can with: hypha msg publish-key)", who)
	}
	// Bind to the record's CID bytes, as the publisher's wrapping did.
	rc, err := blob.ParseCID(rec.CID)
	if err != nil {
		return nil, "", err
	}
	wk, err := wrapKey(st.ChainID, pub, recipient, rc.Bytes(), key, sealPub)
	if err != nil {
		return nil, "", err
	}
	return &txn.FileGrant{CID: rc.Bytes(), Key: wk}, who, nil
}
