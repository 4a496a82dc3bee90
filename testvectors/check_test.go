package testvectors_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/crypto/nacl/secretbox"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/internal/vectorgen"
	"github.com/xchat-go/xchat/testvectors"
	"github.com/xchat-go/xchat/wire"
)

// classOf maps an implementation error to the vector file's failure class.
func classOf(err error) string {
	switch {
	case err == nil:
		return testvectors.ExpectSuccess
	case errors.Is(err, vectorgen.ErrBadInput):
		return "bad input: " + err.Error()
	case errors.Is(err, crypto.ErrInvalidBackup):
		return testvectors.ExpectInvalidBackup
	case errors.Is(err, crypto.ErrInvalidPrivateKey):
		return testvectors.ExpectInvalidPrivateKey
	case errors.Is(err, crypto.ErrInvalidPublicKey):
		return testvectors.ExpectInvalidPublicKey
	case errors.Is(err, crypto.ErrDecrypt), errors.Is(err, secretstream.ErrDecrypt):
		return testvectors.ExpectDecryptionFailed
	case errors.Is(err, crypto.ErrInvalidConversationKey):
		return testvectors.ExpectInvalidConversationKey
	case errors.Is(err, crypto.ErrUnsupportedSignatureVersion):
		return testvectors.ExpectUnsupportedVersion
	case errors.Is(err, crypto.ErrInvalidSignature):
		return testvectors.ExpectInvalidSignature
	case errors.Is(err, crypto.ErrInvalidPayload):
		return testvectors.ExpectInvalidPayload
	case errors.Is(err, crypto.ErrInvalidLength):
		return testvectors.ExpectInvalidLength
	case errors.Is(err, secretstream.ErrInvalidKey):
		return testvectors.ExpectInvalidKey
	case errors.Is(err, secretstream.ErrTruncated):
		return testvectors.ExpectTruncatedStream
	case errors.Is(err, secretstream.ErrDataAfterFinal):
		return testvectors.ExpectDataAfterFinal
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, wire.ErrBase64), errors.Is(err, errMalformedEvent):
		return testvectors.ExpectMalformedEvent
	case errors.Is(err, errUnknownSigningKey):
		return testvectors.ExpectUnknownSigningKey
	case errors.Is(err, errMissingSignature):
		return testvectors.ExpectMissingSignature
	case errors.Is(err, errNotRecipient):
		return "not a recipient" // receiver outcomes no vector expects
	case errors.Is(err, errNoKey):
		return "unknown conversation key"
	}
	return "unclassified: " + err.Error()
}

// checker evaluates one case. It returns the outputs the implementation
// produced and its error; extra independent checks report through fail.
type checker struct {
	c    testvectors.Case
	fail func(format string, args ...any)
	// crossed names the standard-library packages an independent check of
	// this case used (see cross).
	crossed map[string]bool
}

// cross records that an independent implementation from lib agreed with the
// case (a disagreement is reported through fail).
func (k *checker) cross(lib string) {
	if k.crossed == nil {
		k.crossed = map[string]bool{}
	}
	k.crossed[lib] = true
}

func (k *checker) in(name string) string { return k.field(k.c.Inputs, name) }

// field returns the string named name of m, failing the case when it is
// missing or not a string.
func (k *checker) field(m map[string]any, name string) string {
	s, ok, err := vectorgen.Field(m, name)
	if err != nil || !ok {
		k.fail("%s missing or not a string (%v)", name, err)
	}
	return s
}

func (k *checker) hexIn(name string) []byte {
	b, err := hex.DecodeString(k.in(name))
	if err != nil {
		k.fail("input %s: %v", name, err)
	}
	return b
}

func (k *checker) optHexIn(name string) ([]byte, bool) {
	if _, ok := k.c.Inputs[name]; !ok {
		return nil, false
	}
	return k.hexIn(name), true
}

func (k *checker) success() bool { return k.c.Expect == testvectors.ExpectSuccess }

// run dispatches on kind and op.
func (k *checker) run() (map[string]any, error) {
	switch k.c.Kind + "/" + k.c.Op {
	case testvectors.KindKeys + "/derive":
		return k.keysDerive()
	case testvectors.KindKeys + "/parse_public":
		return k.keysParse()
	case testvectors.KindKeys + "/backup":
		return k.keysBackup()
	case testvectors.KindECIES + "/decrypt", testvectors.KindECIES + "/unwrap":
		return k.ecies()
	case testvectors.KindSecretbox + "/open":
		return k.secretbox()
	case testvectors.KindSecretstream + "/decrypt":
		return k.secretstream()
	case testvectors.KindSignature + "/verify":
		return k.sigVerify()
	case testvectors.KindSignature + "/decode":
		// The base64 layers of crypto and wire must agree.
		_, cerr := crypto.DecodeBase64(k.in("signature_b64"))
		_, werr := wire.DecodeB64(k.in("signature_b64"))
		if (cerr == nil) != (werr == nil) {
			k.fail("crypto.DecodeBase64 says %v, wire.DecodeB64 says %v", cerr, werr)
		}
		sig, err := crypto.DecodeSignature(k.in("signature_b64"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"signature_hex": hex.EncodeToString(sig)}, nil
	case testvectors.KindSignature + "/version":
		v, err := crypto.ParseSignatureVersion(k.in("signature_version"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"version": strconv.Itoa(v)}, nil
	case testvectors.KindPayload + "/build":
		return k.payload()
	case testvectors.KindRegistration + "/bind":
		return k.regBind()
	case testvectors.KindRegistration + "/verify_binding":
		return nil, k.regVerify()
	case testvectors.KindHKDF + "/derive":
		return k.hkdf()
	case testvectors.KindEvent + "/open":
		return k.event()
	}
	return nil, fmt.Errorf("%w: unknown kind/op %s/%s", vectorgen.ErrBadInput, k.c.Kind, k.c.Op)
}

func (k *checker) keysDerive() (map[string]any, error) {
	scalar := k.hexIn("private_hex")
	priv, err := crypto.NewPrivateKey(scalar)
	// Independent: crypto/ecdh agrees on validity and on the point.
	std, stdErr := ecdh.P256().NewPrivateKey(scalar)
	if (err == nil) != (stdErr == nil) {
		k.fail("crypto/ecdh validity %v differs from crypto %v", stdErr, err)
	}
	k.cross("crypto/ecdh")
	if err != nil {
		return nil, err
	}
	pub := priv.PublicKey()
	if std != nil && !bytes.Equal(std.PublicKey().Bytes(), pub.Bytes()) {
		k.fail("crypto/ecdh derives a different public key")
	}
	if std != nil {
		// Independent: crypto/x509 encodes the same SubjectPublicKeyInfo.
		if der, err := x509.MarshalPKIXPublicKey(std.PublicKey()); err != nil || !bytes.Equal(pub.SPKI(), der) {
			k.fail("SPKI differs from crypto/x509's encoding (%v)", err)
		}
		k.cross("crypto/x509")
	}
	fp := sha256.Sum256(pub.SPKI())
	if crypto.FingerprintString(pub) != b64urlNoPad(fp[:]) {
		k.fail("fingerprint is not base64url(SHA-256(SPKI))")
	}
	k.cross("crypto/sha256")
	return map[string]any{
		"public_sec1_hex": hx(pub.Bytes()), "public_spki_hex": hx(pub.SPKI()),
		"fingerprint_b64url": crypto.FingerprintString(pub),
	}, nil
}

func (k *checker) keysParse() (map[string]any, error) {
	in := k.hexIn("public_hex")
	pub, err := crypto.ParsePublicKey(in)
	// Independent: for 65-byte inputs crypto/ecdh must agree.
	if len(in) == crypto.PublicKeySize {
		_, stdErr := ecdh.P256().NewPublicKey(in)
		if (err == nil) != (stdErr == nil) {
			k.fail("crypto/ecdh validity %v differs from crypto %v", stdErr, err)
		}
		k.cross("crypto/ecdh")
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"public_sec1_hex": hx(pub.Bytes()), "public_spki_hex": hx(pub.SPKI())}, nil
}

func (k *checker) keysBackup() (map[string]any, error) {
	b := k.hexIn("backup_hex")
	kp, err := crypto.ParseBackup(b)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(kp.Backup(), b) {
		k.fail("Backup() does not round-trip")
	}
	// Independent: crypto/ecdh derives the same two public keys from the
	// scalars of the backup (identity first).
	for i, pub := range []*crypto.PublicKey{kp.Identity.PublicKey(), kp.Signing.PublicKey()} {
		std, err := ecdh.P256().NewPrivateKey(b[32*i : 32*i+32])
		if err != nil || !bytes.Equal(std.PublicKey().Bytes(), pub.Bytes()) {
			k.fail("crypto/ecdh derives another public key from scalar %d (%v)", i, err)
		}
	}
	k.cross("crypto/ecdh")
	return map[string]any{
		"identity_public_sec1_hex": hx(kp.Identity.PublicKey().Bytes()),
		"signing_public_sec1_hex":  hx(kp.Signing.PublicKey().Bytes()),
	}, nil
}

func (k *checker) ecies() (map[string]any, error) {
	priv, err := crypto.NewPrivateKey(k.hexIn("identity_private_hex"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", vectorgen.ErrBadInput, err)
	}
	ct := k.hexIn("ciphertext_hex")
	var pt []byte
	if k.c.Op == "unwrap" {
		var ck *crypto.ConversationKey
		ck, err = crypto.UnwrapConversationKey(priv, ct)
		if ck != nil {
			pt = ck[:]
		}
	} else {
		pt, err = crypto.ECIESDecrypt(priv, ct)
	}
	// Independent decryption with the standard library only.
	stdPT, stdErr := stdECIESDecrypt(priv.Bytes(), ct)
	if k.success() && (stdErr != nil || !bytes.Equal(stdPT, pt)) {
		k.fail("independent ECIES decryption: %x, %v", stdPT, stdErr)
	}
	if !k.success() && k.c.Expect != testvectors.ExpectInvalidConversationKey && stdErr == nil {
		k.fail("independent ECIES decryption accepts a ciphertext the case rejects")
	}
	k.cross("crypto/ecdh")
	k.cross("crypto/aes")
	if err != nil {
		return nil, err
	}
	// Regenerate: the same ephemeral key gives the same bytes.
	if eph, ok := k.optHexIn("ephemeral_private_hex"); ok {
		re, rerr := crypto.ECIESEncrypt(bytes.NewReader(eph), priv.PublicKey(), pt)
		if rerr != nil || !bytes.Equal(re, ct) {
			k.fail("re-encryption with the recorded ephemeral key differs (%v)", rerr)
		}
	}
	return map[string]any{"plaintext_hex": hx(pt)}, nil
}

// stdECIESDecrypt is an independent ECIES implementation: crypto/ecdh,
// X9.63 KDF with SHA-256, AES-128-GCM with a 16-byte IV.
func stdECIESDecrypt(scalar, ct []byte) ([]byte, error) {
	if len(ct) < 81 {
		return nil, errors.New("short")
	}
	priv, err := ecdh.P256().NewPrivateKey(scalar)
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.P256().NewPublicKey(ct[:65])
	if err != nil {
		return nil, err
	}
	z, err := priv.ECDH(eph)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(z)
	h.Write([]byte{0, 0, 0, 1})
	h.Write(ct[:65])
	kdf := h.Sum(nil)
	block, err := aes.NewCipher(kdf[:16])
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, 16)
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, kdf[16:], ct[65:], nil)
}

func (k *checker) secretbox() (map[string]any, error) {
	kb := k.hexIn("key_hex")
	if len(kb) != crypto.ConversationKeySize {
		return nil, fmt.Errorf("%w: key length", vectorgen.ErrBadInput)
	}
	key := crypto.ConversationKey(kb)
	box := k.hexIn("box_hex")
	pt, err := crypto.Open(&key, box)
	// Independent: x/crypto/nacl/secretbox with nonce = box[:24].
	var stdOK bool
	var stdPT []byte
	if len(box) >= 24 {
		var nonce [24]byte
		copy(nonce[:], box)
		stdPT, stdOK = secretbox.Open(nil, box[24:], &nonce, (*[32]byte)(kb))
	}
	if stdOK != (err == nil) || (stdOK && !bytes.Equal(stdPT, pt)) {
		k.fail("nacl/secretbox gives ok=%v, crypto gives %v", stdOK, err)
	}
	if err != nil {
		return nil, err
	}
	re, rerr := crypto.Seal(bytes.NewReader(box[:24]), &key, pt)
	if rerr != nil || !bytes.Equal(re, box) {
		k.fail("re-sealing with the recorded nonce differs (%v)", rerr)
	}
	return map[string]any{"plaintext_hex": hx(pt)}, nil
}

func (k *checker) secretstream() (map[string]any, error) {
	key := k.hexIn("key_hex")
	ct := k.hexIn("ciphertext_hex")
	pt, err := secretstream.Decrypt(key, ct)
	// The streaming Reader must reach the same verdict.
	var rpt []byte
	r, rerr := secretstream.NewReader(bytes.NewReader(ct), key)
	if rerr == nil {
		rpt, rerr = io.ReadAll(r)
	}
	if classOf(rerr) != classOf(err) || (err == nil && !bytes.Equal(rpt, pt)) {
		k.fail("secretstream.Reader gives %q, Decrypt gives %q", classOf(rerr), classOf(err))
	}
	if err != nil {
		return nil, err
	}
	if len(ct) >= secretstream.HeaderSize {
		re, eerr := secretstream.Encrypt(bytes.NewReader(ct[:secretstream.HeaderSize]), key, pt)
		if k.c.Name != "secretstream/truncated-to-header" && (eerr != nil || !bytes.Equal(re, ct)) {
			k.fail("re-encryption with the recorded header differs (%v)", eerr)
		}
	}
	return map[string]any{"plaintext_hex": hx(pt)}, nil
}

func (k *checker) sigVerify() (map[string]any, error) {
	pub, err := crypto.ParsePublicKey(k.hexIn("public_hex"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", vectorgen.ErrBadInput, err)
	}
	msg, sig := k.hexIn("message_hex"), k.hexIn("signature_hex")
	err = crypto.Verify(pub, msg, sig)
	if std := stdVerifyQuiet(pub, msg, sig); std != (err == nil) {
		k.fail("crypto/ecdsa says %v, crypto says %v", std, err)
	}
	k.cross("crypto/ecdsa")
	if priv, ok := k.optHexIn("private_hex"); ok && err == nil {
		sk, perr := crypto.NewPrivateKey(priv)
		if perr != nil {
			return nil, fmt.Errorf("%w: %w", vectorgen.ErrBadInput, perr)
		}
		if re, serr := crypto.Sign(sk, msg); serr != nil || !bytes.Equal(re, sig) {
			k.fail("re-signing gives %x (%v), want %x", re, serr, sig)
		}
	}
	return nil, err
}

func (k *checker) payload() (map[string]any, error) {
	p, err := vectorgen.BuildPayload(k.c.Inputs)
	if err != nil {
		return nil, err
	}
	b, err := p.Bytes()
	if err != nil {
		return nil, err
	}
	out := map[string]any{"payload_utf8": string(b)}
	priv, ok := k.optHexIn("signing_private_hex")
	if !ok {
		k.fail("successful payload case without signing_private_hex")
		return out, nil
	}
	sk, err := crypto.NewPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", vectorgen.ErrBadInput, err)
	}
	sig, err := p.Sign(sk)
	if err != nil {
		return nil, err
	}
	out["signature_b64nopad"] = crypto.EncodeSignature(sig)
	// The recorded signature verifies over the recorded payload, also with
	// crypto/ecdsa, and the payload parses back to the same bytes.
	want, wantPayload := k.field(k.c.Outputs, "signature_b64nopad"), k.field(k.c.Outputs, "payload_utf8")
	rsig, derr := crypto.DecodeSignature(want)
	if derr != nil || p.Verify(sk.PublicKey(), rsig) != nil || !stdVerifyQuiet(sk.PublicKey(), []byte(wantPayload), rsig) {
		k.fail("recorded signature does not verify (%v)", derr)
	}
	k.cross("crypto/ecdsa")
	if pp, perr := crypto.ParsePayload(wantPayload); perr != nil {
		k.fail("ParsePayload: %v", perr)
	} else if pb, berr := pp.Bytes(); berr != nil || string(pb) != wantPayload {
		k.fail("ParsePayload does not round-trip (%v)", berr)
	}
	return out, nil
}

func (k *checker) regBind() (map[string]any, error) {
	id, err := crypto.NewPrivateKey(k.hexIn("identity_private_hex"))
	if err != nil {
		return nil, err
	}
	sg, err := crypto.NewPrivateKey(k.hexIn("signing_private_hex"))
	if err != nil {
		return nil, err
	}
	reg, err := crypto.NewRegistration(&crypto.KeyPair{Identity: id, Signing: sg})
	if err != nil {
		return nil, err
	}
	if err := reg.Verify(); err != nil {
		k.fail("Registration.Verify: %v", err)
	}
	// Independent: the signatures verify with crypto/ecdsa over the SPKI bytes.
	if !stdVerifyQuiet(sg.PublicKey(), id.PublicKey().SPKI(), reg.IdentitySignature) ||
		!stdVerifyQuiet(id.PublicKey(), sg.PublicKey().SPKI(), reg.SigningSignature) {
		k.fail("crypto/ecdsa rejects the binding signatures")
	}
	k.cross("crypto/ecdsa")
	f := reg.Fields()
	return map[string]any{
		"public_key": f.PublicKey, "signing_public_key": f.SigningPublicKey,
		"identity_public_key_signature": f.IdentityPublicKeySignature,
		"signing_public_key_signature":  f.SigningPublicKeySignature,
		"public_key_fingerprint":        f.PublicKeyFingerprint, "registration_method": f.RegistrationMethod,
	}, nil
}

func (k *checker) regVerify() error {
	dec := func(name string) []byte {
		b, err := crypto.DecodeBase64(k.in(name))
		if err != nil {
			k.fail("input %s: %v", name, err)
		}
		return b
	}
	id, sg, sig := dec("identity_public_b64"), dec("signing_public_b64"), dec("signature_b64")
	var err error
	var signer, signed []byte // the key that signs and the SPKI or key it signs
	switch k.in("binding") {
	case "identity":
		signer, signed = sg, id
		var pub *crypto.PublicKey
		if pub, err = crypto.ParsePublicKey(sg); err == nil {
			err = crypto.VerifyKeyBinding(id, pub, sig)
		}
	case "signing":
		signer, signed = id, sg
		var pub *crypto.PublicKey
		if pub, err = crypto.ParsePublicKey(id); err == nil {
			err = crypto.VerifySigningKeyBinding(sg, pub, sig)
		}
	default:
		return fmt.Errorf("%w: binding", vectorgen.ErrBadInput)
	}
	// Independent: crypto/ecdsa over the signed key as given, the signer
	// given as SPKI or SEC1.
	if std := stdVerifyBinding(signer, signed, sig); std != (err == nil) {
		k.fail("crypto/ecdsa says %v, crypto says %v", std, err)
	}
	k.cross("crypto/ecdsa")
	return err
}

// stdVerifyBinding verifies sig by signer over the bytes of signed as
// given (SPKI or SEC1: the binding covers the key as published), with the
// standard library only: crypto/x509 for SPKI keys, crypto/ecdsa for SEC1
// points and the signature. Both keys must be valid P-256 points.
func stdVerifyBinding(signer, signed, sig []byte) bool {
	valid := func(b []byte) (*ecdsa.PublicKey, bool) {
		if pk, err := x509.ParsePKIXPublicKey(b); err == nil {
			ek, ok := pk.(*ecdsa.PublicKey)
			return ek, ok && ek.Curve == elliptic.P256()
		}
		ek, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
		return ek, err == nil
	}
	sk, ok := valid(signer)
	if !ok || len(sig) != 64 {
		return false
	}
	if _, ok := valid(signed); !ok {
		return false
	}
	h := sha256.Sum256(signed)
	return ecdsaVerifyASN1(sk, h[:], rsToDER(sig[:32], sig[32:]))
}

func (k *checker) hkdf() (map[string]any, error) {
	secret := k.hexIn("secret_hex")
	salt := k.in("salt_utf8")
	n, err := strconv.Atoi(k.in("length"))
	if err != nil {
		return nil, fmt.Errorf("%w: length", vectorgen.ErrBadInput)
	}
	out, err := crypto.HKDF(secret, salt, n)
	if err != nil {
		return nil, err
	}
	if std := manualHKDF(secret, salt, n); !bytes.Equal(std, out) {
		k.fail("independent HKDF differs")
	}
	k.cross("crypto/hmac")
	if std, err := hkdf.Key(sha256.New, secret, []byte(salt), "", n); err != nil || !bytes.Equal(std, out) {
		k.fail("crypto/hkdf gives %x, %v", std, err)
	}
	k.cross("crypto/hkdf")
	return map[string]any{"okm_hex": hx(out)}, nil
}

// manualHKDF is RFC 5869 HKDF-SHA256 written out with crypto/hmac, with the
// XDK's salt rule (empty salt = 32 zero bytes) and empty info.
func manualHKDF(secret []byte, salt string, n int) []byte {
	s := []byte(salt)
	if len(s) == 0 {
		s = make([]byte, 32)
	}
	m := hmac.New(sha256.New, s)
	m.Write(secret)
	prk := m.Sum(nil)
	var out, t []byte
	for i := 1; len(out) < n; i++ {
		m := hmac.New(sha256.New, prk)
		m.Write(t)
		m.Write([]byte{byte(i)})
		t = m.Sum(nil)
		out = append(out, t...)
	}
	return out[:n]
}

// receiver builds the recipient described by an event case's inputs.
func (k *checker) receiver() *receiver {
	r := &receiver{
		userID: k.in("recipient_user_id"), keyVersion: k.in("recipient_key_version"),
		convKeys: map[string]*crypto.ConversationKey{}, cross: k.cross,
	}
	id, err := crypto.NewPrivateKey(k.hexIn("recipient_identity_private_hex"))
	if err != nil {
		k.fail("recipient key: %v", err)
		return r
	}
	r.identity = id
	signers, _ := k.c.Inputs["signers"].([]any)
	for _, s := range signers {
		m, ok := s.(map[string]any)
		if !ok {
			ms, ok := s.(map[string]string)
			if !ok {
				k.fail("signer %T", s)
				continue
			}
			m = map[string]any{}
			for a, b := range ms {
				m[a] = b
			}
		}
		u, v, spki := k.field(m, "user_id"), k.field(m, "key_version"), k.field(m, "signing_public_spki_b64")
		kb, err := crypto.DecodeBase64(spki)
		if err != nil {
			k.fail("signer key: %v", err)
			continue
		}
		pub, err := crypto.ParsePublicKey(kb)
		if err != nil {
			k.fail("signer key: %v", err)
			continue
		}
		r.signers = append(r.signers, signer{userID: u, keyVersion: v, pub: pub})
	}
	keys, _ := k.c.Inputs["conversation_keys"].(map[string]any)
	for v, h := range keys {
		s, _ := h.(string)
		kb, err := hex.DecodeString(s)
		if err != nil || len(kb) != crypto.ConversationKeySize {
			k.fail("conversation key %s", v)
			continue
		}
		ck := crypto.ConversationKey(kb)
		r.convKeys[v] = &ck
	}
	return r
}

func (k *checker) event() (map[string]any, error) {
	r := k.receiver()
	raw, err := wire.DecodeB64(k.in("envelope_b64"))
	if err != nil {
		return nil, err
	}
	o, err := r.open(raw)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"event_kind": o.kind, "message_id": str(o.ev.MessageID), "sender_id": str(o.ev.SenderID),
		"conversation_id": str(o.ev.ConversationID), "signature_version": strconv.Itoa(o.sigVersion),
		"signed_payload_utf8": string(o.payload),
	}
	d := o.ev.Detail
	switch o.kind {
	case "message":
		text, _ := messageText(o.entry)
		out["text_utf8"] = text
		out["conversation_key_version"] = str(d.MessageCreateEvent.ConversationKeyVersion)
	case "keyChange":
		out["conversation_key_version"] = str(d.ConversationKeyChangeEvent.ConversationKeyVersion)
		out["conversation_key_hex"] = hx(o.convKey[:])
	case "groupCreate":
		gc := d.GroupChangeEvent.GroupChange.GroupCreate
		out["member_ids"] = gc.MemberIds
		out["title_utf8"] = str(gc.Title)
	case "groupMemberAdd":
		out["member_ids"] = d.GroupChangeEvent.GroupChange.GroupMemberAdd.MemberIds
	case "messageDelete":
		out["sequence_ids"] = d.MessageDeleteEvent.SequenceIds
		out["delete_action"] = strconv.Itoa(int(*d.MessageDeleteEvent.DeleteMessageAction))
	}
	return out, nil
}

// stdVerifyQuiet is stdVerify without a testing.T.
func stdVerifyQuiet(pub *crypto.PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	k, err := parseStdKey(pub)
	if err != nil {
		return false
	}
	h := sha256.Sum256(msg)
	return ecdsaVerifyASN1(k, h[:], rsToDER(sig[:32], sig[32:]))
}
