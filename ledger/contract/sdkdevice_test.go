package contract_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/contract"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/sdk"
)

// sdk.ParseDevice reads the record the device host function returns,
// whatever optional fields it carries.
func TestSDKParseDevice(t *testing.T) {
	id, owner := lt.Addr("meter"), lt.Addr("carol")
	full := contract.DeviceInfo{ID: id, Owner: owner, Model: "meter-v2", Firmware: "1.2.3", Status: 1,
		Tags: []string{"roof", "pv"}, Location: &txn.Location{LatE7: 488_566_000, LonE7: -23_522_000},
		Registered: 1 << 40, Readings: 300}
	for name, info := range map[string]contract.DeviceInfo{
		"full":    full,
		"minimal": {ID: id, Owner: owner, Model: "m"},
	} {
		d, err := sdk.ParseDevice(txn.MustMarshal(&info))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(d.ID, id[:]) || !bytes.Equal(d.Owner, owner[:]) || d.Model != info.Model ||
			d.Firmware != info.Firmware || d.Status != uint64(info.Status) || d.Registered != info.Registered ||
			d.Readings != info.Readings {
			t.Errorf("%s: parsed %+v from %+v", name, d, info)
		}
	}
	b := txn.MustMarshal(&full)
	for i := range len(b) {
		if _, err := sdk.ParseDevice(b[:i]); !errors.Is(err, sdk.ErrDecode) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	if _, err := sdk.ParseDevice(append(bytes.Clone(b), 0)); !errors.Is(err, sdk.ErrDecode) {
		t.Errorf("trailing byte: %v", err)
	}
}

// The SDK's status constants are the errs codes the host returns.
func TestSDKStatusCodes(t *testing.T) {
	for st, c := range map[sdk.Status]*errs.Class{
		sdk.StatusInsufficientFunds: errs.ErrInsufficientFunds, sdk.StatusZeroAmount: errs.ErrZeroAmount,
		sdk.StatusInvalidAddress: errs.ErrInvalidAddress, sdk.StatusUnknownDevice: errs.ErrUnknownDevice,
		sdk.StatusDeviceRevoked: errs.ErrDeviceRevoked, sdk.StatusRateLimited: errs.ErrRateLimited,
		sdk.StatusGrantExpired: errs.ErrGrantExpired, sdk.StatusNoGrant: errs.ErrNoGrant,
	} {
		if uint32(st) != c.Code {
			t.Errorf("status %d stands for %s, whose code is %d", st, c.Name, c.Code)
		}
	}
}
