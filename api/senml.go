package api

import (
	"encoding/base64"
	"math"
	"strconv"

	"github.com/fxamacker/cbor/v2"
)

// senmlNames names SenML CBOR labels as in SenML JSON (RFC 8428 §6, Table 6).
var senmlNames = map[int64]string{
	-1: "bver", -2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs",
	0: "n", 1: "u", 2: "v", 3: "vs", 4: "vb", 5: "s", 6: "t", 7: "ut", 8: "vd",
}

// senmlDisplay decodes untrusted CBOR with tight limits: it is for display
// only, and the ledger has already validated committed payloads.
var senmlDisplay = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  4,
		MaxArrayElements: 512,
		MaxMapPairs:      64,
		IntDec:           cbor.IntDecConvertSigned,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// decodeSenML renders a SenML CBOR pack as SenML JSON (labels by name, vd as
// base64url as in RFC 8428 §4.3). It returns nil if b is not an array of maps.
func decodeSenML(b []byte) []map[string]any {
	var pack []map[any]any
	if err := senmlDisplay.Unmarshal(b, &pack); err != nil || len(pack) == 0 {
		return nil
	}
	out := make([]map[string]any, 0, len(pack))
	for _, rec := range pack {
		m := make(map[string]any, len(rec))
		for k, v := range rec {
			var name string
			switch k := k.(type) {
			case int64:
				if n, ok := senmlNames[k]; ok {
					name = n
				} else {
					name = strconv.FormatInt(k, 10)
				}
			case uint64:
				name = strconv.FormatUint(k, 10)
			case string:
				name = k
			default:
				return nil
			}
			m[name] = senmlValue(name, v)
		}
		out = append(out, m)
	}
	return out
}

// senmlValue makes a decoded CBOR value JSON-friendly.
func senmlValue(name string, v any) any {
	switch v := v.(type) {
	case []byte:
		if name == "vd" {
			return base64.RawURLEncoding.EncodeToString(v)
		}
		return Hex(v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		return v
	case float32:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return f
	case int64, uint64, string, bool, nil:
		return v
	default:
		// Nested arrays or maps are not SenML; show them as a string.
		return "unsupported CBOR value"
	}
}
