package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrate creates the account schema and applies the migrations it lacks,
// in one transaction under an advisory lock, so replicas starting together
// migrate once. A schema newer than SchemaVersion fails with
// ErrSchemaTooNew and is left alone.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return classify(ctx, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	stmts := []string{
		`SELECT pg_advisory_xact_lock(hashtext('xchat-go pgstore migrate ' || ` + quoteLiteral(s.q.schema) + `))`,
		`CREATE SCHEMA IF NOT EXISTS ` + s.q.schema,
		`CREATE TABLE IF NOT EXISTS ` + s.q.schema + `.schema_version (version integer NOT NULL)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("pgstore: preparing schema: %w", classify(ctx, err))
		}
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.q.schema+`.schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("pgstore: reading schema version: %w", classify(ctx, err))
	}
	if current > SchemaVersion {
		return fmt.Errorf("%w: schema %s is at version %d, this program knows up to %d; upgrade the program",
			ErrSchemaTooNew, s.q.schema, current, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		if _, err := tx.Exec(ctx, m.statement(s.q.schema)); err != nil {
			return fmt.Errorf("pgstore: applying %v: %w", m, classify(ctx, err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.q.schema+`.schema_version (version) VALUES ($1)`, m.version); err != nil {
			return fmt.Errorf("pgstore: recording %v: %w", m, classify(ctx, err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: committing migrations: %w", classify(ctx, err))
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
