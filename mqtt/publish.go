package mqtt

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/txn"
)

// TxResult is the JSON payload published for every tx publish: on the
// publish's MQTT 5 Response Topic (with its Correlation Data), or on
// hypha/v1/devices/{id}/tx/result when it has none.
//
// Hash is the hex SHA-256 of the payload. A committed tx has Height, Index
// and Result; a tx the ledger refused also has Error (from its result code);
// a publish the broker refused (ReasonCode set, the MQTT 5 reason code it
// answered) or a failed submission has only Error.
type TxResult struct {
	Hash       string         `json:"hash"`
	Height     int64          `json:"height,omitempty"`
	Index      uint32         `json:"index,omitempty"`
	Result     *ledger.Result `json:"result,omitempty"`
	Error      *ResultError   `json:"error,omitempty"`
	ReasonCode byte           `json:"reason_code,omitempty"`
}

// ResultError is an error class with a message, as in the HTTP API.
type ResultError struct {
	Code    uint32 `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message,omitempty"`
}

// txJob is an accepted tx waiting for submission.
type txJob struct {
	raw        []byte
	hash       string
	respTopic  string
	corrData   []byte
	fromClient string
}

// publish handles a client PUBLISH that passed the write ACL (mochi's
// OnPublish). Its error is the verdict mochi acts on (see DESIGN.md, the
// mochi pitfall):
//
//   - packets.CodeSuccessIgnore: acknowledged normally and delivered to
//     nobody (accepted txs and cursors);
//   - packets.ErrRejectPacket: dropped with no further action; for an MQTT 5
//     publish at QoS 1 or 2 the PUBACK or PUBREC carrying the reason code is
//     written here first (mochi itself would answer a QoS 2 publish with a
//     PUBACK, and ignores a Code on QoS 0).
//
// An MQTT 3.1.1 publish at QoS 1 or 2 that is refused is acknowledged
// positively and dropped ([MQTT-3.3.5-2] allows no negative ack); the
// refusal reaches the client in the TxResult on its result topic, as it
// does for QoS 0.
func (b *Broker) publish(cl *mochi.Client, pk packets.Packet) error {
	c := b.conn(cl)
	if c == nil {
		return packets.ErrRejectPacket
	}
	kind, _ := ParseTopic(pk.TopicName)
	var err error
	switch kind {
	case TopicTx:
		err = b.AcceptTx(c, pk)
	case TopicCursor:
		err = b.setCursor(c, pk)
	default:
		err = errs.ErrUnauthorized.Wrap("topic %q is not publishable", pk.TopicName)
	}
	if err == nil {
		return packets.CodeSuccessIgnore
	}
	code := publishCode(err)
	code.Reason = errs.Message(err)
	if len(code.Reason) > 200 {
		code.Reason = code.Reason[:200]
	}
	if kind == TopicTx {
		h := txn.Hash(pk.Payload)
		res := TxResult{Hash: hex.EncodeToString(h[:]), Error: resultError(err), ReasonCode: code.Code}
		topic, corr := b.resultRoute(pk)
		if errors.Is(err, errResponseTopic) {
			topic = defaultResultTopic(pk.TopicName)
		}
		b.publishResult(topic, corr, res)
	}
	b.log.Debug("mqtt: publish refused", "client", cl.ID, "topic", pk.TopicName, "code", code.Code, "reason", code.Reason)
	if cl.Properties.ProtocolVersion < 5 {
		if pk.FixedHeader.Qos == 0 {
			return packets.ErrRejectPacket
		}
		return packets.CodeSuccessIgnore
	}
	switch pk.FixedHeader.Qos {
	case 1:
		_ = cl.WritePacket(ackPacket(packets.Puback, pk.PacketID, code))
	case 2:
		_ = cl.WritePacket(ackPacket(packets.Pubrec, pk.PacketID, code))
	}
	return packets.ErrRejectPacket
}

func ackPacket(typ byte, id uint16, code packets.Code) packets.Packet {
	return packets.Packet{
		FixedHeader: packets.FixedHeader{Type: typ},
		PacketID:    id,
		ReasonCode:  code.Code,
		Properties:  packets.Properties{ReasonString: code.Reason},
	}
}

var errResponseTopic = errs.ErrUnauthorized.Wrap("response topic must be the identity's tx/result topic or below it")

// AcceptTx validates a tx publish from c and queues it for submission. It
// checks, in order: payload size (MaxPayload), the Response Topic (must be
// in c's own tx/result subtree), strict decoding (txn.Decode), and that the
// tx signer is the connected identity. The signature itself is the
// ledger's to check. Errors carry an errs class (see publishCode).
func (b *Broker) AcceptTx(c *conn, pk packets.Packet) error {
	if len(pk.Payload) > b.cfg.MaxPayload {
		return errs.ErrTxTooLarge.Wrap("%d bytes, limit %d", len(pk.Payload), b.cfg.MaxPayload)
	}
	if rt := pk.Properties.ResponseTopic; rt != "" {
		if kind, id := ParseTopic(rt); kind != TopicResult || id != c.id {
			return errResponseTopic
		}
	}
	tx, err := txn.Decode(pk.Payload, b.cfg.MaxPayload)
	if err != nil {
		return err
	}
	if tx.Body.Signer != c.id {
		return errs.ErrUnauthorized.Wrap("tx signer %s is not the connected identity %s", tx.Body.Signer.Account(), c.id.Account())
	}
	h := tx.Hash()
	topic, corr := b.resultRoute(pk)
	job := txJob{
		raw:        tx.Bytes(),
		hash:       hex.EncodeToString(h[:]),
		respTopic:  topic,
		corrData:   corr,
		fromClient: c.cl.ID,
	}
	return b.enqueue(c, job)
}

// resultRoute returns where the result of publish pk goes.
func (b *Broker) resultRoute(pk packets.Packet) (string, []byte) {
	if rt := pk.Properties.ResponseTopic; rt != "" {
		return rt, append([]byte(nil), pk.Properties.CorrelationData...)
	}
	return defaultResultTopic(pk.TopicName), nil
}

// defaultResultTopic turns …/{id}/tx into …/{id}/tx/result.
func defaultResultTopic(txTopic string) string { return txTopic + "/result" }

// enqueue reserves a place for job in c's submission queue (refusing it
// when MaxPendingTx are waiting) and stashes it; release queues it once
// mochi has acknowledged the publish. Txs from one connection are submitted
// one at a time, in publish order, so nonces arrive in order.
func (b *Broker) enqueue(c *conn, job txJob) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.txq == nil {
		c.txq = make(chan txJob, b.cfg.MaxPendingTx)
		b.wg.Add(1)
		go b.submitLoop(c, c.txq)
	}
	if c.pendingTx >= b.cfg.MaxPendingTx {
		return errs.ErrUnavailable.Wrap("%d txs already waiting for their result", b.cfg.MaxPendingTx)
	}
	c.pendingTx++
	c.stash = &job
	return nil
}

// release queues the stashed tx, if any (OnPublished).
func (b *Broker) release(c *conn) {
	c.mu.Lock()
	job := c.stash
	c.stash = nil
	q := c.txq
	c.mu.Unlock()
	if job != nil {
		q <- *job // never blocks: enqueue reserved the place
	}
}

// submitLoop submits c's queued txs until the broker closes. Txs already
// acknowledged when the connection ends are still submitted.
func (b *Broker) submitLoop(c *conn, q chan txJob) {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case job := <-q:
			b.SubmitTx(b.ctx, job)
			c.done1()
		case <-c.done:
			for {
				select {
				case job := <-q:
					b.SubmitTx(b.ctx, job)
					c.done1()
				default:
					return
				}
			}
		}
	}
}

// SubmitTx submits one accepted tx and publishes its TxResult.
func (b *Broker) SubmitTx(ctx context.Context, job txJob) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.SubmitTimeout)
	defer cancel()
	sub, err := b.backend.Submit(ctx, job.raw)
	b.publishResult(job.respTopic, job.corrData, txResult(job.hash, sub, err))
}

func txResult(hash string, sub api.Submitted, err error) TxResult {
	res := TxResult{Hash: hash}
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			err = errs.ErrTimeout.WithCause(err, "waiting for commit")
		case errors.Is(err, context.Canceled):
			err = errs.ErrUnavailable.WithCause(err, "broker closing")
		}
		res.Error = resultError(err)
		return res
	}
	if len(sub.Hash) > 0 {
		res.Hash = hex.EncodeToString(sub.Hash)
	}
	res.Height, res.Index = sub.Height, sub.Index
	r := sub.Result
	res.Result = &r
	if r.Code != 0 {
		res.Error = &ResultError{Code: r.Code, Name: r.Name, Message: r.Log}
	}
	return res
}

func resultError(err error) *ResultError {
	c := errs.Of(err)
	msg := errs.Message(err)
	if c == errs.ErrInternal && !errors.Is(err, errs.ErrInternal) {
		msg = "internal error" // an unclassified backend error: do not leak it
	}
	return &ResultError{Code: c.Code, Name: c.Name, Message: msg}
}

// publishResult publishes res on topic at QoS 1 from the broker's own
// client (no ACL; subscribers are checked by OnACLCheck on delivery).
func (b *Broker) publishResult(topic string, corr []byte, res TxResult) {
	payload, err := json.Marshal(res)
	if err != nil {
		b.log.Error("mqtt: encode tx result", "err", err)
		return
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
		TopicName:   topic,
		Payload:     payload,
		PacketID:    1, // validity only: mochi treats inline publishes as complete
		Properties: packets.Properties{
			CorrelationData:   corr,
			ContentType:       "application/json",
			PayloadFormat:     1,
			PayloadFormatFlag: true,
		},
	}
	if err := b.srv.InjectPacket(b.inline, pk); err != nil {
		b.log.Warn("mqtt: publish tx result", "topic", topic, "err", err)
	}
}

// setCursor records the cursor published to {id}/inbox/cursor for the next
// SUBSCRIBE of {id}/inbox in this session (the cursor transport for MQTT
// 3.1.1 clients, whose SUBSCRIBE has no properties).
func (b *Broker) setCursor(c *conn, pk packets.Packet) error {
	if len(pk.Payload) > maxCursorLen || !utf8.Valid(pk.Payload) {
		return errs.ErrInvalidMsg.Wrap("cursor must be UTF-8 of at most %d bytes", maxCursorLen)
	}
	if c.sess == nil {
		return errs.ErrUnavailable.Wrap("session not established")
	}
	inbox := strings.TrimSuffix(pk.TopicName, "/cursor")
	c.sess.mu.Lock()
	c.sess.set[inbox] = string(pk.Payload)
	c.sess.mu.Unlock()
	return nil
}
