package contract

import (
	"math"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// A reading trigger's condition is a CEL expression (cel.dev/cel-go,
// pinned in go.mod) over a fixed, float-free environment:
//
//	device  string          the device id (its "device" bech32 form)
//	counter int             the reading's counter (the device's tx nonce)
//	size    int             the SenML payload's length in bytes
//	records map(string,int) resolved SenML name (bn + n) -> numeric value
//	                        (v) times 1000, truncated towards zero (a bn
//	                        that is the device's own URN, DeviceBaseName,
//	                        is left out: records["temp"]);
//	                        records without a finite numeric value are left
//	                        out, and a later record of a name wins
//
// The macros (all, exists, map, filter, ...) are removed, so an expression
// cannot loop; its estimated worst-case cost must not exceed the chain's
// max_condition_cost, and evaluation stops at that cost too. CEL's standard
// library has no clock or randomness, so the answer depends only on the
// reading.

// conditionMaxRecords is the size bound the cost estimate assumes for
// records (reading.MaxRecords).
const conditionMaxRecords = 256

var (
	condEnvOnce sync.Once
	condEnv     *cel.Env
	condEnvErr  error
)

func conditionEnv() (*cel.Env, error) {
	condEnvOnce.Do(func() {
		condEnv, condEnvErr = cel.NewEnv(
			cel.ClearMacros(),
			cel.Variable("device", cel.StringType),
			cel.Variable("counter", cel.IntType),
			cel.Variable("size", cel.IntType),
			cel.Variable("records", cel.MapType(cel.StringType, cel.IntType)),
		)
	})
	return condEnv, condEnvErr
}

// sizeEstimator bounds the inputs for the cost estimate.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if p := n.Path(); len(p) == 1 {
		switch p[0] {
		case "records":
			return &cost.SizeEstimate{Min: 0, Max: conditionMaxRecords}
		case "device":
			return &cost.SizeEstimate{Min: 0, Max: 64}
		}
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// compileCondition parses and type-checks src, which must be a bool
// expression whose estimated worst-case cost is at most maxCost. It returns
// the estimate. Refusals are ErrBadCondition.
func compileCondition(src string, maxCost uint64) (cel.Program, uint64, error) {
	env, err := conditionEnv()
	if err != nil {
		return nil, 0, errs.ErrInternal.WithCause(err, "condition environment")
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, 0, errs.ErrBadCondition.Wrap("%s", iss.Err())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, 0, errs.ErrBadCondition.Wrap("condition must be a bool expression, not %s", ast.OutputType())
	}
	est, err := env.EstimateCost(ast, sizeEstimator{})
	if err != nil {
		return nil, 0, errs.ErrBadCondition.WithCause(err, "cost estimate")
	}
	if est.Max > maxCost {
		return nil, 0, errs.ErrBadCondition.Wrap("condition's estimated cost %d exceeds %d", est.Max, maxCost)
	}
	prg, err := env.Program(ast, cel.CostLimit(maxCost))
	if err != nil {
		return nil, 0, errs.ErrBadCondition.WithCause(err, "program")
	}
	return prg, est.Max, nil
}

// CheckCondition tells whether src is a condition the chain admits with
// the cost bound maxCost.
func CheckCondition(src string, maxCost uint64) error {
	_, _, err := compileCondition(src, maxCost)
	return err
}

// evalCondition evaluates src on a reading. It returns whether the
// condition holds and the cost it took; a condition that fails to
// evaluate (a missing record, an overflow, the cost limit) is false.
func evalCondition(src string, maxCost uint64, dev keys.Address, counter uint64, payload []byte) (bool, uint64) {
	if src == "" {
		return true, 0
	}
	prg, est, err := cachedCondition(src, maxCost)
	if err != nil {
		return false, 0
	}
	vars := map[string]any{
		"device":  dev.Device(),
		"counter": int64(min(counter, math.MaxInt64)),
		"size":    int64(len(payload)),
		"records": senmlRecords(dev, payload),
	}
	out, det, err := prg.Eval(vars)
	used := est
	if det != nil && det.ActualCost() != nil {
		used = *det.ActualCost()
	}
	if err != nil {
		return false, used
	}
	b, ok := out.Value().(bool)
	return ok && b, used
}

// Compiled conditions, by source and bound: compiling costs far more than
// evaluating, and the answer is the same on a miss (the cache only saves
// time, so that its contents may differ between nodes).
type condKey struct {
	src string
	max uint64
}

type compiled struct {
	prg cel.Program
	est uint64
	err error
}

const condCacheSize = 1024

var (
	condMu    sync.Mutex
	condCache = map[condKey]compiled{}
)

func cachedCondition(src string, maxCost uint64) (cel.Program, uint64, error) {
	k := condKey{src, maxCost}
	condMu.Lock()
	c, ok := condCache[k]
	condMu.Unlock()
	if ok {
		return c.prg, c.est, c.err
	}
	prg, est, err := compileCondition(src, maxCost)
	condMu.Lock()
	if len(condCache) >= condCacheSize {
		clear(condCache)
	}
	condCache[k] = compiled{prg, est, err}
	condMu.Unlock()
	return prg, est, err
}

// DeviceBaseName is the SenML base name that names the device itself,
// "urn:dev:hypha:<device id>:", as the CLI and SDKs write it. It is left
// out of the names a condition or contract sees: "temp", not
// "urn:dev:hypha:hyphadev1…:temp".
func DeviceBaseName(dev keys.Address) string { return "urn:dev:hypha:" + dev.Device() + ":" }

// senmlRecords maps each resolved name of a SenML CBOR pack to its
// numeric value times 1000 (truncated); payloads were validated when they
// were submitted. A base name equal to the device's own (DeviceBaseName)
// is dropped.
func senmlRecords(dev keys.Address, payload []byte) map[string]int64 {
	out := map[string]int64{}
	var pack []map[int]any
	if err := cbor.Unmarshal(payload, &pack); err != nil {
		return out
	}
	bn, own := "", DeviceBaseName(dev)
	for _, r := range pack {
		if s, ok := r[-2].(string); ok {
			bn = s
			if s == own {
				bn = ""
			}
		}
		n, _ := r[0].(string)
		var v float64
		switch x := r[2].(type) {
		case uint64:
			v = float64(x)
		case int64:
			v = float64(x)
		case float64:
			v = x
		case float32:
			v = float64(x)
		default:
			continue
		}
		v *= 1000
		if math.IsNaN(v) || v >= math.MaxInt64 || v <= math.MinInt64 {
			continue
		}
		out[bn+n] = int64(v)
	}
	return out
}
