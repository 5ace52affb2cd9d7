package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/blob"
)

// benchFilesCmd is `hypha bench files`: the blob store's figures beside
// their physical limits on this machine, measured in the same run.
func benchFilesCmd(g *globals) *cobra.Command {
	var size int64
	var dir string
	c := &cobra.Command{
		Use:   "files",
		Short: "Measure file import and gateway-to-gateway transfer against SHA-256 and a loopback TCP copy",
		Long: `Start two blob stores (libp2p, bitswap, pebble) on 127.0.0.1 in this process and
measure, in one run: SHA-256 throughput (the hashing ceiling), import of a
--size file into a store (chunk, hash, write) against it, io.Copy over a
loopback TCP socket (the network ceiling), the transfer of that file from one
store to the other against it, the median time to first byte of a file only
the other store holds, and the most Go heap in use while the file moves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if size <= 0 {
				return usageError{fmt.Errorf("--size must be positive")}
			}
			if dir == "" {
				dir = os.TempDir()
			}
			logf := func(format string, args ...any) { fmt.Fprintf(g.stderr, format+"\n", args...) }
			rep, err := blob.MeasureTransfer(cmd.Context(), dir, size, logf)
			if err != nil {
				return err
			}
			return g.emit(rep, func(w io.Writer) { printFileBench(w, &rep) })
		},
	}
	c.Flags().Int64Var(&size, "size", 256<<20, "bytes of the file moved")
	c.Flags().StringVar(&dir, "dir", "", "directory for the two stores (default: the system temp dir)")
	return c
}

func printFileBench(w io.Writer, r *blob.TransferReport) {
	fmt.Fprintf(w, "file of %d MiB, two gateways on 127.0.0.1, one process\n\n", r.Size>>20)
	fmt.Fprintf(w, "  SHA-256 (baseline)          %8.1f MiB/s\n", r.SHA256MiBps)
	fmt.Fprintf(w, "  import (chunk+hash+store)   %8.1f MiB/s   %.2f× SHA-256\n", r.ImportMiBps, r.ImportVsSHA256)
	fmt.Fprintf(w, "  loopback TCP io.Copy (base) %8.1f MiB/s\n", r.TCPMiBps)
	fmt.Fprintf(w, "  one libp2p stream (PSK)     %8.1f MiB/s   (the private network's cipher ceiling)\n", r.StreamMiBps)
	fmt.Fprintf(w, "  gateway→gateway transfer    %8.1f MiB/s   %.2f× TCP (goal ≥ 0.30×), %.2f× the libp2p stream\n",
		r.TransferMiBps, r.TransferVsTCP, r.TransferVsStream)
	fmt.Fprintf(w, "  same, open network (QUIC)   %8.1f MiB/s   %.2f× TCP (blob_psk = \"\")\n", r.QUICTransferMiBps, r.QUICTransferVsTCP)
	fmt.Fprintf(w, "  time to first byte, p50     %8s   (%d opens of a file only the other gateway holds)\n",
		r.TTFBP50.Round(10*time.Microsecond), r.TTFBSamples)
	fmt.Fprintf(w, "  Go heap in use during move  %8.1f MiB peak (%.1f MiB before)\n",
		float64(r.PeakHeapBytes)/(1<<20), float64(r.BaseHeapBytes)/(1<<20))
}
