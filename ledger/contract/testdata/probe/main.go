//go:build wasip1

// Command probe is a test contract that exercises every host function the
// ledger provides. call takes a method name and its arguments
// (sdk.Encoder format):
//
//	"set" key value          "get" key -> value          "del" key
//	"keys" prefix            -> count, then key and value of each entry
//	"transfer" to amount     -> status
//	"send" to kind payload   -> status
//	"device" id -> record    "reading" id -> record      "balance" addr -> amount
//	"emit" topic data        "burn" key (sets key, then loops forever)
//	"panic"                  "env" -> caller, self, height, time, 32 random bytes
//
// migrate copies the counter example's "count" into "migrated" and sets
// "version" to 2.
package main

import "github.com/hypha-iot/hypha/vm/sdk"

//go:wasmexport instantiate
func instantiate() { sdk.Set([]byte("version"), []byte{1}) }

//go:wasmexport migrate
func migrate() {
	if v, ok := sdk.Get([]byte("count")); ok {
		sdk.Set([]byte("migrated"), v)
	}
	sdk.Set([]byte("version"), []byte{2})
	sdk.Emit("migrated", sdk.Input())
}

func status(err error) uint64 {
	if st, ok := err.(sdk.Status); ok {
		return uint64(st)
	}
	return 0
}

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	out := sdk.NewEncoder()
	switch method := d.String(); method {
	case "set":
		k, v := d.Bytes(), d.Bytes()
		sdk.Set(k, v)
	case "get":
		v, ok := sdk.Get(d.Bytes())
		if !ok {
			sdk.Revert("missing")
		}
		out.Bytes(v)
	case "del":
		sdk.Delete(d.Bytes())
	case "keys":
		var entries [][]byte
		sdk.Iterate(d.Bytes(), func(k, v []byte) bool {
			entries = append(entries, k, v)
			return true
		})
		out.Uint(uint64(len(entries) / 2))
		for _, b := range entries {
			out.Bytes(b)
		}
	case "transfer":
		to, amount := d.Bytes(), d.Uint()
		out.Uint(status(sdk.Transfer(to, amount)))
	case "send":
		to, kind, payload := d.Bytes(), d.String(), d.Bytes()
		out.Uint(status(sdk.Send(to, kind, payload)))
	case "device", "reading":
		get := sdk.Device
		if method == "reading" {
			get = sdk.LatestReading
		}
		rec, ok := get(d.Bytes())
		if !ok {
			sdk.Revert("no " + method)
		}
		out.Bytes(rec)
	case "balance":
		bal, err := sdk.Balance(d.Bytes())
		if err != nil {
			sdk.Revert("balance refused")
		}
		out.Uint(bal)
	case "emit":
		topic, data := d.String(), d.Bytes()
		sdk.Emit(topic, data)
	case "burn":
		sdk.Set(d.Bytes(), []byte("burnt"))
		for n := 0; ; n++ {
			if n < 0 {
				break
			}
		}
	case "panic":
		panic("probe panics")
	case "env":
		seed := make([]byte, 32)
		sdk.Random(seed)
		out.Bytes(sdk.Caller()).Bytes(sdk.Self()).Uint(uint64(sdk.Height())).Uint(uint64(sdk.BlockTime())).Bytes(seed)
	default:
		sdk.Revert("unknown method " + method)
	}
	if d.Err() != nil {
		sdk.Revert("bad arguments")
	}
	sdk.Return(out.Encoded())
}

func main() {}
