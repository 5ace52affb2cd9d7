//go:build wasip1

// Command energy is the energy-trading example: a local market where smart
// meters' export and import readings are settled every N blocks between
// producers and consumers at a posted price.
//
// Instantiate (by the operator, attaching tokens for the contract's
// trigger gas): price (uhyp per kWh). The operator subscribes the contract
// to readings (with no devices of its own) and to a tick every N blocks.
//
// Calls (the first argument is the method):
//
//	"join" meter     the meter's owner (checked against the ledger's
//	                 device record) enrols it; the owner then attaches it
//	                 to the contract's reading trigger (contract.attach)
//	"deposit"        a consumer prepays, attaching tokens
//	"withdraw"       the caller takes back its unspent deposit
//	"price" p        the operator posts a new price
//	"balance" addr   -> the deposit left, pending import and export (Wh)
//
// on_reading: the meter's SenML carries its cumulative registers "export"
// and "import" in Wh; each reading adds the growth since the previous one
// to the meter's period totals (the first reading sets the baseline; a
// register that goes backwards, a meter swap, resets it).
//
// on_tick settles the period: matched = min(total export, total import).
// Each consumer pays price × its import × matched / total import, from its
// deposit (what its deposit cannot cover is emitted as "shortfall"); the
// tokens collected are shared among the producers in proportion to their
// export (integer division; the remainder stays for the next period).
// Every meter's period totals then restart from zero, and "settled"
// reports export, import, matched energy and tokens moved.
package main

import (
	"math/bits"

	"github.com/hypha-iot/hypha/vm/sdk"
)

const whPerKWh = 1000

// Keys: "price", "operator", "carry" (tokens left from rounding),
// "m/"+meter -> owner, "r/"+meter -> last registers (export, import, set),
// "e/"+meter and "i/"+meter -> period export and import (Wh × 1000),
// "d/"+owner -> deposit.

func getUint(k []byte) uint64 {
	v, ok := sdk.Get(k)
	if !ok {
		return 0
	}
	return sdk.NewDecoder(v).Uint()
}

func setUint(k []byte, v uint64) {
	if v == 0 {
		sdk.Delete(k)
		return
	}
	sdk.Set(k, sdk.NewEncoder().Uint(v).Encoded())
}

func key(prefix string, id []byte) []byte { return append([]byte(prefix), id...) }

// mulDiv returns a*b/c rounded down, or ok=false if it overflows.
func mulDiv(a, b, c uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	if c == 0 || hi >= c {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, c)
	return q, true
}

//go:wasmexport instantiate
func instantiate() {
	d := sdk.NewDecoder(sdk.Input())
	price := d.Uint()
	if d.Done() != nil || price == 0 {
		sdk.Revert("instantiate: want price (> 0 uhyp per kWh)")
	}
	setUint([]byte("price"), price)
	sdk.Set([]byte("operator"), sdk.Caller())
}

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	caller := sdk.Caller()
	switch m := d.String(); m {
	case "join":
		meter := d.Bytes()
		if d.Done() != nil || len(meter) != 20 {
			sdk.Revert("join: want the meter's 20-byte device id")
		}
		rec, ok := sdk.Device(meter)
		if !ok {
			sdk.Revert("join: unknown device")
		}
		dev, err := sdk.ParseDevice(rec)
		if err != nil || string(dev.Owner) != string(caller) || dev.Status != sdk.DeviceActive {
			sdk.Revert("join: only the owner of an active meter enrols it")
		}
		sdk.Set(key("m/", meter), caller)
		sdk.Emit("joined", sdk.NewEncoder().Bytes(meter).Bytes(caller).Encoded())
	case "deposit":
		if sdk.Funds() == 0 {
			sdk.Revert("deposit: attach tokens")
		}
		k := key("d/", caller)
		setUint(k, getUint(k)+sdk.Funds())
	case "withdraw":
		k := key("d/", caller)
		if amt := getUint(k); amt > 0 {
			setUint(k, 0)
			if err := sdk.Transfer(caller, amt); err != nil {
				sdk.Revert("withdraw: " + err.Error())
			}
		}
	case "price":
		p := d.Uint()
		if v, _ := sdk.Get([]byte("operator")); string(v) != string(caller) || d.Done() != nil || p == 0 {
			sdk.Revert("price: only the operator posts a price (> 0)")
		}
		setUint([]byte("price"), p)
	case "balance":
		who := d.Bytes()
		if d.Done() != nil {
			sdk.Revert("balance: want an address")
		}
		sdk.Return(sdk.NewEncoder().Uint(getUint(key("d/", who))).Encoded())
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
	if _, ok := sdk.Get(key("m/", r.Device)); !ok {
		return // not enrolled
	}
	exp, okE := r.Value("export")
	imp, okI := r.Value("import")
	if !okE || !okI || exp < 0 || imp < 0 {
		return
	}
	rk := key("r/", r.Device)
	last, seen := sdk.Get(rk)
	sdk.Set(rk, sdk.NewEncoder().Uint(uint64(exp)).Uint(uint64(imp)).Encoded())
	if !seen {
		return // the baseline
	}
	ld := sdk.NewDecoder(last)
	lastExp, lastImp := ld.Uint(), ld.Uint()
	if uint64(exp) < lastExp || uint64(imp) < lastImp {
		sdk.Emit("register_reset", r.Device)
		return
	}
	ek, ik := key("e/", r.Device), key("i/", r.Device)
	setUint(ek, getUint(ek)+uint64(exp)-lastExp)
	setUint(ik, getUint(ik)+uint64(imp)-lastImp)
}

type flow struct {
	owner []byte
	milli uint64 // Wh × 1000 this period
}

//go:wasmexport on_tick
func onTick() {
	var producers, consumers []flow
	var totalExp, totalImp uint64
	collect := func(prefix string, out *[]flow, total *uint64) {
		sdk.Iterate([]byte(prefix), func(k, v []byte) bool {
			owner, _ := sdk.Get(key("m/", k[len(prefix):]))
			n := sdk.NewDecoder(v).Uint()
			*out = append(*out, flow{owner, n})
			*total += n
			sdk.Delete(k)
			return true
		})
	}
	collect("e/", &producers, &totalExp)
	collect("i/", &consumers, &totalImp)
	matched := min(totalExp, totalImp)
	price := getUint([]byte("price"))
	pool := getUint([]byte("carry"))
	var paid uint64
	if matched > 0 {
		for _, c := range consumers {
			share, _ := mulDiv(c.milli, matched, totalImp)
			cost, ok := mulDiv(share, price, whPerKWh*1000)
			if !ok {
				sdk.Revert("settle: amount overflows")
			}
			dk := key("d/", c.owner)
			dep := getUint(dk)
			pay := min(cost, dep)
			setUint(dk, dep-pay)
			paid += pay
			if pay < cost {
				sdk.Emit("shortfall", sdk.NewEncoder().Bytes(c.owner).Uint(cost-pay).Encoded())
			}
		}
		pool += paid
		var out uint64
		for _, p := range producers {
			amt, _ := mulDiv(pool, p.milli, totalExp)
			if amt == 0 {
				continue
			}
			if err := sdk.Transfer(p.owner, amt); err != nil {
				sdk.Revert("pay a producer: " + err.Error())
			}
			out += amt
		}
		pool -= out
	}
	setUint([]byte("carry"), pool)
	sdk.Emit("settled", sdk.NewEncoder().Uint(totalExp).Uint(totalImp).Uint(matched).Uint(paid).Encoded())
}

func main() {}
