//go:build wasip1

// Command counter is the smallest useful contract: a counter in storage.
//
// call takes a method name and its arguments (sdk.Encoder format):
//
//	"increment" by  -> the new value; emits "incremented"
//	"get"           -> the value
//
// Values are returned as an sdk.Encoder integer.
package main

import "github.com/hypha-iot/hypha/vm/sdk"

var key = []byte("count")

//go:wasmexport instantiate
func instantiate() { store(0) }

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	switch method := d.String(); method {
	case "increment":
		by := d.Uint()
		if d.Done() != nil {
			sdk.Revert("increment: want an amount")
		}
		n := load() + by
		store(n)
		sdk.Emit("incremented", sdk.NewEncoder().Uint(n).Encoded())
		sdk.Return(sdk.NewEncoder().Uint(n).Encoded())
	case "get":
		sdk.Return(sdk.NewEncoder().Uint(load()).Encoded())
	default:
		sdk.Revert("unknown method " + method)
	}
}

func load() uint64 {
	v, ok := sdk.Get(key)
	if !ok {
		return 0
	}
	return sdk.NewDecoder(v).Uint()
}

func store(n uint64) { sdk.Set(key, sdk.NewEncoder().Uint(n).Encoded()) }

func main() {}
