package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

const orderHex = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"

func TestNewPrivateKeyRange(t *testing.T) {
	n := unhex(t, orderHex)
	nMinus1 := bytes.Clone(n)
	nMinus1[31]--
	nPlus1 := bytes.Clone(n)
	nPlus1[31]++
	bad := map[string][]byte{
		"empty": nil, "31 bytes": make([]byte, 31), "33 bytes": append(scalar(1), 0),
		"zero": make([]byte, 32), "n": n, "n+1": nPlus1, "all ff": bytes.Repeat([]byte{0xff}, 32),
	}
	for name, b := range bad {
		if _, err := NewPrivateKey(b); !errors.Is(err, ErrInvalidPrivateKey) {
			t.Errorf("%s: got %v, want ErrInvalidPrivateKey", name, err)
		}
	}
	for name, b := range map[string][]byte{"one": scalar(1), "n-1": nMinus1} {
		k, err := NewPrivateKey(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(k.Bytes(), b) {
			t.Errorf("%s: Bytes round trip", name)
		}
	}
}

// TestGeneratorPoint checks key 1 against the P-256 base point G from
// SEC 2, an independent constant.
func TestGeneratorPoint(t *testing.T) {
	const gx = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
	const gy = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
	pub := mustKey(t, 1).PublicKey().Bytes()
	if hex.EncodeToString(pub) != "04"+gx+gy {
		t.Fatalf("1·G = %x", pub)
	}
}

func TestGenerateKeyDeterministic(t *testing.T) {
	seed := bytes.Repeat([]byte{0x42}, 32)
	k1, err := GenerateKey(&fixedReader{b: bytes.Clone(seed)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.Bytes(), seed) {
		t.Fatal("GenerateKey did not use the reader's bytes")
	}
	// A first draw of zero must be rejected and the next one used.
	k2, err := GenerateKey(&fixedReader{b: append(make([]byte, 32), seed...)})
	if err != nil || !bytes.Equal(k2.Bytes(), seed) {
		t.Fatalf("rejection sampling: %v", err)
	}
	if _, err := GenerateKey(&fixedReader{b: make([]byte, 10)}); err == nil {
		t.Fatal("short reader accepted")
	}
	a := testutil.Must(GenerateKey(nil))(t)
	b := testutil.Must(GenerateKey(nil))(t)
	if a.Equal(b) {
		t.Fatal("two random keys are equal")
	}
}

func TestParsePublicKey(t *testing.T) {
	pub := mustKey(t, 7).PublicKey()
	sec1, spki := pub.Bytes(), pub.SPKI()
	if len(sec1) != PublicKeySize || len(spki) != SPKISize || !bytes.Equal(spki[len(spki)-65:], sec1) {
		t.Fatal("encodings have wrong shape")
	}
	for name, b := range map[string][]byte{"sec1": sec1, "spki": spki} {
		p, err := ParsePublicKey(b)
		if err != nil || !p.Equal(pub) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	compressed := append([]byte{0x02 | sec1[64]&1}, sec1[1:33]...)
	offCurve := bytes.Clone(sec1)
	offCurve[64] ^= 1
	wrongOID := bytes.Clone(spki)
	wrongOID[20] ^= 1 // inside the prime256v1 OID
	hybrid := bytes.Clone(sec1)
	hybrid[0] = 0x06
	badSPKILen := append(bytes.Clone(spki[:26]), sec1[:64]...)
	cases := map[string][]byte{
		"empty": nil, "identity": {0x00}, "compressed": compressed, "off curve": offCurve,
		"zero point": append([]byte{4}, make([]byte, 64)...), "hybrid prefix": hybrid,
		"64 bytes": sec1[1:], "66 bytes": append(bytes.Clone(sec1), 0), "90 bytes": badSPKILen,
		"92 bytes": append(bytes.Clone(spki), 0), "wrong OID": wrongOID,
		"spki with compressed body": append(bytes.Clone(spki[:26]), append(compressed, make([]byte, 32)...)...),
	}
	for name, b := range cases {
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%s: got %v, want ErrInvalidPublicKey", name, err)
		}
	}
}

func TestBackupRoundTrip(t *testing.T) {
	kp, err := GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	blob := kp.Backup()
	if len(blob) != BackupSize || !bytes.Equal(blob[:32], kp.Identity.Bytes()) || !bytes.Equal(blob[32:], kp.Signing.Bytes()) {
		t.Fatal("backup layout is not identity ‖ signing")
	}
	back, err := ParseBackup(blob)
	if err != nil || !back.Identity.Equal(kp.Identity) || !back.Signing.Equal(kp.Signing) {
		t.Fatalf("ParseBackup: %v", err)
	}
	for name, b := range map[string][]byte{
		"identity only (32)": blob[:32], "63": blob[:63], "65": append(bytes.Clone(blob), 1), "empty": nil,
		"zero signing":  append(bytes.Clone(blob[:32]), make([]byte, 32)...),
		"identity >= n": append(unhex(t, orderHex), blob[32:]...),
	} {
		if _, err := ParseBackup(b); !errors.Is(err, ErrInvalidBackup) {
			t.Errorf("%s: got %v, want ErrInvalidBackup", name, err)
		}
	}
}

func TestRedaction(t *testing.T) {
	k := mustKey(t, 0xab)
	kp := &KeyPair{Identity: k, Signing: mustKey(t, 0xcd)}
	ck := ConversationKey{0xde, 0xad, 0xbe, 0xef}
	secretHex := []string{"ab", "cd", "deadbeef"}
	for _, v := range []any{k, kp, ck, &ck, *kp} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			out := fmt.Sprintf(verb, v)
			if !strings.Contains(out, "REDACTED") {
				t.Errorf("%T with %s: %q is not redacted", v, verb, out)
			}
			for _, h := range secretHex[2:] {
				if strings.Contains(strings.ToLower(out), h) {
					t.Errorf("%T with %s leaks key bytes: %q", v, verb, out)
				}
			}
		}
	}
}

func TestZero(t *testing.T) {
	k := mustKey(t, 9)
	k.Zero()
	if !bytes.Equal(k.Bytes(), make([]byte, 32)) {
		t.Fatal("scalar not wiped")
	}
	if _, err := Sign(k, []byte("x")); err == nil {
		t.Fatal("zeroed key still signs")
	}
	if _, err := ECIESDecrypt(k, make([]byte, 100)); err == nil {
		t.Fatal("zeroed key still decrypts")
	}
	ck := ConversationKey{1, 2, 3}
	ck.Zero()
	if ck != (ConversationKey{}) {
		t.Fatal("conversation key not wiped")
	}
}

// TestZeroValues checks that zero-value keys yield errors, not panics.
func TestZeroValues(t *testing.T) {
	var pub PublicKey
	var priv PrivateKey
	if err := Verify(&pub, nil, make([]byte, 64)); err == nil {
		t.Error("Verify with zero PublicKey")
	}
	if _, err := ECIESEncrypt(nil, &pub, nil); err == nil {
		t.Error("ECIESEncrypt to zero PublicKey")
	}
	if _, err := Sign(&priv, nil); err == nil {
		t.Error("Sign with zero PrivateKey")
	}
	if _, err := ECIESDecrypt(&priv, make([]byte, 81)); err == nil {
		t.Error("ECIESDecrypt with zero PrivateKey")
	}
	if _, err := NewRegistration(&KeyPair{Identity: &priv, Signing: &priv}); err == nil {
		t.Error("NewRegistration with zero keys")
	}
	var a *ConversationKey
	if a.Equal(&ConversationKey{}) || !a.Equal(nil) {
		t.Error("nil ConversationKey equality")
	}
}
