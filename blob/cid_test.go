package blob

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/go-cid"
)

// kuboCIDs are the CIDs kubo gives the test contents. They were obtained
// with kubo v0.43.1 (built from the module proxy outside this repository):
//
//	IPFS_PATH=/tmp/kubo/repo ipfs init --profile unixfs-v1-2025
//	ipfs add --offline --only-hash -Q FILE
//
// where FILE was written by a throwaway program using the same generator as
// content(n) (ChaCha8 seeded with testSeed, first n bytes), except "tiny",
// which is the literal text. The repository's Import config then read:
// CidVersion 1, HashFunction sha2-256, UnixFSChunker size-1048576,
// UnixFSDAGLayout balanced, UnixFSFileMaxLinks 1024, UnixFSRawLeaves true,
// UnixFSPBNodeFieldOrder links-first.
var kuboCIDs = []struct {
	name string
	size int64
	text string // literal content instead of content(size)
	want string
	// computeOnly skips Add (the 1 GiB case would only time the datastore).
	computeOnly bool
}{
	{name: "empty", size: 0, want: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
	{name: "tiny", text: "hello hypha\n", want: "bafkreighj6xlj5gapyk4c3zejwumohgtcptcivyn2oyuzsbgcxgczkhgha"},
	{name: "1MiB", size: 1 << 20, want: "bafkreifbpeqghyxjd7jro2ueyfbgzybkhrdraoysodwbfkrje3rbt3bt4m"},
	{name: "1MiB+1", size: 1<<20 + 1, want: "bafybeianuwlen3x2vy7leodyvebib4akixc7nm73zzkup5anq5a7djbwqu"},
	{name: "5MiB+123", size: 5<<20 + 123, want: "bafybeicj2ylnbb3le7w4bukgrx7uzggqo76puhox5g7aofpvbtpuzlh5wa"},
	{name: "101MiB+7", size: 101<<20 + 7, want: "bafybeifsfovu7k775q7tmzgf5jctbds5mxqaqjecm7hrn2u332uppa7noq"},
	// 1025 chunks: the root gets a second level (1024 links per node).
	{name: "1025MiB+3", size: 1025<<20 + 3, want: "bafybeigzngxritmkw2xrwwdmccnnwrzy6dxcu62mowrkzewlzptxqvgqba", computeOnly: true},
}

func TestCIDsMatchKubo(t *testing.T) {
	s := mustStore(t)
	for _, tc := range kuboCIDs {
		t.Run(tc.name, func(t *testing.T) {
			src := func() io.Reader {
				if tc.text != "" {
					return strings.NewReader(tc.text)
				}
				return content(tc.size)
			}
			wantSize := tc.size
			if tc.text != "" {
				wantSize = int64(len(tc.text))
			}

			c, n, err := ComputeCID(src())
			if err != nil {
				t.Fatalf("ComputeCID: %v", err)
			}
			if c.String() != tc.want || n != wantSize {
				t.Errorf("ComputeCID = %s, %d; want %s, %d", c, n, tc.want, wantSize)
			}
			if tc.computeOnly {
				return
			}
			c, n, err = s.Add(context.Background(), src())
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if c.String() != tc.want || n != wantSize {
				t.Errorf("Add = %s, %d; want %s, %d", c, n, tc.want, wantSize)
			}
		})
	}
}

var parseCIDCases = []struct {
	in string
	ok bool
}{
	{"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", true},
	{"bafybeianuwlen3x2vy7leodyvebib4akixc7nm73zzkup5anq5a7djbwqu", true},
	{"QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR", true},    // CIDv0
	{"zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA", true}, // CIDv1 raw, base58
	{"", false},
	{" bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", false},
	{"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku\n", false},
	{"/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", false},
	{"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk", false},  // truncated
	{"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykv", false}, // bad padding bits
	{"Qm", false},
	{"hello", false},
	{"bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua", false}, // dag-cbor: not a file
	{"bafkqaaa", true}, // identity multihash: the (empty) content is the CID
	{"BAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU", true}, // base32upper
	{"bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4", true}, // blake3, raw
	{strings.Repeat("b", 300), false},
}

func TestParseCID(t *testing.T) {
	for _, tc := range parseCIDCases {
		c, err := ParseCID(tc.in)
		if tc.ok {
			if err != nil {
				t.Errorf("ParseCID(%q): %v", tc.in, err)
			} else if again, _ := cid.Decode(tc.in); !c.Equals(again) {
				t.Errorf("ParseCID(%q) = %s; want %s", tc.in, c, again)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseCID(%q) = %s; want an error", tc.in, c)
		} else if errs.Of(err) != errs.ErrInvalidCID {
			t.Errorf("ParseCID(%q) error class %v; want ErrInvalidCID (%v)", tc.in, errs.Of(err).Name, err)
		}
	}
}

func FuzzParseCID(f *testing.F) {
	for _, tc := range parseCIDCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCID(s)
		if err != nil {
			if errs.Of(err) != errs.ErrInvalidCID {
				t.Fatalf("ParseCID(%q): error of class %s: %v", s, errs.Of(err).Name, err)
			}
			return
		}
		// A CID that parses must survive a round trip through its canonical
		// string form and its bytes.
		again, err := ParseCID(c.String())
		if err != nil || !again.Equals(c) {
			t.Fatalf("ParseCID(%q) = %s, which does not parse back: %v", s, c, err)
		}
		if err := validCID(c); err != nil {
			t.Fatalf("ParseCID(%q) accepted an invalid CID: %v", s, err)
		}
	})
}
