//go:build wasip1

// Command watcher is a test contract for triggers. on_reading counts the
// readings it sees ("readings") and records the last one's counter
// ("last_counter") and device ("last_device"); on_tick counts ticks
// ("ticks") and records the height ("last_tick"). Counts are sdk.Encoder
// integers. call "trap" makes every later trigger panic after writing
// ("poison"), call "untrap" undoes it. on_message counts messages
// ("messages"), records the last one's sender, body and depth
// ("last_sender", "last_message", "last_depth") and, after call "forward"
// with a 20-byte address, commands that address with the same body,
// recording the host's status ("forward_status", 0 for success). After
// call "command", on_reading also sends the reading's device a "seen"
// command whose payload is the reading's counter, recording the status
// ("command_status").
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
	r, err := sdk.ParseReading(sdk.Input())
	if err != nil {
		sdk.Revert("on_reading: bad input")
	}
	maybeTrap()
	put("readings", load("readings")+1)
	put("last_counter", r.Counter)
	sdk.Set([]byte("last_device"), r.Device)
	if v, ok := r.Value("temp"); ok {
		sdk.Set([]byte("last_temp"), sdk.NewEncoder().Int(v).Encoded())
	}
	sdk.Emit("seen", sdk.NewEncoder().Uint(r.Counter).Encoded())
	if _, ok := sdk.Get([]byte("command")); ok {
		var st uint64
		if err := sdk.Send(r.Device, "seen", sdk.NewEncoder().Uint(r.Counter).Encoded()); err != nil {
			st = uint64(err.(sdk.Status))
		}
		put("command_status", st)
	}
}

//go:wasmexport on_message
func onMessage() {
	m, err := sdk.ParseMessage(sdk.Input())
	if err != nil {
		sdk.Revert("on_message: bad input")
	}
	maybeTrap()
	put("messages", load("messages")+1)
	sdk.Set([]byte("last_sender"), m.Sender)
	sdk.Set([]byte("last_message"), m.Payload)
	put("last_depth", m.Depth)
	if to, ok := sdk.Get([]byte("forward")); ok {
		var st uint64
		if err := sdk.Send(to, "ping", m.Payload); err != nil {
			st = uint64(err.(sdk.Status))
		}
		put("forward_status", st)
	}
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
	case "command":
		sdk.Set([]byte("command"), []byte{1})
	case "forward":
		sdk.Set([]byte("forward"), d.Bytes())
	default:
		sdk.Revert("unknown method " + m)
	}
}
func main() {}
