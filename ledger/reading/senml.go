package reading

import (
	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
)

// SenML CBOR labels, RFC 8428 §6 Table 6.
const (
	lBver = -1
	lBn   = -2
	lBt   = -3
	lBu   = -4
	lBv   = -5
	lBs   = -6
	lN    = 0
	lU    = 1
	lV    = 2
	lVs   = 3
	lVb   = 4
	lS    = 5
	lT    = 6
	lUt   = 7
	lVd   = 8
)

// MaxRecords bounds the records in one pack.
const MaxRecords = 256

var senmlDec cbor.DecMode

func init() {
	var err error
	senmlDec, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  4,
		MaxArrayElements: MaxRecords,
		MaxMapPairs:      32,
		IntDec:           cbor.IntDecConvertSigned,
		DefaultMapType:   nil,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// ValidateSenML checks that b is one SenML pack in CBOR (RFC 8428 §6): an
// array of 1..MaxRecords maps with known labels of the right types, each
// record carrying exactly one value (v, vs, vb, vd) or a sum, and a resolved
// name (bn + n) that is not empty. Labels ending in "_" (must-understand
// extensions) are rejected, as the RFC requires of a receiver that does not
// know them. It returns the number of records.
func ValidateSenML(b []byte) (int, error) {
	var pack []map[any]any
	if err := senmlDec.Unmarshal(b, &pack); err != nil {
		return 0, errs.ErrInvalidPayload.WithCause(err, "senml")
	}
	if len(pack) == 0 {
		return 0, errs.ErrInvalidPayload.Wrap("senml: empty pack")
	}
	baseName := ""
	for i, rec := range pack {
		name := ""
		values := 0
		hasSum := false
		// Map order does not matter here: each label is checked on its own and
		// the outcome is the same in any order, except which of several
		// errors is reported; so check labels in a fixed order instead.
		for _, label := range knownOrder {
			v, ok := rec[label]
			if !ok {
				continue
			}
			if err := checkLabel(label, v); err != nil {
				return 0, errs.ErrInvalidPayload.Wrap("senml record %d: %s", i, errs.Message(err))
			}
			switch label {
			case int64(lBn):
				baseName = v.(string)
			case int64(lN):
				name = v.(string)
			case int64(lV), int64(lVs), int64(lVb), int64(lVd):
				values++
			case int64(lS):
				hasSum = true
			}
		}
		if len(rec) != countKnown(rec) {
			if err := unknownLabel(rec); err != nil {
				return 0, errs.ErrInvalidPayload.Wrap("senml record %d: %s", i, errs.Message(err))
			}
		}
		if values > 1 {
			return 0, errs.ErrInvalidPayload.Wrap("senml record %d: more than one value", i)
		}
		if values == 0 && !hasSum {
			return 0, errs.ErrInvalidPayload.Wrap("senml record %d: no value and no sum", i)
		}
		if !validName(baseName + name) {
			return 0, errs.ErrInvalidPayload.Wrap("senml record %d: invalid name %q", i, baseName+name)
		}
	}
	return len(pack), nil
}

var knownOrder = []any{int64(lBver), int64(lBn), int64(lBt), int64(lBu), int64(lBv), int64(lBs),
	int64(lN), int64(lU), int64(lV), int64(lVs), int64(lVb), int64(lS), int64(lT), int64(lUt), int64(lVd)}

func countKnown(rec map[any]any) int {
	n := 0
	for _, l := range knownOrder {
		if _, ok := rec[l]; ok {
			n++
		}
	}
	return n
}

// unknownLabel reports a label that is not allowed: a must-understand text
// label, or an unknown integer label. Other text labels (extensions) pass.
// All offending labels lead to the same error class, so the result does not
// depend on map order.
func unknownLabel(rec map[any]any) error {
	bad := false
	for k := range rec {
		switch k := k.(type) {
		case string:
			if k == "" || k[len(k)-1] == '_' {
				bad = true
			}
		case int64:
			if k < lBs || k > lVd {
				bad = true
			}
		default:
			bad = true
		}
	}
	if bad {
		return errs.ErrInvalidPayload.Wrap("unknown or must-understand label")
	}
	return nil
}

func checkLabel(label any, v any) error {
	switch label {
	case int64(lBn), int64(lN), int64(lBu), int64(lU), int64(lVs):
		if _, ok := v.(string); !ok {
			return errs.ErrInvalidPayload.Wrap("label %v must be a text string", label)
		}
	case int64(lBt), int64(lBv), int64(lBs), int64(lV), int64(lS), int64(lT), int64(lUt):
		switch v.(type) {
		case int64, uint64, float32, float64:
		default:
			return errs.ErrInvalidPayload.Wrap("label %v must be a number", label)
		}
	case int64(lVb):
		if _, ok := v.(bool); !ok {
			return errs.ErrInvalidPayload.Wrap("vb must be a boolean")
		}
	case int64(lVd):
		if _, ok := v.([]byte); !ok {
			return errs.ErrInvalidPayload.Wrap("vd must be a byte string")
		}
	case int64(lBver):
		if n, ok := v.(int64); !ok || n < 1 {
			return errs.ErrInvalidPayload.Wrap("bver must be a positive integer")
		}
	}
	return nil
}

// validName: RFC 8428 §4.5.1, [A-Za-z0-9] first, then [A-Za-z0-9-:./_].
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return false
		}
		if !alnum && c != '-' && c != ':' && c != '.' && c != '/' && c != '_' {
			return false
		}
	}
	return true
}
