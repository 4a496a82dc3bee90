// Package boltstore is the embedded keystore.Store: one go.etcd.io/bbolt
// file per account, every value sealed by keystore's record sealing under a
// random store key wrapped under a passphrase (Argon2id) or an application
// key. Only one process can hold a file open (keystore.ErrLocked); an
// account served by several processes lives in keystore/pgstore instead,
// and keystore.CopyRecords moves it between the two. The file format is
// described in package keystore.
package boltstore
