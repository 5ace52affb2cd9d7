// Package freeport hands out loopback ports for test and benchmark networks
// whose addresses must be written into configuration before anything binds.
//
// Ports come from below the kernel's ephemeral range (32768–60999 on Linux),
// starting at a random offset per process and never handed out twice by one
// process. A port taken from the ephemeral range (listen on ":0", then close)
// can be grabbed again by any outgoing connection, for instance a CometBFT
// peer dialling in a parallel test binary, before the node binds it. Below
// that range only another process's listener can collide, and it would have
// to pick the same number within the same instant.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

const low, high = 20000, 32700

var (
	mu   sync.Mutex
	next int
	used = map[int]bool{}
)

// Addr returns 127.0.0.1:PORT for a port free for both TCP and UDP a moment
// ago.
func Addr() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if next == 0 {
		next = low + rand.IntN(high-low)
	}
	for range high - low {
		p := next
		next++
		if next >= high {
			next = low
		}
		if used[p] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		used[p] = true
		return addr, nil
	}
	return "", errors.New("freeport: no free loopback port below the ephemeral range")
}
