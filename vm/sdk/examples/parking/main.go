//go:build wasip1

// Command parking is the smart-parking example: a parking sensor's
// occupancy readings start and stop a session, and the driver's deposit
// pays the lot owner per started minute of block time, with the rest
// refunded when the car leaves.
//
// Instantiate (by the lot owner, who attaches tokens for the contract's
// trigger gas): sensor (20-byte device id), rate (uhyp per started minute).
//
// Calls (the first argument is the method):
//
//	"park"    the driver reserves the space, attaching a deposit of at
//	          least one minute; one driver at a time
//	"cancel"  the driver takes the deposit back before the car arrives
//	"status"  -> state (0 free, 1 reserved, 2 occupied), driver, deposit,
//	          session start (Unix ns)
//
// on_reading (the sensor, record "occupied": 1 or 0; attach the sensor
// with a reading trigger): occupied while reserved starts the session at
// the block's time; free while occupied ends it, pays the owner
// ceil(minutes) × rate (at most the deposit), refunds the driver and
// sends the driver a "parking-receipt" command with minutes, fee and
// refund. Occupancy with no reservation emits "unpaid".
package main

import "github.com/hypha-iot/hypha/vm/sdk"

const (
	free     = 0
	reserved = 1
	occupied = 2
)

const minute = 60_000_000_000 // ns

//go:wasmexport instantiate
func instantiate() {
	d := sdk.NewDecoder(sdk.Input())
	sensor, rate := d.Bytes(), d.Uint()
	if d.Done() != nil || len(sensor) != 20 || rate == 0 {
		sdk.Revert("instantiate: want sensor (20-byte device id) and rate (> 0 uhyp per minute)")
	}
	sdk.Set([]byte("sensor"), sensor)
	sdk.Set([]byte("owner"), sdk.Caller())
	sdk.SetUint("rate", rate)
	sdk.SetUint("state", free)
}

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	switch m := d.String(); m {
	case "park":
		if sdk.GetUint("state") != free {
			sdk.Revert("park: the space is taken")
		}
		dep := sdk.Funds()
		if dep < sdk.GetUint("rate") {
			sdk.Revert("park: attach a deposit of at least one minute")
		}
		sdk.Set([]byte("driver"), sdk.Caller())
		sdk.SetUint("deposit", dep)
		sdk.SetUint("state", reserved)
		sdk.Emit("reserved", sdk.NewEncoder().Bytes(sdk.Caller()).Uint(dep).Encoded())
	case "cancel":
		if sdk.GetUint("state") != reserved || string(sdk.GetBytes("driver")) != string(sdk.Caller()) {
			sdk.Revert("cancel: no reservation of yours to cancel")
		}
		refund(sdk.GetUint("deposit"))
		reset()
		sdk.Emit("cancelled", nil)
	case "status":
		sdk.Return(sdk.NewEncoder().Uint(sdk.GetUint("state")).Bytes(sdk.GetBytes("driver")).Uint(sdk.GetUint("deposit")).
			Uint(sdk.GetUint("start")).Encoded())
	default:
		sdk.Revert("unknown method " + m)
	}
}

//go:wasmexport on_reading
func onReading() {
	r, err := sdk.ParseReading(sdk.Input())
	if err != nil {
		sdk.Revert("on_reading: bad input")
	}
	if string(r.Device) != string(sdk.GetBytes("sensor")) {
		return
	}
	occ, ok := r.Value("occupied")
	if !ok {
		return
	}
	now := uint64(sdk.BlockTime())
	switch st := sdk.GetUint("state"); {
	case occ > 0 && st == reserved:
		sdk.SetUint("start", now)
		sdk.SetUint("state", occupied)
		sdk.Emit("session_started", sdk.NewEncoder().Bytes(sdk.GetBytes("driver")).Uint(now).Encoded())
	case occ > 0 && st == free:
		sdk.Emit("unpaid", sdk.NewEncoder().Uint(now).Encoded())
	case occ == 0 && st == occupied:
		end()
	}
}

// end closes the session: the owner is paid per started minute, the
// driver refunded the rest and sent a receipt.
func end() {
	start, now := sdk.GetUint("start"), uint64(sdk.BlockTime())
	minutes := uint64(1)
	if now > start {
		minutes = (now - start + minute - 1) / minute
	}
	dep, rate := sdk.GetUint("deposit"), sdk.GetUint("rate")
	fee := dep // the deposit caps the fee
	if minutes <= dep/rate {
		fee = minutes * rate
	}
	if fee > 0 {
		if err := sdk.Transfer(sdk.GetBytes("owner"), fee); err != nil {
			sdk.Revert("pay the owner: " + err.Error())
		}
	}
	refund(dep - fee)
	receipt := sdk.NewEncoder().Uint(minutes).Uint(fee).Uint(dep - fee).Encoded()
	// The receipt is best effort: an account always takes it, and a
	// failure must not keep the car parked forever.
	_ = sdk.Send(sdk.GetBytes("driver"), "parking-receipt", receipt)
	sdk.Emit("session_ended", receipt)
	reset()
}

func refund(amount uint64) {
	if amount == 0 {
		return
	}
	if err := sdk.Transfer(sdk.GetBytes("driver"), amount); err != nil {
		sdk.Revert("refund: " + err.Error())
	}
}

func reset() {
	for _, k := range []string{"driver", "deposit", "start"} {
		sdk.Delete([]byte(k))
	}
	sdk.SetUint("state", free)
}

func main() {}
