package crypto

import (
	"bytes"
	"fmt"
	"math/big"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/xchat-go/xchat/internal/testref"
)

// Wycheproof runners. Each honours valid/invalid/acceptable ("acceptable"
// may go either way), counts cases and logs a summary line of the form
// "wycheproof <name>: N cases, F failures".

type wpTally struct {
	name                               string
	cases, failures, skipped           int
	acceptedAcceptable, rejectedAccept int
}

func (w *wpTally) check(t *testing.T, tcID int, result string, ok bool, comment string) {
	t.Helper()
	w.cases++
	switch result {
	case "valid":
		if !ok {
			w.failures++
			t.Errorf("%s tc %d (%s): valid case rejected", w.name, tcID, comment)
		}
	case "invalid":
		if ok {
			w.failures++
			t.Errorf("%s tc %d (%s): invalid case accepted", w.name, tcID, comment)
		}
	case "acceptable":
		if ok {
			w.acceptedAcceptable++
		} else {
			w.rejectedAccept++
		}
	default:
		w.failures++
		t.Errorf("%s tc %d: unknown result %q", w.name, tcID, result)
	}
}

func (w *wpTally) log(t *testing.T) {
	t.Helper()
	line := fmt.Sprintf("wycheproof %s: %d cases, %d failures", w.name, w.cases, w.failures)
	if w.acceptedAcceptable+w.rejectedAccept > 0 {
		line += fmt.Sprintf(" (acceptable: %d accepted, %d rejected)", w.acceptedAcceptable, w.rejectedAccept)
	}
	if w.skipped > 0 {
		line += fmt.Sprintf(", %d out of scope", w.skipped)
	}
	t.Log(line)
	if w.cases == 0 {
		t.Errorf("wycheproof %s: no cases ran", w.name)
	}
}

type wpFile[G any] struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []G `json:"testGroups"`
}

type wpCase struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Result  string   `json:"result"`
}

// TestWycheproofECDSAP1363 runs every ECDSA P-256/SHA-256 P1363 case through
// Verify. Verify accepts high-S signatures like the XDK, which is also
// Wycheproof's expectation, so no case is a policy deviation.
func TestWycheproofECDSAP1363(t *testing.T) {
	var f wpFile[struct {
		PublicKey struct {
			Uncompressed string `json:"uncompressed"`
		} `json:"publicKey"`
		Sha   string `json:"sha"`
		Tests []struct {
			wpCase
			Msg string `json:"msg"`
			Sig string `json:"sig"`
		} `json:"tests"`
	}]
	testref.JSON(t, testref.Wycheproof("ecdsa_secp256r1_sha256_p1363_test.json"), &f)
	w := &wpTally{name: "ecdsa p1363"}
	for _, g := range f.TestGroups {
		if g.Sha != "SHA-256" {
			t.Fatalf("unexpected hash %s", g.Sha)
		}
		pub, err := ParsePublicKey(unhex(t, g.PublicKey.Uncompressed))
		if err != nil {
			t.Fatalf("group key: %v", err)
		}
		for _, c := range g.Tests {
			ok := Verify(pub, unhex(t, c.Msg), unhex(t, c.Sig)) == nil
			w.check(t, c.TcID, c.Result, ok, c.Comment)
		}
	}
	if w.cases != f.NumberOfTests {
		t.Errorf("ran %d of %d cases", w.cases, f.NumberOfTests)
	}
	w.log(t)
}

// TestWycheproofAESGCM runs every AES-GCM case with a 128-bit key, a 128-bit
// IV and a 128-bit tag through the ECIES AEAD (eciesAEAD; cases without AAD
// also through eciesSeal/eciesOpen). Other parameter sets are outside the
// ECIES profile and counted as out of scope.
func TestWycheproofAESGCM(t *testing.T) {
	var f wpFile[struct {
		IvSize  int `json:"ivSize"`
		KeySize int `json:"keySize"`
		TagSize int `json:"tagSize"`
		Tests   []struct {
			wpCase
			Key string `json:"key"`
			IV  string `json:"iv"`
			AAD string `json:"aad"`
			Msg string `json:"msg"`
			CT  string `json:"ct"`
			Tag string `json:"tag"`
		} `json:"tests"`
	}]
	testref.JSON(t, testref.Wycheproof("aes_gcm_test.json"), &f)
	w := &wpTally{name: "aes-gcm 128/128"}
	for _, g := range f.TestGroups {
		if g.KeySize != 128 || g.IvSize != 128 || g.TagSize != 128 {
			w.skipped += len(g.Tests)
			continue
		}
		for _, c := range g.Tests {
			key, iv, aad, msg := unhex(t, c.Key), unhex(t, c.IV), unhex(t, c.AAD), unhex(t, c.Msg)
			sealed := append(unhex(t, c.CT), unhex(t, c.Tag)...)
			aead, err := eciesAEAD(key)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := aead.Open(nil, iv, sealed, aad)
			ok := err == nil && bytes.Equal(pt, msg)
			if ok && !bytes.Equal(aead.Seal(nil, iv, msg, aad), sealed) {
				ok = false
			}
			if len(aad) == 0 {
				pt2, err2 := eciesOpen(nil, key, iv, sealed)
				if (err2 == nil) != (err == nil) || (err2 == nil && !bytes.Equal(pt2, pt)) {
					t.Errorf("tc %d: eciesOpen disagrees with the AEAD", c.TcID)
				}
				if s2 := testutil.Must(eciesSeal(nil, key, iv, msg))(t); ok && !bytes.Equal(s2, sealed) {
					t.Errorf("tc %d: eciesSeal output differs", c.TcID)
				}
			}
			w.check(t, c.TcID, c.Result, ok, c.Comment)
		}
	}
	w.log(t)
}

// TestWycheproofECDH runs every secp256r1 ecpoint case through
// ParsePublicKey and the ECDH used by ECIES. ParsePublicKey accepts only
// uncompressed points, so compressed-point cases (Wycheproof "acceptable")
// are rejected by policy.
func TestWycheproofECDH(t *testing.T) {
	var f wpFile[struct {
		Curve string `json:"curve"`
		Tests []struct {
			wpCase
			Public  string `json:"public"`
			Private string `json:"private"`
			Shared  string `json:"shared"`
		} `json:"tests"`
	}]
	testref.JSON(t, testref.Wycheproof("ecdh_secp256r1_ecpoint_test.json"), &f)
	w := &wpTally{name: "ecdh p256 ecpoint"}
	for _, g := range f.TestGroups {
		if g.Curve != "secp256r1" {
			t.Fatalf("unexpected curve %s", g.Curve)
		}
		for _, c := range g.Tests {
			d := new(big.Int).SetBytes(unhex(t, c.Private))
			if d.BitLen() > 256 {
				w.check(t, c.TcID, c.Result, false, c.Comment)
				continue
			}
			priv, err := NewPrivateKey(d.FillBytes(make([]byte, 32)))
			if err != nil {
				t.Fatalf("tc %d: private key: %v", c.TcID, err)
			}
			ok := false
			if pub, err := ParsePublicKey(unhex(t, c.Public)); err == nil {
				z, err := priv.dh.ECDH(pub.dh)
				ok = err == nil && bytes.Equal(z, unhex(t, c.Shared))
			}
			w.check(t, c.TcID, c.Result, ok, c.Comment)
		}
	}
	if w.cases != f.NumberOfTests {
		t.Errorf("ran %d of %d cases", w.cases, f.NumberOfTests)
	}
	w.log(t)
}

// TestWycheproofXChaCha20Poly1305 runs every case through
// chacha20poly1305.NewX and, for 192-bit nonces, through the derivation
// secretstream uses: HChaCha20(key, nonce[:16]) as the ChaCha20-Poly1305 key
// and 0⁴ ‖ nonce[16:] as the IETF nonce.
func TestWycheproofXChaCha20Poly1305(t *testing.T) {
	var f wpFile[struct {
		IvSize int `json:"ivSize"`
		Tests  []struct {
			wpCase
			Key string `json:"key"`
			IV  string `json:"iv"`
			AAD string `json:"aad"`
			Msg string `json:"msg"`
			CT  string `json:"ct"`
			Tag string `json:"tag"`
		} `json:"tests"`
	}]
	testref.JSON(t, testref.Wycheproof("xchacha20_poly1305_test.json"), &f)
	w := &wpTally{name: "xchacha20-poly1305"}
	for _, g := range f.TestGroups {
		for _, c := range g.Tests {
			key, iv, aad, msg := unhex(t, c.Key), unhex(t, c.IV), unhex(t, c.AAD), unhex(t, c.Msg)
			sealed := append(unhex(t, c.CT), unhex(t, c.Tag)...)
			ok := false
			if aead, err := chacha20poly1305.NewX(key); err == nil && len(iv) == chacha20poly1305.NonceSizeX {
				pt, err := aead.Open(nil, iv, sealed, aad)
				ok = err == nil && bytes.Equal(pt, msg)
				if len(key) == 32 {
					sub, err := chacha20.HChaCha20(key, iv[:16])
					if err != nil {
						t.Fatal(err)
					}
					inner := testutil.Must(chacha20poly1305.New(sub))(t)
					nonce := append(make([]byte, 4), iv[16:]...)
					pt2, err2 := inner.Open(nil, nonce, sealed, aad)
					if (err2 == nil) != ok || (ok && !bytes.Equal(pt2, msg)) {
						t.Errorf("tc %d: HChaCha20 derivation disagrees with NewX", c.TcID)
					}
				}
			}
			w.check(t, c.TcID, c.Result, ok, c.Comment)
		}
	}
	if w.cases != f.NumberOfTests {
		t.Errorf("ran %d of %d cases", w.cases, f.NumberOfTests)
	}
	w.log(t)
}
