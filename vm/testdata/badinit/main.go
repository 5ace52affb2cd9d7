//go:build wasip1

// Command badinit calls the host from a package initialiser, which the
// runtime forbids: a module is initialised once, without a host.
package main

import "github.com/hypha-iot/hypha/vm/sdk"

var stored, _ = sdk.Get([]byte("k"))

//go:wasmexport call
func call() { sdk.Return(stored) }

func main() {}
