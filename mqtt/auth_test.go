package mqtt_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/mqtt"
)

// claimsToken signs arbitrary claims for id with k.
func claimsToken(tb testing.TB, k keys.PrivateKey, id keys.Address, iat, exp time.Time) string {
	tb.Helper()
	nonce := make([]byte, mqtt.NonceSize)
	rand.Read(nonce)
	t, err := mqtt.SignClaims(k, mqtt.Claims{ID: id, IssuedAt: uint64(iat.Unix()), ExpiresAt: uint64(exp.Unix()), Nonce: nonce})
	if err != nil {
		tb.Fatal(err)
	}
	return t.String()
}

func TestConnectAuth(t *testing.T) {
	dev, other, revoked, rotated := testIdentity(1), testIdentity(2), testIdentity(3), testIdentity(4)
	unknown := testIdentity(5)
	owner := testIdentity(6)
	e := newEnv(t, mqtt.Config{}, dev, other, revoked, rotated, owner)
	e.fb.setIdentity(revoked.id, revoked.key.Public(), false)
	newKey := testIdentity(40).key
	e.fb.setIdentity(rotated.id, newKey.Public(), true) // rotated: the id now has another key
	now := e.now

	tests := []struct {
		name       string
		user, pass string
		v5, v3     byte // expected CONNACK codes; 0 = accepted
	}{
		{"valid device", dev.user(), dev.token(t, now), 0, 0},
		{"valid account form", dev.id.Account(), dev.token(t, now), 0, 0},
		{"valid owner account", owner.id.Account(), owner.token(t, now), 0, 0},
		{"rotated key, token by new key", rotated.user(), claimsToken(t, newKey, rotated.id, now, now.Add(time.Hour)), 0, 0},
		{"issued within skew", dev.user(), claimsToken(t, dev.key, dev.id, now.Add(20*time.Second), now.Add(time.Hour)), 0, 0},
		{"forged: signed by another key", dev.user(), claimsToken(t, other.key, dev.id, now, now.Add(time.Hour)), 0x86, 0x04},
		{"other identity's token", dev.user(), other.token(t, now), 0x86, 0x04},
		{"expired", dev.user(), claimsToken(t, dev.key, dev.id, now.Add(-2*time.Hour), now.Add(-time.Hour)), 0x86, 0x04},
		{"not yet valid", dev.user(), claimsToken(t, dev.key, dev.id, now.Add(10*time.Minute), now.Add(time.Hour)), 0x86, 0x04},
		{"lifetime above max", dev.user(), claimsToken(t, dev.key, dev.id, now, now.Add(48*time.Hour)), 0x86, 0x04},
		{"rotated key, token by old key", rotated.user(), rotated.token(t, now), 0x86, 0x04},
		{"revoked device", revoked.user(), revoked.token(t, now), 0x87, 0x05},
		{"unknown identity", unknown.user(), unknown.token(t, now), 0x86, 0x04},
		{"malformed token", dev.user(), "not-a-token", 0x86, 0x04},
		{"empty password", dev.user(), "", 0x86, 0x04},
		{"username not an address", "alice", dev.token(t, now), 0x86, 0x04},
		{"username hex form", "0102030405060708090a0b0c0d0e0f1011121314", dev.token(t, now), 0x86, 0x04},
	}
	for _, tc := range tests {
		t.Run("v5/"+tc.name, func(t *testing.T) {
			c, ca, err := dialV5(t, e.b.Addr(), tc.user, tc.pass, v5Opts{})
			if tc.v5 == 0 {
				if err != nil {
					t.Fatalf("refused: %v (%+v)", err, ca)
				}
				c.close()
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if ca == nil || ca.ReasonCode != tc.v5 {
				t.Fatalf("CONNACK %+v, want reason 0x%02x (err %v)", ca, tc.v5, err)
			}
		})
		t.Run("v3/"+tc.name, func(t *testing.T) {
			_, rc, err := dialV3(t, e.b.Addr(), tc.user, tc.pass, "")
			if tc.v3 == 0 {
				if err != nil {
					t.Fatalf("refused: %v (rc %d)", err, rc)
				}
				return
			}
			if err == nil || rc != tc.v3 {
				t.Fatalf("return code %d (err %v), want %d", rc, err, tc.v3)
			}
		})
	}

	t.Run("v5/auth method", func(t *testing.T) {
		_, ca, err := dialV5(t, e.b.Addr(), dev.user(), dev.token(t, now), v5Opts{auth: "SCRAM-SHA-1"})
		if err == nil || ca == nil || ca.ReasonCode != 0x8C {
			t.Fatalf("CONNACK %+v err %v, want 0x8C", ca, err)
		}
	})
	t.Run("v5/will refused", func(t *testing.T) {
		_, ca, err := dialV5(t, e.b.Addr(), dev.user(), dev.token(t, now), v5Opts{will: true})
		if err == nil || ca == nil || ca.ReasonCode != 0x90 {
			t.Fatalf("CONNACK %+v err %v, want 0x90", ca, err)
		}
	})
	t.Run("v5/connack limits", func(t *testing.T) {
		_, ca, err := dialV5(t, e.b.Addr(), dev.user(), dev.token(t, now), v5Opts{})
		if err != nil {
			t.Fatal(err)
		}
		p := ca.Properties
		if p == nil || p.MaximumPacketSize == nil || *p.MaximumPacketSize != 64<<10+mqtt.PacketOverhead || p.RetainAvailable || p.SharedSubAvailable {
			t.Fatalf("CONNACK properties %+v", p)
		}
	})
}

// TestRecheckDisconnectsRevoked: a connected device whose key is revoked is
// disconnected by Recheck, with DISCONNECT 0x87.
func TestRecheckDisconnectsRevoked(t *testing.T) {
	dev, keep := testIdentity(1), testIdentity(2)
	e := newEnv(t, mqtt.Config{RecheckInterval: -1}, dev, keep)
	c := mustV5(t, e, dev, v5Opts{})
	k := mustV5(t, e, keep, v5Opts{})
	e.fb.setIdentity(dev.id, dev.key.Public(), false)
	if n := e.b.Recheck(t.Context()); n != 1 {
		t.Fatalf("Recheck dropped %d, want 1", n)
	}
	select {
	case <-c.c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("revoked client still connected")
	}
	select {
	case <-k.c.Done():
		t.Fatal("active client disconnected")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestSessionNotSharedAcrossIdentities: the same client id used by another
// identity gets a separate session (no inherited inbox subscription).
func TestSessionNotSharedAcrossIdentities(t *testing.T) {
	a, b := testIdentity(1), testIdentity(2)
	e := newEnv(t, mqtt.Config{}, a, b)
	ca := mustV5(t, e, a, v5Opts{clientID: "shared", clean: ptr(false), expiry: 300})
	if rc := ca.subscribe(t, mqtt.InboxTopic(a.id), 1, nil); rc != 1 {
		t.Fatalf("SUBACK 0x%02x", rc)
	}
	cb := mustV5(t, e, b, v5Opts{clientID: "shared", clean: ptr(false), expiry: 300})
	e.fb.deliver(a.id, b.id, "for a only")
	if m := ca.rec.next(t, 5*time.Second); m.Topic != mqtt.InboxTopic(a.id) {
		t.Fatalf("a got %s", m.Topic)
	}
	cb.rec.none(t, 300*time.Millisecond)
}
