package sdk

// The inputs the ledger passes to the trigger entry points, in the
// Encoder format (docs/contracts.md, "Entry points"):
//
//	on_reading  device, counter, payload, height, records
//	on_message  sender, kind, id, payload, height, depth
//	on_tick     height
//
// records is a count followed by that many (name, value) pairs in name
// order: each SenML record's resolved name (bn + n, where a bn that is the
// device's own "urn:dev:hypha:<id>:" is left out) and its numeric value
// times 1000, truncated towards zero, as an Int — the same view of the
// reading a trigger's CEL condition has. The ledger resolves the SenML, so
// a contract needs no CBOR decoder.

// Record is one numeric SenML record of a reading.
type Record struct {
	Name  string
	Milli int64 // the value times 1000
}

// Reading is the input of on_reading.
type Reading struct {
	Device  []byte // the device id (20 bytes)
	Counter uint64 // the reading's counter
	Payload []byte // the SenML CBOR payload as submitted
	Height  int64  // the height of the block that took the reading
	Records []Record
}

// Value returns the value (times 1000) of the record named name.
func (r *Reading) Value(name string) (int64, bool) {
	for _, rec := range r.Records {
		if rec.Name == name {
			return rec.Milli, true
		}
	}
	return 0, false
}

// ParseReading decodes the input of on_reading.
func ParseReading(in []byte) (Reading, error) {
	d := NewDecoder(in)
	r := Reading{Device: d.Bytes(), Counter: d.Uint(), Payload: d.Bytes(), Height: int64(d.Uint())}
	n := d.Uint()
	if n > uint64(len(in)) { // each record takes at least two bytes
		return Reading{}, ErrDecode
	}
	r.Records = make([]Record, 0, n)
	for range n {
		r.Records = append(r.Records, Record{Name: d.String(), Milli: d.Int()})
	}
	if err := d.Done(); err != nil {
		return Reading{}, err
	}
	return r, nil
}

// EncodeReading builds an on_reading input (for tests and tools).
func EncodeReading(r Reading) []byte {
	e := NewEncoder().Bytes(r.Device).Uint(r.Counter).Bytes(r.Payload).Uint(uint64(r.Height)).Uint(uint64(len(r.Records)))
	for _, rec := range r.Records {
		e.String(rec.Name).Int(rec.Milli)
	}
	return e.Encoded()
}

// Message kinds as on_message sees them.
const (
	KindData            = 0 // message.send of kind data
	KindCommand         = 1 // message.send of kind command
	KindContractCommand = 3 // a command another contract sent (Send)
)

// Message is the input of on_message.
type Message struct {
	Sender  []byte // the account, device or contract that sent it
	Kind    uint64
	ID      []byte // the message id (16 bytes)
	Payload []byte // for KindContractCommand, the payload given to Send
	Height  int64
	// Depth counts the contracts' on_message invocations that led to this
	// message: 0 for a message from a tx.
	Depth uint64
	// Command is the command kind given to Send (KindContractCommand).
	Command string
}

// ParseMessage decodes the input of on_message.
func ParseMessage(in []byte) (Message, error) {
	d := NewDecoder(in)
	m := Message{Sender: d.Bytes(), Kind: d.Uint(), ID: d.Bytes(), Payload: d.Bytes(), Height: int64(d.Uint()),
		Depth: d.Uint(), Command: d.String()}
	if err := d.Done(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// EncodeMessage builds an on_message input (for tests and tools).
func EncodeMessage(m Message) []byte {
	return NewEncoder().Bytes(m.Sender).Uint(m.Kind).Bytes(m.ID).Bytes(m.Payload).Uint(uint64(m.Height)).
		Uint(m.Depth).String(m.Command).Encoded()
}

// ParseTick decodes the input of on_tick: the height.
func ParseTick(in []byte) (int64, error) {
	d := NewDecoder(in)
	h := d.Uint()
	if err := d.Done(); err != nil {
		return 0, err
	}
	return int64(h), nil
}
