package node

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtquery "github.com/cometbft/cometbft/libs/pubsub/query"
	rpclocal "github.com/cometbft/cometbft/rpc/client/local"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/exec"
)

// eventHub holds one unbuffered subscription to CometBFT's committed-tx
// events and fans them out, without ever blocking consensus: to the waiters
// of commit-mode submissions (by tx hash) and to stream subscribers (each
// with a bounded buffer; a subscriber that falls behind is dropped and its
// channel closed, so it can resume from a cursor instead of silently
// missing events).
type eventHub struct {
	rpc *rpclocal.Local
	log *slog.Logger

	mu      sync.Mutex
	waiters map[[32]byte][]chan committed
	subs    map[*hubSub]struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

type hubSub struct{ ch chan api.TxEvent }

// committed is a committed tx as its submitter sees it.
type committed struct {
	ev  api.TxEvent
	res ledger.Result
}

// subBuffer is how many events a stream subscriber may lag behind.
const subBuffer = 4096

func newEventHub(rpc *rpclocal.Local, log *slog.Logger) *eventHub {
	return &eventHub{rpc: rpc, log: log, waiters: map[[32]byte][]chan committed{}, subs: map[*hubSub]struct{}{}}
}

func (h *eventHub) start() error {
	ctx, cancel := context.WithCancel(context.Background())
	q := cmtquery.MustCompile("tm.event = 'Tx'")
	sub, err := h.rpc.EventBus.SubscribeUnbuffered(ctx, "hypha-event-hub", q)
	if err != nil {
		cancel()
		return fmt.Errorf("subscribe to tx events: %w", err)
	}
	// A block's own events (contract triggers) are published before its
	// txs' (both subscriptions are unbuffered, so they arrive in that
	// order); they are held and dispatched after the block's last tx, so
	// that streams see (height, index) in order.
	bq := cmtquery.MustCompile("tm.event = 'NewBlockEvents'")
	bsub, err := h.rpc.EventBus.SubscribeUnbuffered(ctx, "hypha-event-hub-blocks", bq)
	if err != nil {
		cancel()
		return fmt.Errorf("subscribe to block events: %w", err)
	}
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		var held *committed // block events waiting for their txs
		flush := func(height int64, index uint32) {
			if held != nil && (height > held.ev.Height || height == held.ev.Height && index+1 >= held.ev.Index) {
				h.dispatch(*held)
				held = nil
			}
		}
		for {
			select {
			case msg := <-sub.Out():
				if d, ok := msg.Data().(cmttypes.EventDataTx); ok {
					if held != nil && d.Height > held.ev.Height {
						flush(d.Height, 0)
					}
					h.dispatch(txCommitted(d))
					flush(d.Height, d.Index)
				}
			case msg := <-bsub.Out():
				d, ok := msg.Data().(cmttypes.EventDataNewBlockEvents)
				if !ok {
					continue
				}
				if held != nil {
					h.dispatch(*held) // a previous block's txs never came: do not hold it longer
					held = nil
				}
				if len(d.Events) == 0 {
					continue
				}
				c := blockEvents(d)
				if d.NumTxs == 0 {
					h.dispatch(c)
				} else {
					held = &c
				}
			case <-bsub.Canceled():
				h.log.Error("block event subscription cancelled", "err", bsub.Err())
				h.closeAll()
				return
			case <-sub.Canceled():
				h.log.Error("tx event subscription cancelled", "err", sub.Err())
				h.closeAll()
				return
			case <-ctx.Done():
				h.closeAll()
				return
			}
		}
	}()
	return nil
}

func (h *eventHub) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
	}
}

func txCommitted(d cmttypes.EventDataTx) committed {
	hash := sha256.Sum256(d.Tx)
	r := d.Result
	ev := api.TxEvent{Height: d.Height, Index: d.Index, Hash: hash[:], Code: r.Code, Name: r.Info, Events: execEvents(r.Events)}
	res := ledger.Result{Code: r.Code, Name: r.Info, Log: r.Log, GasWanted: uint64(r.GasWanted), GasUsed: uint64(r.GasUsed), Events: ev.Events}
	if res.Code != 0 && res.Name == "" {
		if c := errs.ByCode(res.Code); c != nil {
			res.Name = c.Name
		}
	}
	copy(res.TxHash[:], hash[:])
	return committed{ev: ev, res: res}
}

// execEvents converts CometBFT events back to the ledger's.
func execEvents(evs []abcitypes.Event) []exec.Event {
	var out []exec.Event
	for _, e := range evs {
		xe := exec.Event{Type: e.Type}
		for _, a := range e.Attributes {
			xe.Attrs = append(xe.Attrs, exec.Attr{Key: a.Key, Value: a.Value, Index: a.Index})
		}
		out = append(out, xe)
	}
	return out
}

// blockEvents is a block's own events as a stream entry after its txs.
func blockEvents(d cmttypes.EventDataNewBlockEvents) committed {
	return committed{ev: api.TxEvent{Height: d.Height, Index: uint32(d.NumTxs), Name: api.BlockEventsName,
		Events: execEvents(d.Events)}}
}

func (h *eventHub) dispatch(c committed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := c.ev
	var key [32]byte
	copy(key[:], ev.Hash)
	for _, w := range h.waiters[key] {
		w <- c // buffered, capacity 1, one send per waiter
	}
	delete(h.waiters, key)
	for s := range h.subs {
		select {
		case s.ch <- ev:
		default:
			h.log.Warn("event stream subscriber too slow; dropping it")
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

func (h *eventHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		close(s.ch)
	}
	clear(h.subs)
}

// wait registers interest in a tx hash before it is submitted; the returned
// channel receives its committed event once. cancel drops the registration.
func (h *eventHub) wait(hash [32]byte) (<-chan committed, func()) {
	ch := make(chan committed, 1)
	h.mu.Lock()
	h.waiters[hash] = append(h.waiters[hash], ch)
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		ws := h.waiters[hash]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(h.waiters, hash)
		} else {
			h.waiters[hash] = ws
		}
	}
}

// subscribe streams every committed tx event until ctx ends.
func (h *eventHub) subscribe(ctx context.Context) <-chan api.TxEvent {
	s := &hubSub{ch: make(chan api.TxEvent, subBuffer)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[s]; ok {
			delete(h.subs, s)
			close(s.ch)
		}
	}()
	return s.ch
}

func eventDataTx(r *ctypes.ResultTx) cmttypes.EventDataTx {
	return cmttypes.EventDataTx{TxResult: abcitypes.TxResult{Height: r.Height, Index: r.Index, Tx: r.Tx, Result: r.TxResult}}
}
