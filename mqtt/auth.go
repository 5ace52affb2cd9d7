package mqtt

import (
	"context"
	"errors"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// lookupTimeout bounds a backend lookup made while a client waits (CONNECT,
// SUBSCRIBE).
const lookupTimeout = 5 * time.Second

// Authenticate checks CONNECT credentials: username is the identity (a
// device id or account address in bech32), password a token made by
// MakeToken. It returns the identity and its current key, or the MQTT 5
// CONNACK reason code that refuses it:
//
//   - 0x86 bad user name or password: username not an address; token
//     malformed, for another identity, expired, not yet valid, too long-lived,
//     or not signed by the identity's current key; identity unknown;
//   - 0x87 not authorized: a valid token of a revoked or decommissioned
//     identity (checked after the signature, so only the key holder learns it);
//   - 0x88 server unavailable: the backend lookup failed.
func (b *Broker) Authenticate(ctx context.Context, username, password string) (keys.Address, keys.PublicKey, packets.Code) {
	id, ok := parseID(username)
	if !ok {
		return keys.Address{}, keys.PublicKey{}, codeBadPassword
	}
	tok, err := ParseToken(password)
	if err != nil {
		return keys.Address{}, keys.PublicKey{}, codeBadPassword
	}
	now := b.cfg.Clock()
	if err := tok.CheckClaims(id, now, b.cfg.TokenMaxAge, b.cfg.ClockSkew); err != nil {
		return keys.Address{}, keys.PublicKey{}, codeBadPassword
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	pub, active, err := b.backend.Identity(ctx, id)
	switch {
	case errors.Is(err, errs.ErrNotFound), errors.Is(err, errs.ErrUnknownDevice):
		return keys.Address{}, keys.PublicKey{}, codeBadPassword
	case err != nil:
		b.log.Warn("mqtt: identity lookup", "id", username, "err", err)
		return keys.Address{}, keys.PublicKey{}, codeUnavailable
	case pub.IsZero():
		return keys.Address{}, keys.PublicKey{}, codeBadPassword
	}
	if err := tok.Verify(pub, id, now, b.cfg.TokenMaxAge, b.cfg.ClockSkew); err != nil {
		return keys.Address{}, keys.PublicKey{}, codeBadPassword
	}
	if !active {
		return keys.Address{}, keys.PublicKey{}, codeInactive
	}
	return id, pub, packets.CodeSuccess
}

// connect runs at CONNECT (mochi's OnConnect, before its own checks answer
// the client): it refuses what Hypha does not support, authenticates, and
// on success namespaces the client id by identity so that no identity can
// take over another's session (and with it, its subscriptions). On refusal
// it sends the CONNACK itself, with the code for the client's protocol
// version (mochi's OnConnectAuthenticate can only say 0x86), and returns
// the code so mochi drops the connection.
func (b *Broker) connect(cl *mochi.Client, pk packets.Packet) error {
	code := packets.CodeSuccess
	var id keys.Address
	var pub keys.PublicKey
	switch {
	case pk.Properties.AuthenticationMethod != "":
		code = codeAuthMethod
	case pk.Connect.WillFlag:
		// A will is published by mochi without OnPublish or a write ACL
		// check, so it could reach any topic.
		code = codeWillRefused
	default:
		id, pub, code = b.Authenticate(b.ctx, string(pk.Connect.Username), string(pk.Connect.Password))
	}
	if code != packets.CodeSuccess {
		v := cl.Properties.ProtocolVersion
		_ = b.srv.SendConnack(cl, connackCode(v, code), false, nil)
		b.log.Debug("mqtt: connect refused", "username", string(pk.Connect.Username), "remote", cl.Net.Remote, "code", code.Code, "reason", code.Reason)
		return code
	}
	cl.ID = id.Account() + "/" + cl.ID
	b.mu.Lock()
	b.conns[cl] = &conn{cl: cl, id: id, pub: pub, done: make(chan struct{})}
	b.mu.Unlock()
	return nil
}
