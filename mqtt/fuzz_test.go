package mqtt_test

import (
	"testing"
	"time"

	"github.com/hypha-iot/hypha/mqtt"
)

// FuzzParseToken: the token parser never panics, and whatever it accepts
// re-encodes to exactly its input (one text form per token).
func FuzzParseToken(f *testing.F) {
	d := testIdentity(1)
	now := time.Unix(1_750_000_000, 0)
	f.Add(d.token(f, now))
	f.Add(claimsToken(f, d.key, d.id, now, now.Add(48*time.Hour)))
	f.Add("")
	f.Add(".")
	f.Add("oQ.AA")
	f.Add("pAFUAAAAAAAAAAAAAAAAAAAAAAAAAAACGmhKzwADGmhK3RAEUAAAAAAAAAAAAAAAAAAAAAA." +
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := mqtt.ParseToken(s)
		if err != nil {
			return
		}
		if got := tok.String(); got != s {
			t.Fatalf("re-encoded %q, input %q", got, s)
		}
		_ = tok.Verify(d.key.Public(), d.id, now, 24*time.Hour, 30*time.Second)
	})
}

func TestTokenRoundTrip(t *testing.T) {
	d := testIdentity(1)
	now := time.Unix(1_750_000_000, 0)
	s := d.token(t, now)
	tok, err := mqtt.ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Claims.ID != d.id || tok.Claims.ExpiresAt-tok.Claims.IssuedAt != 3600 {
		t.Fatalf("claims %+v", tok.Claims)
	}
	if err := tok.Verify(d.key.Public(), d.id, now, 24*time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(testIdentity(2).key.Public(), d.id, now, 24*time.Hour, 0); err == nil {
		t.Fatal("verified with another key")
	}
	if _, err := mqtt.MakeToken(d.key, d.id, now, 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
	if len(s) > 200 {
		t.Fatalf("token is %d characters", len(s))
	}
}
