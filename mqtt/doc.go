// Package mqtt is Hypha's MQTT front door: an embedded MQTT 5 and 3.1.1
// broker (mochi-mqtt/server/v2) behind a small Backend interface, with
// per-identity authentication, a closed topic layout, tx submission and
// inbox delivery. The node implements Backend; tests use a fake.
//
// # Authentication
//
// CONNECT username is the identity: a device id ("hyphadev1…") or account
// ("hypha1…"). The password is a token (MakeToken):
//
//	base64url(claims) "." base64url(sig)     (RFC 4648 §5, no padding)
//	claims = canonical CBOR {1: id, 2: issued_at, 3: expires_at, 4: nonce(16)}
//	sig    = signature by the identity's current key over "hypha/mqtt-token/v1" || claims
//
// A token is valid from issued_at-skew to expires_at+skew and may live at
// most Config.TokenMaxAge. CONNACK codes (MQTT 5 / 3.1.1):
//
//	0x86 / 0x04  username not an address; token malformed, expired, early,
//	             too long-lived, for another identity or not signed by the
//	             identity's current key; unknown identity
//	0x87 / 0x05  valid token of a revoked or decommissioned identity
//	0x8C / 0x05  an MQTT 5 Authentication Method (enhanced auth) was asked for
//	0x90 / 0x05  a will message was set (mochi publishes wills without any
//	             write check, so none are accepted)
//	0x88 / 0x03  the identity lookup failed
//
// The client id is namespaced by identity inside the broker, so no identity
// can take over another's session. Connected identities are looked up again
// every Config.RecheckInterval; revoked or rotated ones are disconnected
// (DISCONNECT 0x87).
//
// # Topics
//
//	hypha/v1/devices/{id}/inbox           SUBSCRIBE: id itself, or a reader Backend.MayRead allows
//	hypha/v1/devices/{id}/inbox/cursor    PUBLISH: the replay cursor for the next SUBSCRIBE (3.1.1)
//	hypha/v1/devices/{id}/tx              PUBLISH: id only; the payload is a signed tx (raw CBOR)
//	hypha/v1/devices/{id}/tx/result[/…]   SUBSCRIBE: id only; wildcards allowed below tx/result
//
// {id} is written in either bech32 form. Nobody publishes to inbox or result
// topics; the broker does. Wildcards are granted only when every level
// before the first wildcard is literal and reaches {self}/tx/result, so no
// wildcard can match another identity's topic: #, +, hypha/#,
// hypha/v1/devices/+/inbox and {self}/+ are all refused (SUBACK 0x87 on
// MQTT 5, 0x80 on 3.1.1), as are $SYS and shared subscriptions. Nothing is
// retained.
//
// # Transactions
//
// A PUBLISH to {self}/tx is checked at once (size, Response Topic, strict
// decoding, signer = connected identity) and then submitted in commit mode,
// one at a time per connection in publish order. The result (TxResult JSON)
// goes to the MQTT 5 Response Topic with its Correlation Data, which must
// lie in {self}/tx/result[/…], or else to {id}/tx/result. A refused publish
// reaches no subscriber; its code, on MQTT 5 QoS 1 and 2 in the PUBACK or
// PUBREC, and for every version and QoS in the TxResult's reason_code:
//
//	0x99 payload format invalid  not a canonical, well-formed tx
//	0x87 not authorized          signer is not the connected identity; Response
//	                             Topic outside {self}/tx/result; topic not
//	                             publishable (the write ACL, by mochi)
//	0x97 quota exceeded          payload above MaxPayload; MaxPendingTx txs waiting
//
// 0x95 (packet too large) is not a PUBACK/PUBREC code in MQTT 5; packets
// above the Maximum Packet Size advertised in CONNACK (MaxPayload +
// PacketOverhead) close the connection instead. MQTT 3.1.1 has no negative
// acknowledgement: a refused QoS 1/2 publish is acknowledged and dropped
// ([MQTT-3.3.5-2]); a publish to a topic the ACL refuses disconnects a 3.1.1
// client at QoS 1/2 (mochi's behaviour) and is dropped at QoS 0.
//
// # Inbox delivery
//
// Each inbox subscription has a pump that reads Backend.Inbox forward from
// its cursor and writes entries (InboxEntry JSON, user property "cursor")
// to that one subscriber at min(granted QoS, 1). Backend.SubscribeInbox only
// wakes pumps, so replay and live delivery are one ordered read: nothing is
// skipped or repeated within a session. The starting cursor is: the MQTT 5
// user property "cursor" on the SUBSCRIBE; else a cursor published to
// {id}/inbox/cursor earlier in the session (3.1.1 clients); else where this
// session's delivery of that inbox stood (re-subscribe, resumed persistent
// session); else "" — everything still in the inbox. QoS 1 deliveries are
// kept in the session's inflight store, so a resumed session gets unacked
// ones again.
package mqtt
