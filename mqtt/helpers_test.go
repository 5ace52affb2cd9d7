package mqtt_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/mqtt"
	"github.com/hypha-iot/hypha/txn"
)

const testChain = "hypha-test-1"

// fakeBackend is an in-memory Backend: identities, reader grants, inboxes
// with fixed-width numeric cursors, and a log of submitted txs.
type fakeBackend struct {
	mu       sync.Mutex
	ids      map[keys.Address]fakeID
	readers  map[[2]keys.Address]bool
	inbox    map[keys.Address][]mqtt.InboxEntry
	seq      int64
	subs     []chan mqtt.InboxEntry
	txs      [][]byte
	height   int64
	failNext error
	gate     chan struct{} // if set, Submit waits for it to close
}

type fakeID struct {
	pub    keys.PublicKey
	active bool
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		ids:     map[keys.Address]fakeID{},
		readers: map[[2]keys.Address]bool{},
		inbox:   map[keys.Address][]mqtt.InboxEntry{},
	}
}

func (f *fakeBackend) setIdentity(id keys.Address, pub keys.PublicKey, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids[id] = fakeID{pub: pub, active: active}
}

func (f *fakeBackend) grantRead(reader, id keys.Address) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readers[[2]keys.Address{reader, id}] = true
}

func (f *fakeBackend) Identity(_ context.Context, id keys.Address) (keys.PublicKey, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.ids[id]
	if !ok {
		return keys.PublicKey{}, false, errs.ErrNotFound.Wrap("identity %s", id)
	}
	return v.pub, v.active, nil
}

func (f *fakeBackend) MayRead(_ context.Context, reader, id keys.Address) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return reader == id || f.readers[[2]keys.Address{reader, id}], nil
}

func (f *fakeBackend) Submit(ctx context.Context, tx []byte) (api.Submitted, error) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return api.Submitted{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failNext; err != nil {
		f.failNext = nil
		return api.Submitted{}, err
	}
	f.txs = append(f.txs, slices.Clone(tx))
	f.height++
	h := txn.Hash(tx)
	return api.Submitted{Hash: h[:], Height: f.height, Index: 0, Result: ledger.Result{GasWanted: 100, GasUsed: 42}}, nil
}

func (f *fakeBackend) submitted() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.txs)
}

func (f *fakeBackend) Inbox(_ context.Context, id keys.Address, after string, limit int) ([]mqtt.InboxEntry, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.inbox[id]
	i := sort.Search(len(all), func(i int) bool { return all[i].Cursor > after })
	out := slices.Clone(all[i:min(len(all), i+limit)])
	next := after
	if len(out) > 0 {
		next = out[len(out)-1].Cursor
	}
	return out, next, nil
}

func (f *fakeBackend) SubscribeInbox(ctx context.Context) (<-chan mqtt.InboxEntry, error) {
	ch := make(chan mqtt.InboxEntry, 1024)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.subs = slices.DeleteFunc(f.subs, func(c chan mqtt.InboxEntry) bool { return c == ch })
		close(ch)
	}()
	return ch, nil
}

// deliver appends a message to to's inbox (visible to Inbox first) and
// then announces it on the live stream, as the node does at commit.
func (f *fakeBackend) deliver(to, from keys.Address, body string) mqtt.InboxEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	e := mqtt.InboxEntry{
		Cursor:    fmt.Sprintf("%012d", f.seq),
		Recipient: to,
		Sender:    from,
		Kind:      "msg",
		MsgID:     []byte{byte(f.seq >> 8), byte(f.seq)},
		Box:       []byte(body),
		Height:    f.seq,
	}
	f.inbox[to] = append(f.inbox[to], e)
	for _, ch := range f.subs {
		select {
		case ch <- e:
		default: // a slow stream loses entries; pumps still read them with Inbox
		}
	}
	return e
}

// identity is a test identity: a key and the id it connects as.
type identity struct {
	key keys.PrivateKey
	id  keys.Address
}

func testIdentity(i byte) identity {
	var seed [keys.SeedSize]byte
	for j := range seed {
		seed[j] = i
	}
	k := keys.Ed25519FromSeed(seed)
	return identity{key: k, id: k.Public().Address()}
}

func (d identity) user() string { return d.id.Device() }

func (d identity) token(tb testing.TB, now time.Time) string {
	tb.Helper()
	tok, err := mqtt.MakeToken(d.key, d.id, now, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// mustTx builds a signed tx from signer.
func mustTx(tb testing.TB, signer identity, nonce uint64) []byte {
	tb.Helper()
	tx, err := txn.New(testChain, signer.id, nonce).WithFee(1000, 100_000).
		Add(&txn.ReadingSubmit{Payload: []byte{0x80}}).Sign(signer.key)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := tx.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// env is a started broker over a fake backend with registered identities.
type env struct {
	b   *mqtt.Broker
	fb  *fakeBackend
	now time.Time
}

func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("MQTT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(tb testing.TB, cfg mqtt.Config, ids ...identity) *env {
	tb.Helper()
	fb := newFakeBackend()
	for _, d := range ids {
		fb.setIdentity(d.id, d.key.Public(), true)
	}
	now := time.Unix(1_750_000_000, 0)
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(tb)
	}
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return now }
	}
	b, err := mqtt.New(fb, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	return &env{b: b, fb: fb, now: now}
}

// msg is a message a test client received.
type msg struct {
	Topic   string
	Payload []byte
	Cursor  string
	Corr    []byte
	QoS     byte
}

// inboxRec collects received messages.
type inboxRec struct {
	ch chan msg
}

func newRec() *inboxRec { return &inboxRec{ch: make(chan msg, 10_000)} }

// next waits for the next message or fails after d.
func (r *inboxRec) next(tb testing.TB, d time.Duration) msg {
	tb.Helper()
	select {
	case m := <-r.ch:
		return m
	case <-time.After(d):
		tb.Fatalf("no message within %v", d)
		return msg{}
	}
}

// none asserts that no message arrives within d.
func (r *inboxRec) none(tb testing.TB, d time.Duration) {
	tb.Helper()
	select {
	case m := <-r.ch:
		tb.Fatalf("unexpected message on %s: %s", m.Topic, m.Payload)
	case <-time.After(d):
	}
}

// v5 is a connected MQTT 5 test client.
type v5 struct {
	c   *paho.Client
	rec *inboxRec
}

type v5Opts struct {
	clientID string
	clean    *bool
	expiry   uint32
	recvMax  uint16
	will     bool
	auth     string
}

// dialV5 connects an MQTT 5 client and returns it with the CONNACK, or the
// CONNACK and an error if refused.
func dialV5(tb testing.TB, addr, user, pass string, o v5Opts) (*v5, *paho.Connack, error) {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	rec := newRec()
	c := paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			m := msg{Topic: pr.Packet.Topic, Payload: pr.Packet.Payload, QoS: pr.Packet.QoS}
			if p := pr.Packet.Properties; p != nil {
				m.Cursor = p.User.Get(mqtt.CursorProperty)
				m.Corr = p.CorrelationData
			}
			rec.ch <- m
			return true, nil
		}},
	})
	clean := true
	if o.clean != nil {
		clean = *o.clean
	}
	cp := &paho.Connect{
		ClientID: o.clientID, KeepAlive: 30, CleanStart: clean,
		Username: user, UsernameFlag: true, Password: []byte(pass), PasswordFlag: pass != "",
		Properties: &paho.ConnectProperties{},
	}
	if o.expiry > 0 {
		cp.Properties.SessionExpiryInterval = &o.expiry
	}
	if o.recvMax > 0 {
		cp.Properties.ReceiveMaximum = &o.recvMax
	}
	if o.auth != "" {
		cp.Properties.AuthMethod = o.auth
	}
	if o.will {
		cp.WillMessage = &paho.WillMessage{Topic: "hypha/v1/devices/x/tx", Payload: []byte("bye")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		return nil, ca, err
	}
	cl := &v5{c: c, rec: rec}
	tb.Cleanup(func() { cl.close() })
	return cl, ca, nil
}

func mustV5(tb testing.TB, e *env, d identity, o v5Opts) *v5 {
	tb.Helper()
	c, ca, err := dialV5(tb, e.b.Addr(), d.user(), d.token(tb, e.now), o)
	if err != nil {
		tb.Fatalf("connect %s: %v (connack %+v)", d.user(), err, ca)
	}
	return c
}

func (c *v5) close() {
	_ = c.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// subscribe subscribes to filter and returns the SUBACK reason code.
func (c *v5) subscribe(tb testing.TB, filter string, qos byte, cursor *string) byte {
	tb.Helper()
	s := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}
	if cursor != nil {
		s.Properties = &paho.SubscribeProperties{User: paho.UserProperties{{Key: mqtt.CursorProperty, Value: *cursor}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := c.c.Subscribe(ctx, s)
	if sa == nil {
		tb.Fatalf("subscribe %s: %v", filter, err)
	}
	return sa.Reasons[0]
}

// publish publishes and returns the reason code (0 for QoS 0).
func (c *v5) publish(tb testing.TB, p *paho.Publish) byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pr, err := c.c.Publish(ctx, p)
	if pr == nil {
		tb.Fatalf("publish %s: %v", p.Topic, err)
	}
	return pr.ReasonCode
}

// v3 is a connected MQTT 3.1.1 test client.
type v3 struct {
	c   paho3.Client
	rec *inboxRec
}

func dialV3(tb testing.TB, addr, user, pass, clientID string) (*v3, byte, error) {
	tb.Helper()
	rec := newRec()
	o := paho3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetProtocolVersion(4).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetDefaultPublishHandler(func(_ paho3.Client, m paho3.Message) {
			rec.ch <- msg{Topic: m.Topic(), Payload: m.Payload(), QoS: m.Qos()}
		})
	c := paho3.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		tb.Fatal("3.1.1 connect timed out")
	}
	ct := tok.(*paho3.ConnectToken)
	if err := tok.Error(); err != nil {
		return nil, ct.ReturnCode(), err
	}
	cl := &v3{c: c, rec: rec}
	tb.Cleanup(func() { c.Disconnect(100) })
	return cl, 0, nil
}

func mustV3(tb testing.TB, e *env, d identity, clientID string) *v3 {
	tb.Helper()
	c, rc, err := dialV3(tb, e.b.Addr(), d.user(), d.token(tb, e.now), clientID)
	if err != nil {
		tb.Fatalf("3.1.1 connect %s: %v (rc %d)", d.user(), err, rc)
	}
	return c
}

func (c *v3) subscribe(tb testing.TB, filter string, qos byte) byte {
	tb.Helper()
	tok := c.c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(5 * time.Second) {
		tb.Fatalf("3.1.1 subscribe %s timed out", filter)
	}
	st := tok.(*paho3.SubscribeToken)
	key := filter
	if strings.HasPrefix(key, "$share/") { // paho.mqtt.golang keys results by the unshared filter
		key = strings.Join(strings.Split(key, "/")[2:], "/")
	}
	rc, ok := st.Result()[key]
	if !ok {
		tb.Fatalf("3.1.1 subscribe %s: no result", filter)
	}
	return rc
}

func (c *v3) publish(tb testing.TB, topic string, qos byte, payload []byte) error {
	tb.Helper()
	tok := c.c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		return fmt.Errorf("3.1.1 publish %s timed out", topic)
	}
	return tok.Error()
}

func ptr[T any](v T) *T { return &v }
