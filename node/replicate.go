package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hypha-iot/hypha/blob"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/file"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/txn"
)

// startBlobs opens the blob store, admits the genesis gateways and starts
// the replicator. Called by Start when blob_address is set.
func (n *Node) startBlobs() error {
	lk, acct, err := gatewayIdentity(n.nodeKey)
	if err != nil {
		return err
	}
	var psk []byte
	if n.cfg.App.BlobPSK != "" {
		if psk, err = hex.DecodeString(n.cfg.App.BlobPSK); err != nil || len(psk) != 32 {
			return fmt.Errorf("app.toml: blob_psk must be 64 hex digits")
		}
	}
	listen, err := blobMultiaddrs(n.cfg.App.BlobAddress, psk == nil)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := blob.Open(ctx, blob.Config{
		Dir:         filepath.Join(n.cfg.Comet.DBDir(), "blobs"),
		ListenAddrs: listen,
		Identity:    lk,
		PSK:         psk,
		Protocol:    "/hypha/" + n.comet.GenesisDoc().ChainID,
		MaxFileSize: n.cfg.App.BlobMaxFileSize,
		FindTimeout: n.cfg.App.BlobFindTimeout,
		Logger:      n.log.With("module", "blob"),
	})
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	n.blobs, n.gwKey = st, acct
	// The gateway set comes from the genesis document: before block 1
	// commits, state does not hold it yet.
	var g ledger.Genesis
	if err := json.Unmarshal(n.comet.GenesisDoc().AppState, &g); err != nil {
		return fmt.Errorf("genesis app state: %w", err)
	}
	n.peers = memberAddrs(g.Gateways, n.log)
	st.SetPeers(ctx, n.peers)
	n.repl = &replicator{n: n, log: n.log.With("module", "replicate"), firstWanted: map[string]*wantedSince{},
		failed: map[string]time.Time{}}
	if n.cfg.App.Replicate {
		rctx, cancel := context.WithCancel(context.Background())
		n.replStop = cancel
		n.replDone = make(chan struct{})
		go n.repl.loop(rctx, n.cfg.App.ReplicateInterval, n.replDone)
	}
	return nil
}

// memberAddrs turns gateway records into libp2p peers.
func memberAddrs(gws []gateway.Gateway, log *slog.Logger) []peer.AddrInfo {
	peers := make([]peer.AddrInfo, 0, len(gws))
	for _, g := range gws {
		id, err := peer.Decode(g.PeerID)
		if err != nil {
			log.Warn("genesis gateway with a bad peer id", "gateway", g.Address, "err", err)
			continue
		}
		ai := peer.AddrInfo{ID: id}
		for _, a := range g.Addrs {
			if m, err := ma.NewMultiaddr(a); err == nil {
				ai.Addrs = append(ai.Addrs, m)
			}
		}
		peers = append(peers, ai)
	}
	return peers
}

// Blobs is the node's blob store (nil when file sharing is off).
func (n *Node) Blobs() *blob.Store { return n.blobs }

// GatewayAddress is the account that signs this gateway's attestations.
func (n *Node) GatewayAddress() keys.Address {
	if n.gwKey == nil {
		return keys.Address{}
	}
	return n.gwKey.Public().Address()
}

// Replicate runs one replication round now (tests and tools call it; the
// background loop calls the same method).
func (n *Node) Replicate(ctx context.Context) error {
	if n.repl == nil {
		return errs.ErrUnavailable.Wrap("file sharing is off")
	}
	return n.repl.round(ctx)
}

// gateways lists the genesis gateways from committed state.
func (n *Node) gateways() ([]gateway.Gateway, error) {
	var out []gateway.Gateway
	err := n.eachItem("/gateways", func(b []byte) error {
		var g gateway.Gateway
		if err := txn.Unmarshal(b, &g); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// eachItem pages through a list query of committed state.
func (n *Node) eachItem(path string, f func([]byte) error) error {
	after := ""
	for range 10_000 {
		p := path + "?limit=" + fmt.Sprint(ledger.MaxPageLimit)
		if after != "" {
			p += "&after=" + after
		}
		r := n.ledger.Query(ledger.QueryRequest{Path: p})
		if r.Code != 0 {
			return fmt.Errorf("query %s: %s: %s", path, r.Name, r.Log)
		}
		var page ledger.Page
		if err := txn.Unmarshal(r.Value, &page); err != nil {
			return fmt.Errorf("query %s: %w", path, err)
		}
		for _, it := range page.Items {
			if err := f(it); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
	return fmt.Errorf("query %s: too many pages", path)
}

// replicator makes this gateway hold its share of the files that want
// replicas, attest what it holds, and drop retired files and surplus
// copies.
//
// Which gateways fetch a wanted file: every gateway ranks the gateways that
// do not yet hold it by SHA-256(cid || gateway address) (rendezvous
// hashing), and fetches when it is among the first `wanted` of them, so N
// replicas land on N gateways without any coordination. A gateway that
// holds the file already (it received the upload) attests at once. The
// others start fetching settleRounds after they first see the file
// wanted, once that attestation has committed (or, if none has,
// settleBlocks blocks later). If a file stays wanted (a chosen gateway is
// down), the window widens by one gateway for every widenRounds rounds it
// stays wanted after that, so the file still reaches N holders.
type replicator struct {
	n   *Node
	log *slog.Logger

	mu          sync.Mutex
	firstWanted map[string]*wantedSince // cid -> when first seen wanted
	failed      map[string]time.Time    // cid -> last failed fetch (backoff)
}

// wantedSince is when a gateway first saw a file wanted: on its clock and
// at which committed height; and when its wait to settle ended.
type wantedSince struct {
	at      time.Time
	height  int64
	settled time.Time // zero while settling
}

// window tells whether a gateway that lacks the file may fetch it yet, and
// among how many of the ranked non-holders: none until settleRounds rounds
// have passed since the file was first seen wanted and either some gateway
// has attested holding it (held: the one that took the upload, as a rule)
// or settleBlocks blocks have passed too; then the wanted count, one more
// for every widenRounds rounds after that.
// The widening counts from the end of the wait, not from its start: on an
// idle chain the blocks alone take settleBlocks idle-block intervals, and a
// window that had widened meanwhile would send more gateways to fetch than
// replicas are wanted (the surplus then withdraws, and may take the
// uploading gateway's copy with it).
func (w *wantedSince) window(now time.Time, height int64, held bool, every time.Duration, wanted int) (int, bool) {
	if w.settled.IsZero() {
		if now.Sub(w.at) < settleRounds*every || !held && height < w.height+settleBlocks {
			return 0, false
		}
		w.settled = now
	}
	return wanted + int(now.Sub(w.settled)/(widenRounds*every)), true
}

// Rounds are replicate_interval apart; a gateway measures time in rounds
// on its own clock (blocks may not come while the chain is idle).
const (
	// widenRounds: the window of chosen gateways grows by one for every
	// widenRounds rounds a file stays wanted once its settle wait is over.
	widenRounds = 20
	// settleRounds and settleBlocks are how long a newly wanted file
	// waits before gateways without it fetch: the gateway that received
	// the upload attests in its first round, and the others then fetch
	// only what is still wanted. Rounds alone are not enough: that
	// attestation needs a block or two to commit, and blocks can be slower
	// than rounds (a loaded machine, long block times); so the wait ends
	// after settleRounds once a holder has attested, or else after
	// settleBlocks too (the uploading gateway is down, or the upload went
	// to a node that is no gateway). Idle chains still make a block every
	// idle-block interval.
	settleRounds = 3
	settleBlocks = 3
	fetchBackoff = 30 * time.Second
	maxPinsPerTx = 32
	// reconnectEvery rounds, the loop redials members it lost.
	reconnectEvery = 10
)

func (r *replicator) loop(ctx context.Context, every time.Duration, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if i%reconnectEvery == 0 {
			// Redial members that were down (best effort, bounded).
			r.n.blobs.SetPeers(ctx, r.n.peers)
		}
		if err := r.round(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("replication round", "err", err)
		}
	}
}

// round does one pass: fetch and attest wanted files, drop retired ones.
func (r *replicator) round(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n
	me := n.GatewayAddress()
	gws, err := n.gateways()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(gws, func(g gateway.Gateway) bool { return g.Address == me }) {
		return nil // not a gateway of this network: serve, but never attest
	}
	var wanted []file.File
	if err := n.eachItem("/files/wanted", func(b []byte) error {
		var f file.File
		if err := txn.Unmarshal(b, &f); err != nil {
			return err
		}
		wanted = append(wanted, f)
		return nil
	}); err != nil {
		return err
	}
	var msgs []txn.Msg
	seen := map[string]bool{}
	height := n.ledger.Info().Height
	for _, f := range wanted {
		if len(msgs) == maxPinsPerTx || ctx.Err() != nil {
			break
		}
		now := time.Now() // a fetch earlier in the round may have taken a while
		key := string(f.CID)
		seen[key] = true
		if _, ok := r.firstWanted[key]; !ok {
			r.firstWanted[key] = &wantedSince{at: now, height: height}
		}
		since := r.firstWanted[key]
		holders, err := r.holders(f.CID)
		if err != nil {
			return err
		}
		if holders[me] {
			continue
		}
		c, err := cid.Cast(f.CID)
		if err != nil {
			continue
		}
		has, err := n.blobs.Has(ctx, c)
		if err != nil {
			return err
		}
		if !has {
			window, ok := since.window(now, height, len(holders) > 0, n.cfg.App.ReplicateInterval, f.Wanted())
			if !ok {
				continue // give the gateway that took the upload time to attest
			}
			if !chosen(f.CID, me, gws, holders, window) {
				continue
			}
			if last, ok := r.failed[key]; ok && time.Since(last) < fetchBackoff {
				continue
			}
			fctx, cancel := context.WithTimeout(ctx, n.cfg.App.BlobFindTimeout+time.Duration(f.Size/(1<<20)+1)*time.Second)
			err := n.blobs.Fetch(fctx, c, nil)
			cancel()
			if err != nil {
				r.failed[key] = time.Now()
				r.log.Info("fetch for replication failed", "cid", c, "err", err)
				continue
			}
			delete(r.failed, key)
			r.log.Info("fetched for replication", "cid", c, "size", f.Size)
		} else if err := n.blobs.Pin(ctx, c); err != nil {
			return err
		}
		msgs = append(msgs, &txn.FilePin{CID: f.CID})
	}
	for k := range r.firstWanted {
		if !seen[k] {
			delete(r.firstWanted, k)
		}
	}
	unpins, err := r.tidy(ctx, me)
	if err != nil {
		return err
	}
	msgs = append(msgs, unpins...)
	if len(msgs) == 0 {
		return nil
	}
	return r.submit(ctx, msgs)
}

// holders returns the gateways attested holding cid.
func (r *replicator) holders(c []byte) (map[keys.Address]bool, error) {
	out := map[keys.Address]bool{}
	err := r.n.eachItem("/file/"+file.CIDString(c)+"/holders", func(b []byte) error {
		var p file.Pin
		if err := txn.Unmarshal(b, &p); err != nil {
			return err
		}
		out[p.Gateway] = true
		return nil
	})
	return out, err
}

// chosen tells whether me is among the first window gateways, ranked by
// rendezvous hash, of those not holding c.
func chosen(c []byte, me keys.Address, gws []gateway.Gateway, holders map[keys.Address]bool, window int) bool {
	var addrs []keys.Address
	for _, g := range gws {
		if !holders[g.Address] {
			addrs = append(addrs, g.Address)
		}
	}
	return rankedWithin(c, me, addrs, window)
}

// rankedWithin ranks addrs by SHA-256(c || addr) and tells whether me is
// among the first n.
func rankedWithin(c []byte, me keys.Address, addrs []keys.Address, n int) bool {
	type ranked struct {
		score [32]byte
		addr  keys.Address
	}
	rs := make([]ranked, 0, len(addrs))
	for _, a := range addrs {
		rs = append(rs, ranked{sha256.Sum256(append(append([]byte(nil), c...), a[:]...)), a})
	}
	slices.SortFunc(rs, func(a, b ranked) int { return bytes.Compare(a.score[:], b.score[:]) })
	for i := 0; i < len(rs) && i < n; i++ {
		if rs[i].addr == me {
			return true
		}
	}
	return false
}

// tidy drops this gateway's copies that are no longer wanted: files the
// publisher retired, and surplus copies of files with more holders than
// replicas (two gateways may fetch at once before either attestation
// lands). For a surplus, every gateway ranks the holders by the same
// rendezvous hash and the lowest-ranked ones withdraw, so exactly the
// wanted number stays. It returns the withdrawals to submit.
func (r *replicator) tidy(ctx context.Context, me keys.Address) ([]txn.Msg, error) {
	pins, err := r.n.blobs.Pins(ctx)
	if err != nil {
		return nil, err
	}
	var msgs []txn.Msg
	dropped := 0
	for _, c := range pins {
		resp := r.n.ledger.Query(ledger.QueryRequest{Path: "/file/" + c.String()})
		if resp.Code != 0 {
			continue // no record (yet): an upload waiting for its publish
		}
		var f file.File
		if err := txn.Unmarshal(resp.Value, &f); err != nil {
			continue
		}
		h, err := r.holders(f.CID)
		if err != nil {
			return nil, err
		}
		surplus := f.Retired == 0 && f.Holders > uint32(f.Replicas) && h[me] && !keeps(f.CID, me, h, int(f.Replicas))
		if f.Retired == 0 && !surplus {
			continue
		}
		if err := r.n.blobs.Unpin(ctx, c); err != nil {
			return nil, err
		}
		dropped++
		if h[me] && len(msgs) < maxPinsPerTx {
			msgs = append(msgs, &txn.FileUnpin{CID: f.CID})
		}
	}
	if dropped > 0 {
		if removed, err := r.n.blobs.GC(ctx); err != nil {
			r.log.Warn("blob gc", "err", err)
		} else {
			r.log.Info("dropped files no longer wanted here", "files", dropped, "blocks_removed", removed)
		}
	}
	return msgs, nil
}

// keeps tells whether me is among the first n holders of c by rendezvous
// rank.
func keeps(c []byte, me keys.Address, holders map[keys.Address]bool, n int) bool {
	var addrs []keys.Address
	for a := range holders {
		addrs = append(addrs, a)
	}
	return rankedWithin(c, me, addrs, n)
}

// submit signs msgs as this gateway and waits for the block.
func (r *replicator) submit(ctx context.Context, msgs []txn.Msg) error {
	n := r.n
	me := n.GatewayAddress()
	var acct account.Account
	nonce := uint64(0)
	if resp := n.ledger.Query(ledger.QueryRequest{Path: "/account/" + me.String()}); resp.Code == 0 {
		if err := txn.Unmarshal(resp.Value, &acct); err == nil {
			nonce = acct.Nonce
		}
	}
	gas := uint64(20_000 + 15_000*len(msgs))
	p := n.ledger.Params()
	fee := (gas*p.MinGasPriceMilli + 999) / 1000
	if fee == 0 {
		fee = 1
	}
	tx, err := txn.New(n.ledger.ChainID(), me, nonce).WithPubKey(n.gwKey.Public()).WithFee(fee, gas).Add(msgs...).Sign(n.gwKey)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, n.cfg.App.SubmitTimeout)
	defer cancel()
	sub, err := (&backend{n: n}).SubmitCommit(sctx, tx.Bytes())
	if err != nil {
		return err
	}
	if sub.Result.Code != 0 {
		return errors.New("attestation tx: " + sub.Result.Name + ": " + sub.Result.Log)
	}
	r.log.Info("attested", "msgs", len(msgs), "height", sub.Height)
	return nil
}
