package blob

import (
	"strings"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
)

// maxCIDString bounds the input ParseCID looks at: a CIDv1 with a 64-byte
// digest in base32 is about 120 characters.
const maxCIDString = 256

// ParseCID parses a CID string as it appears in URLs, API requests and
// ledger records: CIDv0 ("Qm…", base58btc) or CIDv1 in any multibase. It is
// strict: no surrounding space, no path or URL prefix, a dag-pb or raw
// codec (the codecs of UnixFS files) and a hash function from the IPFS
// secure allowlist. Errors are errs.ErrInvalidCID.
func ParseCID(s string) (cid.Cid, error) {
	if s == "" {
		return cid.Undef, errs.ErrInvalidCID.Wrap("empty CID")
	}
	if len(s) > maxCIDString {
		return cid.Undef, errs.ErrInvalidCID.Wrap("CID string of %d characters is too long", len(s))
	}
	if strings.TrimSpace(s) != s {
		return cid.Undef, errs.ErrInvalidCID.Wrap("CID %q has surrounding space", s)
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, errs.ErrInvalidCID.WithCause(err, "parse %q", s)
	}
	if canon, err := canonical(c, s); err != nil || canon != s {
		return cid.Undef, errs.ErrInvalidCID.Wrap("%q is not in canonical form", s)
	}
	if err := validCID(c); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// canonical re-encodes c the way s was written (CIDv0, or CIDv1 in s's
// multibase), so that only one spelling per base is accepted: no stray
// padding bits, no base58 "Qm" look-alikes.
func canonical(c cid.Cid, s string) (string, error) {
	if c.Version() == 0 {
		return c.String(), nil
	}
	enc, err := multibase.NewEncoder(multibase.Encoding(s[0]))
	if err != nil {
		return "", err
	}
	return c.Encode(enc), nil
}
