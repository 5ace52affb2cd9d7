// Package sdk is the library a Go contract uses to talk to its host, the
// Hypha contract runtime (package vm), through the hypha_v1 import module.
//
// A contract is a package main built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o contract.wasm .
//
// that exports its entry points with //go:wasmexport, each taking and
// returning nothing:
//
//	//go:wasmexport call
//	func call() {
//		d := sdk.NewDecoder(sdk.Input())
//		...
//		sdk.Return(result)
//	}
//
//	func main() {}
//
// The entry points are instantiate, call, migrate, on_reading, on_message and
// on_tick (vm.EntryPoints). Every call runs in a fresh instance: global
// variables start from their initial values each time, and state lives in
// storage (Get, Set, Delete, Iterate). A call that panics, calls Revert or
// runs out of gas has all its writes, events, transfers and messages
// discarded.
//
// Keep contracts small: fmt, reflect and encoding/json add hundreds of KiB
// of code; the Encoder and Decoder here cover argument passing.
//
// The host functions exist only on GOOS=wasip1; the codec builds everywhere,
// so clients and tests can encode a contract's input.
package sdk
