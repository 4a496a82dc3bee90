package proto

import (
	"reflect"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox/noisenk"
)

// Every decoder: no panic on any input, and whatever decodes re-encodes to
// something that decodes to the same value.

func FuzzDecodeSecretsRequest(f *testing.F) {
	for _, r := range []*SecretsRequest{{Kind: Register1}, {Kind: Delete}, maxRegister2(f),
		{Kind: Recover3, Recover3: &Recover3Request{}}} {
		b := testutil.Must(r.Marshal())(f)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeSecretsRequest(b)
		if err != nil {
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		r2, err := DecodeSecretsRequest(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("unstable round trip: %v", err)
		}
	})
}

func FuzzDecodeSecretsResponse(f *testing.F) {
	for _, r := range sampleResponses() {
		b := testutil.Must(r.Marshal())(f)
		f.Add(b, false)
		p := testutil.Must(r.MarshalPadded())(f)
		f.Add(p, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, padded bool) {
		var r *SecretsResponse
		var err error
		if padded {
			r, err = DecodePaddedSecretsResponse(b)
		} else {
			r, err = DecodeSecretsResponse(b)
		}
		if err != nil {
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("decoded response does not encode: %v", err)
		}
		r2, err := DecodeSecretsResponse(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("unstable round trip: %v", err)
		}
	})
}

func FuzzDecodeNoiseMessages(f *testing.F) {
	req := &ClientRequest{Realm: RealmID{1}, AuthToken: "x.y.z", SessionID: 9, Kind: HandshakeOnly,
		Handshake: &noisenk.HandshakeRequest{ClientEphemeralPublic: make([]byte, 32), PayloadCiphertext: make([]byte, 16)}}
	b := testutil.Must(req.Marshal())(f)
	f.Add(b, false)
	req = &ClientRequest{Realm: RealmID{1}, AuthToken: "t", Kind: SecretsRequestKind, Transport: []byte{1}}
	b = testutil.Must(req.Marshal())(f)
	f.Add(b, false)
	for _, r := range []*ClientResponse{
		{Status: ClientOK, SessionLifetime: time.Minute, Handshake: &noisenk.HandshakeResponse{ServerEphemeralPublic: make([]byte, 32), PayloadCiphertext: make([]byte, 16)}},
		{Status: ClientOK, Transport: []byte{2}}, {Status: ClientSessionError},
	} {
		b := testutil.Must(r.Marshal())(f)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, response bool) {
		if response {
			r, err := DecodeClientResponse(b)
			if err != nil {
				return
			}
			again, err := r.Marshal()
			if err != nil {
				t.Fatalf("decoded response does not encode: %v", err)
			}
			if r2, err := DecodeClientResponse(again); err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("unstable round trip: %v", err)
			}
			return
		}
		r, err := DecodeClientRequest(b)
		if err != nil {
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		if r2, err := DecodeClientRequest(again); err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("unstable round trip: %v", err)
		}
	})
}
