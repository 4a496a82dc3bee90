package oprf

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/bwesterb/go-ristretto"
)

type vector struct {
	Name   string `json:"name"`
	Inputs struct {
		Input              string `json:"input"`
		PrivateKeySeed     string `json:"private_key_seed"`
		BlindingFactorSeed string `json:"blinding_factor_seed"`
		BetaTSeed          string `json:"beta_t_seed"`
	} `json:"inputs"`
	Outputs struct {
		PrivateKey     string `json:"private_key"`
		PublicKey      string `json:"public_key"`
		BlindingFactor string `json:"blinding_factor"`
		BlindedInput   string `json:"blinded_input"`
		BlindedOutput  string `json:"blinded_output"`
		ProofC         string `json:"proof_c"`
		ProofBetaZ     string `json:"proof_beta_z"`
		Output         string `json:"output"`
	} `json:"outputs"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// TestSDKVectors replays rust/oprf/src/test_vectors.json: the same seeds
// must give the SDK's key, blinded values, proof and output byte for byte.
func TestSDKVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/juicebox-oprf-vectors.json")
	if err != nil {
		t.Fatalf("reference vectors missing: %v", err)
	}
	var vs []vector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 10 {
		t.Fatalf("expected the SDK's 10 vectors, found %d", len(vs))
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			seeds := io.MultiReader(
				bytes.NewReader(unhex(t, v.Inputs.PrivateKeySeed)),
				bytes.NewReader(unhex(t, v.Inputs.BlindingFactorSeed)),
				bytes.NewReader(unhex(t, v.Inputs.BetaTSeed)),
			)
			input := unhex(t, v.Inputs.Input)
			key, err := RandomScalar(seeds)
			if err != nil {
				t.Fatal(err)
			}
			pub := PublicKey(key)
			blind, blindedInput, err := Blind(input, seeds)
			if err != nil {
				t.Fatal(err)
			}
			u, err := DecodePoint(blindedInput[:])
			if err != nil {
				t.Fatal(err)
			}
			w := BlindEvaluate(key, u)
			proof, err := Prove(seeds, key, pub, u, w)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := seeds.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("vector entropy not fully consumed (read %d, %v)", n, err)
			}
			blindedOutput := Encode(w)
			if err := VerifyProof(blindedInput, pub, blindedOutput, proof); err != nil {
				t.Fatalf("own proof rejected: %v", err)
			}
			out := Finalize(input, blind, w)
			direct := Evaluate(key, input)
			k := EncodeScalar(key)
			b := EncodeScalar(blind)
			for _, c := range []struct{ name, got, want string }{
				{"private_key", hexOf(k[:]), v.Outputs.PrivateKey},
				{"public_key", hexOf(pub[:]), v.Outputs.PublicKey},
				{"blinding_factor", hexOf(b[:]), v.Outputs.BlindingFactor},
				{"blinded_input", hexOf(blindedInput[:]), v.Outputs.BlindedInput},
				{"blinded_output", hexOf(blindedOutput[:]), v.Outputs.BlindedOutput},
				{"proof_c", hexOf(proof.C[:]), v.Outputs.ProofC},
				{"proof_beta_z", hexOf(proof.BetaZ[:]), v.Outputs.ProofBetaZ},
				{"output", hexOf(out[:]), v.Outputs.Output},
				{"output (unoblivious)", hexOf(direct[:]), v.Outputs.Output},
			} {
				if c.got != c.want {
					t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
				}
			}
		})
	}
	t.Logf("juicebox oprf: %d SDK vectors (key, blinding, DLEQ proof, output) match", len(vs))
}

// TestProofRejectsTampering mirrors the SDK's dleq test: any substituted
// input, key, output or proof half fails.
func TestProofRejectsTampering(t *testing.T) {
	key, err := RandomScalar(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := PublicKey(key)
	_, bi, err := Blind([]byte("1234"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := DecodePoint(bi[:])
	if err != nil {
		t.Fatal(err)
	}
	w := BlindEvaluate(key, u)
	proof, err := Prove(rand.Reader, key, pub, u, w)
	if err != nil {
		t.Fatal(err)
	}
	bo := Encode(w)
	if err := VerifyProof(bi, pub, bo, proof); err != nil {
		t.Fatalf("valid proof rejected: %v", err)
	}
	other := Encode(new(ristretto.Point).Rand())
	otherScalar := EncodeScalar(new(ristretto.Scalar).Rand())
	cases := map[string]func() error{
		"input":  func() error { return VerifyProof(other, pub, bo, proof) },
		"key":    func() error { return VerifyProof(bi, other, bo, proof) },
		"output": func() error { return VerifyProof(bi, pub, other, proof) },
		"c":      func() error { p := proof; p.C = otherScalar; return VerifyProof(bi, pub, bo, p) },
		"beta_z": func() error { p := proof; p.BetaZ = otherScalar; return VerifyProof(bi, pub, bo, p) },
		"non-canonical c": func() error {
			p := proof
			p.C = [32]byte{0: 0xff, 31: 0xff}
			return VerifyProof(bi, pub, bo, p)
		},
		"undecodable key": func() error { return VerifyProof(bi, [32]byte{0: 1}, bo, proof) },
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s substituted: proof accepted", name)
		}
	}
	if err := VerifyProof(bi, pub, bo, Proof{C: proof.BetaZ, BetaZ: proof.C}); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("swapped proof: %v, want ErrInvalidProof", err)
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	// The group order l itself is not a canonical scalar.
	l := unhex(t, "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	if _, err := DecodeScalar(l); !errors.Is(err, ErrInvalidScalar) {
		t.Errorf("l accepted as a scalar: %v", err)
	}
	lMinus1 := unhex(t, "ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	if _, err := DecodeScalar(lMinus1); err != nil {
		t.Errorf("l-1 rejected: %v", err)
	}
	// Negative field element (odd s) and s >= p are not canonical points.
	bad := [][]byte{
		unhex(t, "0100000000000000000000000000000000000000000000000000000000000000"),
		unhex(t, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
		make([]byte, 31),
	}
	for _, b := range bad {
		if _, err := DecodePoint(b); !errors.Is(err, ErrInvalidPoint) {
			t.Errorf("%x accepted as a point: %v", b, err)
		}
	}
}
