package contract

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/txn"
)

// Get returns the contract at addr, or false.
func Get(c *exec.Context, addr keys.Address) (Contract, bool) {
	var ct Contract
	ok := c.GetRecord(InstanceKey(addr), &ct)
	return ct, ok
}

func mustGet(c *exec.Context, addr keys.Address) (Contract, error) {
	ct, ok := Get(c, addr)
	if !ok {
		return ct, errs.ErrUnknownContract.Wrap("%s", addr)
	}
	return ct, nil
}

// codeOf returns the code a contract runs; a contract whose code record is
// missing is state corruption.
func codeOf(c *exec.Context, ct *Contract) (Code, error) {
	code, ok := GetCode(c, [32]byte(ct.CodeHash))
	if !ok {
		return code, errs.ErrInternal.Wrap("contract %s runs code %x, which is not stored", ct.Address, ct.CodeHash)
	}
	return code, nil
}

// Instantiate executes contract.instantiate: it creates the contract at
// Address(signer, nonce, msg index), moves the funds to it and runs the
// code's instantiate entry point with the args, if the code exports one
// (args for code without one are an error).
func Instantiate(c *exec.Context, env *Env, m *txn.ContractInstantiate) error {
	if err := requireRuntime(env); err != nil {
		return err
	}
	code, err := mustCode(c, [32]byte(m.CodeHash))
	if err != nil {
		return err
	}
	hasInit := code.HasEntry(EntryInstantiate)
	if !hasInit && len(m.Args) > 0 {
		return errs.ErrNoEntryPoint.Wrap("code %x exports no %s entry point to take the args", m.CodeHash, EntryInstantiate)
	}
	addr := Address(c.Signer, c.Nonce, c.MsgIndex)
	if c.Has(InstanceKey(addr)) {
		return errs.ErrInternal.Wrap("contract address %s already taken", addr)
	}
	ct := Contract{Address: addr, CodeHash: m.CodeHash, Creator: c.Signer, Admin: m.Admin, Label: m.Label,
		Created: c.Header.Height, TxHash: c.TxHash[:]}
	c.SetRecord(InstanceKey(addr), &ct)
	if hasInit {
		if _, err := run(c, env, &ct, &code, EntryInstantiate, m.Args, m.Funds); err != nil {
			return err
		}
	} else if m.Funds > 0 {
		if err := account.Send(c, c.Signer, addr, m.Funds); err != nil {
			return err
		}
	}
	attrs := []exec.Attr{exec.Ix("contract", addr.String()), exec.Ix("code", hex.EncodeToString(m.CodeHash)),
		exec.Ix("creator", c.Signer.String())}
	if m.Admin != nil {
		attrs = append(attrs, exec.A("admin", m.Admin.String()))
	}
	if m.Label != "" {
		attrs = append(attrs, exec.A("label", m.Label))
	}
	c.Emit("contract.instantiate", attrs...)
	return nil
}

// Call executes contract.call: it moves the funds to the contract and runs
// its call entry point with the args.
func Call(c *exec.Context, env *Env, m *txn.ContractCall) error {
	ct, err := runtimeContract(c, env, m.Contract)
	if err != nil {
		return err
	}
	code, err := codeOf(c, &ct)
	if err != nil {
		return err
	}
	if !code.HasEntry(EntryCall) {
		return errs.ErrNoEntryPoint.Wrap("contract %s exports no %s entry point", ct.Address, EntryCall)
	}
	res, err := run(c, env, &ct, &code, EntryCall, m.Args, m.Funds)
	if err != nil {
		return err
	}
	c.Emit("contract.call", exec.Ix("contract", ct.Address.String()), exec.Ix("caller", c.Signer.String()),
		exec.A("return", hex.EncodeToString(res.Return)))
	return nil
}

// Migrate executes contract.migrate: signed by the contract's admin, it
// switches the contract to other stored code and runs that code's migrate
// entry point with the args.
func Migrate(c *exec.Context, env *Env, m *txn.ContractMigrate) error {
	ct, err := runtimeContract(c, env, m.Contract)
	if err != nil {
		return err
	}
	switch {
	case ct.Admin == nil:
		return errs.ErrNotAdmin.Wrap("%s has no admin: it cannot be migrated", ct.Address)
	case *ct.Admin != c.Signer:
		return errs.ErrNotAdmin.Wrap("%s is not the admin of %s", c.Signer, ct.Address)
	}
	code, err := mustCode(c, [32]byte(m.CodeHash))
	if err != nil {
		return err
	}
	if !code.HasEntry(EntryMigrate) {
		return errs.ErrNoEntryPoint.Wrap("code %x exports no %s entry point", m.CodeHash, EntryMigrate)
	}
	from := ct.CodeHash
	ct.CodeHash, ct.Migrated = m.CodeHash, c.Header.Height
	c.SetRecord(InstanceKey(ct.Address), &ct)
	if _, err := run(c, env, &ct, &code, EntryMigrate, m.Args, 0); err != nil {
		return err
	}
	c.Emit("contract.migrate", exec.Ix("contract", ct.Address.String()), exec.Ix("admin", c.Signer.String()),
		exec.A("from", hex.EncodeToString(from)), exec.A("code", hex.EncodeToString(m.CodeHash)))
	return nil
}

// run moves funds from the signer to the contract and runs entry of code
// for ct, in a child of env.KV that is written back only if the call
// succeeds: a failed call (trap, revert, out of gas, ...) leaves no write,
// transfer, message or event behind, and its gas is charged all the same.
//
// Gas: the call may use what the tx has left; the ledger gas its host
// functions charge (storage, records read) and the runtime's gas, one for
// one, both count against the tx's limit.
func run(c *exec.Context, env *Env, ct *Contract, code *Code, entry string, input []byte, funds txn.Amount) (Result, error) {
	child := exec.NewCache(env.KV)
	cc := exec.NewContext(c.Header, c.Gas, c.Meter, child)
	cc.TxHash, cc.Signer, cc.SignerIsDevice, cc.Cosigners = c.TxHash, c.Signer, c.SignerIsDevice, c.Cosigners
	cc.Nonce, cc.TxIndex, cc.MsgIndex = c.Nonce, c.TxIndex, c.MsgIndex
	if funds > 0 {
		if err := account.Send(cc, c.Signer, ct.Address, funds); err != nil {
			return Result{}, err
		}
	}
	h := &host{c: cc, kv: child, view: env.View, self: ct.Address, retention: env.Limits.MessageRetention, depth: env.Depth,
		maxQueued: env.Limits.MaxQueuedPerContract}
	inv := Invocation{Entry: entry, Input: input, GasLimit: c.Meter.Limit - c.Meter.Used,
		Caller: bytes.Clone(c.Signer[:]), Contract: bytes.Clone(ct.Address[:]),
		Height: c.Header.Height, Time: c.Header.Time, Funds: uint64(funds), Seed: Seed(c.Header.Height, c.TxHash, c.MsgIndex)}
	res, err := env.Runtime.Call([32]byte(code.Hash), func() ([]byte, error) { return loadCode(env.KV, code) }, inv, h)
	if h.fault != nil {
		panic(*h.fault)
	}
	if gerr := consume(c.Meter, res.GasUsed); err == nil {
		err = gerr
	}
	if err != nil {
		return res, err
	}
	child.WriteTo(env.KV)
	for _, e := range cc.Events() {
		c.Emit(e.Type, e.Attrs...)
	}
	return res, nil
}

// Seed is the randomness seed of a call: SHA-256(height:8 || tx hash ||
// msg index:2), the same on every node and different for every msg.
func Seed(height int64, txHash [32]byte, msgIndex uint16) [32]byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(height))
	b = append(b, txHash[:]...)
	return sha256.Sum256(binary.BigEndian.AppendUint16(b, msgIndex))
}

// consume charges n gas to m without panicking: past the limit it leaves m
// at its limit and returns ErrOutOfGas.
func consume(m *exec.Meter, n uint64) error {
	if n > m.Limit-m.Used {
		m.Used = m.Limit
		return errs.ErrOutOfGas.Wrap("gas limit %d exceeded by the contract's %d gas", m.Limit, n)
	}
	m.Used += n
	return nil
}
