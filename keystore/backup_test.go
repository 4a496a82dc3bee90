package keystore

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

func TestBackupFileRoundTrip(t *testing.T) {
	blob := seqBlob(5)
	pass := []byte("backup passphrase")
	file, err := SealBackupFileWithParams(blob, pass, testParams, nil)
	mustNil(t, err)
	if len(file) != BackupFileSize {
		t.Fatalf("file is %d bytes, want %d", len(file), BackupFileSize)
	}
	if bytes.Contains(file, blob[:16]) {
		t.Fatal("blob visible in the sealed file")
	}
	got, err := OpenBackupFile(file, pass)
	mustNil(t, err)
	if !got.Equal(blob) {
		t.Fatal("round trip changed the blob")
	}
	again, err := SealBackupFileWithParams(blob, pass, testParams, nil)
	mustNil(t, err)
	if bytes.Equal(again, file) {
		t.Fatal("two seals of the same blob are identical (salt/nonce not random)")
	}
	if _, err := OpenBackupFile(file, []byte("backup passphrasE")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

func TestBackupFileRejects(t *testing.T) {
	pass := []byte("p")
	file, err := SealBackupFileWithParams(seqBlob(5), pass, testParams, nil)
	mustNil(t, err)
	// Every single-byte change is detected, whatever the region.
	for i := range file {
		mod := bytes.Clone(file)
		mod[i] ^= 0x01
		if _, err := OpenBackupFile(mod, pass); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":     {nil, ErrCorrupt},
		"magic":     {append([]byte("XCBX"), file[4:]...), ErrCorrupt},
		"version":   {append(append([]byte("XCBK"), 2), file[5:]...), ErrUnsupportedVersion},
		"truncated": {file[:len(file)-1], ErrCorrupt},
		"trailing":  {append(bytes.Clone(file), 0), ErrCorrupt},
		"huge memory": {func() []byte {
			m := bytes.Clone(file)
			m[9], m[10] = 0x7f, 0xff // memory KiB far above the cap
			return m
		}(), ErrCorrupt},
	}
	for name, c := range cases {
		if _, err := OpenBackupFile(c.data, pass); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
	if _, err := SealBackupFileWithParams(seqBlob(5)[:63], pass, testParams, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("short blob: %v", err)
	}
}

func FuzzOpenBackupFile(f *testing.F) {
	file, err := SealBackupFileWithParams(seqBlob(5), []byte("p"), testParams, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(file)
	f.Add([]byte("XCBK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Keep the fuzzer from spending its time in Argon2id.
		if len(data) >= 14 && (data[5] != 0 || data[6] != 0 || data[7] != 0 || data[8] > 2 || data[9] != 0 || data[10] != 0 || data[11] > 0) {
			return
		}
		blob, err := OpenBackupFile(data, []byte("p"))
		if err == nil && len(blob) != BackupSize {
			t.Fatalf("opened a %d-byte blob", len(blob))
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) && !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	h := &header{mode: modePassphrase, params: testParams}
	mustNil(f, h.wrap(&SecretKey{1}, &SecretKey{2}, bytes.NewReader(make([]byte, 64))))
	f.Add(h.marshal())
	hk := &header{mode: modeKey}
	f.Add(hk.marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHeader(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(h.marshal(), data) {
			t.Fatal("accepted header does not re-encode identically")
		}
	})
}

func FuzzUnseal(f *testing.F) {
	aead, err := chacha20poly1305.NewX(make([]byte, 32))
	mustNil(f, err)
	aad := recordAAD([]byte("b"), []byte("k"))
	sealed, err := seal(aead, bytes.NewReader(make([]byte, 24)), []byte("hello"), aad)
	mustNil(f, err)
	f.Add(sealed)
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, err := unseal(aead, data, aad, func() string { return "fuzz" })
		if err == nil && (!bytes.Equal(data, sealed) || !bytes.Equal(pt, []byte("hello"))) {
			t.Fatalf("forged record opened: %q", pt)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
