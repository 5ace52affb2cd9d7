package ledger

import (
	"fmt"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/ledger/file"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/txn"
)

// Params are the chain parameters, kept in state under "params/".
type Params struct {
	MaxTxBytes   uint64 `json:"max_tx_bytes" cbor:"1,keyasint"`
	MaxMemoBytes uint64 `json:"max_memo_bytes" cbor:"2,keyasint"`
	MaxMsgsPerTx uint64 `json:"max_msgs_per_tx" cbor:"3,keyasint"`
	MaxGasPerTx  uint64 `json:"max_gas_per_tx" cbor:"4,keyasint"`
	// MinGasPriceMilli is the chain's minimum gas price in uhyp per 1,000 gas:
	// a tx's fee must be at least gas_limit * MinGasPriceMilli / 1000.
	MinGasPriceMilli uint64 `json:"min_gas_price_milli" cbor:"5,keyasint"`
	MaxReadingBytes  uint64 `json:"max_reading_bytes" cbor:"6,keyasint"`
	MaxTagsPerDevice uint64 `json:"max_tags_per_device" cbor:"7,keyasint"`
	// ReadingRetention is how many reading-sequence entries a device keeps
	// in state (the newest ones); 0 keeps all.
	ReadingRetention uint64           `json:"reading_retention" cbor:"8,keyasint"`
	Gas              exec.GasSchedule `json:"gas" cbor:"9,keyasint"`
	// MaxMessageBytes bounds a sealed message.
	MaxMessageBytes uint64 `json:"max_message_bytes" cbor:"10,keyasint"`
	// MessageRetention is how many blocks an inbox entry is kept.
	MessageRetention int64 `json:"message_retention" cbor:"11,keyasint"`
	// A sender may send MessageRateLimit messages per MessageRateWindow
	// blocks (0: unlimited).
	MessageRateLimit  uint64 `json:"message_rate_limit" cbor:"12,keyasint"`
	MessageRateWindow uint64 `json:"message_rate_window" cbor:"13,keyasint"`
	// MaxExpiriesPerBlock bounds the inbox entries removed at one block's
	// end; the rest go at the next.
	MaxExpiriesPerBlock uint64 `json:"max_expiries_per_block" cbor:"14,keyasint"`
	// MaxFileSize bounds a published file, in bytes.
	MaxFileSize uint64 `json:"max_file_size" cbor:"15,keyasint"`
	// MaxCodeBytes bounds contract code (0: no code may be stored). The
	// runtime has its own bound (4 MiB by default); the lower one applies.
	MaxCodeBytes uint64 `json:"max_code_bytes" cbor:"16,keyasint"`
	// CodeByteGas is charged per byte of contract code when its upload
	// completes, for validating, instrumenting and compiling it.
	CodeByteGas uint64 `json:"code_byte_gas" cbor:"17,keyasint"`
	// TriggerGasPerBlock is the gas all contract trigger invocations of a
	// block may use together (0: triggers queue but never run); one
	// invocation may use TriggerGasLimit, and runs only while the budget
	// left covers that much. What does not fit waits for the next block.
	TriggerGasPerBlock uint64 `json:"trigger_gas_per_block" cbor:"18,keyasint"`
	TriggerGasLimit    uint64 `json:"trigger_gas_limit" cbor:"19,keyasint"`
	// MaxConditionCost bounds a reading trigger's CEL condition: its
	// estimated worst-case cost at subscription and its actual cost.
	MaxConditionCost uint64 `json:"max_condition_cost" cbor:"20,keyasint"`
	// MaxSubscribersPerDevice bounds the contracts with a reading trigger
	// on one device (the device's readings pay for queueing them).
	MaxSubscribersPerDevice uint64 `json:"max_subscribers_per_device" cbor:"21,keyasint"`
	// MaxQueuedPerContract bounds one contract's invocations waiting in the
	// trigger queue (0: no bound, as on chains whose params predate it):
	// past it a reading still commits but queues nothing for that contract
	// (event contract.trigger_dropped), a message to it or a command from
	// another contract is refused (ErrRateLimited), a tick is skipped
	// (contract.tick_skipped). The queue's size is bounded by this times
	// the number of contracts.
	MaxQueuedPerContract uint64 `json:"max_queued_per_contract" cbor:"22,keyasint"`
}

// MaxGasPrice bounds each entry of the gas schedule.
const MaxGasPrice = 1_000_000

// DefaultParams are the parameters of a new chain.
func DefaultParams() Params {
	return Params{
		MaxTxBytes:       txn.DefaultMaxTxBytes,
		MaxMemoBytes:     256,
		MaxMsgsPerTx:     64,
		MaxGasPerTx:      10_000_000,
		MinGasPriceMilli: 1,
		MaxReadingBytes:  4096,
		MaxTagsPerDevice: 16,
		ReadingRetention: 10_000,
		Gas:              exec.DefaultGas(),

		MaxMessageBytes:     4096,
		MessageRetention:    86_400, // a day of 1 s blocks
		MessageRateLimit:    60,
		MessageRateWindow:   60,
		MaxExpiriesPerBlock: 10_000,
		MaxFileSize:         4 << 30,

		MaxCodeBytes: 4 << 20,
		CodeByteGas:  1,

		TriggerGasPerBlock:      50_000_000,
		TriggerGasLimit:         5_000_000,
		MaxConditionCost:        1_000,
		MaxSubscribersPerDevice: 16,
		MaxQueuedPerContract:    1024,
	}
}

// Validate checks that the parameters are usable.
func (p Params) Validate() error {
	switch {
	case p.MaxTxBytes < 512 || p.MaxTxBytes > 4<<20:
		return fmt.Errorf("params: max_tx_bytes %d outside [512, 4 MiB]", p.MaxTxBytes)
	case p.MaxMsgsPerTx == 0:
		return fmt.Errorf("params: max_msgs_per_tx must be positive")
	case p.MaxGasPerTx == 0:
		return fmt.Errorf("params: max_gas_per_tx must be positive")
	case p.MaxReadingBytes == 0 || p.MaxReadingBytes > p.MaxTxBytes:
		return fmt.Errorf("params: max_reading_bytes %d outside [1, max_tx_bytes]", p.MaxReadingBytes)
	case p.MaxMessageBytes == 0 || p.MaxMessageBytes > p.MaxTxBytes:
		return fmt.Errorf("params: max_message_bytes %d outside [1, max_tx_bytes]", p.MaxMessageBytes)
	case p.MessageRetention < 1:
		return fmt.Errorf("params: message_retention must be at least 1 block")
	case p.MessageRateLimit > 0 && p.MessageRateWindow == 0:
		return fmt.Errorf("params: message_rate_window must be positive when message_rate_limit is set")
	case p.MaxExpiriesPerBlock == 0:
		return fmt.Errorf("params: max_expiries_per_block must be positive")
	case p.MaxFileSize == 0:
		return fmt.Errorf("params: max_file_size must be positive")
	case p.MaxCodeBytes > txn.MaxCodeSize:
		return fmt.Errorf("params: max_code_bytes %d above %d", p.MaxCodeBytes, txn.MaxCodeSize)
	case p.CodeByteGas > MaxGasPrice:
		return fmt.Errorf("params: code_byte_gas %d above %d", p.CodeByteGas, MaxGasPrice)
	case p.TriggerGasPerBlock > 0 && (p.TriggerGasLimit == 0 || p.TriggerGasLimit > p.TriggerGasPerBlock):
		return fmt.Errorf("params: trigger_gas_limit %d outside [1, trigger_gas_per_block %d]", p.TriggerGasLimit, p.TriggerGasPerBlock)
	}
	// Bounded prices keep every gas charge (price × at most a few MiB) far
	// from overflowing uint64.
	g := p.Gas
	for name, v := range map[string]uint64{"tx_base": g.TxBase, "tx_byte": g.TxByte, "sig_ed25519": g.SigEd25519,
		"sig_p256": g.SigP256, "read_flat": g.ReadFlat, "read_byte": g.ReadByte, "write_flat": g.WriteFlat,
		"write_byte": g.WriteByte, "delete_flat": g.DeleteFlat, "reading_byte": g.ReadingByte} {
		if v > MaxGasPrice {
			return fmt.Errorf("params: gas.%s %d above %d", name, v, MaxGasPrice)
		}
	}
	return nil
}

// Genesis is the app state of a new chain (the app_state of CometBFT's
// genesis document, as JSON).
type Genesis struct {
	Params   *Params          `json:"params,omitempty"`
	Accounts []GenesisAccount `json:"accounts"`
	// Gateways may attest file pins; their blob stores admit each other.
	Gateways []gateway.Gateway `json:"gateways,omitempty"`
}

// GenesisAccount is an initial allocation.
type GenesisAccount struct {
	Address keys.Address `json:"address"`
	Balance txn.Amount   `json:"balance"`
}

func (p *Params) messageLimits() message.Limits {
	return message.Limits{Retention: p.MessageRetention,
		RateLimit: p.MessageRateLimit, RateWindow: p.MessageRateWindow}
}

func (p *Params) fileLimits() file.Limits { return file.Limits{MaxFileSize: p.MaxFileSize} }

func (p *Params) contractLimits() contract.Limits {
	return contract.Limits{MaxCodeBytes: p.MaxCodeBytes, CodeByteGas: p.CodeByteGas, MessageRetention: p.MessageRetention,
		TriggerGasLimit: p.TriggerGasLimit, TriggerGasPerBlock: p.TriggerGasPerBlock,
		MaxConditionCost: p.MaxConditionCost, MaxSubscribersPerDevice: p.MaxSubscribersPerDevice,
		MaxQueuedPerContract: p.MaxQueuedPerContract}
}
