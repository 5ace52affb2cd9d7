package api

import (
	"testing"

	"github.com/hypha-iot/hypha/errs"
)

// TestStatusTableComplete: every errs class and every edge class has an
// HTTP status, and edge codes do not collide with ledger codes.
func TestStatusTableComplete(t *testing.T) {
	for _, c := range errs.All() {
		s, ok := statusOf[c]
		if !ok {
			t.Errorf("%s (code %d) has no HTTP status", c.Name, c.Code)
			continue
		}
		if s < 400 || s > 599 {
			t.Errorf("%s maps to %d, not an error status", c.Name, s)
		}
	}
	for _, c := range edgeClasses {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("edge class %s has no HTTP status", c.Name)
		}
		if errs.ByCode(c.Code) != nil {
			t.Errorf("edge class %s code %d collides with a ledger class", c.Name, c.Code)
		}
	}
	if got := len(statusOf); got != len(errs.All())+len(edgeClasses) {
		t.Errorf("table has %d entries, want %d (a class outside errs.All and the edge classes?)", got, len(errs.All())+len(edgeClasses))
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	bad := []Config{
		{MaxBodyBytes: 1024},
		{SubmitTimeout: 90e9, MaxSubmitTimeout: 60e9},
		{ReadHeaderTimeout: 10e9, ReadTimeout: 5e9},
		{WriteTimeout: -1},
	}
	for i, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("config %d: no error", i)
		}
	}
}

func TestDecodeSenML(t *testing.T) {
	// [{0: "temp", 2: 21}, {-2: "dev/", 0: "h", 2: 1.5, 8: h'0102'}]
	b := []byte{0x82, 0xa2, 0x00, 0x64, 't', 'e', 'm', 'p', 0x02, 0x15,
		0xa4, 0x21, 0x64, 'd', 'e', 'v', '/', 0x00, 0x61, 'h', 0x02, 0xf9, 0x3e, 0x00, 0x08, 0x42, 0x01, 0x02}
	got := decodeSenML(b)
	if len(got) != 2 || got[0]["n"] != "temp" || got[0]["v"] != int64(21) || got[1]["bn"] != "dev/" ||
		got[1]["v"] != 1.5 || got[1]["vd"] != "AQI" {
		t.Fatalf("decodeSenML = %#v", got)
	}
	for _, bad := range [][]byte{nil, {0xff}, {0x80}, {0x81, 0x01}} {
		if got := decodeSenML(bad); got != nil {
			t.Errorf("decodeSenML(%x) = %v, want nil", bad, got)
		}
	}
}
