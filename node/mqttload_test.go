package node_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/mqtt"
	"github.com/hypha-iot/hypha/node"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

// The shape of BenchmarkMQTTFanout.
const (
	fanoutDevices    = 1000 // registered, and in the fan-out phase subscribed
	fanoutSenders    = 8    // the owner and 7 accounts funded in genesis
	fanoutMsgsPerTx  = 16   // data messages per load tx
	fanoutRegsPerTx  = 64   // registrations per setup tx (the chain's max_msgs_per_tx)
	fanoutWindow     = 30 * time.Second
	fanoutPoolTxs    = 1000             // txs built ahead per sender and phase (sealing stays out of the window)
	fanoutInflight   = 96               // a sender's txs submitted but not yet committed
	fanoutDrain      = 90 * time.Second // after the window: commit the backlog, deliver it
	fanoutDialers    = 16
	fanoutGasLoad    = 1_000_000
	fanoutGasSetup   = 8_000_000
	fanoutSenderFund = txn.Amount(1_000_000_000_000)
)

// BenchmarkMQTTFanout measures the figure: messages per second
// committed and delivered with 1,000 devices subscribed to their inboxes on
// one gateway's MQTT broker (the goal: the ledger, not the broker, is the
// limit), and the broker's memory per connected device.
//
// Each phase runs on a fresh network: one validator with 1 s blocks (the
// default) where the dev key owns 1,000 devices with seal keys. In the
// ledger-only phase nobody is subscribed; in the fan-out phase each device
// is subscribed to its inbox at QoS 1 by its own paho client, connected
// before the load. In each phase 8 senders submit (sync) txs of 16 sealed
// data messages to random devices for 30 s, each keeping at most 96 txs
// uncommitted and backing off to the next block when the mempool is full;
// the txs are built before the window. The chain's message rate limit is
// off. Committed messages are counted from the blocks' results; the rate of
// a phase runs from its first submission to the commit of its last block.
// Lag runs from the moment the node committed a message's block (seen by
// polling the ledger's height every 2 ms; the header time is CometBFT's BFT
// time, the previous block's commit, about one interval earlier) to its
// arrival at the device's client.
//
// The rates depend on what else runs on the machine; cpu-us/msg (this
// process's CPU time per committed message over a phase) does much less,
// and the difference between the phases is the price of delivery.
//
// The whole run (about 2-3 minutes on 2 cores) is one iteration:
//
//	go test ./node -run X -bench MQTTFanout -benchtime 1x
func BenchmarkMQTTFanout(b *testing.B) {
	ctx := context.Background()
	// The baseline gets a network of its own, so that both phases start
	// from the same state: the ledger slows as its tree outgrows the node
	// cache, and a second phase on the first one's state would be measured
	// against a bigger tree.
	w := newFanoutWorld(b)
	base := w.load(ctx, nil)
	b.Logf("ledger-only: %s", base)
	w.close()

	w = newFanoutWorld(b)
	// Memory per connected device, broker side only: bare TCP clients
	// (CONNECT + SUBSCRIBE), closed again before the paho clients come.
	if raw, err := w.rawMemory(); err != nil {
		b.Errorf("bare-TCP memory probe: %v", err)
	} else {
		b.ReportMetric(raw, "broker-only-B/device")
	}

	// The 1,000 paho clients. The paho objects (and their goroutines) live in
	// this process beside the broker, so this figure is an upper bound.
	before := heapAndStacks()
	subs, failed := w.connect(ctx)
	after := heapAndStacks()
	if len(subs) == 0 {
		b.Fatalf("no client connected (%d failed)", failed)
	}
	b.ReportMetric(float64(int64(after)-int64(before))/float64(len(subs)), "broker-B/device")
	b.ReportMetric(float64(failed), "connect-failures")

	res := w.load(ctx, subs)
	b.Logf("fan-out: %s", res)

	b.ReportMetric(base.rate(), "ledger-only-msg/s")
	b.ReportMetric(base.cpuPerMsg(), "ledger-only-cpu-us/msg")
	b.ReportMetric(res.cpuPerMsg(), "fanout-cpu-us/msg")
	b.ReportMetric(res.rate(), "committed-msg/s")
	b.ReportMetric(res.deliveredRate(), "delivered-msg/s")
	if res.committed > 0 {
		b.ReportMetric(float64(res.delivered)/float64(res.committed), "delivered/committed")
	}
	if base.rate() > 0 {
		b.ReportMetric(res.deliveredRate()/base.rate(), "delivered/ledger-only")
	}
	if len(res.lags) > 0 {
		slices.Sort(res.lags)
		p50, p99 := res.lags[len(res.lags)/2], res.lags[min(len(res.lags)-1, len(res.lags)*99/100)]
		b.ReportMetric(float64(p50.Milliseconds()), "p50-lag-ms")
		b.ReportMetric(float64(p99.Milliseconds()), "p99-lag-ms")
	}
	for _, s := range subs {
		if s.count.Load() > 0 && !s.opened.Load() {
			b.Errorf("%s: the first delivered entry did not open with the device's seal key", s.dev.id.Device())
			break
		}
	}
}

// fanoutDev is a registered device: its key (for MQTT tokens) and seal key.
type fanoutDev struct {
	key  keys.PrivateKey
	id   keys.Address
	seal keys.SealKey
}

type fanoutWorld struct {
	b       *testing.B
	net     *testnet.Network
	api     *api.Client
	senders []*signer
	devs    []fanoutDev
	clock   *commitClock
	hc      *http.Client
	closed  bool
}

func newFanoutWorld(b *testing.B) *fanoutWorld {
	b.Helper()
	params := ledger.DefaultParams()
	params.MessageRateLimit = 0 // unlimited: the benchmark wants the ledger's own limit
	extra := make([]keys.PrivateKey, fanoutSenders-1)
	var accounts []ledger.GenesisAccount
	for i := range extra {
		extra[i] = keys.Ed25519FromSeed([32]byte{'f', 'a', 'n', byte(i)})
		accounts = append(accounts, ledger.GenesisAccount{Address: extra[i].Public().Address(), Balance: fanoutSenderFund})
	}
	net := testnet.New(b, testnet.Options{Validators: 1, BlockTime: time.Second, Params: &params, Accounts: accounts})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * fanoutSenders}, Timeout: time.Minute}
	w := &fanoutWorld{b: b, net: net, api: api.NewClient(net.API(0), hc), hc: hc}
	w.senders = append(w.senders, &signer{key: devKey(b, net.Homes[0]), chain: "hypha-it"})
	for _, k := range extra {
		w.senders = append(w.senders, &signer{key: k, chain: "hypha-it"})
	}
	w.clock = watchCommits(b, net.Nodes[0])
	b.Cleanup(w.close) // before the network's own cleanup
	w.register(fanoutDevices)
	return w
}

// close stops the network.
func (w *fanoutWorld) close() {
	if w.closed {
		return
	}
	w.closed = true
	w.clock.stop()
	w.net.Close()
	w.hc.CloseIdleConnections()
}

// signTx signs msgs from s at its next nonce with the given gas limit (and
// the minimum fee for it).
func signTx(tb testing.TB, s *signer, gas uint64, cos []keys.PrivateKey, msgs ...txn.Msg) []byte {
	tb.Helper()
	fee := gas * ledger.DefaultParams().MinGasPriceMilli / 1000
	tx, err := txn.New(s.chain, s.key.Public().Address(), s.nonce).WithPubKey(s.key.Public()).
		WithFee(fee, gas).Add(msgs...).Sign(s.key, cos...)
	if err != nil {
		tb.Fatal(err)
	}
	s.nonce++
	return tx.Bytes()
}

// register publishes the owner's (sender 0's) seal key and creates n devices
// it owns, each co-signing its registration, 64 to a tx, all submitted
// (sync) with increasing nonces. It waits for the last tx to commit and
// checks every result.
func (w *fanoutWorld) register(n int) {
	b := w.b
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	owner := w.senders[0]
	ownerSeal, err := keys.GenerateSealKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := w.api.SubmitTx(ctx, signTx(b, owner, fanoutGasSetup, nil, &txn.SetSealKey{SealKey: ownerSeal.PublicBytes()}), api.ModeSync)
	if err != nil {
		b.Fatalf("owner seal key: %v", err)
	}
	hashes := []api.Hex{s.Hash}
	w.devs = make([]fanoutDev, n)
	for lo := 0; lo < n; lo += fanoutRegsPerTx {
		var msgs []txn.Msg
		var cos []keys.PrivateKey
		for i := lo; i < min(n, lo+fanoutRegsPerTx); i++ {
			d := &w.devs[i]
			if d.key, err = keys.Generate(keys.Ed25519, nil); err != nil {
				b.Fatal(err)
			}
			if d.seal, err = keys.GenerateSealKey(nil); err != nil {
				b.Fatal(err)
			}
			d.id = d.key.Public().Address()
			msgs = append(msgs, &txn.DeviceRegister{PubKey: d.key.Public().Bytes(), Model: "fanout-v1", SealKey: d.seal.PublicBytes()})
			cos = append(cos, d.key)
		}
		s, err := w.api.SubmitTx(ctx, signTx(b, owner, fanoutGasSetup, cos, msgs...), api.ModeSync)
		if err != nil {
			b.Fatalf("register devices %d..: %v", lo, err)
		}
		hashes = append(hashes, s.Hash)
	}
	w.waitNonce(ctx, owner)
	for _, h := range hashes {
		// CometBFT indexes txs a moment after the commit.
		var tx *api.Tx
		poll(ctx, func() bool { tx, err = w.api.Tx(ctx, h); return err == nil })
		if err != nil || tx.Result.Code != 0 {
			b.Fatalf("registration tx %s: %v %+v", h, err, tx)
		}
	}
}

// waitNonce waits until s's committed nonce reaches its next one.
func (w *fanoutWorld) waitNonce(ctx context.Context, s *signer) {
	w.b.Helper()
	for h := w.clock.height(); ; {
		a, err := w.api.Account(ctx, s.key.Public().Address().String(), nil)
		if err == nil && a.Nonce >= s.nonce {
			return
		}
		if h, err = w.clock.next(ctx, h); err != nil {
			w.b.Fatalf("%s: nonce %d not committed: %v", s.key.Public().Address(), s.nonce, err)
		}
	}
}

// loadResult is one phase's outcome.
type loadResult struct {
	start, lastCommit, lastDelivery time.Time
	submitted, committed, failedTxs int
	delivered                       int64
	backoffs                        int64
	poolEmpty                       bool
	firstHeight, lastHeight         int64
	lags                            []time.Duration
	cpu, wall                       time.Duration // this process's CPU time over the phase, and its length
}

// cpuPerMsg is the process's CPU time per committed message, in µs: the
// cost of a message to the node (and, in the fan-out phase, to its
// in-process clients), whatever else shares the machine.
func (r loadResult) cpuPerMsg() float64 {
	if r.committed == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.committed)
}

func (r loadResult) rate() float64 {
	if r.committed == 0 {
		return 0
	}
	return float64(r.committed) / r.lastCommit.Sub(r.start).Seconds()
}

func (r loadResult) deliveredRate() float64 {
	if r.delivered == 0 {
		return 0
	}
	return float64(r.delivered) / r.lastDelivery.Sub(r.start).Seconds()
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d msgs submitted, %d committed in blocks %d..%d over %.1fs (%.0f/s), %d failed txs, %d back-offs, pool exhausted %v; %d delivered (%.0f/s); CPU %.1fs over %.1fs (%.0f µs/msg)",
		r.submitted, r.committed, r.firstHeight, r.lastHeight, r.lastCommit.Sub(r.start).Seconds(), r.rate(), r.failedTxs, r.backoffs, r.poolEmpty,
		r.delivered, r.deliveredRate(), r.cpu.Seconds(), r.wall.Seconds(), r.cpuPerMsg())
}

// load runs one phase: the senders send data messages to random devices
// for fanoutWindow; then it waits for the backlog to commit and (with subs)
// to be delivered, and counts.
func (w *fanoutWorld) load(ctx context.Context, subs []*fanoutSub) loadResult {
	b := w.b
	b.Helper()
	pools := make([][][]byte, len(w.senders))
	t0 := time.Now()
	var wg sync.WaitGroup
	for k, s := range w.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pools[k] = w.buildPool(s)
		}()
	}
	wg.Wait()
	b.Logf("built %d txs in %v", len(w.senders)*fanoutPoolTxs, time.Since(t0).Round(time.Millisecond))
	for _, sub := range subs {
		sub.reset()
	}

	res := loadResult{start: time.Now(), firstHeight: w.clock.height() + 1}
	cpu0 := cpuTime()
	window, cancel := context.WithTimeout(ctx, fanoutWindow)
	defer cancel()
	sent := make([]int, len(w.senders))
	var backoffs atomic.Int64
	for k, s := range w.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[k] = w.send(ctx, window, s, pools[k], &backoffs)
		}()
	}
	wg.Wait()
	res.backoffs = backoffs.Load()
	for k, n := range sent {
		res.submitted += n * fanoutMsgsPerTx
		res.poolEmpty = res.poolEmpty || n == len(pools[k])
		w.senders[k].nonce -= uint64(len(pools[k]) - n) // unsent txs: their nonces are free again
	}

	drain, cancelDrain := context.WithTimeout(ctx, fanoutDrain)
	defer cancelDrain()
	for _, s := range w.senders {
		w.waitNonce(drain, s)
	}
	res.lastHeight = w.clock.height()
	w.countCommitted(ctx, &res)

	if len(subs) == 0 {
		res.cpu, res.wall = cpuTime()-cpu0, time.Since(res.start)
		return res
	}
	if !poll(drain, func() bool { return delivered(subs) >= int64(res.committed) }) {
		b.Logf("delivery incomplete at the deadline: %d of %d", delivered(subs), res.committed)
	}
	res.cpu, res.wall = cpuTime()-cpu0, time.Since(res.start)
	for _, s := range subs {
		s.mu.Lock()
		res.delivered += int64(len(s.got))
		for _, g := range s.got {
			if g.at.After(res.lastDelivery) {
				res.lastDelivery = g.at
			}
			if t, ok := w.clock.at(g.height); ok {
				res.lags = append(res.lags, g.at.Sub(t))
			}
		}
		s.mu.Unlock()
	}
	return res
}

func delivered(subs []*fanoutSub) int64 {
	var n int64
	for _, s := range subs {
		n += s.count.Load()
	}
	return n
}

// buildPool signs fanoutPoolTxs txs from s, each with fanoutMsgsPerTx data
// messages sealed to random devices, at consecutive nonces.
func (w *fanoutWorld) buildPool(s *signer) [][]byte {
	from := s.key.Public().Address()
	pool := make([][]byte, fanoutPoolTxs)
	var text [32]byte
	for i := range pool {
		msgs := make([]txn.Msg, fanoutMsgsPerTx)
		for j := range msgs {
			d := &w.devs[mrand.IntN(len(w.devs))]
			id := newID(w.b)
			binary.BigEndian.PutUint64(text[:], uint64(i*fanoutMsgsPerTx+j))
			h := seal.Header{Sender: from, Recipient: d.id, Kind: txn.KindData, MsgID: [16]byte(id), ChainID: s.chain}
			box, err := seal.Seal(nil, h, text[:], d.seal.PublicBytes())
			if err != nil {
				w.b.Error(err)
				return nil
			}
			msgs[j] = &txn.MessageSend{To: d.id, Kind: txn.KindData, ID: id, Box: box}
		}
		pool[i] = signTx(w.b, s, fanoutGasLoad, nil, msgs...)
	}
	return pool
}

// send submits pool in order (sync) until window ends, keeping at most
// fanoutInflight txs uncommitted; a full mempool or a rate limit sends it
// to wait for the next block. Requests run under ctx, so none is cut off
// half-way by the window's end. It returns how many txs the node accepted.
func (w *fanoutWorld) send(ctx, window context.Context, s *signer, pool [][]byte, backoffs *atomic.Int64) int {
	addr := s.key.Public().Address().String()
	first := s.nonce - uint64(len(pool))
	committed := first
	for i := 0; i < len(pool); {
		if window.Err() != nil {
			return i
		}
		if uint64(i)-(committed-first) >= fanoutInflight {
			if _, err := w.clock.next(window, w.clock.height()); err != nil {
				return i
			}
			if a, err := w.api.Account(ctx, addr, nil); err == nil {
				committed = a.Nonce
			}
			continue
		}
		_, err := w.api.SubmitTx(ctx, pool[i], api.ModeSync)
		var ae *api.Error
		switch {
		case err == nil:
			i++
		case errors.As(err, &ae) && (ae.HTTPStatus == http.StatusServiceUnavailable || ae.HTTPStatus == http.StatusTooManyRequests):
			backoffs.Add(1)
			if _, err := w.clock.next(window, w.clock.height()); err != nil {
				return i
			}
		default:
			w.b.Errorf("sender %s, tx %d: %v", addr, i, err)
			return i
		}
	}
	return len(pool)
}

// countCommitted reads the block results of the phase's heights: the
// message events of successful txs, and the failed txs.
func (w *fanoutWorld) countCommitted(ctx context.Context, res *loadResult) {
	w.b.Helper()
	rpc := w.net.Nodes[0].RPC()
	for h := res.firstHeight; h <= res.lastHeight; h++ {
		br, err := rpc.BlockResults(ctx, &h)
		if err != nil {
			w.b.Fatalf("block results %d: %v", h, err)
		}
		n := 0
		for _, tr := range br.TxsResults {
			if tr.Code != 0 {
				res.failedTxs++
				continue
			}
			for _, e := range tr.Events {
				if e.Type == "message" {
					n++
				}
			}
		}
		if n > 0 {
			res.committed += n
			if t, ok := w.clock.at(h); ok && t.After(res.lastCommit) {
				res.lastCommit = t
			}
		}
	}
}

// fanoutSub is one device's paho client and what it received.
type fanoutSub struct {
	c      *paho.Client
	dev    *fanoutDev
	count  atomic.Int64
	opened atomic.Bool // the first entry opened with the device's seal key

	mu  sync.Mutex
	got []delivery
}

type delivery struct {
	height int64
	at     time.Time
}

func (s *fanoutSub) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = s.got[:0]
	s.count.Store(0)
}

func (s *fanoutSub) receive(pr paho.PublishReceived) (bool, error) {
	at := time.Now()
	e, err := mqtt.DecodeEntry(pr.Packet.Payload)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	first := len(s.got) == 0
	s.got = append(s.got, delivery{height: e.Height, at: at})
	s.mu.Unlock()
	s.count.Add(1)
	if first {
		h := seal.Header{Sender: e.Sender, Recipient: s.dev.id, Kind: txn.KindData, MsgID: [16]byte(e.MsgID), ChainID: "hypha-it"}
		if _, err := seal.Open(h, e.Box, s.dev.seal); err == nil {
			s.opened.Store(true)
		}
	}
	return true, nil
}

// connect dials one paho client per device (MQTT 5, authenticated with a
// fresh token) and subscribes it to its inbox at QoS 1. It returns the
// clients that made it and how many did not; the rest are disconnected at
// cleanup.
func (w *fanoutWorld) connect(ctx context.Context) ([]*fanoutSub, int) {
	addr, devs := w.net.MQTT(0), w.devs
	subs := make([]*fanoutSub, len(devs))
	errs := make([]error, len(devs))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range fanoutDialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(devs); i = int(next.Add(1) - 1) {
				subs[i], errs[i] = dialSub(ctx, addr, &devs[i], i)
			}
		}()
	}
	wg.Wait()
	w.b.Cleanup(func() {
		for _, s := range subs {
			if s != nil {
				_ = s.c.Disconnect(&paho.Disconnect{})
			}
		}
	})
	var ok []*fanoutSub
	var failed []error
	for i, s := range subs {
		if s != nil {
			ok = append(ok, s)
		} else {
			failed = append(failed, errs[i])
		}
	}
	if len(failed) > 0 {
		w.b.Logf("%d clients failed to connect; first: %v", len(failed), failed[0])
	}
	return ok, len(failed)
}

func dialSub(ctx context.Context, addr string, d *fanoutDev, i int) (*fanoutSub, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var dl net.Dialer
	nc, err := dl.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &fanoutSub{dev: d}
	s.c = paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){s.receive}})
	tok, err := mqtt.MakeToken(d.key, d.id, time.Now(), time.Hour)
	if err != nil {
		nc.Close()
		return nil, err
	}
	// paho sizes its incoming queue by the Receive Maximum it announces
	// (65,535 pointers, 512 KiB, when unset); the broker keeps at most
	// InboxWindow (32) inbox messages unacknowledged per subscription anyway.
	rm := uint16(32)
	ca, err := s.c.Connect(ctx, &paho.Connect{ClientID: fmt.Sprintf("fanout-%d", i), KeepAlive: 60, CleanStart: true,
		Username: d.id.Device(), UsernameFlag: true, Password: []byte(tok), PasswordFlag: true,
		Properties: &paho.ConnectProperties{ReceiveMaximum: &rm}})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect %s: %w (%+v)", d.id.Device(), err, ca)
	}
	sa, err := s.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: mqtt.InboxTopic(d.id), QoS: 1}}})
	if err == nil && (len(sa.Reasons) != 1 || sa.Reasons[0] != 1) {
		err = fmt.Errorf("suback %v", sa.Reasons)
	}
	if err != nil {
		_ = s.c.Disconnect(&paho.Disconnect{})
		return nil, fmt.Errorf("subscribe %s: %w", d.id.Device(), err)
	}
	return s, nil
}

// rawMemory connects one bare MQTT 5 client per device (CONNECT, then
// SUBSCRIBE to its empty inbox at QoS 1, so each has its pump) and returns
// the process's heap and stack growth per client: the broker's share, the
// test holding only a net.Conn and a small reader each. It closes them and
// waits for the broker to let go before returning.
func (w *fanoutWorld) rawMemory() (float64, error) {
	addr, devs := w.net.MQTT(0), w.devs
	g0 := runtime.NumGoroutine()
	before := heapAndStacks()
	conns := make([]net.Conn, 0, len(devs))
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range devs {
		c, err := rawSubscriber(addr, &devs[i], i)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
	}
	after := heapAndStacks()
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !poll(ctx, func() bool { return runtime.NumGoroutine() <= g0+20 }) {
		return 0, fmt.Errorf("broker still holds %d goroutines more than before", runtime.NumGoroutine()-g0)
	}
	return float64(int64(after)-int64(before)) / float64(len(devs)), nil
}

func rawSubscriber(addr string, d *fanoutDev, i int) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	tok, err := mqtt.MakeToken(d.key, d.id, time.Now(), time.Hour)
	if err != nil {
		c.Close()
		return nil, err
	}
	vh := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0xC2, 0, 60, 0} // v5, user|pass|clean, keepalive 60, no props
	for _, s := range []string{fmt.Sprintf("raw-%d", i), d.id.Device(), tok} {
		vh = binary.BigEndian.AppendUint16(vh, uint16(len(s)))
		vh = append(vh, s...)
	}
	r := bufio.NewReaderSize(c, 64)
	typ, body, err := rawExchange(c, r, 0x10, vh)
	if err == nil && (typ != 0x20 || len(body) < 2 || body[1] != 0) {
		err = fmt.Errorf("CONNACK %x %x", typ, body)
	}
	if err == nil {
		topic := mqtt.InboxTopic(d.id)
		sub := []byte{0, 1, 0} // packet id 1, no props
		sub = binary.BigEndian.AppendUint16(sub, uint16(len(topic)))
		sub = append(append(sub, topic...), 1)
		typ, body, err = rawExchange(c, r, 0x82, sub)
		if err == nil && (typ != 0x90 || len(body) == 0 || body[len(body)-1] != 1) {
			err = fmt.Errorf("SUBACK %x %x", typ, body)
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bare client %d: %w", i, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// rawExchange writes one packet and reads the answer.
func rawExchange(c net.Conn, r *bufio.Reader, typ byte, body []byte) (byte, []byte, error) {
	p := []byte{typ}
	for n := len(body); ; {
		d := byte(n % 128)
		if n /= 128; n > 0 {
			d |= 0x80
		}
		if p = append(p, d); n == 0 {
			break
		}
	}
	if _, err := c.Write(append(p, body...)); err != nil {
		return 0, nil, err
	}
	t, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for {
		d, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
	}
	out := make([]byte, n)
	_, err = io.ReadFull(r, out)
	return t, out, err
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// poll checks cond every 20 ms until it holds (true) or ctx ends (false).
func poll(ctx context.Context, cond func() bool) bool {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return cond()
		case <-t.C:
		}
	}
	return true
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// commitClock records when the node committed each height, by polling its
// ledger every 2 ms, and wakes waiters on each new height.
type commitClock struct {
	stop func() // ends the polling; idempotent

	mu    sync.Mutex
	times map[int64]time.Time
	last  int64
	tick  chan struct{} // closed and replaced at each new height
}

func watchCommits(tb testing.TB, n *node.Node) *commitClock {
	c := &commitClock{times: map[int64]time.Time{}, tick: make(chan struct{})}
	c.last = n.Ledger().Info().Height
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			h, now := n.Ledger().Info().Height, time.Now()
			c.mu.Lock()
			if h > c.last {
				for k := c.last + 1; k <= h; k++ {
					c.times[k] = now
				}
				c.last = h
				close(c.tick)
				c.tick = make(chan struct{})
			}
			c.mu.Unlock()
		}
	}()
	c.stop = sync.OnceFunc(func() { close(stop); <-done })
	tb.Cleanup(c.stop)
	return c
}

func (c *commitClock) height() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *commitClock) at(h int64) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.times[h]
	return t, ok
}

// next waits until a height above h is committed and returns it.
func (c *commitClock) next(ctx context.Context, h int64) (int64, error) {
	for {
		c.mu.Lock()
		last, tick := c.last, c.tick
		c.mu.Unlock()
		if last > h {
			return last, nil
		}
		select {
		case <-tick:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
