package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// The rigs below are what the per-operation rows time: the public engine
// (session.Engine) with a memory keystore, against a stubServer, so that
// the figures are the engine's own work and nothing else's.

// stubAccount creates and registers an account on stub in a fresh memory
// store.
func stubAccount(ctx context.Context, id string, stub *stubServer, opts ...session.Option) (*session.Engine, error) {
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		return nil, err
	}
	e, err := session.Open(ctx, store, stub, opts...)
	if err != nil {
		return nil, err
	}
	if _, err := e.Register(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// memberKeys creates accounts with ids and returns the keys each publishes
// (the engine's own RegistrationRequest), labelled with its id.
func memberKeys(ctx context.Context, ids []string) ([]api.PublicKey, error) {
	out := make([]api.PublicKey, 0, len(ids))
	for _, id := range ids {
		store := keystore.NewMemory()
		if err := session.CreateAccount(ctx, store, id, nil); err != nil {
			return nil, err
		}
		e, err := session.Open(ctx, store, nil)
		if err != nil {
			return nil, err
		}
		req, err := e.RegistrationRequest()
		e.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, publishedKey(id, req))
	}
	return out, nil
}

// publishedKey is the PublicKey a server publishes for a registration.
func publishedKey(id string, req *api.AddUserPublicKeyRequest) api.PublicKey {
	return api.PublicKey{UserID: id, PublicKey: req.PublicKey.PublicKey, PublicKeyVersion: req.Version,
		SigningPublicKey: req.PublicKey.SigningPublicKey, IdentityPublicKeySignature: req.PublicKey.IdentityPublicKeySignature}
}

// memberIDs returns n user ids starting at base.
func memberIDs(base, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(base + i)
	}
	return ids
}

// sendRig is an account with a keyed one-to-one conversation on a stub.
type sendRig struct {
	ctx  context.Context
	e    *session.Engine
	stub *stubServer
	peer string
	keys []api.PublicKey // the account's and the peer's published keys
}

func newSendRig(ctx context.Context) (*sendRig, error) {
	const self, peer = "1001", "1002"
	stub := newStub(self)
	e, err := stubAccount(ctx, self, stub)
	if err != nil {
		return nil, err
	}
	keys, err := memberKeys(ctx, []string{peer})
	if err != nil {
		return nil, err
	}
	stub.addKeys(keys...)
	if _, err := e.EnsureConversationKey(ctx, peer); err != nil {
		return nil, err
	}
	return &sendRig{ctx: ctx, e: e, stub: stub, peer: peer, keys: keys}, nil
}

// newBoltSendRig is newSendRig with the account in a sealed bbolt store at
// path, as an application keeps it: the outbox record and the recorded
// echo are sealed and committed (each commit flushed to disk). closeRig
// closes the engine and the store.
func newBoltSendRig(ctx context.Context, path string) (r *sendRig, closeRig func(), err error) {
	const self, peer = "1001", "1002"
	db, err := boltstore.Open(path, keystore.WithKey([32]byte{1}))
	if err != nil {
		return nil, nil, err
	}
	var e *session.Engine
	closeRig = func() {
		if e != nil {
			e.Close()
		}
		_ = db.Close()
	}
	defer func() {
		if err != nil {
			closeRig()
		}
	}()
	if err := session.CreateAccount(ctx, db, self, nil); err != nil {
		return nil, nil, err
	}
	stub := newStub(self)
	if e, err = session.Open(ctx, db, stub); err != nil {
		return nil, nil, err
	}
	if _, err := e.Register(ctx); err != nil {
		return nil, nil, err
	}
	keys, err := memberKeys(ctx, []string{peer})
	if err != nil {
		return nil, nil, err
	}
	stub.addKeys(keys...)
	if _, err := e.EnsureConversationKey(ctx, peer); err != nil {
		return nil, nil, err
	}
	return &sendRig{ctx: ctx, e: e, stub: stub, peer: peer, keys: keys}, closeRig, nil
}

// send sends text with Engine.Send; the stub echoes the stored event, which
// the engine verifies and records.
func (r *sendRig) send(text string) error {
	sent, err := r.e.SendText(r.ctx, r.peer, text)
	if err != nil {
		return err
	}
	if sent.SequenceID == "" || sent.Entry == nil || !sent.Entry.Verified {
		return fmt.Errorf("bench: the echoed message was not verified and recorded")
	}
	return nil
}

// sendMedia sends data as a media attachment (Engine.Send with Outgoing.Media).
func (r *sendRig) sendMedia(data []byte) (*session.Sent, error) {
	return r.e.Send(r.ctx, r.peer, session.Outgoing{Media: &session.Media{Data: bytes.NewReader(data), Size: int64(len(data)),
		Filename: "bench.bin", Type: event.MediaFile}})
}

// mediaRig times a media send and DownloadMedia of one payload.
type mediaRig struct {
	*sendRig
	plain   []byte
	att     event.MediaAttachment
	version string
}

// newMediaRig sends plain once, keeping the upload, and serves it back.
func newMediaRig(r *sendRig, plain []byte) (*mediaRig, error) {
	r.stub.mu.Lock()
	r.stub.keepMedia = true
	r.stub.mu.Unlock()
	sent, err := r.sendMedia(plain)
	r.stub.mu.Lock()
	r.stub.keepMedia = false
	r.stub.media = bytes.Clone(r.stub.uploaded)
	r.stub.uploaded = nil
	r.stub.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m := &mediaRig{sendRig: r, plain: plain, version: sent.KeyVersion, att: event.MediaAttachment{
		MediaHashKey: "h", FilesizeBytes: secretstream.EncryptedSize(int64(len(plain)))}}
	got, err := m.download()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(got, plain) {
		return nil, fmt.Errorf("bench: downloaded media differs from what was sent")
	}
	var streamed bytes.Buffer
	if err := m.downloadTo(&streamed); err != nil {
		return nil, err
	}
	if !bytes.Equal(streamed.Bytes(), plain) {
		return nil, fmt.Errorf("bench: media streamed to a writer differs from what was sent")
	}
	return m, nil
}

func (m *mediaRig) upload() error {
	if _, err := m.sendMedia(m.plain); err != nil {
		return err
	}
	m.stub.mu.Lock()
	n := m.stub.nUpload
	m.stub.mu.Unlock()
	if n != m.att.FilesizeBytes {
		return fmt.Errorf("bench: uploaded %d bytes, want %d", n, m.att.FilesizeBytes)
	}
	return nil
}

func (m *mediaRig) download() ([]byte, error) {
	out, err := m.e.DownloadMedia(m.ctx, m.peer, &m.att, m.version, 0)
	if err == nil && len(out) != len(m.plain) {
		err = fmt.Errorf("bench: downloaded %d bytes, want %d", len(out), len(m.plain))
	}
	return out, err
}

// downloadTo streams the media into w (Engine.DownloadMediaTo).
func (m *mediaRig) downloadTo(w io.Writer) error {
	n, err := m.e.DownloadMediaTo(m.ctx, w, m.peer, &m.att, m.version, 0)
	if err == nil && n != int64(len(m.plain)) {
		err = fmt.Errorf("bench: streamed %d bytes, want %d", n, len(m.plain))
	}
	return err
}

// rotateFixture is the other participants of a rotation: the published
// keys of n-1 accounts, made once.
type rotateFixture struct {
	n    int
	ids  []string
	keys []api.PublicKey
}

func newRotateFixture(ctx context.Context, n int) (*rotateFixture, error) {
	ids := memberIDs(3000, n-1)
	keys, err := memberKeys(ctx, ids)
	if err != nil {
		return nil, err
	}
	return &rotateFixture{n: n, ids: ids, keys: keys}, nil
}

// rotateRig is a fresh account in a conversation of n participants on a
// stub, keyed once: one-to-one for n = 2, else a group it created. Each
// timed rotation gets a fresh rig, as a conversation holds a few key
// versions, not the thousands a benchmark loop would pile up.
type rotateRig struct {
	ctx  context.Context
	e    *session.Engine
	stub *stubServer
	id   string          // the conversation
	keys []api.PublicKey // every participant's published keys
}

func (f *rotateFixture) rig(ctx context.Context) (*rotateRig, error) {
	const self = "1001"
	stub := newStub(self)
	e, err := stubAccount(ctx, self, stub)
	if err != nil {
		return nil, err
	}
	own, err := e.RegistrationRequest()
	if err != nil {
		return nil, err
	}
	stub.addKeys(f.keys...)
	r := &rotateRig{ctx: ctx, e: e, stub: stub, keys: append([]api.PublicKey{publishedKey(self, own)}, f.keys...)}
	r.keys[0].PublicKeyVersion = e.PublicKeyVersion()
	if f.n == 2 {
		r.id, err = e.EnsureConversationKey(ctx, f.ids[0])
	} else {
		r.id, err = e.CreateGroup(ctx, session.GroupOptions{Members: f.ids})
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// rotate distributes a fresh key with Engine.Rotate.
func (r *rotateRig) rotate() error {
	_, err := r.e.Rotate(r.ctx, r.id)
	return err
}

// syncRig syncs a recorded conversation into a fresh account store.
type syncRig struct {
	ctx               context.Context
	id, version, peer string
	backup            []byte
	stub              *stubServer
	msgs              int // verified messages a sync must store
}

func newSyncRig(ctx context.Context, c *convFixture, peer string, peerKeys []api.PublicKey) (*syncRig, error) {
	stub := newStub(c.id)
	stub.addKeys(peerKeys...)
	stub.servePages(c.pages)
	return &syncRig{ctx: ctx, id: c.id, version: c.version, peer: peer, backup: c.backup, stub: stub, msgs: c.n}, nil
}

// fresh returns a Sync of the whole conversation into a new store opened
// with workers decrypt workers.
func (r *syncRig) fresh(workers int) (func() error, error) {
	store := keystore.NewMemory()
	if err := session.ImportBackup(r.ctx, store, r.id, r.backup, r.version); err != nil {
		return nil, err
	}
	e, err := session.Open(r.ctx, store, r.stub, session.WithWorkers(workers))
	if err != nil {
		return nil, err
	}
	return func() error {
		defer e.Close()
		res, err := e.Sync(r.ctx, r.peer, nil)
		if err != nil {
			return err
		}
		return checkSynced(res.Entries, res.Failed, r.msgs)
	}, nil
}

// checkSynced checks that a sync stored want verified messages and no
// failures.
func checkSynced(entries []event.Entry, failed, want int) error {
	n := 0
	for _, en := range entries {
		if en.Type == event.TypeMessage && en.Verified {
			n++
		}
	}
	if n != want || failed != 0 {
		return fmt.Errorf("bench: sync stored %d verified messages (want %d), %d failed", n, want, failed)
	}
	return nil
}
