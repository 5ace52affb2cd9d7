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

func get(k string) []byte { v, _ := sdk.Get([]byte(k)); return v }

func getUint(k string) uint64 {
	v, ok := sdk.Get([]byte(k))
	if !ok {
		return 0
	}
	return sdk.NewDecoder(v).Uint()
}

func setUint(k string, v uint64) { sdk.Set([]byte(k), sdk.NewEncoder().Uint(v).Encoded()) }

func getInt(k string) int64 { return sdk.NewDecoder(get(k)).Int() }

func setInt(k string, v int64) { sdk.Set([]byte(k), sdk.NewEncoder().Int(v).Encoded()) }

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
	setUint("escrow", price)
	setInt("min", lo)
	setInt("max", hi)
	setUint("grace", grace)
	setUint("penalty", penalty)
	setInt("lat", lat)
	setInt("lon", lon)
	setInt("radius", radius)
}

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	switch m := d.String(); m {
	case "status":
		sdk.Return(sdk.NewEncoder().Uint(getUint("delivered")).Uint(getUint("escrow")).Uint(getUint("penalised")).
			Uint(getUint("excursion")).Encoded())
	case "refund":
		if string(sdk.Caller()) != string(get("buyer")) || getUint("delivered") == 0 {
			sdk.Revert("refund: only the buyer, after delivery")
		}
		bal, err := sdk.Balance(sdk.Self())
		if err == nil && bal > 0 {
			if err := sdk.Transfer(get("buyer"), bal); err != nil {
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
	if string(r.Device) != string(get("logger")) || getUint("delivered") != 0 {
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
	start := getUint("excursion")
	if t >= getInt("min") && t <= getInt("max") {
		if start != 0 {
			sdk.Delete([]byte("excursion"))
			sdk.Emit("excursion_ended", sdk.NewEncoder().Uint(now-start).Encoded())
		}
		return
	}
	if start == 0 {
		setUint("excursion", now)
		sdk.Emit("excursion_started", sdk.NewEncoder().Int(t).Encoded())
		return
	}
	if getUint("penalised") == 0 && now-start > getUint("grace")*1_000_000_000 {
		p := getUint("penalty")
		if p > 0 {
			if err := sdk.Transfer(get("buyer"), p); err != nil {
				sdk.Revert("penalty: " + err.Error())
			}
		}
		setUint("escrow", getUint("escrow")-p)
		setUint("penalised", 1)
		sdk.Emit("penalty", sdk.NewEncoder().Uint(p).Uint(now-start).Int(t).Encoded())
	}
}

func inside(lat, lon int64) bool {
	r := getInt("radius")
	return abs(lat-getInt("lat")) <= r && abs(lon-getInt("lon")) <= r
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func deliver() {
	amount := getUint("escrow")
	if amount > 0 {
		if err := sdk.Transfer(get("carrier"), amount); err != nil {
			sdk.Revert("pay the carrier: " + err.Error())
		}
	}
	setUint("escrow", 0)
	setUint("delivered", 1)
	sdk.Emit("delivered", sdk.NewEncoder().Uint(amount).Uint(getUint("penalised")).Encoded())
}

func main() {}
