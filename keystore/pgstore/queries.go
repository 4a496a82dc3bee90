package pgstore

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// queries are the statements of one account schema, with its name quoted
// into them once.
type queries struct {
	name   string // schema name
	schema string // quoted

	getHeader, putHeader, upgradeHeader string

	putEmpty, clearBucket string

	get, put, del, scanFrom, scanAfter, last, walk string

	leaseLock, leaseInsert, leaseTake, leaseRelease, leaseRenew, leaseFence string

	claimLock, claimSet, claimRelease, claimRenew, claimQueue string
}

func newQueries(schema string) *queries {
	s := pgx.Identifier{schema}.Sanitize()
	r := func(q string) string { return strings.ReplaceAll(q, "$S", s) }
	return &queries{
		name:      schema,
		schema:    s,
		getHeader: r(`SELECT value FROM $S.meta WHERE name = 'header'`),
		putHeader: r(`INSERT INTO $S.meta (name, value) VALUES ('header', $1) ON CONFLICT (name) DO NOTHING`),
		// Only the header that was read is replaced: a replica that
		// upgraded it first leaves nothing to do.
		upgradeHeader: r(`UPDATE $S.meta SET value = $2 WHERE name = 'header' AND value = $1`),

		putEmpty: r(`INSERT INTO $S.records (bucket, k, v) SELECT $1, k, '' FROM unnest($2::bytea[]) AS k
ON CONFLICT (bucket, k) DO UPDATE SET v = excluded.v`),
		clearBucket: r(`DELETE FROM $S.records WHERE bucket = $1`),

		get:       r(`SELECT v FROM $S.records WHERE bucket = $1 AND k = $2`),
		put:       r(`INSERT INTO $S.records (bucket, k, v) VALUES ($1, $2, $3) ON CONFLICT (bucket, k) DO UPDATE SET v = excluded.v`),
		del:       r(`DELETE FROM $S.records WHERE bucket = $1 AND k = $2`),
		scanFrom:  r(`SELECT k, v FROM $S.records WHERE bucket = $1 AND k >= $2 ORDER BY k LIMIT $3`),
		scanAfter: r(`SELECT k, v FROM $S.records WHERE bucket = $1 AND k > $2 ORDER BY k LIMIT $3`),
		last:      r(`SELECT k, v FROM $S.records WHERE bucket = $1 ORDER BY k DESC LIMIT 1`),
		walk:      r(`SELECT bucket, k, v FROM $S.records ORDER BY bucket, k`),

		// A lease row exists while held; an expired row is taken over.
		leaseLock:   r(`SELECT holder, expires < now() FROM $S.leases WHERE name = $1 FOR UPDATE`),
		leaseInsert: r(`INSERT INTO $S.leases (name, holder, token, expires) VALUES ($1, $2, $4, now() + make_interval(secs => $3)) ON CONFLICT (name) DO NOTHING RETURNING token`),
		leaseTake:   r(`UPDATE $S.leases SET holder = $2, token = token + 1, expires = now() + make_interval(secs => $3) WHERE name = $1 RETURNING token`),
		// A fenced write share-locks the lease rows it is made under, so
		// a takeover (leaseLock) waits for it to commit.
		leaseFence:   r(`SELECT holder, token FROM $S.leases WHERE name = $1 FOR SHARE`),
		leaseRelease: r(`DELETE FROM $S.leases WHERE name = $1 AND holder = $2 AND token = $3`),
		leaseRenew:   r(`UPDATE $S.leases SET expires = now() + make_interval(secs => $3) WHERE holder = $1 AND name = ANY($2)`),

		// Outbox claims are two columns of the outbox rows.
		claimLock: r(`SELECT k, holder, holder IS NOT NULL AND held_until >= now() FROM $S.records
WHERE bucket = $1 AND k = ANY($2) ORDER BY k FOR UPDATE SKIP LOCKED`),
		claimSet:     r(`UPDATE $S.records SET holder = $3, held_until = now() + make_interval(secs => $4) WHERE bucket = $1 AND k = ANY($2)`),
		claimRelease: r(`UPDATE $S.records SET holder = NULL, held_until = NULL WHERE bucket = $1 AND k = $2 AND holder = $3`),
		claimRenew:   r(`UPDATE $S.records SET held_until = now() + make_interval(secs => $4) WHERE bucket = $1 AND holder = $2 AND k = ANY($3)`),
		claimQueue:   r(`SELECT holder, holder IS NOT NULL AND held_until >= now() FROM $S.records WHERE bucket = $1 AND k = $2 FOR UPDATE`),
	}
}

// migration is one step of the schema's history. Steps are applied in
// order, each once, in the transaction that records it.
type migration struct {
	version int
	what    string
	sql     string
}

// migrations is the schema's history; append, never edit.
var migrations = []migration{
	{1, "header and sealed records", `
CREATE TABLE $S.meta (name text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE $S.records (
	bucket bytea NOT NULL, -- bucket path, elements joined by NUL
	k      bytea NOT NULL, -- key as DB stores it (ids, length-prefixed versions)
	v      bytea NOT NULL, -- sealed value (msgindex entries: empty)
	PRIMARY KEY (bucket, k)
);`},
	{2, "leases and outbox claims", `
CREATE TABLE $S.leases (
	name    text PRIMARY KEY,
	holder  text NOT NULL,
	token   bigint NOT NULL,
	expires timestamptz NOT NULL
);
ALTER TABLE $S.records ADD COLUMN holder text, ADD COLUMN held_until timestamptz;`},
	// Store format 2 keeps the message-id index in a recent part and
	// segments (msgrecent, msgseg, msgfilter, msgstate): a program that
	// knows only msgindex would miss entries, so it must not open the
	// schema (ErrSchemaTooNew).
	{3, "log-structured message-id index", `
COMMENT ON TABLE $S.records IS 'xchat keystore records, store format 2 (message-id index in msgrecent/msgseg/msgfilter/msgstate)';`},
}

// SchemaVersion is the schema version this package migrates to.
var SchemaVersion = migrations[len(migrations)-1].version

func (m migration) statement(schema string) string {
	return strings.ReplaceAll(m.sql, "$S", schema)
}

func (m migration) String() string { return fmt.Sprintf("migration %d (%s)", m.version, m.what) }
