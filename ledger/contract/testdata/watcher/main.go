//go:build wasip1

// Command watcher is a test contract for triggers. on_reading counts the
// readings it sees ("readings") and records the last one's counter
// ("last_counter") and device ("last_device"); on_tick counts ticks
// ("ticks") and records the height ("last_tick"). Counts are sdk.Encoder
// integers. call "trap" makes every later trigger panic after writing
// ("poison"), call "untrap" undoes it.
package main

import "github.com/hypha-iot/hypha/vm/sdk"

func load(k string) uint64 {
	v, ok := sdk.Get([]byte(k))
	if !ok {
		return 0
	}
	return sdk.NewDecoder(v).Uint()
}

func put(k string, v uint64) { sdk.Set([]byte(k), sdk.NewEncoder().Uint(v).Encoded()) }

func maybeTrap() {
	if _, ok := sdk.Get([]byte("trap")); ok {
		put("poison", 1)
		panic("trapped on purpose")
	}
}

//go:wasmexport on_reading
func onReading() {
	d := sdk.NewDecoder(sdk.Input())
	dev, counter, _, _ := d.Bytes(), d.Uint(), d.Bytes(), d.Uint()
	if d.Done() != nil {
		sdk.Revert("on_reading: bad input")
	}
	maybeTrap()
	put("readings", load("readings")+1)
	put("last_counter", counter)
	sdk.Set([]byte("last_device"), dev)
	sdk.Emit("seen", sdk.NewEncoder().Uint(counter).Encoded())
}

//go:wasmexport on_tick
func onTick() {
	d := sdk.NewDecoder(sdk.Input())
	h := d.Uint()
	if d.Done() != nil {
		sdk.Revert("on_tick: bad input")
	}
	maybeTrap()
	put("ticks", load("ticks")+1)
	put("last_tick", h)
}

//go:wasmexport call
func call() {
	d := sdk.NewDecoder(sdk.Input())
	switch m := d.String(); m {
	case "trap":
		sdk.Set([]byte("trap"), []byte{1})
	case "untrap":
		sdk.Delete([]byte("trap"))
	default:
		sdk.Revert("unknown method " + m)
	}
}
func main() {}
