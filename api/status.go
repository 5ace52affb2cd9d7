package api

import (
	"net/http"

	"github.com/hypha-iot/hypha/errs"
)

// statusOf is the one table from error class to HTTP status. Every class in
// errs.All() has an entry (a test checks), as do the API's own edge classes.
//
// Decisions:
//   - Decoding and validation failures are the client's request: 400.
//   - Nonce, counter, duplicate-tx and "already exists / not in that state"
//     failures conflict with current state: 409.
//   - A signer that cannot pay (ErrInsufficientFee, ErrInsufficientFunds) is
//     402 Payment Required: the request is well formed and will succeed once
//     the account is funded. A fee or gas setting that is wrong whatever the
//     balance (ErrFeeTooLow, ErrOutOfGas, ErrGasLimitTooHigh) is 400.
//   - ErrHeight is 404, not 410: the ledger uses the same class for a height
//     not reached yet and for a pruned one, and only the latter is "gone".
//   - ErrBadSignature is 400, not 401: HTTP authentication is not involved.
//   - ErrNoSealKey is 409: the message is well formed and goes through once
//     the recipient (or an auditor) publishes a seal key. ErrRateLimited is
//     429: the sender retries in a later window of blocks. ErrNoGrant and
//     ErrGrantExpired are 403, like ErrUnauthorized.
//   - Contracts: code the runtime refuses (ErrInvalidModule) and a call of an
//     entry point the code lacks (ErrNoEntryPoint) are the client's request:
//     400. A contract that traps, reverts or exceeds its depth or memory
//     limit ran on a well-formed request and failed on its own terms: 422.
//     ErrUnknownContract and ErrUnknownCode are 404; ErrNotAdmin is 403.
var statusOf = map[*errs.Class]int{
	errs.ErrInternal: http.StatusInternalServerError,

	// Decoding.
	errs.ErrMalformed:        http.StatusBadRequest,
	errs.ErrTruncated:        http.StatusBadRequest,
	errs.ErrNonCanonical:     http.StatusBadRequest,
	errs.ErrUnknownField:     http.StatusBadRequest,
	errs.ErrDuplicateKey:     http.StatusBadRequest,
	errs.ErrIndefiniteLength: http.StatusBadRequest,
	errs.ErrTrailingBytes:    http.StatusBadRequest,
	errs.ErrTxTooLarge:       http.StatusRequestEntityTooLarge,
	errs.ErrUnknownMsg:       http.StatusBadRequest,
	errs.ErrNegativeAmount:   http.StatusBadRequest,
	errs.ErrAmountOverflow:   http.StatusBadRequest,

	// Envelope and authentication.
	errs.ErrWrongChain:       http.StatusBadRequest,
	errs.ErrBadSignature:     http.StatusBadRequest,
	errs.ErrMissingSignature: http.StatusBadRequest,
	errs.ErrPubKeyMismatch:   http.StatusBadRequest,
	errs.ErrInvalidKey:       http.StatusBadRequest,
	errs.ErrNonceReplayed:    http.StatusConflict,
	errs.ErrNonceGap:         http.StatusConflict,
	errs.ErrCounterReused:    http.StatusConflict,
	errs.ErrUnauthorized:     http.StatusForbidden,
	errs.ErrEmptyTx:          http.StatusBadRequest,
	errs.ErrNoPubKey:         http.StatusBadRequest,
	errs.ErrDuplicateCosig:   http.StatusBadRequest,

	// Fees and gas.
	errs.ErrFeeTooLow:         http.StatusBadRequest,
	errs.ErrInsufficientFee:   http.StatusPaymentRequired,
	errs.ErrOutOfGas:          http.StatusBadRequest,
	errs.ErrGasLimitTooHigh:   http.StatusBadRequest,
	errs.ErrInsufficientFunds: http.StatusPaymentRequired,
	errs.ErrZeroAmount:        http.StatusBadRequest,

	// Limits and validation.
	errs.ErrMemoTooLarge:    http.StatusBadRequest,
	errs.ErrPayloadTooLarge: http.StatusRequestEntityTooLarge,
	errs.ErrInvalidPayload:  http.StatusBadRequest,
	errs.ErrInvalidMsg:      http.StatusBadRequest,
	errs.ErrInvalidAddress:  http.StatusBadRequest,
	errs.ErrTooManyMsgs:     http.StatusBadRequest,

	// Devices.
	errs.ErrUnknownDevice:        http.StatusNotFound,
	errs.ErrDeviceExists:         http.StatusConflict,
	errs.ErrDeviceRevoked:        http.StatusConflict,
	errs.ErrDeviceDecommissioned: http.StatusConflict,
	errs.ErrNoPendingTransfer:    http.StatusConflict,
	errs.ErrKeyInUse:             http.StatusConflict,

	// Messages.
	errs.ErrNoSealKey:       http.StatusConflict,
	errs.ErrRateLimited:     http.StatusTooManyRequests,
	errs.ErrMessageReplayed: http.StatusConflict,
	errs.ErrUnknownMessage:  http.StatusNotFound,
	errs.ErrGrantExpired:    http.StatusForbidden,
	errs.ErrNoGrant:         http.StatusForbidden,
	errs.ErrBadSeal:         http.StatusBadRequest,

	// Files, firmware and the blob store.
	errs.ErrUnknownFile:      http.StatusNotFound,
	errs.ErrFileExists:       http.StatusConflict,
	errs.ErrNotGateway:       http.StatusForbidden,
	errs.ErrInvalidCID:       http.StatusBadRequest,
	errs.ErrUnknownModel:     http.StatusNotFound,
	errs.ErrModelExists:      http.StatusConflict,
	errs.ErrNotManufacturer:  http.StatusForbidden,
	errs.ErrVersionNotNewer:  http.StatusConflict,
	errs.ErrUnknownRelease:   http.StatusNotFound,
	errs.ErrFileTooLarge:     http.StatusRequestEntityTooLarge,
	errs.ErrBlobNotFound:     http.StatusNotFound,
	errs.ErrUploadIncomplete: http.StatusBadRequest,
	errs.ErrStorage:          http.StatusInsufficientStorage,
	errs.ErrContentMismatch:  http.StatusBadGateway,

	// Contracts.
	errs.ErrInvalidModule:   http.StatusBadRequest,
	errs.ErrNoEntryPoint:    http.StatusBadRequest,
	errs.ErrTrap:            http.StatusUnprocessableEntity,
	errs.ErrCallDepth:       http.StatusUnprocessableEntity,
	errs.ErrMemoryLimit:     http.StatusUnprocessableEntity,
	errs.ErrReverted:        http.StatusUnprocessableEntity,
	errs.ErrUnknownContract: http.StatusNotFound,
	errs.ErrUnknownCode:     http.StatusNotFound,
	errs.ErrNotAdmin:        http.StatusForbidden,
	errs.ErrBadCondition:    http.StatusBadRequest,

	// Queries.
	errs.ErrNotFound:     http.StatusNotFound,
	errs.ErrInvalidQuery: http.StatusBadRequest,
	errs.ErrHeight:       http.StatusNotFound,

	// Node and network.
	errs.ErrTimeout:     http.StatusGatewayTimeout,
	errs.ErrUnavailable: http.StatusServiceUnavailable,
	errs.ErrDuplicateTx: http.StatusConflict,

	// The API's edge classes.
	ErrMethodNotAllowed:     http.StatusMethodNotAllowed,
	ErrUnsupportedMediaType: http.StatusUnsupportedMediaType,
}

// HTTPStatus returns the HTTP status for an error class (500 for a class
// the table does not know).
func HTTPStatus(c *errs.Class) int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}
