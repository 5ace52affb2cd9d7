// Package vmtest provides a test twin of vm.Host: a map-backed ledger that
// records what a contract did.
package vmtest

import (
	"bytes"
	"slices"
	"strings"

	"github.com/hypha-iot/hypha/errs"
)

// Event is an emitted event.
type Event struct {
	Topic string
	Data  []byte
}

// Transfer is a transfer a contract made.
type Transfer struct {
	To     string
	Amount uint64
}

// Message is a message a contract sent.
type Message struct {
	To, Kind string
	Payload  []byte
}

// Host implements vm.Host over maps. Self is the contract's account, which
// transfers debit. Not safe for concurrent use (neither is a call).
type Host struct {
	Self      string
	Store     map[string][]byte
	Devices   map[string][]byte
	Readings  map[string][]byte
	Balances  map[string]uint64
	Events    []Event
	Transfers []Transfer
	Messages  []Message
	// Calls counts method calls.
	Calls int
	// Fail, if set, is returned by every method.
	Fail error
}

// NewHost returns an empty Host for the contract at self.
func NewHost(self string) *Host {
	return &Host{Self: self, Store: map[string][]byte{}, Devices: map[string][]byte{},
		Readings: map[string][]byte{}, Balances: map[string]uint64{}}
}

func (h *Host) enter() error {
	h.Calls++
	return h.Fail
}

// Get implements vm.Storage.
func (h *Host) Get(key []byte) ([]byte, error) {
	if err := h.enter(); err != nil {
		return nil, err
	}
	return h.Store[string(key)], nil
}

// Set implements vm.Storage.
func (h *Host) Set(key, value []byte) error {
	if err := h.enter(); err != nil {
		return err
	}
	h.Store[string(key)] = bytes.Clone(value)
	return nil
}

// Delete implements vm.Storage.
func (h *Host) Delete(key []byte) error {
	if err := h.enter(); err != nil {
		return err
	}
	delete(h.Store, string(key))
	return nil
}

// Next implements vm.Storage.
func (h *Host) Next(prefix, after []byte) ([]byte, []byte, error) {
	if err := h.enter(); err != nil {
		return nil, nil, err
	}
	var best string
	found := false
	for k := range h.Store {
		if strings.HasPrefix(k, string(prefix)) && k > string(after) && (!found || k < best) {
			best, found = k, true
		}
	}
	if !found {
		return nil, nil, nil
	}
	return []byte(best), h.Store[best], nil
}

// Emit implements vm.Chain.
func (h *Host) Emit(topic string, data []byte) error {
	if err := h.enter(); err != nil {
		return err
	}
	h.Events = append(h.Events, Event{topic, bytes.Clone(data)})
	return nil
}

// Device implements vm.Chain.
func (h *Host) Device(id []byte) ([]byte, error) {
	if err := h.enter(); err != nil {
		return nil, err
	}
	return h.Devices[string(id)], nil
}

// LatestReading implements vm.Chain.
func (h *Host) LatestReading(id []byte) ([]byte, error) {
	if err := h.enter(); err != nil {
		return nil, err
	}
	return h.Readings[string(id)], nil
}

// Balance implements vm.Chain.
func (h *Host) Balance(addr []byte) (uint64, error) {
	if err := h.enter(); err != nil {
		return 0, err
	}
	if len(addr) == 0 {
		return 0, errs.ErrInvalidAddress.Wrap("empty address")
	}
	return h.Balances[string(addr)], nil
}

// Transfer implements vm.Chain.
func (h *Host) Transfer(to []byte, amount uint64) error {
	if err := h.enter(); err != nil {
		return err
	}
	if len(to) == 0 {
		return errs.ErrInvalidAddress.Wrap("empty address")
	}
	if h.Balances[h.Self] < amount {
		return errs.ErrInsufficientFunds.Wrap("balance %d, want %d", h.Balances[h.Self], amount)
	}
	h.Balances[h.Self] -= amount
	h.Balances[string(to)] += amount
	h.Transfers = append(h.Transfers, Transfer{string(to), amount})
	return nil
}

// Send implements vm.Chain.
func (h *Host) Send(to []byte, kind string, payload []byte) error {
	if err := h.enter(); err != nil {
		return err
	}
	if len(to) == 0 {
		return errs.ErrInvalidAddress.Wrap("empty address")
	}
	h.Messages = append(h.Messages, Message{string(to), kind, bytes.Clone(payload)})
	return nil
}

// Keys returns the stored keys in order.
func (h *Host) Keys() []string {
	keys := make([]string, 0, len(h.Store))
	for k := range h.Store {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
