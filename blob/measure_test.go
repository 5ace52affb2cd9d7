package blob

import (
	"context"
	"testing"
)

func TestMeasureTransfer(t *testing.T) {
	rep, err := MeasureTransfer(context.Background(), t.TempDir(), 16<<20, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SHA256MiBps <= 0 || rep.ImportMiBps <= 0 || rep.TCPMiBps <= 0 || rep.StreamMiBps <= 0 || rep.TransferMiBps <= 0 ||
		rep.TTFBP50 <= 0 || rep.PeakHeapBytes == 0 || rep.TTFBSamples != 20 {
		t.Errorf("incomplete report: %+v", rep)
	}
	t.Logf("%+v", rep)
}
