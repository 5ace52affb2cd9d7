package ledger

import (
	"bytes"
	"fmt"
	"math/bits"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/ledger/file"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/ledger/reading"
	"github.com/hypha-iot/hypha/txn"
)

type mode int

const (
	modeCheck mode = iota
	modeDeliver
)

// Result is the outcome of one tx.
type Result struct {
	Code      uint32       `json:"code"`
	Name      string       `json:"name,omitempty"`
	Log       string       `json:"log,omitempty"`
	GasWanted uint64       `json:"gas_wanted"`
	GasUsed   uint64       `json:"gas_used"`
	Events    []exec.Event `json:"events,omitempty"`
	TxHash    [32]byte     `json:"-"`
}

// OK tells whether the tx succeeded.
func (r Result) OK() bool { return r.Code == 0 }

func resultOf(err error, tx *txn.Tx) Result {
	var r Result
	if tx != nil {
		r.TxHash = tx.Hash()
		r.GasWanted = tx.Body.Fee.GasLimit
	}
	if err != nil {
		c := errs.Of(err)
		r.Code, r.Name, r.Log = c.Code, c.Name, errs.Message(err)
	}
	return r
}

// runTx executes one encoded tx over parent. The ante stage (signer, nonce,
// signatures, fee) must pass for the tx to have any effect; once it has,
// the fee is charged and the nonce used whatever the msgs do, and the msgs
// apply all together or not at all. It returns the result and the fee
// charged (0 if none).
//
// tx is raw already decoded, or nil.
func (l *Ledger) runTx(m mode, parent *exec.Cache, h exec.Header, p *Params, chainID string, raw []byte, tx *txn.Tx, txIndex uint32) (res Result, fee txn.Amount) {
	if tx == nil {
		var err error
		if tx, err = txn.Decode(raw, int(p.MaxTxBytes)); err != nil {
			r := resultOf(err, nil)
			r.TxHash = txn.Hash(raw)
			return r, 0
		}
	}
	records, err := l.checkStateless(m, tx, p, chainID)
	if err != nil {
		return resultOf(err, tx), 0
	}
	intrinsic := intrinsicGas(tx, &p.Gas, len(raw))
	meter := &exec.Meter{Limit: tx.Body.Fee.GasLimit}
	if intrinsic > meter.Limit {
		r := resultOf(errs.ErrOutOfGas.Wrap("intrinsic gas %d above the limit %d", intrinsic, meter.Limit), tx)
		return r, 0
	}
	meter.Used = intrinsic

	ante := exec.NewCache(parent)
	actx := exec.NewContext(h, &p.Gas, &exec.Meter{Limit: ^uint64(0)}, ante)
	actx.TxHash = tx.Hash()
	signerKey, err := l.ante(actx, tx)
	if err != nil {
		r := resultOf(err, tx)
		r.GasUsed = intrinsic
		return r, 0
	}
	if g := intrinsic + sigGas(&p.Gas, signerKey.Bytes()); g > meter.Limit {
		r := resultOf(errs.ErrOutOfGas.Wrap("intrinsic gas %d above the limit %d", g, meter.Limit), tx)
		return r, 0
	} else {
		meter.Used = g
	}
	fee = tx.Body.Fee.Amount
	anteEvents := actx.Events()

	msgs := exec.NewCache(ante)
	mctx := exec.NewContext(h, &p.Gas, meter, msgs)
	mctx.TxHash, mctx.Signer, mctx.SignerIsDevice = actx.TxHash, actx.Signer, actx.SignerIsDevice
	mctx.Cosigners, mctx.Nonce, mctx.TxIndex = actx.Cosigners, tx.Body.Nonce, txIndex
	env := &contract.Env{Runtime: l.cfg.Contracts, Limits: p.contractLimits(), KV: msgs}
	if m == modeDeliver {
		env.View = l.blockView // under l.mu
	} else {
		env.View = l.checkView // under l.checkMu
	}
	err = runMsgs(mctx, tx, p, records, env)
	if err == nil {
		msgs.WriteTo(ante)
	}
	// In a block the fee and nonce stay even when the msgs fail. CheckTx
	// refuses such a tx, so its pending view must not keep them either, or
	// the signer's next nonce would point past a tx no block will hold.
	if m == modeDeliver || err == nil {
		ante.WriteTo(parent)
	}
	res = resultOf(err, tx)
	res.GasUsed = meter.Used
	res.Events = anteEvents
	if err == nil {
		res.Events = append(res.Events, mctx.Events()...)
	}
	return res, fee
}

// checkStateless runs every check that needs no state. It returns the
// number of SenML records of a reading msg (0 if none).
func (l *Ledger) checkStateless(m mode, tx *txn.Tx, p *Params, chainID string) (records int, err error) {
	b := &tx.Body
	if b.ChainID != chainID {
		return 0, errs.ErrWrongChain.Wrap("tx for %q on chain %q", b.ChainID, chainID)
	}
	if len(b.Msgs) == 0 {
		return 0, errs.ErrEmptyTx.Wrap("no msgs")
	}
	if uint64(len(b.Msgs)) > p.MaxMsgsPerTx {
		return 0, errs.ErrTooManyMsgs.Wrap("%d msgs, limit %d", len(b.Msgs), p.MaxMsgsPerTx)
	}
	if uint64(len(b.Memo)) > p.MaxMemoBytes {
		return 0, errs.ErrMemoTooLarge.Wrap("memo %d bytes, limit %d", len(b.Memo), p.MaxMemoBytes)
	}
	if b.Fee.GasLimit > p.MaxGasPerTx {
		return 0, errs.ErrGasLimitTooHigh.Wrap("gas limit %d, max %d", b.Fee.GasLimit, p.MaxGasPerTx)
	}
	minPrice := p.MinGasPriceMilli
	if m == modeCheck && l.cfg.LocalMinGasPriceMilli > minPrice {
		minPrice = l.cfg.LocalMinGasPriceMilli
	}
	if !feeCovers(b.Fee, minPrice) {
		return 0, errs.ErrFeeTooLow.Wrap("fee %d%s for gas %d; minimum price %d%s per 1000 gas",
			b.Fee.Amount, txn.Denom, b.Fee.GasLimit, minPrice, txn.Denom)
	}
	if len(tx.Sig) == 0 {
		return 0, errs.ErrMissingSignature.Wrap("unsigned tx")
	}
	readings := 0
	for i, am := range b.Msgs {
		if err := am.Msg.ValidateBasic(); err != nil {
			return 0, fmt.Errorf("msg %d (%s): %w", i, am.Msg.Type(), err)
		}
		if err := checkContractMsg(am.Msg, p, l.cfg.Contracts != nil); err != nil {
			return 0, fmt.Errorf("msg %d (%s): %w", i, am.Msg.Type(), err)
		}
		if ms, ok := am.Msg.(*txn.MessageSend); ok && uint64(len(ms.Box)) > p.MaxMessageBytes {
			return 0, errs.ErrPayloadTooLarge.Wrap("message %d bytes, limit %d", len(ms.Box), p.MaxMessageBytes)
		}
		if rs, ok := am.Msg.(*txn.ReadingSubmit); ok {
			readings++
			if readings > 1 {
				return 0, errs.ErrInvalidMsg.Wrap("one reading per tx: the tx nonce is its counter")
			}
			if uint64(len(rs.Payload)) > p.MaxReadingBytes {
				return 0, errs.ErrPayloadTooLarge.Wrap("reading %d bytes, limit %d", len(rs.Payload), p.MaxReadingBytes)
			}
			if records, err = reading.ValidateSenML(rs.Payload); err != nil {
				return 0, err
			}
		}
	}
	return records, nil
}

// checkContractMsg refuses contract msgs when the ledger has no runtime, and
// code larger than the chain allows, before the tx pays a fee.
func checkContractMsg(m txn.Msg, p *Params, haveRuntime bool) error {
	switch m := m.(type) {
	case *txn.ContractStore:
		if m.TotalSize > p.MaxCodeBytes {
			return errs.ErrPayloadTooLarge.Wrap("contract code of %d bytes exceeds %d", m.TotalSize, p.MaxCodeBytes)
		}
	case *txn.ContractInstantiate, *txn.ContractCall, *txn.ContractMigrate, *txn.ContractCancelStore,
		*txn.ContractSubscribe, *txn.ContractUnsubscribe:
	default:
		return nil
	}
	if !haveRuntime {
		return errs.ErrUnknownMsg.Wrap("this ledger runs no contract runtime (ledger.Config.Contracts is nil)")
	}
	return nil
}

// feeCovers tells whether fee.Amount*1000 >= GasLimit*priceMilli, in 128 bits.
func feeCovers(f txn.Fee, priceMilli uint64) bool {
	hiHave, loHave := bits.Mul64(uint64(f.Amount), 1000)
	hiNeed, loNeed := bits.Mul64(f.GasLimit, priceMilli)
	return hiHave > hiNeed || hiHave == hiNeed && loHave >= loNeed
}

// intrinsicGas is what a tx costs before its msgs run: the base, its size,
// the co-signatures, and a fixed charge for the ante reads and writes. The
// signer's own signature is priced in ante, once its key type is known
// (a device's or account's key on record need not be in the tx).
func intrinsicGas(tx *txn.Tx, g *exec.GasSchedule, size int) uint64 {
	gas := g.TxBase + g.TxByte*uint64(size) + 2*(g.ReadFlat+g.WriteFlat)
	for _, c := range tx.Cosigs {
		gas += sigGas(g, c.PubKey)
	}
	return gas
}

// sigGas prices verifying one signature by the key in wire form pub.
func sigGas(g *exec.GasSchedule, pub []byte) uint64 {
	if len(pub) > 0 && keys.Type(pub[0]) == keys.P256 {
		return g.SigP256
	}
	return g.SigEd25519
}

// ante authenticates the signer, checks and uses the nonce, verifies every
// signature and charges the fee. It returns the signer's key.
func (l *Ledger) ante(c *exec.Context, tx *txn.Tx) (keys.PublicKey, error) {
	b := &tx.Body
	c.Signer = b.Signer
	sb, err := tx.SignBytes()
	if err != nil {
		return keys.PublicKey{}, errs.ErrMalformed.WithCause(err, "sign bytes")
	}
	var pk keys.PublicKey
	dev, isDev := device.Get(c, b.Signer)
	acct := account.Get(c, b.Signer)
	if isDev {
		c.SignerIsDevice = true
		if pk, err = device.CheckSigner(dev); err != nil {
			return keys.PublicKey{}, err
		}
		if err := device.CheckCounter(dev.ID, b.Nonce, acct.Nonce); err != nil {
			return keys.PublicKey{}, err
		}
		if b.PubKey != nil && !bytes.Equal(b.PubKey, dev.PubKey) {
			return keys.PublicKey{}, errs.ErrPubKeyMismatch.Wrap("tx key is not the current key of %s", dev.ID.Device())
		}
	} else {
		switch {
		case acct.PubKey != nil:
			if b.PubKey != nil && !bytes.Equal(b.PubKey, acct.PubKey) {
				return keys.PublicKey{}, errs.ErrPubKeyMismatch.Wrap("tx key is not the key of %s", b.Signer)
			}
			if pk, err = keys.ParsePublicKey(acct.PubKey); err != nil {
				return keys.PublicKey{}, errs.ErrInternal.WithCause(err, "stored account key")
			}
		case b.PubKey == nil:
			return keys.PublicKey{}, errs.ErrNoPubKey.Wrap("%s is not a registered device and has no account key on record", b.Signer)
		default:
			if pk, err = keys.ParsePublicKey(b.PubKey); err != nil {
				return keys.PublicKey{}, errs.ErrInvalidKey.WithCause(err, "signer key")
			}
			if pk.Address() != b.Signer {
				return keys.PublicKey{}, errs.ErrPubKeyMismatch.Wrap("key address %s is not the signer %s", pk.Address(), b.Signer)
			}
			acct.PubKey = b.PubKey
		}
		if b.Nonce < acct.Nonce {
			return keys.PublicKey{}, errs.ErrNonceReplayed.Wrap("nonce %d, next is %d", b.Nonce, acct.Nonce)
		}
		if b.Nonce > acct.Nonce {
			return keys.PublicKey{}, errs.ErrNonceGap.Wrap("nonce %d, next is %d", b.Nonce, acct.Nonce)
		}
	}
	h := tx.Hash()
	if !l.verify(h, pk, sb, tx.Sig) {
		return keys.PublicKey{}, errs.ErrBadSignature.Wrap("signer %s", b.Signer)
	}
	for i, cs := range tx.Cosigs {
		cpk, err := keys.ParsePublicKey(cs.PubKey)
		if err != nil {
			return keys.PublicKey{}, errs.ErrInvalidKey.WithCause(err, "cosig %d", i)
		}
		for _, seen := range c.Cosigners {
			if seen.Equal(cpk) {
				return keys.PublicKey{}, errs.ErrDuplicateCosig.Wrap("cosig %d", i)
			}
		}
		if !l.verify(h, cpk, sb, cs.Sig) {
			return keys.PublicKey{}, errs.ErrBadSignature.Wrap("cosig %d by %s", i, cpk.Address())
		}
		c.Cosigners = append(c.Cosigners, cpk)
	}
	if acct.Balance < b.Fee.Amount {
		return keys.PublicKey{}, errs.ErrInsufficientFee.Wrap("%s has %d%s, fee is %d%s", b.Signer, acct.Balance, txn.Denom, b.Fee.Amount, txn.Denom)
	}
	acct.Balance -= b.Fee.Amount
	if isDev {
		acct.Nonce = b.Nonce // the counter
	} else {
		acct.Nonce++
	}
	account.Put(c, b.Signer, acct)
	c.Emit("tx", exec.Ix("signer", b.Signer.String()), exec.A("fee", exec.U(uint64(b.Fee.Amount))),
		exec.A("nonce", exec.U(b.Nonce)))
	return pk, nil
}

// runMsgs applies the msgs in order; the first error stops them. env serves
// the contract msgs; it writes through c's cache.
func runMsgs(c *exec.Context, tx *txn.Tx, p *Params, records int, env *contract.Env) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch v := r.(type) {
			case exec.OutOfGas:
				err = errs.ErrOutOfGas.Wrap("gas limit %d, wanted %d", v.Limit, v.Wanted)
			case exec.StorageFault:
				panic(v)
			default:
				err = errs.ErrInternal.Wrap("panic in msg handler: %v", v)
			}
		}
	}()
	maxTags := int(p.MaxTagsPerDevice)
	for i, am := range tx.Body.Msgs {
		c.MsgIndex = uint16(i)
		switch m := am.Msg.(type) {
		case *txn.Send:
			err = account.HandleSend(c, m)
		case *txn.DeviceRegister:
			err = device.Register(c, m, maxTags)
		case *txn.DeviceUpdate:
			err = device.Update(c, m, maxTags)
		case *txn.DeviceRotateKey:
			err = device.RotateKey(c, m)
		case *txn.DeviceTransfer:
			err = device.Transfer(c, m)
		case *txn.DeviceAcceptTransfer:
			err = device.AcceptTransfer(c, m)
		case *txn.DeviceCancelTransfer:
			err = device.CancelTransfer(c, m)
		case *txn.DeviceRevoke:
			err = device.Revoke(c, m)
		case *txn.DeviceDecommission:
			err = device.Decommission(c, m)
		case *txn.ReadingSubmit:
			err = submitReading(c, m, p, records)
		case *txn.SetSealKey:
			err = message.SetSealKey(c, m)
		case *txn.MessageSend:
			if contract.IsContract(c, m.To) {
				err = contract.Message(c, env, m, p.messageLimits())
			} else {
				err = message.Send(c, m, p.messageLimits())
			}
		case *txn.MessageReceipt:
			err = message.Receipt(c, m)
		case *txn.MessageGrant:
			err = message.GrantMsg(c, m)
		case *txn.FilePublish:
			err = file.Publish(c, m, p.fileLimits())
		case *txn.FilePin:
			err = file.PinMsg(c, m)
		case *txn.FileUnpin:
			err = file.Unpin(c, m)
		case *txn.FileGrant:
			err = file.Grant(c, m)
		case *txn.FirmwareRegisterModel:
			err = file.RegisterModel(c, m)
		case *txn.FirmwareRelease:
			err = file.ReleaseMsg(c, m)
		case *txn.FirmwareReport:
			err = file.Report(c, m)
		case *txn.ContractStore:
			err = contract.Store(c, env, m)
		case *txn.ContractCancelStore:
			err = contract.CancelStore(c, env, m)
		case *txn.ContractInstantiate:
			err = contract.Instantiate(c, env, m)
		case *txn.ContractCall:
			err = contract.Call(c, env, m)
		case *txn.ContractMigrate:
			err = contract.Migrate(c, env, m)
		case *txn.ContractSubscribe:
			err = contract.Subscribe(c, env, m)
		case *txn.ContractUnsubscribe:
			err = contract.Unsubscribe(c, env, m)
		case *txn.ContractAttach:
			err = contract.Attach(c, env, m)
		case *txn.ContractDetach:
			err = contract.Detach(c, env, m)
		default:
			err = errs.ErrUnknownMsg.Wrap("%T", m)
		}
		if err != nil {
			return fmt.Errorf("msg %d (%s): %w", i, am.Msg.Type(), err)
		}
	}
	return nil
}

func submitReading(c *exec.Context, m *txn.ReadingSubmit, p *Params, records int) error {
	if !c.SignerIsDevice {
		return errs.ErrUnknownDevice.Wrap("readings must be signed by a registered device; %s is not one", c.Signer.Device())
	}
	// The ante found the signer an active device; only an earlier msg of
	// the same tx can have changed that since.
	if c.MsgIndex > 0 {
		d, ok := device.Get(c, c.Signer)
		if !ok {
			return errs.ErrUnknownDevice.Wrap("%s", c.Signer.Device())
		}
		if d.Status != device.Active {
			return errs.ErrDeviceRevoked.Wrap("%s is %s", d.ID.Device(), d.Status)
		}
	}
	reading.Submit(c, c.Signer, m, records, p.ReadingRetention)
	// Contracts with a reading trigger on the device: queued in tx order,
	// run at the block's end (contract.RunTriggers).
	contract.EnqueueReading(c, c.Signer, c.Nonce, m.Payload, p.MaxQueuedPerContract)
	return nil
}
