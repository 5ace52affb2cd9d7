package sdk

// DeviceInfo is the part of a device's record (host function device, the
// ledger's contract.DeviceInfo in canonical CBOR) a contract usually needs.
type DeviceInfo struct {
	ID, Owner []byte // 20 bytes each
	Model     string
	Firmware  string
	Status    uint64 // 0 active, 1 revoked, 2 decommissioned
	// Registered is the registration height; Readings the number of
	// direct readings so far.
	Registered int64
	Readings   uint64
}

// Device statuses.
const (
	DeviceActive         = 0
	DeviceRevoked        = 1
	DeviceDecommissioned = 2
)

// ParseDevice decodes a device record as the host returns it. It reads
// just enough CBOR for that (a map with integer keys; fields it does not
// know are skipped), so a contract needs no CBOR library.
func ParseDevice(b []byte) (DeviceInfo, error) {
	r := cborReader{b: b}
	var d DeviceInfo
	n := r.head(5)
	for i := uint64(0); i < n && !r.bad; i++ {
		switch r.head(0) {
		case 1:
			d.ID = r.bytes(2)
		case 2:
			d.Owner = r.bytes(2)
		case 3:
			d.Model = string(r.bytes(3))
		case 4:
			d.Firmware = string(r.bytes(3))
		case 5:
			d.Status = r.head(0)
		case 8:
			d.Registered = r.int()
		case 9:
			d.Readings = r.head(0)
		default:
			r.skip(0)
		}
	}
	if r.bad || len(r.b) > 0 || len(d.ID) != 20 || len(d.Owner) != 20 {
		return DeviceInfo{}, ErrDecode
	}
	return d, nil
}

// cborReader reads the subset of CBOR the ledger's records use: definite
// lengths only (canonical CBOR has no others).
type cborReader struct {
	b   []byte
	bad bool
}

// next reads an item's head: its major type and argument.
func (r *cborReader) next() (major byte, arg uint64) {
	if r.bad || len(r.b) == 0 {
		r.bad = true
		return 0, 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	major, info := c>>5, c&0x1f
	switch {
	case info < 24:
		return major, uint64(info)
	case info <= 27:
		n := 1 << (info - 24)
		if len(r.b) < n {
			r.bad = true
			return 0, 0
		}
		for _, x := range r.b[:n] {
			arg = arg<<8 | uint64(x)
		}
		r.b = r.b[n:]
		return major, arg
	}
	r.bad = true // indefinite lengths and reserved values
	return 0, 0
}

// head reads a head of the given major type and returns its argument.
func (r *cborReader) head(major byte) uint64 {
	m, arg := r.next()
	if m != major {
		r.bad = true
		return 0
	}
	return arg
}

// int reads an integer of either sign.
func (r *cborReader) int() int64 {
	m, arg := r.next()
	if (m != 0 && m != 1) || arg > 1<<63-1 {
		r.bad = true
		return 0
	}
	if m == 1 {
		return -1 - int64(arg)
	}
	return int64(arg)
}

// bytes reads a byte string (major 2) or text string (major 3).
func (r *cborReader) bytes(major byte) []byte {
	n := r.head(major)
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// skip skips one item, nested at most 16 deep.
func (r *cborReader) skip(depth int) {
	if depth > 16 {
		r.bad = true
		return
	}
	m, arg := r.next()
	switch m {
	case 2, 3:
		if arg > uint64(len(r.b)) {
			r.bad = true
			return
		}
		r.b = r.b[arg:]
	case 4:
		for i := uint64(0); i < arg && !r.bad; i++ {
			r.skip(depth + 1)
		}
	case 5:
		for i := uint64(0); i < arg && !r.bad; i++ {
			r.skip(depth + 1)
			r.skip(depth + 1)
		}
	case 6:
		r.skip(depth + 1)
	}
}
