package contract

import (
	"errors"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

// costlyCondition concatenates device 40 times: its estimated cost is far
// above the default max_condition_cost of 1,000.
var costlyCondition = strings.Repeat("device + ", 40) + `device == ""`

func TestCheckCondition(t *testing.T) {
	for _, tc := range []struct {
		src string
		ok  bool
	}{
		{`counter > 1`, true},
		{`records["temp"] > 25000`, true},
		{`"temp" in records && records["temp"] > 25000 || size > 100`, true},
		{`device.startsWith("hd1")`, true},
		{`counter >`, false},                         // syntax
		{`counter + 1`, false},                       // not a bool
		{`unknown > 1`, false},                       // undeclared variable
		{`records.exists(k, records[k] > 1)`, false}, // macros are removed
		{`[1, 2, 3].all(x, x > 0)`, false},           // macros are removed
		{costlyCondition, false},                     // estimated cost above the bound
		{`records["t"] > 1.5`, false},                // no floats: int vs double
	} {
		_, est, err := compileCondition(tc.src, 1_000)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, errs.ErrBadCondition) {
			t.Errorf("%q: est %d, err %v; want ok=%v", tc.src, est, err, tc.ok)
		}
	}
}

func TestEvalCondition(t *testing.T) {
	dev := keys.Address{1, 2, 3}
	pack := txn.MustMarshal([]map[int]any{{-2: "room/", 0: "temp", 2: 21.5}, {0: "hum", 2: int64(40)}, {0: "door", 4: true}})
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{``, true},
		{`records["room/temp"] == 21500`, true},
		{`records["room/hum"] == 40000`, true},
		{`"room/door" in records`, false}, // not numeric
		{`records["missing"] > 0`, false}, // evaluation error: false
		{`counter == 7 && size > 10`, true},
		{`device == "` + dev.Device() + `"`, true},
	} {
		got, _ := evalCondition(tc.src, 1_000, dev, 7, pack)
		if got != tc.want {
			t.Errorf("%q: %v, want %v", tc.src, got, tc.want)
		}
	}
}
