package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/keys"
)

// Backend is what the broker needs from the node (the node implements it).
// Its methods are called concurrently.
type Backend interface {
	// Identity returns the current public key of a device id or account
	// address and whether it may connect (false for revoked or
	// decommissioned devices); for an account, its key on record. An
	// unknown id returns an error of class errs.ErrNotFound or
	// errs.ErrUnknownDevice (or a zero key).
	Identity(ctx context.Context, id keys.Address) (pub keys.PublicKey, active bool, err error)
	// MayRead tells whether reader may subscribe to the inbox of id (id
	// itself, or its auditor account).
	MayRead(ctx context.Context, reader, id keys.Address) (bool, error)
	// Submit submits a signed tx (commit mode) and returns the result.
	Submit(ctx context.Context, tx []byte) (api.Submitted, error)
	// Inbox lists id's inbox entries after cursor ("" = from the start),
	// oldest first, up to limit, and the cursor to continue from.
	Inbox(ctx context.Context, id keys.Address, after string, limit int) ([]InboxEntry, string, error)
	// SubscribeInbox streams new inbox entries for every recipient, in
	// commit order, until ctx ends. An entry must be visible to Inbox by the
	// time it is sent here (feed it from committed blocks): the broker reads
	// entries with Inbox and uses the stream only to learn when to read.
	SubscribeInbox(ctx context.Context) (<-chan InboxEntry, error)
}

// Broker is an embedded MQTT 5 / 3.1.1 broker (mochi-mqtt) with Hypha's
// authentication, topic rules, tx submission and inbox delivery. Create it
// with New, then Start; Close stops it.
type Broker struct {
	backend Backend
	cfg     Config
	log     *slog.Logger
	srv     *mochi.Server
	inline  *mochi.Client // publishes tx results
	ln      net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    map[*mochi.Client]*conn
	byID     map[string]*conn // the latest connection of each client id
	sessions map[string]*session
	watchers map[keys.Address]map[*pump]struct{}
	started  bool
	closed   bool
}

// conn is an authenticated connection.
type conn struct {
	cl       *mochi.Client
	id       keys.Address
	pub      keys.PublicKey
	sess     *session     // set once the session is established
	pending  []pendingSub // inbox subscriptions granted by the SUBSCRIBE being processed
	txq      chan txJob   // created on the first tx publish
	done     chan struct{}
	doneOnce sync.Once

	mu        sync.Mutex
	inflight  map[uint16]inflightRef // QoS 1 inbox deliveries awaiting PUBACK
	stash     *txJob                 // accepted in OnPublish, queued in OnPublished
	pendingTx int                    // txs reserved or queued, not yet submitted
}

// done1 marks one queued tx submitted.
func (c *conn) done1() {
	c.mu.Lock()
	c.pendingTx--
	c.mu.Unlock()
}

type inflightRef struct {
	p      *pump
	cursor string
}

type pendingSub struct {
	topic     string
	inbox     keys.Address
	qos       byte
	subID     int
	cursor    string
	hasCursor bool
}

func (c *conn) track(id uint16, p *pump, cursor string) {
	c.mu.Lock()
	if c.inflight == nil {
		c.inflight = make(map[uint16]inflightRef)
	}
	c.inflight[id] = inflightRef{p, cursor}
	c.mu.Unlock()
}

func (c *conn) untrack(id uint16) (inflightRef, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.inflight[id]
	delete(c.inflight, id)
	return r, ok
}

func (c *conn) close() { c.doneOnce.Do(func() { close(c.done) }) }

// session is the broker's part of an MQTT session (keyed like mochi's, by
// the namespaced client id): the inbox pumps and where each inbox stands.
// It outlives connections when the client asks for a persistent session.
type session struct {
	mu      sync.Mutex
	pumps   map[string]*pump  // by inbox topic
	cursors map[string]string // last delivered, by inbox topic, for pumps that stopped
	set     map[string]string // cursors published to {id}/inbox/cursor, used by the next SUBSCRIBE
}

func newSession() *session {
	return &session{pumps: map[string]*pump{}, cursors: map[string]string{}, set: map[string]string{}}
}

// New builds a broker over b. It does not listen until Start.
func New(b Backend, cfg Config) (*Broker, error) {
	if b == nil {
		return nil, errors.New("mqtt: nil backend")
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(cfg.MaxPayload + PacketOverhead)
	caps.MaximumClientWritesPending = 256
	caps.MaximumSessionExpiryInterval = uint32(cfg.MaxSessionExpiry / time.Second)
	caps.MaximumMessageExpiryInterval = int64(cfg.MaxSessionExpiry / time.Second)
	caps.RetainAvailable = 0    // nothing is retained: no topic outlives its publish
	caps.SharedSubAvailable = 0 // $share/… could group other identities' topics
	caps.MinimumProtocolVersion = 4
	caps.MaximumInflight = 1024
	srv := mochi.New(&mochi.Options{
		Capabilities:             caps,
		Logger:                   cfg.Logger.With("component", "mochi"),
		SysTopicResendInterval:   3600, // $SYS is never readable; publish it rarely
		InlineClient:             true, // lets tests observe fan-out (export_test.go)
		ClientNetReadBufferSize:  1024,
		ClientNetWriteBufferSize: 1024,
	})
	ctx, cancel := context.WithCancel(context.Background())
	br := &Broker{
		backend:  b,
		cfg:      cfg,
		log:      cfg.Logger,
		srv:      srv,
		ctx:      ctx,
		cancel:   cancel,
		conns:    map[*mochi.Client]*conn{},
		byID:     map[string]*conn{},
		sessions: map[string]*session{},
		watchers: map[keys.Address]map[*pump]struct{}{},
	}
	br.inline = srv.NewClient(nil, mochi.LocalListener, "hypha-broker", true)
	if err := srv.AddHook(&hook{b: br}, nil); err != nil {
		cancel()
		return nil, fmt.Errorf("mqtt: add hook: %w", err)
	}
	return br, nil
}

// Start listens on cfg.Address and serves until Close. It returns once the
// listener is bound.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.closed {
		return errors.New("mqtt: broker already started or closed")
	}
	ln, err := net.Listen("tcp", b.cfg.Address)
	if err != nil {
		return fmt.Errorf("mqtt: listen %s: %w", b.cfg.Address, err)
	}
	if err := b.srv.AddListener(listeners.NewNet("hypha-tcp", ln)); err != nil {
		ln.Close()
		return fmt.Errorf("mqtt: add listener: %w", err)
	}
	if err := b.srv.Serve(); err != nil {
		ln.Close()
		return fmt.Errorf("mqtt: serve: %w", err)
	}
	b.ln = ln
	b.started = true
	b.wg.Add(1)
	go b.dispatchLoop()
	if b.cfg.RecheckInterval > 0 {
		b.wg.Add(1)
		go b.recheckLoop()
	}
	b.log.Info("mqtt: listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the address the broker listens on ("" before Start).
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln == nil {
		return ""
	}
	return b.ln.Addr().String()
}

// Close disconnects every client, stops the listener and the background
// loops, and waits for them. Txs already acknowledged are abandoned (their
// Submit contexts end).
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	err := b.srv.Close()
	b.wg.Wait()
	return err
}

func (b *Broker) recheckLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.RecheckInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
			b.Recheck(b.ctx)
		}
	}
}

// Recheck looks every connected identity up again and disconnects those
// that are no longer active or whose key changed (revocation, rotation,
// decommissioning), with DISCONNECT 0x87 on MQTT 5. A lookup error leaves
// the connection alone. The recheck loop calls it every RecheckInterval.
func (b *Broker) Recheck(ctx context.Context) int {
	b.mu.Lock()
	conns := make([]*conn, 0, len(b.conns))
	for _, c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	dropped := 0
	for _, c := range conns {
		if c.cl.Closed() {
			continue
		}
		pub, active, err := b.backend.Identity(ctx, c.id)
		if err != nil {
			if ctx.Err() != nil {
				return dropped
			}
			b.log.Warn("mqtt: recheck identity", "id", c.id.Account(), "err", err)
			continue
		}
		if active && pub.Equal(c.pub) {
			continue
		}
		b.log.Info("mqtt: disconnecting identity no longer valid", "id", c.id.Account(), "client", c.cl.ID, "active", active)
		_ = b.srv.DisconnectClient(c.cl, codeKeyChanged)
		dropped++
	}
	return dropped
}

// conn returns the authenticated connection of cl, or nil.
func (b *Broker) conn(cl *mochi.Client) *conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns[cl]
}

// establish attaches cl's session after CONNACK: a clean start drops what
// the broker kept for the client id; a resumed session restarts delivery
// of each inbox subscription mochi restored, from where it stood.
func (b *Broker) establish(cl *mochi.Client, clean bool) {
	c := b.conn(cl)
	if c == nil {
		return
	}
	b.mu.Lock()
	s := b.sessions[cl.ID]
	if s == nil || clean {
		if s != nil {
			defer b.stopAll(s)
		}
		s = newSession()
		b.sessions[cl.ID] = s
	}
	c.sess = s
	b.byID[cl.ID] = c
	b.mu.Unlock()
	if clean {
		return
	}
	for filter, sub := range cl.State.Subscriptions.GetAll() {
		if kind, inbox := ParseTopic(filter); kind == TopicInbox {
			b.startPump(c, pendingSub{topic: filter, inbox: inbox, qos: sub.Qos, subID: sub.Identifier})
		}
	}
}

// startPump starts delivering an inbox to c, replacing any pump the
// session had for the same topic. The cursor is, in order: the SUBSCRIBE's
// cursor property; a cursor published to the cursor topic; where the
// replaced (or a stopped) pump of this session stood; else "" (everything
// still in the inbox).
func (b *Broker) startPump(c *conn, ps pendingSub) {
	s := c.sess
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cursor, have := ps.cursor, ps.hasCursor
	if old := s.pumps[ps.topic]; old != nil {
		b.unwatch(old)
		old.stop()
		s.cursors[ps.topic] = old.Cursor()
		delete(s.pumps, ps.topic)
	}
	if !have {
		if v, ok := s.set[ps.topic]; ok {
			cursor, have = v, true
		}
	}
	if !have {
		cursor = s.cursors[ps.topic]
	}
	delete(s.set, ps.topic)
	p := b.newPump(c, ps.topic, ps.inbox, ps.qos, ps.subID, cursor)
	s.pumps[ps.topic] = p
	b.watch(p)
	go p.run()
}

// stopPumps stops the pumps of s that match keep (all if keep is nil),
// remembering their cursors.
func (b *Broker) stopPumps(s *session, match func(*pump) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, p := range s.pumps {
		if match != nil && !match(p) {
			continue
		}
		b.unwatch(p)
		p.stop()
		s.cursors[topic] = p.Cursor()
		delete(s.pumps, topic)
	}
}

func (b *Broker) stopAll(s *session) { b.stopPumps(s, nil) }

func (b *Broker) watch(p *pump) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.watchers[p.inbox]
	if m == nil {
		m = map[*pump]struct{}{}
		b.watchers[p.inbox] = m
	}
	m[p] = struct{}{}
}

func (b *Broker) unwatch(p *pump) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := b.watchers[p.inbox]; m != nil {
		delete(m, p)
		if len(m) == 0 {
			delete(b.watchers, p.inbox)
		}
	}
}

// disconnect forgets cl: its pumps stop (their cursors stay with the
// session), and the session goes too when it expires with the connection.
func (b *Broker) disconnect(cl *mochi.Client, expire bool) {
	c := b.conn(cl)
	if c == nil {
		return
	}
	c.close()
	// Retire before leaving byID: a new connection of the session either
	// finds this one there (and waits for the same retirement in takeover)
	// or finds it already retired.
	b.retire(c)
	b.mu.Lock()
	delete(b.conns, cl)
	if b.byID[cl.ID] == c {
		delete(b.byID, cl.ID)
	}
	var drop *session
	if c.sess != nil && expire && !cl.IsTakenOver() && b.sessions[cl.ID] == c.sess {
		delete(b.sessions, cl.ID)
		drop = c.sess
	}
	b.mu.Unlock()
	if drop != nil {
		b.stopAll(drop)
	}
}

// takeover runs before mochi hands a session to a new connection of the
// same client id (OnSessionEstablish): the previous connection's pumps stop
// now, before mochi copies its inflight store, so that nothing is added to
// it afterwards.
func (b *Broker) takeover(cl *mochi.Client) {
	b.mu.Lock()
	old := b.byID[cl.ID]
	b.mu.Unlock()
	if old != nil && old.cl != cl {
		b.retire(old)
	}
}

// retire stops c's pumps, leaving each inbox's cursor at its last
// acknowledged entry, and takes their unacknowledged messages out of c's
// inflight store: a resumed session re-reads them from the backend instead
// of getting them twice.
func (b *Broker) retire(c *conn) {
	if c.sess == nil {
		return
	}
	s := c.sess
	s.mu.Lock()
	for topic, p := range s.pumps {
		if p.c != c {
			continue
		}
		b.unwatch(p)
		p.stop()
		s.cursors[topic] = p.Acked()
		delete(s.pumps, topic)
	}
	s.mu.Unlock()
	c.mu.Lock()
	for id := range c.inflight {
		c.cl.State.Inflight.Delete(id)
	}
	c.inflight = nil
	c.mu.Unlock()
}

// expireSession drops the broker's state for a session mochi expired.
func (b *Broker) expireSession(clientID string) {
	b.mu.Lock()
	s := b.sessions[clientID]
	delete(b.sessions, clientID)
	b.mu.Unlock()
	if s != nil {
		b.stopAll(s)
	}
}

// unsubscribe stops delivery of the inbox filters in filters.
func (b *Broker) unsubscribe(cl *mochi.Client, filters packets.Subscriptions) {
	c := b.conn(cl)
	if c == nil || c.sess == nil {
		return
	}
	want := map[string]bool{}
	for _, f := range filters {
		want[f.Filter] = true
	}
	b.stopPumps(c.sess, func(p *pump) bool { return p.c == c && want[p.topic] })
}
