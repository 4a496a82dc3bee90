package proto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bwesterb/go-ristretto"

	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox/noisenk"
	"github.com/xchat-go/xchat/juicebox/oprf"
)

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// randomScalar returns a canonical scalar encoding.
func randomScalar() [32]byte { return oprf.EncodeScalar(new(ristretto.Scalar).Rand()) }

// randomPoint returns a valid point encoding.
func randomPoint() [32]byte { return oprf.Encode(new(ristretto.Point).Rand()) }

// maxRegister2 mirrors the SDK's test_request_body_size_limit request: every
// field at its largest.
func maxRegister2(t testing.TB) *SecretsRequest {
	t.Helper()
	q := &Register2Request{}
	fill(q.Version[:], 0xff)
	q.OprfPrivateKey = randomScalar()
	q.OprfSignedPublicKey.PublicKey = randomPoint()
	fill(q.OprfSignedPublicKey.VerifyingKey[:], 0xff)
	fill(q.OprfSignedPublicKey.Signature[:], 0xff)
	fill(q.UnlockKeyCommitment[:], 0xff)
	fill(q.UnlockKeyTag[:], 0xff)
	// -1 mod l, the largest canonical scalar.
	l1 := testutil.Must(hex.DecodeString("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"))(t)
	copy(q.EncryptionKeyScalarShare[:], l1)
	fill(q.EncryptedSecret[:], 0xff)
	fill(q.EncryptedSecretCommitment[:], 0xff)
	q.Policy.NumGuesses = 0xffff
	return &SecretsRequest{Kind: Register2, Register2: q}
}

// TestSDKProofEncoding checks the one CBOR encoding the SDK publishes
// (rust/oprf/src/dleq.rs test_proof_serialize): Proof{c: -2, beta_z: -1}.
func TestSDKProofEncoding(t *testing.T) {
	const want = "a261635820ebd3f55c1a631258d69cf7a2def9de140000000000000000000000000000001066626574615f7a5820ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"
	minusTwo := testutil.Must(hex.DecodeString("ebd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"))(t)
	minusOne := testutil.Must(hex.DecodeString("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"))(t)
	got, err := marshal(proofWire{minusTwo, minusOne})
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != want {
		t.Fatalf("proof encodes as %x\nwant %s", got, want)
	}
	o, err := readObject("proof", got)
	if err != nil {
		t.Fatal(err)
	}
	var c, z [32]byte
	if err := o.canonicalScalar("c", &c); err != nil || !bytes.Equal(c[:], minusTwo) {
		t.Fatalf("c: %x %v", c, err)
	}
	if err := o.canonicalScalar("beta_z", &z); err != nil || !bytes.Equal(z[:], minusOne) {
		t.Fatalf("beta_z: %x %v", z, err)
	}
	t.Log("juicebox cbor: SDK Proof encoding vector matches")
}

// TestBodySizeLimit mirrors the SDK's test_request_body_size_limit, and
// pins the sizes the protocol's fixed fields give.
func TestBodySizeLimit(t *testing.T) {
	b, err := maxRegister2(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= BodySizeLimit {
		t.Fatalf("largest Register2 is %d bytes, limit %d", len(b), BodySizeLimit)
	}
	// A transparent 32-byte field is 34 bytes (0x58 0x20 ‖ bytes), as the
	// SDK's serialize tests assert for keys and blinded values.
	one, err := marshal(make([]byte, 32))
	if err != nil || len(one) != 34 {
		t.Fatalf("32-byte field encodes to %d bytes", len(one))
	}
}

func TestRequestRoundTrip(t *testing.T) {
	reqs := []*SecretsRequest{
		{Kind: Register1}, {Kind: Recover1}, {Kind: Delete},
		maxRegister2(t),
		{Kind: Recover2, Recover2: &Recover2Request{Version: Version{1, 2}, OprfBlindedInput: randomPoint()}},
		{Kind: Recover3, Recover3: &Recover3Request{Version: Version{3}, UnlockKeyTag: [16]byte{9}}},
	}
	for _, r := range reqs {
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeSecretsRequest(b)
		if err != nil {
			t.Fatalf("%v: %v", r.Kind, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%v round trip:\n got %+v\nwant %+v", r.Kind, got, r)
		}
	}
	// Unit variants are bare text strings.
	b := testutil.Must((&SecretsRequest{Kind: Register1}).Marshal())(t)
	if !bytes.Equal(b, append([]byte{0x69}, "Register1"...)) {
		t.Fatalf("Register1 = %x", b)
	}
	// Data variants are one-entry maps.
	b = testutil.Must(reqs[4].Marshal())(t)
	if !bytes.HasPrefix(b, append([]byte{0xa1, 0x68}, "Recover2"...)) {
		t.Fatalf("Recover2 = %x", b)
	}
}

func sampleResponses() []*SecretsResponse {
	ok2 := &Recover2OK{OprfBlindedResult: randomPoint(), NumGuesses: 20, GuessCount: 3}
	ok2.OprfSignedPublicKey.PublicKey = randomPoint()
	ok2.OprfProof = oprf.Proof{C: randomScalar(), BetaZ: randomScalar()}
	ok3 := &Recover3OK{EncryptionKeyScalarShare: randomScalar()}
	_, _ = rand.Read(ok3.EncryptedSecret[:])
	return []*SecretsResponse{
		{Kind: Register1, Status: StatusOK},
		{Kind: Register2, Status: StatusOK},
		{Kind: Recover1, Status: StatusOK, Version: Version{7}},
		{Kind: Recover1, Status: StatusNotRegistered},
		{Kind: Recover1, Status: StatusNoGuesses},
		{Kind: Recover2, Status: StatusOK, Recover2: ok2},
		{Kind: Recover2, Status: StatusVersionMismatch},
		{Kind: Recover3, Status: StatusOK, Recover3: ok3},
		{Kind: Recover3, Status: StatusBadUnlockKeyTag, GuessesRemaining: 17},
		{Kind: Recover3, Status: StatusNoGuesses},
		{Kind: Delete, Status: StatusOK},
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, r := range sampleResponses() {
		for _, padded := range []bool{false, true} {
			var b []byte
			var err error
			if padded {
				b, err = r.MarshalPadded()
			} else {
				b, err = r.Marshal()
			}
			if err != nil {
				t.Fatal(err)
			}
			var got *SecretsResponse
			if padded {
				got, err = DecodePaddedSecretsResponse(b)
			} else {
				got, err = DecodeSecretsResponse(b)
			}
			if err != nil {
				t.Fatalf("%v/%v padded=%v: %v", r.Kind, r.Status, padded, err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("%v/%v round trip:\n got %+v\nwant %+v", r.Kind, r.Status, got, r)
			}
		}
	}
	b := testutil.Must((&SecretsResponse{Kind: Register1, Status: StatusOK}).Marshal())(t)
	if want := append(append([]byte{0xa1, 0x69}, "Register1"...), append([]byte{0x62}, "Ok"...)...); !bytes.Equal(b, want) {
		t.Fatalf("Register1 Ok = %x, want %x", b, want)
	}
	if _, err := (&SecretsResponse{Kind: Register1, Status: StatusNoGuesses}).Marshal(); err == nil {
		t.Fatal("Register1 NoGuesses encoded")
	}
}

func TestClientMessagesRoundTrip(t *testing.T) {
	reqs := []*ClientRequest{
		{Realm: RealmID{1}, AuthToken: "a.b.c", SessionID: 0xfffffffe, Kind: HandshakeOnly,
			Handshake: &noisenk.HandshakeRequest{ClientEphemeralPublic: make([]byte, 32), PayloadCiphertext: make([]byte, 16)}},
		{Realm: RealmID{2}, AuthToken: "t", SessionID: 7, Kind: SecretsRequestKind, Transport: []byte{1, 2, 3}},
	}
	for _, r := range reqs {
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeClientRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
	resps := []*ClientResponse{
		{Status: ClientOK, SessionLifetime: 90*time.Second + 5, Handshake: &noisenk.HandshakeResponse{ServerEphemeralPublic: make([]byte, 32), PayloadCiphertext: []byte{5}}},
		{Status: ClientOK, Transport: []byte{4}},
		{Status: ClientMissingSession}, {Status: ClientInvalidAuth}, {Status: ClientRateLimitExceeded},
	}
	for _, r := range resps {
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeClientResponse(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

// TestStrictDecoding feeds malformed variants of valid messages.
func TestStrictDecoding(t *testing.T) {
	good := testutil.Must((&SecretsRequest{Kind: Recover3, Recover3: &Recover3Request{}}).Marshal())(t)
	nonCanonical := maxRegister2(t)
	nonCanonical.Register2.OprfPrivateKey = [32]byte{0: 0xff, 31: 0xff}
	nc := testutil.Must(nonCanonical.Marshal())(t)
	badPoint := &SecretsRequest{Kind: Recover2, Recover2: &Recover2Request{OprfBlindedInput: [32]byte{1}}}
	bp := testutil.Must(badPoint.Marshal())(t)
	cases := map[string][]byte{
		"trailing byte":      append(append([]byte(nil), good...), 0),
		"truncated":          good[:len(good)-1],
		"unknown variant":    append([]byte{0x65}, "Nope!"...),
		"unit with data":     {0xa1, 0x69, 'R', 'e', 'g', 'i', 's', 't', 'e', 'r', '1', 0xf6},
		"data without body":  append([]byte{0x68}, "Recover2"...),
		"two-entry enum map": {0xa2, 0x61, 'a', 0x01, 0x61, 'b', 0x02},
		"non-canonical key":  nc,
		"invalid point":      bp,
		"indefinite text":    {0x7f, 0x61, 'D', 0xff},
		"tagged":             {0xc0, 0x66, 'D', 'e', 'l', 'e', 't', 'e'},
		"empty":              {},
	}
	for name, b := range cases {
		if _, err := DecodeSecretsRequest(b); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Duplicate map keys and wrong field lengths.
	dup := []byte{0xa1, 0x68, 'R', 'e', 'c', 'o', 'v', 'e', 'r', '3', 0xa3,
		0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x50}
	dup = append(dup, make([]byte, 16)...)
	dup = append(dup, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x50)
	dup = append(dup, make([]byte, 16)...)
	dup = append(dup, 0x6e)
	dup = append(dup, "unlock_key_tag"...)
	dup = append(dup, 0x50)
	dup = append(dup, make([]byte, 16)...)
	if _, err := DecodeSecretsRequest(dup); !errors.Is(err, ErrDecode) {
		t.Errorf("duplicate key: %v", err)
	}
	short := bytes.Replace(good, []byte{0x50}, []byte{0x4f}, 1)
	if _, err := DecodeSecretsRequest(short[:len(short)-1]); !errors.Is(err, ErrDecode) {
		t.Errorf("15-byte version: %v", err)
	}
	// A response the request kind cannot have.
	wrong := []byte{0xa1, 0x69, 'R', 'e', 'g', 'i', 's', 't', 'e', 'r', '1', 0x69, 'N', 'o', 'G', 'u', 'e', 's', 's', 'e', 's'}
	if _, err := DecodeSecretsResponse(wrong); !errors.Is(err, ErrDecode) {
		t.Errorf("Register1 NoGuesses: %v", err)
	}
	// Padding must be zeros and the length in range.
	p := testutil.Must((&SecretsResponse{Kind: Delete, Status: StatusOK}).MarshalPadded())(t)
	p[len(p)-1] = 1
	if _, err := DecodePaddedSecretsResponse(p); !errors.Is(err, ErrDecode) {
		t.Errorf("non-zero padding: %v", err)
	}
	big := testutil.Must(marshal(paddedWire{PaddedResponseSize + 1, make([]byte, PaddedResponseSize)}))(t)
	if _, err := DecodePaddedSecretsResponse(big); !errors.Is(err, ErrDecode) {
		t.Errorf("unpadded length 437: %v", err)
	}
	// Ok responses must carry exactly one of handshake and transport.
	if _, err := DecodeClientResponse([]byte{0x62, 'O', 'k'}); !errors.Is(err, ErrDecode) {
		t.Errorf("bare Ok: %v", err)
	}
	if _, err := ParseRealmID("0102"); !errors.Is(err, ErrDecode) {
		t.Errorf("short realm id: %v", err)
	}
	id, err := ParseRealmID("01020304-0506-0708-090a-0b0c0d0e0f10")
	if err != nil || id.String() != "0102030405060708090a0b0c0d0e0f10" {
		t.Errorf("dashed realm id: %v %v", id, err)
	}
}
