package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xchat-go/xchat/keystore"
)

// records implements keystore.Records over one PostgreSQL transaction: the
// rows of the records table, a bucket path being its elements joined by
// NUL (which no element contains).
type records struct {
	ctx context.Context
	tx  pgx.Tx
	q   *queries
	// aborted is the first statement error of tx (see failed).
	aborted *error
}

// failed records err when it is the first error of a statement in r's
// transaction, and returns err. PostgreSQL aborts a transaction at its
// first failed statement: every later one fails with "current
// transaction is aborted". The first error is the one that says why (a
// serialization failure, say, which runs the transaction again), so the
// transaction's outcome is that error even when the caller dropped it.
func (r *records) failed(err error) error {
	var pe *pgconn.PgError
	if err != nil && r.aborted != nil && *r.aborted == nil && errors.As(err, &pe) {
		*r.aborted = err
	}
	return err
}

// scanPage bounds the rows one query of an unlimited Scan fetches, so a
// scan its caller stops early reads little more than it uses.
const scanPage = 128

// bucketKey encodes a bucket path.
func bucketKey(path [][]byte) ([]byte, error) {
	if len(path) == 0 {
		return nil, fmt.Errorf("%w: empty bucket path", keystore.ErrInvalid)
	}
	for _, p := range path {
		if len(p) == 0 || bytes.IndexByte(p, 0) >= 0 {
			return nil, fmt.Errorf("%w: bucket name %q", keystore.ErrInvalid, p)
		}
	}
	return bytes.Join(path, []byte{0}), nil
}

func (r *records) Get(bucket [][]byte, key []byte) ([]byte, error) {
	b, err := bucketKey(bucket)
	if err != nil {
		return nil, err
	}
	var v []byte
	err = r.tx.QueryRow(r.ctx, r.q.get, b, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return v, r.failed(classify(r.ctx, err))
}

func (r *records) Put(bucket [][]byte, key, value []byte) error {
	b, err := bucketKey(bucket)
	if err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	_, err = r.tx.Exec(r.ctx, r.q.put, b, key, value)
	return r.failed(classify(r.ctx, err))
}

func (r *records) Delete(bucket [][]byte, key []byte) error {
	b, err := bucketKey(bucket)
	if err != nil {
		return err
	}
	_, err = r.tx.Exec(r.ctx, r.q.del, b, key)
	return r.failed(classify(r.ctx, err))
}

func (r *records) Scan(bucket [][]byte, from []byte, limit int, fn func(key, value []byte) (bool, error)) error {
	b, err := bucketKey(bucket)
	if err != nil {
		return err
	}
	q, cursor := r.q.scanFrom, from
	if cursor == nil {
		cursor = []byte{}
	}
	for visited := 0; limit <= 0 || visited < limit; {
		page := scanPage
		if limit > 0 {
			page = limit - visited
		}
		n, more, last, err := r.scanOnce(q, b, cursor, page, fn)
		if err != nil || !more || n < page {
			return r.failed(classify(r.ctx, err))
		}
		visited += n
		q, cursor = r.q.scanAfter, last
	}
	return nil
}

// scanOnce runs one page of Scan: n rows visited, more false when fn
// stopped, last the last key visited.
func (r *records) scanOnce(q string, bucket, cursor []byte, page int, fn func(key, value []byte) (bool, error)) (n int, more bool, last []byte, err error) {
	rows, err := r.tx.Query(r.ctx, q, bucket, cursor, page)
	if err != nil {
		return 0, false, nil, err
	}
	defer rows.Close()
	more = true
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return n, false, nil, err
		}
		n++
		last = k
		if more, err = fn(k, v); err != nil || !more {
			return n, false, last, err
		}
	}
	return n, more, last, rows.Err()
}

func (r *records) Last(bucket [][]byte) ([]byte, []byte, error) {
	b, err := bucketKey(bucket)
	if err != nil {
		return nil, nil, err
	}
	var k, v []byte
	err = r.tx.QueryRow(r.ctx, r.q.last, b).Scan(&k, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil
	}
	return k, v, r.failed(classify(r.ctx, err))
}

func (r *records) Walk(fn func(bucket [][]byte, key, value []byte) error) error {
	return r.failed(classify(r.ctx, r.walk(fn)))
}

func (r *records) walk(fn func(bucket [][]byte, key, value []byte) error) error {
	rows, err := r.tx.Query(r.ctx, r.q.walk)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b, k, v []byte
		if err := rows.Scan(&b, &k, &v); err != nil {
			return err
		}
		if err := fn(bytes.Split(b, []byte{0}), k, v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PutEmpty implements keystore.BulkRecords in one statement.
func (r *records) PutEmpty(bucket [][]byte, keys [][]byte) error {
	b, err := bucketKey(bucket)
	if err != nil {
		return err
	}
	_, err = r.tx.Exec(r.ctx, r.q.putEmpty, b, keys)
	return r.failed(classify(r.ctx, err))
}

// DeleteBucket implements keystore.BulkRecords in one statement.
func (r *records) DeleteBucket(bucket [][]byte) error {
	b, err := bucketKey(bucket)
	if err != nil {
		return err
	}
	_, err = r.tx.Exec(r.ctx, r.q.clearBucket, b)
	return r.failed(classify(r.ctx, err))
}
