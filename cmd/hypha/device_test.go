package main

import (
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/api"
)

func testDevice(t *testing.T, tn *testNode) {
	id := strings.TrimSpace(tn.run(t, "keys", "show", "thermo", "--device"))
	dev := strings.TrimSpace(tn.run(t, "keys", "show", "dev", "--address"))

	var out txOutput
	tn.json(t, &out, "device", "register", "--from", "dev", "--device-key", "thermo", "--model", "thermo-v1",
		"--firmware", "1.0.0", "--tag", "cold", "--tag", "site-4", "--lat", "52.52", "--lon", "13.405")
	if out.Device != id || out.Result == nil || out.Result.Code != 0 {
		t.Fatalf("register: %+v", out)
	}
	// Registering twice is refused by the ledger.
	tn.fail(t, exitRejected, "ErrDeviceExists", "device", "register", "--from", "dev", "--device-key", "thermo", "--model", "x")

	// Read back, in JSON…
	d := deviceRecord(t, tn)
	if d.ID != id || d.Owner != dev || d.Model != "thermo-v1" || d.Firmware != "1.0.0" || d.Status != "active" ||
		strings.Join(d.Tags, ",") != "cold,site-4" || d.Location == nil || d.Location.LatE7 != 525_200_000 ||
		d.Location.LonE7 != 134_050_000 || len(d.SealKey) != 32 {
		t.Errorf("device: %+v", d)
	}
	// … and in text, by id.
	text := tn.run(t, "device", "show", id)
	for _, want := range []string{"device    " + id, "status    active", "owner     " + dev, "thermo-v1, firmware 1.0.0", "cold, site-4", "52.5200000, 13.4050000"} {
		if !strings.Contains(text, want) {
			t.Errorf("device show text lacks %q:\n%s", want, text)
		}
	}
	// The device's own account was funded for its fees.
	if got := balance(t, tn, id); got != defaultDeviceFunds {
		t.Errorf("device account holds %d, want %d", got, defaultDeviceFunds)
	}

	// Lists by owner and by tag.
	var page api.Page[*api.Device]
	tn.json(t, &page, "device", "list", "--owner", "dev")
	if len(page.Items) != 1 || page.Items[0].ID != id {
		t.Errorf("list by owner: %+v", page)
	}
	tn.json(t, &page, "device", "list", "--tag", "site-4")
	if len(page.Items) != 1 {
		t.Errorf("list by tag: %+v", page)
	}
	if text := tn.run(t, "device", "list", "--tag", "nothing-here"); !strings.Contains(text, "no devices") {
		t.Errorf("empty list: %q", text)
	}

	// Update, then offer to alice, cancel, offer again, alice accepts.
	tn.run(t, "device", "update", "--from", "dev", "--device", "thermo", "--firmware", "1.1.0", "--add-tag", "warm", "--remove-tag", "cold", "--clear-location")
	tn.fail(t, exitRejected, "ErrUnauthorized", "device", "update", "--from", "alice", "--device", "thermo", "--model", "stolen")
	tn.run(t, "device", "transfer", "--from", "dev", "--device", "thermo", "--to", "alice")
	d = deviceRecord(t, tn)
	if d.PendingOwner == "" || d.Firmware != "1.1.0" || d.Location != nil || strings.Join(d.Tags, ",") != "site-4,warm" {
		t.Errorf("after update and offer: %+v", d)
	}
	tn.run(t, "device", "cancel-transfer", "--from", "dev", "--device", "thermo")
	tn.fail(t, exitRejected, "ErrNoPendingTransfer", "device", "accept", "--from", "alice", "--device", "thermo")
	tn.run(t, "device", "transfer", "--from", "dev", "--device", "thermo", "--to", "alice")
	tn.run(t, "device", "accept", "--from", "alice", "--device", id)
	// A co-signed transfer moves ownership at once.
	tn.run(t, "device", "transfer", "--from", "alice", "--device", "thermo", "--cosign", "bob")
	d = deviceRecord(t, tn)
	bob := strings.TrimSpace(tn.run(t, "keys", "show", "bob", "--address"))
	if d.Owner != bob || d.PendingOwner != "" {
		t.Errorf("after the co-signed transfer: owner %s, pending %q; want %s", d.Owner, d.PendingOwner, bob)
	}

	var hist api.Page[*api.HistoryEntry]
	tn.json(t, &hist, "device", "history", "thermo")
	var kinds []string
	for _, e := range hist.Items {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, " "); got != "register update transfer_offer transfer_cancel transfer_offer transfer transfer" {
		t.Errorf("history kinds: %s", got)
	}
	tn.json(t, &hist, "device", "history", "thermo", "--limit", "2")
	if len(hist.Items) != 2 || hist.Next == "" {
		t.Errorf("first page: %d items, next %q", len(hist.Items), hist.Next)
	}
	tn.json(t, &hist, "device", "history", "thermo", "--limit", "2", "--after", hist.Next)
	if len(hist.Items) != 2 || hist.Items[0].Seq != 2 {
		t.Errorf("second page: %+v", hist.Items)
	}
	if text := tn.run(t, "device", "history", "thermo"); !strings.Contains(text, "register") || !strings.Contains(text, "model=thermo-v1") {
		t.Errorf("history text:\n%s", text)
	}
	tn.fail(t, exitRejected, "ErrNotFound", "device", "show", "alice")
}

// deviceRecord reads the "thermo" device afresh (decoding JSON into a used
// value would keep fields the new answer omits).
func deviceRecord(t *testing.T, tn *testNode) api.Device {
	t.Helper()
	var d api.Device
	tn.json(t, &d, "device", "show", "thermo")
	return d
}
