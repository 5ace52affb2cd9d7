package ledger

import (
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/file"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

type (
	singleFunc func(key []byte) (QueryResponse, error)
	listFunc   func(prefix []byte, codec cursorCodec, item func(k, v []byte) ([]byte, error)) (QueryResponse, error)
)

// queryFiles answers the /file, /files, /gateway and /firmware paths.
func (l *Ledger) queryFiles(r store.Reader, parts []string, single singleFunc, list listFunc) (QueryResponse, error) {
	switch {
	case len(parts) == 2 && parts[0] == "file":
		c, err := parseCID(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		return single(file.RecordKey(c))
	case len(parts) == 3 && parts[0] == "file" && parts[2] == "holders":
		c, err := parseCID(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		return list(file.HolderPrefix(c), addrCodec, valueItem)
	case len(parts) == 3 && parts[0] == "files" && parts[1] == "publisher":
		a, err := parseAddr(parts[2])
		if err != nil {
			return QueryResponse{}, err
		}
		prefix := file.PublisherPrefix(a)
		return list(prefix, hexCodec, func(k, _ []byte) ([]byte, error) {
			c, _, _ := file.CIDFromSuffix(k[len(prefix):])
			return r.Get(file.RecordKey(c))
		})
	case len(parts) == 2 && parts[0] == "files" && parts[1] == "wanted":
		prefix := file.WantedPrefix()
		return list(prefix, hexCodec, func(k, _ []byte) ([]byte, error) {
			c, _, _ := file.CIDFromSuffix(k[len(prefix):])
			return r.Get(file.RecordKey(c))
		})
	case len(parts) == 2 && parts[0] == "gateway":
		a, err := parseAddr(parts[1])
		if err != nil {
			return QueryResponse{}, err
		}
		return single(gateway.Key(a))
	case parts[0] == "firmware":
		model, err := unescape(parts[1])
		if err != nil || model == "" || len(model) > txn.MaxTextBytes {
			return QueryResponse{}, errs.ErrInvalidQuery.Wrap("model %q", parts[1])
		}
		switch {
		case len(parts) == 2:
			return single(file.ModelKey(model))
		case len(parts) == 3 && parts[2] == "releases":
			return list(file.ReleasePrefix(model), seqCodec, valueItem)
		case len(parts) == 3 && parts[2] == "latest":
			raw, err := r.Get(file.ModelKey(model))
			if err != nil {
				return QueryResponse{}, errs.ErrInternal.WithCause(err, "read model")
			}
			var m file.Model
			if raw == nil {
				return QueryResponse{}, errs.ErrUnknownModel.Wrap("model %q", model)
			}
			if err := txn.Unmarshal(raw, &m); err != nil {
				return QueryResponse{}, errs.ErrInternal.WithCause(err, "decode model")
			}
			if m.Releases == 0 {
				return QueryResponse{}, errs.ErrUnknownRelease.Wrap("model %q has no release yet", model)
			}
			return single(file.ReleaseKey(model, m.Releases-1))
		case len(parts) == 4 && parts[2] == "version":
			raw, err := r.Get(file.VersionKey(model, parts[3]))
			if err != nil {
				return QueryResponse{}, errs.ErrInternal.WithCause(err, "read version index")
			}
			if len(raw) != 8 {
				return QueryResponse{}, errs.ErrUnknownRelease.Wrap("model %q has no release %s", model, parts[3])
			}
			return single(file.ReleaseKey(model, binary.BigEndian.Uint64(raw)))
		}
	}
	return QueryResponse{}, errs.ErrInvalidQuery.Wrap("unknown path /%s", strings.Join(parts, "/"))
}

// parseCID parses a CID in text form into its checked binary form.
func parseCID(s string) ([]byte, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return nil, errs.ErrInvalidCID.WithCause(err, "%q", s)
	}
	b := c.Bytes()
	if err := txn.CheckCID(b); err != nil {
		return nil, err
	}
	return b, nil
}

// hexCodec: opaque key suffixes as hex (CID-keyed lists).
var hexCodec = cursorCodec{
	parse: func(s string) ([]byte, error) {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, errs.ErrInvalidQuery.Wrap("cursor %q: not hex", s)
		}
		return b, nil
	},
	format: func(b []byte) string { return hex.EncodeToString(b) },
}

// unescape decodes %XX escapes in a path segment (a model name may hold
// any printable character, '/' included). net/url stays out of the ledger.
func unescape(s string) (string, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out = append(out, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errs.ErrInvalidQuery.Wrap("bad escape in %q", s)
		}
		b, err := hex.DecodeString(s[i+1 : i+3])
		if err != nil {
			return "", errs.ErrInvalidQuery.Wrap("bad escape in %q", s)
		}
		out = append(out, b[0])
		i += 2
	}
	return string(out), nil
}
