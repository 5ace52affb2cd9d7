//go:build wasip1

// Command coldchain is the cold-chain example: a shipment escrow between a
// buyer and a carrier, settled by the carrier's temperature logger.
//
// Instantiate (by the buyer, attaching the price plus tokens for the
// contract's trigger gas): carrier (20-byte account), logger (20-byte
// device id), price (uhyp held in escrow), min and max temperature (°C ×
// 1000, signed), grace (seconds of block time a temperature may stay out
// of range), penalty (uhyp), destination latitude and longitude (degrees ×
// 1000, signed) and radius (degrees × 1000): the geofence is the box of
// that half-width around the destination.
//
// The carrier attaches the logger to the contract (contract.attach); the
// logger's SenML readings carry "temp" (°C) and, when it has a fix, "lat"
// and "lon" (degrees). on_reading then:
//
//   - tracks excursions: a temperature out of range starts one at the
//     block's time, one back in range ends it; an excursion longer than
//     the grace releases the penalty to the buyer (once per shipment) and
//     emits "penalty";
//   - on a position inside the geofence, releases what is left of the
//     escrow to the carrier, emits "delivered" and ignores later readings.
//
// Calls: "status" -> phase (0 in transit, 1 delivered), escrow left,
// penalised (0/1), excursion start (Unix ns, 0 if none). "refund": once
// delivered, the buyer (creator) takes the contract's remaining balance
// (unused gas tokens) back.
package main

import "github.com/hypha-iot/hypha/vm/sdk"

//go:wasmexport instantiate
func instantiate() {
	d := sdk.NewDecoder(sdk.Input())
	carrier, logger, price := d.Bytes(), d.Bytes(), d.Uint()
	lo, hi, grace, penalty := d.Int(), d.Int(), d.Uint(), d.Uint()
	lat, lon, radius := d.Int(), d.Int(), d.Int()
	switch {
	case d.Done() != nil:
		sdk.Revert("instantiate: want carrier, logger, price, min, max, grace, penalty, lat, lon, radius")
	case len(carrier) != 20 || len(logger) != 20:
		sdk.Revert("instantiate: carrier and logger are 20-byte addresses")
	case lo > hi || radius <= 0 || penalty > price:
		sdk.Revert("instantiate: want min <= max, radius > 0 and penalty <= price")
	case sdk.Funds() < price:
		sdk.Revert("instantiate: attach at least the price")
	}
	sdk.Set([]byte("buyer"), sdk.Caller())
	sdk.Set([]byte("carrier"), carrier)
	sdk.Set([]byte("logger"), logger)
	sdk.SetUint("escrow", price)
	sdk.SetInt("min", lo)
	sdk.SetInt("max", hi)
	sdk.SetUint("grace", grace)
	sdk.SetUint("penalty", penalty)
	sdk.SetInt("lat", lat)
	sdk.SetInt("lon", lon)
	sdk.SetInt("radius", radius)
}

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	switch m := d.String(); m {
	case "status":
		sdk.Return(sdk.NewEncoder().Uint(sdk.GetUint("delivered")).Uint(sdk.GetUint("escrow")).Uint(sdk.GetUint("penalised")).
			Uint(sdk.GetUint("excursion")).Encoded())
	case "refund":
		if string(sdk.Caller()) != string(sdk.GetBytes("buyer")) || sdk.GetUint("delivered") == 0 {
			sdk.Revert("refund: only the buyer, after delivery")
		}
		bal, err := sdk.Balance(sdk.Self())
		if err == nil && bal > 0 {
			if err := sdk.Transfer(sdk.GetBytes("buyer"), bal); err != nil {
				sdk.Revert("refund: " + err.Error())
			}
		}
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
	if string(r.Device) != string(sdk.GetBytes("logger")) || sdk.GetUint("delivered") != 0 {
		return
	}
	now := uint64(sdk.BlockTime())
	if t, ok := r.Value("temp"); ok {
		temperature(t, now)
	}
	lat, okLat := r.Value("lat")
	lon, okLon := r.Value("lon")
	if okLat && okLon && inside(lat, lon) {
		deliver()
	}
}

func temperature(t int64, now uint64) {
	start := sdk.GetUint("excursion")
	if t >= sdk.GetInt("min") && t <= sdk.GetInt("max") {
		if start != 0 {
			sdk.Delete([]byte("excursion"))
			sdk.Emit("excursion_ended", sdk.NewEncoder().Uint(now-start).Encoded())
		}
		return
	}
	if start == 0 {
		sdk.SetUint("excursion", now)
		sdk.Emit("excursion_started", sdk.NewEncoder().Int(t).Encoded())
		return
	}
	if sdk.GetUint("penalised") == 0 && now-start > sdk.GetUint("grace")*1_000_000_000 {
		p := sdk.GetUint("penalty")
		if p > 0 {
			if err := sdk.Transfer(sdk.GetBytes("buyer"), p); err != nil {
				sdk.Revert("penalty: " + err.Error())
			}
		}
		sdk.SetUint("escrow", sdk.GetUint("escrow")-p)
		sdk.SetUint("penalised", 1)
		sdk.Emit("penalty", sdk.NewEncoder().Uint(p).Uint(now-start).Int(t).Encoded())
	}
}

func inside(lat, lon int64) bool {
	r := sdk.GetInt("radius")
	return abs(lat-sdk.GetInt("lat")) <= r && abs(lon-sdk.GetInt("lon")) <= r
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func deliver() {
	amount := sdk.GetUint("escrow")
	if amount > 0 {
		if err := sdk.Transfer(sdk.GetBytes("carrier"), amount); err != nil {
			sdk.Revert("pay the carrier: " + err.Error())
		}
	}
	sdk.SetUint("escrow", 0)
	sdk.SetUint("delivered", 1)
	sdk.Emit("delivered", sdk.NewEncoder().Uint(amount).Uint(sdk.GetUint("penalised")).Encoded())
}

func main() {}
