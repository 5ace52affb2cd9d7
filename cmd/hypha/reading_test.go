package main

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/reading"
)

func TestEncodeSenML(t *testing.T) {
	id := keys.Ed25519FromSeed([32]byte{7}).Public().Address()
	ms, err := parseMeasurements([]string{"temp=21.5", "hum=40", "door=-1"}, []string{"temp=Cel", "hum=%RH"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeSenML(id, ms)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := reading.ValidateSenML(b); err != nil || n != 3 {
		t.Fatalf("ValidateSenML: %d records, %v", n, err)
	}
	var pack []map[int]any
	if err := cbor.Unmarshal(b, &pack); err != nil {
		t.Fatal(err)
	}
	if pack[0][senmlBaseName] != "urn:dev:hypha:"+id.Device()+":" || pack[0][senmlName] != "temp" ||
		pack[0][senmlValue] != 21.5 || pack[0][senmlUnit] != "Cel" {
		t.Errorf("record 0: %v", pack[0])
	}
	if _, ok := pack[1][senmlBaseName]; ok || pack[1][senmlValue] != uint64(40) || pack[1][senmlUnit] != "%RH" {
		t.Errorf("record 1: %v", pack[1])
	}
	if pack[2][senmlValue] != int64(-1) {
		t.Errorf("record 2: %v (%T)", pack[2], pack[2][senmlValue])
	}
	// 21.5 fits a half-precision float: the canonical encoding is f9 4d60.
	if !strings.Contains(hex.EncodeToString(b), "02f94d60") {
		t.Errorf("21.5 not in its shortest form: %x", b)
	}
}

func TestParseMeasurementsErrors(t *testing.T) {
	tests := []struct {
		values, units []string
		want          string
	}{
		{nil, nil, "at least one"},
		{[]string{"temp"}, nil, "name=number"},
		{[]string{"=1"}, nil, "name=number"},
		{[]string{"te mp=1"}, nil, "may hold only"},
		{[]string{"t=1", "t=2"}, nil, "twice"},
		{[]string{"t=NaN"}, nil, "finite"},
		{[]string{"t=1e999"}, nil, "finite"},
		{[]string{"t=1"}, []string{"u=Cel"}, "no --value named u"},
		{[]string{"t=1"}, []string{"t"}, "name=UNIT"},
	}
	for _, tt := range tests {
		if _, err := parseMeasurements(tt.values, tt.units); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseMeasurements(%q, %q) = %v, want %q", tt.values, tt.units, err, tt.want)
		}
	}
}

func testReadings(t *testing.T, tn *testNode) {
	id := strings.TrimSpace(tn.run(t, "keys", "show", "thermo", "--device"))
	before := uint64(time.Now().UnixMilli())
	var out txOutput
	tn.json(t, &out, "reading", "send", "--device-key", "thermo", "--value", "temp=21.5", "--unit", "temp=Cel", "--value", "hum=40")
	if out.Device != id || out.Signer != id || out.Nonce < before || out.Result == nil || out.Result.Code != 0 {
		t.Fatalf("reading send: %+v", out)
	}

	var r api.Reading
	tn.json(t, &r, "reading", "latest", "thermo")
	if r.Device != id || r.Counter != out.Nonce || r.Index != 0 || len(r.SenML) != 2 {
		t.Fatalf("latest: %+v", r)
	}
	if rec := r.SenML[0]; rec["n"] != "temp" || rec["v"] != 21.5 || rec["u"] != "Cel" || rec["bn"] != senmlBase(mustAddr(t, id)) {
		t.Errorf("latest record 0: %v", rec)
	}
	if text := tn.run(t, "reading", "latest", id); !strings.Contains(text, "temp=21.5 Cel, hum=40") || !strings.Contains(text, "counter "+strconv.FormatUint(out.Nonce, 10)) {
		t.Errorf("latest text:\n%s", text)
	}

	// The counter must increase; an explicit one above the last is taken.
	tn.fail(t, exitRejected, "ErrCounterReused (27)", "reading", "send", "--device-key", "thermo", "--value", "temp=1", "--counter", "5")
	next := strconv.FormatUint(out.Nonce+1_000_000, 10)
	tn.run(t, "reading", "send", "--device-key", "thermo", "--value", "temp=22", "--counter", next)
	r = api.Reading{}
	tn.json(t, &r, "reading", "latest", "thermo")
	if strconv.FormatUint(r.Counter, 10) != next || r.Index != 1 {
		t.Errorf("latest after an explicit counter: %+v", r)
	}
	// Without --counter, the next one still goes above the explicit one.
	tn.run(t, "reading", "send", "--device-key", "thermo", "--value", "temp=23")

	var refs api.Page[*api.ReadingRef]
	tn.json(t, &refs, "reading", "list", "thermo")
	if len(refs.Items) != 3 || refs.Items[2].Index != 2 || refs.Items[0].Records != 2 {
		t.Errorf("reading list: %+v", refs.Items)
	}
	if text := tn.run(t, "reading", "list", "thermo", "--limit", "1"); !strings.Contains(text, "more: --after") {
		t.Errorf("paged list text:\n%s", text)
	}

	// Rotate the key, signed by the device's current key; the new key signs
	// readings for the same id.
	tn.run(t, "device", "rotate-key", "--device", "thermo", "--new-key", "thermo-v2", "--as-device", "thermo")
	tn.fail(t, exitRejected, "ErrUnknownDevice", "reading", "send", "--device-key", "thermo-v2", "--value", "temp=1")
	tn.fail(t, exitRejected, "ErrBadSignature", "reading", "send", "--device-key", "thermo", "--value", "temp=1")
	tn.run(t, "reading", "send", "--device-key", "thermo-v2", "--device", "thermo", "--value", "temp=24")

	// Revoked by its owner (bob, since the transfer): readings stop.
	tn.run(t, "device", "revoke", "--from", "bob", "--device", "thermo", "--reason", "lost")
	tn.fail(t, exitRejected, "ErrDeviceRevoked", "reading", "send", "--device-key", "thermo-v2", "--device", "thermo", "--value", "temp=1")
	tn.run(t, "keys", "add", "thermo-v3")
	tn.run(t, "device", "rotate-key", "--from", "bob", "--device", id, "--new-key", "thermo-v3")
	tn.run(t, "reading", "send", "--device-key", "thermo-v3", "--device", "thermo", "--value", "temp=25")
	tn.run(t, "device", "decommission", "--from", "bob", "--device", "thermo")
	tn.fail(t, exitRejected, "ErrDeviceDecommissioned", "reading", "send", "--device-key", "thermo-v3", "--device", "thermo", "--value", "temp=1")

	if d := deviceRecord(t, tn); d.Status != "decommissioned" || d.Readings != 5 || d.KeyRotations != 2 {
		t.Errorf("final device: %+v", d)
	}
}

func mustAddr(t *testing.T, s string) keys.Address {
	t.Helper()
	a, _, err := keys.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
