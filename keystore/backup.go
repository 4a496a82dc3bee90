package keystore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// ExportBackup returns a copy of the identity key backup blob
// (BackupSize bytes) held by s, or an error wrapping ErrNotFound.
func ExportBackup(ctx context.Context, s IdentityStore) (SecretBytes, error) {
	id, err := s.Identity(ctx)
	if err != nil {
		return nil, err
	}
	return id.Backup, nil
}

// ImportBackup installs blob as the identity of userID in s, as one
// transaction. Importing the identity already stored is a no-op; importing
// over a different identity fails with ErrConflict. The public key version
// is left unregistered ("") for a new identity.
func ImportBackup(ctx context.Context, s Store, userID string, blob []byte) error {
	if len(blob) != BackupSize {
		return fmt.Errorf("%w: backup is %d bytes, want %d", ErrInvalid, len(blob), BackupSize)
	}
	if err := checkID("user id", userID); err != nil {
		return err
	}
	return s.Update(ctx, func(tx Tx) error {
		cur, err := tx.Identity(ctx)
		switch {
		case err == nil:
			defer cur.Backup.Zero()
			if cur.UserID == userID && cur.Backup.Equal(blob) {
				return nil
			}
			return fmt.Errorf("%w: store already holds a different identity", ErrConflict)
		case !isNotFound(err):
			return err
		}
		return tx.SetIdentity(ctx, &Identity{UserID: userID, Backup: blob})
	})
}

// Backup file layout (big-endian):
//
//	"XCBK" magic (4) ‖ version (1) ‖ argon2 time (4) ‖ argon2 memory KiB (4) ‖
//	argon2 threads (1) ‖ salt (16) ‖ nonce (24) ‖
//	XChaCha20-Poly1305(Argon2id(passphrase, salt), blob, aad = bytes before nonce) (80)
const (
	backupMagic      = "XCBK"
	backupVersion    = 1
	backupHeaderSize = 4 + 1 + 4 + 4 + 1 + saltSize
	// BackupFileSize is the exact length of a sealed backup file.
	BackupFileSize = backupHeaderSize + chacha20poly1305.NonceSizeX + BackupSize + chacha20poly1305.Overhead
	// maxBackupMemory caps the memory a backup file may demand (1 GiB).
	maxBackupMemory = 1 << 20
)

// SealBackupFile encrypts the identity backup blob under passphrase with
// Argon2id (DefaultArgon2Params) and XChaCha20-Poly1305, producing a
// BackupFileSize-byte file with a versioned header.
func SealBackupFile(blob, passphrase []byte) ([]byte, error) {
	return SealBackupFileWithParams(blob, passphrase, DefaultArgon2Params, nil)
}

// SealBackupFileWithParams is SealBackupFile with explicit Argon2id
// parameters and randomness (nil means crypto/rand).
func SealBackupFileWithParams(blob, passphrase []byte, p Argon2Params, r io.Reader) ([]byte, error) {
	if len(blob) != BackupSize {
		return nil, fmt.Errorf("%w: backup is %d bytes, want %d", ErrInvalid, len(blob), BackupSize)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if p.MemoryKiB > maxBackupMemory {
		return nil, fmt.Errorf("%w: argon2 memory above %d KiB", ErrInvalid, maxBackupMemory)
	}
	if r == nil {
		r = rand.Reader
	}
	out := make([]byte, 0, BackupFileSize)
	out = append(out, backupMagic...)
	out = append(out, backupVersion)
	out = binary.BigEndian.AppendUint32(out, p.Time)
	out = binary.BigEndian.AppendUint32(out, p.MemoryKiB)
	out = append(out, p.Threads)
	out = out[:backupHeaderSize+chacha20poly1305.NonceSizeX]
	if _, err := io.ReadFull(r, out[backupHeaderSize-saltSize:]); err != nil {
		return nil, fmt.Errorf("keystore: reading randomness: %w", err)
	}
	kek := deriveKEK(passphrase, out[backupHeaderSize-saltSize:backupHeaderSize], p)
	defer kek.Zero()
	aead, err := chacha20poly1305.NewX(kek[:])
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return aead.Seal(out, out[backupHeaderSize:], blob, out[:backupHeaderSize]), nil
}

// OpenBackupFile decrypts a file made by SealBackupFile. It fails with
// ErrUnsupportedVersion for an unknown version, ErrCorrupt for a malformed
// file and ErrWrongPassphrase when authentication fails.
func OpenBackupFile(data, passphrase []byte) (SecretBytes, error) {
	if len(data) < len(backupMagic)+1 || string(data[:len(backupMagic)]) != backupMagic {
		return nil, fmt.Errorf("%w: not a backup file", ErrCorrupt)
	}
	if v := data[len(backupMagic)]; v != backupVersion {
		return nil, fmt.Errorf("%w: backup file version %d", ErrUnsupportedVersion, v)
	}
	if len(data) != BackupFileSize {
		return nil, fmt.Errorf("%w: backup file is %d bytes, want %d", ErrCorrupt, len(data), BackupFileSize)
	}
	p := Argon2Params{
		Time:      binary.BigEndian.Uint32(data[5:]),
		MemoryKiB: binary.BigEndian.Uint32(data[9:]),
		Threads:   data[13],
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%w: backup file: %w", ErrCorrupt, err)
	}
	if p.MemoryKiB > maxBackupMemory {
		return nil, fmt.Errorf("%w: backup file demands %d KiB", ErrCorrupt, p.MemoryKiB)
	}
	kek := deriveKEK(passphrase, data[backupHeaderSize-saltSize:backupHeaderSize], p)
	defer kek.Zero()
	aead, err := chacha20poly1305.NewX(kek[:])
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	nonceEnd := backupHeaderSize + chacha20poly1305.NonceSizeX
	blob, err := aead.Open(nil, data[backupHeaderSize:nonceEnd], data[nonceEnd:], data[:backupHeaderSize])
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return blob, nil
}
