// Package errs is Hypha's table of failure classes. Every failure the ledger can
// report has a stable numeric code and a stable name (ErrBadSignature, ErrNonce…);
// each edge (ABCI code, HTTP status, MQTT reason code, CLI exit) maps these once.
//
// Codes are part of the protocol: never renumber or reuse one. Code 0 is success.
package errs

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Class is one failure class. The package-level values are the only instances;
// compare with errors.Is, or find the class of any error with Of.
type Class struct {
	Code uint32
	Name string
	desc string
}

func (c *Class) Error() string { return c.Name + ": " + c.desc }

// Wrap returns an error of class c with a formatted message for humans.
func (c *Class) Wrap(format string, args ...any) error {
	return &wrapped{class: c, msg: fmt.Sprintf(format, args...)}
}

// WithCause returns an error of class c that also wraps cause.
func (c *Class) WithCause(cause error, format string, args ...any) error {
	return &wrapped{class: c, msg: fmt.Sprintf(format, args...), cause: cause}
}

type wrapped struct {
	class *Class
	msg   string
	cause error
}

func (w *wrapped) Error() string {
	if w.cause != nil {
		return w.class.Name + ": " + w.msg + ": " + w.cause.Error()
	}
	return w.class.Name + ": " + w.msg
}

func (w *wrapped) Is(target error) bool { return target == w.class }
func (w *wrapped) Unwrap() error        { return w.cause }

// Of returns the class of err: the first Class found in its chain, or
// ErrInternal for an unclassified error. Of(nil) is nil.
func Of(err error) *Class {
	if err == nil {
		return nil
	}
	var w *wrapped
	if errors.As(err, &w) {
		return w.class
	}
	var c *Class
	if errors.As(err, &c) {
		return c
	}
	return ErrInternal
}

// Message is err's text without its class name prefix, for results that carry
// the name separately.
func Message(err error) string {
	var w *wrapped
	if errors.As(err, &w) {
		if w.cause != nil {
			return w.msg + ": " + w.cause.Error()
		}
		return w.msg
	}
	var c *Class
	if errors.As(err, &c) {
		return c.desc
	}
	return err.Error()
}

var registry []*Class

func define(code uint32, name, desc string) *Class {
	c := &Class{Code: code, Name: name, desc: desc}
	registry = append(registry, c)
	return c
}

// All lists every class in code order (documentation, tests, edge tables).
func All() []*Class {
	out := append([]*Class(nil), registry...)
	slices.SortFunc(out, func(a, b *Class) int { return cmp.Compare(a.Code, b.Code) })
	return out
}

// ByCode returns the class with the given code, or nil.
func ByCode(code uint32) *Class {
	for _, c := range registry {
		if c.Code == code {
			return c
		}
	}
	return nil
}

// The classes. Grouped by where they arise; the numbers are stable.
var (
	ErrInternal = define(1, "ErrInternal", "internal error")

	// Decoding (txn).
	ErrMalformed        = define(2, "ErrMalformed", "malformed encoding")
	ErrTruncated        = define(3, "ErrTruncated", "truncated input")
	ErrNonCanonical     = define(4, "ErrNonCanonical", "not in canonical encoding")
	ErrUnknownField     = define(5, "ErrUnknownField", "unknown field")
	ErrDuplicateKey     = define(6, "ErrDuplicateKey", "duplicate map key")
	ErrIndefiniteLength = define(7, "ErrIndefiniteLength", "indefinite-length item")
	ErrTrailingBytes    = define(8, "ErrTrailingBytes", "trailing bytes after the item")
	ErrTxTooLarge       = define(9, "ErrTxTooLarge", "transaction too large")
	ErrUnknownMsg       = define(10, "ErrUnknownMsg", "unknown message type")
	ErrNegativeAmount   = define(11, "ErrNegativeAmount", "negative amount")
	ErrAmountOverflow   = define(12, "ErrAmountOverflow", "amount overflows")

	// Envelope and authentication.
	ErrWrongChain       = define(20, "ErrWrongChain", "wrong chain id")
	ErrBadSignature     = define(21, "ErrBadSignature", "signature does not verify")
	ErrMissingSignature = define(22, "ErrMissingSignature", "a required signature is missing")
	ErrPubKeyMismatch   = define(23, "ErrPubKeyMismatch", "public key does not match the signer")
	ErrInvalidKey       = define(24, "ErrInvalidKey", "invalid public key")
	ErrNonceReplayed    = define(25, "ErrNonceReplayed", "nonce already used")
	ErrNonceGap         = define(26, "ErrNonceGap", "nonce ahead of the next expected")
	ErrCounterReused    = define(27, "ErrCounterReused", "device counter not above the last one")
	ErrUnauthorized     = define(28, "ErrUnauthorized", "signer is not allowed to do this")
	ErrEmptyTx          = define(29, "ErrEmptyTx", "transaction has no messages")
	ErrNoPubKey         = define(19, "ErrNoPubKey", "signer has no public key on record: the tx must carry it")
	ErrDuplicateCosig   = define(18, "ErrDuplicateCosig", "the same key co-signs twice")

	// Fees and gas.
	ErrFeeTooLow         = define(30, "ErrFeeTooLow", "fee below the minimum gas price")
	ErrInsufficientFee   = define(31, "ErrInsufficientFee", "fee payer cannot pay the fee")
	ErrOutOfGas          = define(32, "ErrOutOfGas", "out of gas")
	ErrGasLimitTooHigh   = define(33, "ErrGasLimitTooHigh", "gas limit above the per-tx maximum")
	ErrInsufficientFunds = define(34, "ErrInsufficientFunds", "balance too low")
	ErrZeroAmount        = define(35, "ErrZeroAmount", "amount must be positive")

	// Limits and validation.
	ErrMemoTooLarge    = define(40, "ErrMemoTooLarge", "memo too large")
	ErrPayloadTooLarge = define(41, "ErrPayloadTooLarge", "payload too large")
	ErrInvalidPayload  = define(42, "ErrInvalidPayload", "payload is not valid SenML CBOR")
	ErrInvalidMsg      = define(43, "ErrInvalidMsg", "invalid message field")
	ErrInvalidAddress  = define(44, "ErrInvalidAddress", "invalid address")
	ErrTooManyMsgs     = define(45, "ErrTooManyMsgs", "too many messages in one transaction")

	// Devices.
	ErrUnknownDevice        = define(50, "ErrUnknownDevice", "no such device")
	ErrDeviceExists         = define(51, "ErrDeviceExists", "device already registered")
	ErrDeviceRevoked        = define(52, "ErrDeviceRevoked", "device key revoked")
	ErrDeviceDecommissioned = define(53, "ErrDeviceDecommissioned", "device decommissioned")
	ErrNoPendingTransfer    = define(54, "ErrNoPendingTransfer", "no pending transfer for this device")
	ErrKeyInUse             = define(55, "ErrKeyInUse", "key already belongs to a device")

	// Queries.
	ErrNotFound     = define(60, "ErrNotFound", "not found")
	ErrInvalidQuery = define(61, "ErrInvalidQuery", "invalid query")
	ErrHeight       = define(62, "ErrHeight", "height not available")

	// Messages.
	ErrNoSealKey       = define(80, "ErrNoSealKey", "recipient has no published seal key")
	ErrRateLimited     = define(81, "ErrRateLimited", "sender exceeded its message rate")
	ErrMessageReplayed = define(82, "ErrMessageReplayed", "message id already used by this sender")
	ErrUnknownMessage  = define(83, "ErrUnknownMessage", "no such message")
	ErrGrantExpired    = define(84, "ErrGrantExpired", "grant expired")
	ErrNoGrant         = define(85, "ErrNoGrant", "sender may not send this kind to this device")
	ErrBadSeal         = define(86, "ErrBadSeal", "sealed box does not match its recipients")

	// Files and firmware (ledger side).
	ErrUnknownFile     = define(90, "ErrUnknownFile", "no file record for this CID")
	ErrFileExists      = define(91, "ErrFileExists", "a record for this CID already exists")
	ErrNotGateway      = define(92, "ErrNotGateway", "signer is not a gateway of this network")
	ErrInvalidCID      = define(93, "ErrInvalidCID", "invalid content identifier")
	ErrUnknownModel    = define(94, "ErrUnknownModel", "no manufacturer registered for this device model")
	ErrModelExists     = define(95, "ErrModelExists", "model already has a manufacturer")
	ErrNotManufacturer = define(96, "ErrNotManufacturer", "signer is not the model's manufacturer")
	ErrVersionNotNewer = define(97, "ErrVersionNotNewer", "release version not above the latest release")
	ErrUnknownRelease  = define(98, "ErrUnknownRelease", "no such firmware release for this model")
	ErrFileTooLarge    = define(99, "ErrFileTooLarge", "file larger than the configured limit")

	// Contracts (ledger/contract and the runtime behind it).
	ErrInvalidModule   = define(120, "ErrInvalidModule", "contract code is not a module the runtime admits")
	ErrNoEntryPoint    = define(121, "ErrNoEntryPoint", "contract has no such entry point")
	ErrTrap            = define(122, "ErrTrap", "contract trapped")
	ErrCallDepth       = define(123, "ErrCallDepth", "contract call depth exceeded")
	ErrMemoryLimit     = define(124, "ErrMemoryLimit", "contract memory limit exceeded")
	ErrReverted        = define(125, "ErrReverted", "contract reverted")
	ErrUnknownContract = define(126, "ErrUnknownContract", "no contract at this address")
	ErrUnknownCode     = define(127, "ErrUnknownCode", "no contract code stored under this hash")
	ErrNotAdmin        = define(128, "ErrNotAdmin", "signer is not the contract's admin")
	ErrBadCondition    = define(129, "ErrBadCondition", "trigger condition is not a bool CEL expression within the cost bound")

	// Blob store (never produced by the ledger itself).
	ErrBlobNotFound     = define(110, "ErrBlobNotFound", "content not found on this gateway or its peers")
	ErrUploadIncomplete = define(111, "ErrUploadIncomplete", "upload ended before all its bytes arrived")
	ErrStorage          = define(112, "ErrStorage", "blob storage failed (disk full or read-only)")
	ErrContentMismatch  = define(113, "ErrContentMismatch", "content does not match its CID")

	// Node and network (never produced by the ledger itself).
	ErrTimeout     = define(70, "ErrTimeout", "timed out waiting")
	ErrUnavailable = define(71, "ErrUnavailable", "service unavailable")
	ErrDuplicateTx = define(72, "ErrDuplicateTx", "tx already submitted")
)
