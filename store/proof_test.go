package store

import (
	"bytes"
	"errors"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
)

func mustProve(tb testing.TB, s *Store, key string, version int64) ([]byte, *ics23.CommitmentProof) {
	tb.Helper()
	v, p, err := s.Prove([]byte(key), version)
	if err != nil {
		tb.Fatalf("Prove(%q, %d): %v", key, version, err)
	}
	return v, p
}

// badProof is a verification that must fail.
type badProof struct {
	name             string
	root, key, value []byte
}

func TestProve(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := mustOpen(t, b.cfg(t))
			mustStage(t, s, set("b", "1"), set("d", "2"), set("f", "3"), set("h", "4"))
			root1, _ := mustCommit(t, s)
			mustStage(t, s, set("d", "changed"), set("j", "5"))
			root2, _ := mustCommit(t, s)

			tests := []struct {
				name    string
				key     string
				version int64
				root    []byte
				want    string // "" = absent
			}{
				{"present", "d", 2, root2, "changed"},
				{"present latest via 0", "j", 0, root2, "5"},
				{"present leftmost", "b", 2, root2, "1"},
				{"present rightmost", "j", 2, root2, "5"},
				{"present old version", "d", 1, root1, "2"},
				{"absent between", "e", 2, root2, ""},
				{"absent before first", "a", 2, root2, ""},
				{"absent after last", "z", 2, root2, ""},
				{"absent in old version", "j", 1, root1, ""},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					value, proof := mustProve(t, s, tt.key, tt.version)
					if tt.want == "" {
						if value != nil {
							t.Fatalf("value = %q, want absent", value)
						}
						if proof.GetNonexist() == nil {
							t.Fatal("want a non-existence proof")
						}
					} else if string(value) != tt.want {
						t.Fatalf("value = %q, want %q", value, tt.want)
					}
					if err := VerifyProof(tt.root, []byte(tt.key), value, proof); err != nil {
						t.Fatalf("VerifyProof: %v", err)
					}
					// Also accepted by plain ics23, as a light client would check it.
					ok := ics23.VerifyNonMembership(ics23.IavlSpec, tt.root, proof, []byte(tt.key))
					if value != nil {
						ok = ics23.VerifyMembership(ics23.IavlSpec, tt.root, proof, []byte(tt.key), value)
					}
					if !ok {
						t.Error("ics23 rejects the proof")
					}

					otherRoot := root1
					if bytes.Equal(tt.root, root1) {
						otherRoot = root2
					}
					flipped := bytes.Clone(tt.root)
					flipped[0] ^= 1
					bad := []badProof{
						{"tampered root", flipped, []byte(tt.key), value},
						{"other version's root", otherRoot, []byte(tt.key), value},
						{"empty root", nil, []byte(tt.key), value},
						{"claimed value", tt.root, []byte(tt.key), []byte("forged")},
					}
					if value != nil {
						bad = append(bad,
							badProof{"other key", tt.root, []byte("c"), value},
							badProof{"claimed absent", tt.root, []byte(tt.key), nil})
					} else {
						bad = append(bad, badProof{"key outside the gap", tt.root, []byte("d"), nil})
					}
					for _, bc := range bad {
						if bc.name == "other version's root" && tt.name == "absent before first" {
							continue // the gap before "b" is the same in both versions
						}
						err := VerifyProof(bc.root, bc.key, bc.value, proof)
						if !errors.Is(err, ErrInvalidProof) {
							t.Errorf("%s: VerifyProof error = %v, want ErrInvalidProof", bc.name, err)
						}
					}
				})
			}
		})
	}
}

func TestVerifyProofTamperedProof(t *testing.T) {
	s := mustOpen(t, Config{})
	mustStage(t, s, set("a", "1"), set("c", "2"), set("e", "3"))
	root, _ := mustCommit(t, s)

	tamper := []struct {
		name  string
		key   string
		edit  func(p *ics23.CommitmentProof)
		value []byte
	}{
		{"existence leaf value", "c", func(p *ics23.CommitmentProof) { p.GetExist().Value = []byte("9") }, []byte("9")},
		{"existence leaf prefix", "c", func(p *ics23.CommitmentProof) { p.GetExist().Leaf.Prefix[2] ^= 1 }, []byte("2")},
		{"existence inner op", "c", func(p *ics23.CommitmentProof) {
			path := p.GetExist().Path
			path[0].Prefix = append(bytes.Clone(path[0].Prefix[:len(path[0].Prefix)-1]), path[0].Prefix[len(path[0].Prefix)-1]^1)
		}, []byte("2")},
		{"existence truncated path", "c", func(p *ics23.CommitmentProof) {
			e := p.GetExist()
			e.Path = e.Path[:len(e.Path)-1]
		}, []byte("2")},
		{"non-existence left neighbour dropped", "d", func(p *ics23.CommitmentProof) { p.GetNonexist().Left = nil }, nil},
		{"non-existence right neighbour dropped", "d", func(p *ics23.CommitmentProof) { p.GetNonexist().Right = nil }, nil},
		{"non-existence neighbours swapped", "d", func(p *ics23.CommitmentProof) {
			n := p.GetNonexist()
			n.Left, n.Right = n.Right, n.Left
		}, nil},
	}
	for _, tt := range tamper {
		t.Run(tt.name, func(t *testing.T) {
			_, proof := mustProve(t, s, tt.key, 0)
			tt.edit(proof)
			if err := VerifyProof(root, []byte(tt.key), tt.value, proof); !errors.Is(err, ErrInvalidProof) {
				t.Errorf("VerifyProof error = %v, want ErrInvalidProof", err)
			}
		})
	}
	t.Run("nil proof", func(t *testing.T) {
		if err := VerifyProof(root, []byte("a"), []byte("1"), nil); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("VerifyProof error = %v, want ErrInvalidProof", err)
		}
	})
}
