package ledger

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// StateEntry is one item of a /contract/{addr}/state page: a key of the
// contract's storage and the value the contract stored.
type StateEntry struct {
	Key   []byte `cbor:"1,keyasint"`
	Value []byte `cbor:"2,keyasint"`
}

// queryContracts answers the contract paths:
//
//	/contract/{addr}                               the contract record
//	/contract/{addr}/state[?after=HEX&limit=N]     list of StateEntry
//	/contract/{addr}/state/{hex key}               one storage entry: 0x00 || value as stored (provable)
//	/contract/{addr}/trigger/{reading|tick|message} the contract's Subscription of that kind
//	/triggers/queue                                the trigger queue's QueuePos (head: next to run, tail: next free)
//	/triggers/queue/{seq}                          a queued invocation (Pending)
//	/contracts[?after=ADDR&limit=N]                list of contract records
//	/code/{hash hex}                               the record of stored code
//	/code/{hash hex}/chunk/{idx}                   chunk idx of the code (the code is their concatenation)
//	/codes[?after=HEX&limit=N]                     list of code records
//	/upload/{uploader}/{hash hex}                  an upload in progress
func (l *Ledger) queryContracts(r store.Reader, parts []string, single singleFunc, list listFunc) (QueryResponse, error) {
	switch {
	case parts[0] == "contract" && len(parts) >= 2:
		a, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		switch {
		case len(parts) == 2:
			return single(contract.InstanceKey(a))
		case len(parts) == 3 && parts[2] == "state":
			prefix := contract.StoragePrefix(a)
			return list(prefix, hexCodec, func(k, v []byte) ([]byte, error) {
				val, ok := contract.StorageValue(v)
				if !ok {
					return nil, errs.ErrInternal.Wrap("malformed storage value under %x", k)
				}
				return txn.Marshal(&StateEntry{Key: k[len(prefix):], Value: val})
			})
		case len(parts) == 4 && parts[2] == "state":
			k, err := hex.DecodeString(parts[3])
			if err != nil {
				return QueryResponse{}, errs.ErrInvalidQuery.Wrap("storage key must be hex")
			}
			return single(contract.StorageKey(a, k))
		case len(parts) == 4 && parts[2] == "trigger":
			kind, ok := map[string]uint8{"reading": txn.TriggerReading, "tick": txn.TriggerTick,
				"message": txn.TriggerMessage}[parts[3]]
			if !ok {
				return QueryResponse{}, errs.ErrInvalidQuery.Wrap("trigger kind %q: reading, tick or message", parts[3])
			}
			return single(contract.SubscriptionKey(a, kind))
		}
	case parts[0] == "triggers" && len(parts) == 2 && parts[1] == "queue":
		return single(contract.QueuePosKey())
	case parts[0] == "triggers" && len(parts) == 3 && parts[1] == "queue":
		seq, err := strconv.ParseUint(parts[2], 10, 64)
		if err != nil {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("queue sequence %q", parts[2])
		}
		return single(contract.QueueKey(seq))
	case parts[0] == "contracts" && len(parts) == 1:
		return list(contract.InstancePrefix(), addrCodec, valueItem)
	case parts[0] == "codes" && len(parts) == 1:
		return list(contract.CodePrefix(), hexCodec, valueItem)
	case parts[0] == "code" && len(parts) >= 2:
		h, err := parseCodeHash(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		switch {
		case len(parts) == 2:
			return single(contract.CodeKey(h))
		case len(parts) == 4 && parts[2] == "chunk":
			idx, err := strconv.ParseUint(parts[3], 10, 32)
			if err != nil {
				return QueryResponse{}, errs.ErrInvalidQuery.Wrap("chunk index %q", parts[3])
			}
			raw, err := r.Get(contract.CodeKey(h))
			if err != nil {
				return QueryResponse{}, errs.ErrInternal.WithCause(err, "read code record")
			}
			if raw == nil {
				return QueryResponse{}, errs.ErrUnknownCode.Wrap("%x", h)
			}
			var code contract.Code
			if err := txn.Unmarshal(raw, &code); err != nil {
				return QueryResponse{}, errs.ErrInternal.WithCause(err, "decode code record")
			}
			if idx >= uint64(code.Chunks) {
				return QueryResponse{}, errs.ErrNotFound.Wrap("code %x has %d chunks", h, code.Chunks)
			}
			return single(contract.ChunkKey(h, code.Uploader, uint32(idx)))
		}
	case parts[0] == "upload" && len(parts) == 3:
		a, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		h, err := parseCodeHash(parts[2])
		if err != nil {
			return QueryResponse{}, err
		}
		return single(contract.UploadKey(a, h))
	}
	return QueryResponse{}, errs.ErrInvalidQuery.Wrap("unknown path /%s", strings.Join(parts, "/"))
}

func parseCodeHash(s string) ([32]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != txn.CodeHashSize {
		return [32]byte{}, errs.ErrInvalidQuery.Wrap("code hash must be %d bytes of hex", txn.CodeHashSize)
	}
	return [32]byte(b), nil
}
