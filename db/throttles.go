package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The counters of package throttle for servers that share a PostgreSQL database, so that a
// limit holds however many of them a client's requests are spread over. Each check is one
// statement, atomic on its own: no transaction, no retry. A server on SQLite is the only one
// and keeps these counters in memory; these methods are for PostgreSQL only.

// TakeToken takes a token from the bucket of key in the named limiter, which holds burst
// tokens and gains one every interval, and reports whether there was one.
func (s *Store) TakeToken(ctx context.Context, limiter, key string, burst int, every time.Duration) (bool, error) {
	now, step := s.now().UnixMicro(), every.Microseconds()
	// The bucket is its theoretical arrival time, tat (see migration 0075): taking a token
	// moves it one interval on from now or from where it was, whichever is later, which is
	// allowed while it stays within burst intervals of now. A refusal changes nothing and
	// returns no row.
	var one int
	err := s.write.QueryRowContext(ctx, `
		INSERT INTO throttle_buckets AS b (limiter, key, tat) VALUES (?1, ?2, ?3::bigint + ?4::bigint)
		ON CONFLICT (limiter, key) DO UPDATE SET tat = greatest(b.tat, ?3::bigint) + ?4::bigint
			WHERE greatest(b.tat, ?3::bigint) + ?4::bigint - ?3::bigint <= ?5::bigint
		RETURNING 1`, limiter, []byte(key), now, step, int64(burst)*step).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: take a %s token: %w", limiter, classify(err))
	}
	return true, nil
}

// FailureStreak is how many failures in a row the named back-off has counted for key; 0
// once the streak is over.
func (s *Store) FailureStreak(ctx context.Context, backoff, key string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `
		SELECT failures FROM throttle_streaks WHERE backoff = ? AND key = ? AND forget_at > ?`,
		backoff, []byte(key), s.now().UnixMicro()).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: %s streak: %w", backoff, classify(err))
	}
	return n, nil
}

// CountFailure adds a failure to the streak of key in the named back-off; a streak that
// has had no failure for forget is over, and this failure starts a new one.
func (s *Store) CountFailure(ctx context.Context, backoff, key string, forget time.Duration) error {
	now := s.now().UnixMicro()
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO throttle_streaks AS t (backoff, key, failures, forget_at) VALUES (?1, ?2, 1, ?3::bigint + ?4::bigint)
		ON CONFLICT (backoff, key) DO UPDATE SET
			failures = CASE WHEN t.forget_at <= ?3::bigint THEN 1 ELSE t.failures + 1 END,
			forget_at = greatest(t.forget_at, ?3::bigint + ?4::bigint)`,
		backoff, []byte(key), now, forget.Microseconds())
	if err != nil {
		return fmt.Errorf("store: count a %s failure: %w", backoff, classify(err))
	}
	return nil
}

// EndStreak ends the streak of key in the named back-off.
func (s *Store) EndStreak(ctx context.Context, backoff, key string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM throttle_streaks WHERE backoff = ? AND key = ?`,
		backoff, []byte(key)); err != nil {
		return fmt.Errorf("store: end a %s streak: %w", backoff, classify(err))
	}
	return nil
}

// PruneThrottles deletes the counters that hold nothing any more: full buckets and streaks
// that are over. It keeps the tables as small as the keys seen lately; on SQLite, where the
// counters are in memory, it does nothing.
func (s *Store) PruneThrottles(ctx context.Context) (int64, error) {
	if !s.Postgres() {
		return 0, nil
	}
	now := s.now().UnixMicro()
	var n int64
	for _, stmt := range []string{
		`DELETE FROM throttle_buckets WHERE tat <= ?`,
		`DELETE FROM throttle_streaks WHERE forget_at <= ?`,
	} {
		res, err := s.write.ExecContext(ctx, stmt, now)
		if err != nil {
			return n, fmt.Errorf("store: prune throttles: %w", classify(err))
		}
		m, _ := res.RowsAffected()
		n += m
	}
	return n, nil
}
