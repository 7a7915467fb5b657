-- The throttles' counters (package throttle), for the servers sharing this database: a limit
-- per client address holds however many servers the load balancer spreads the address over.
-- (A server on SQLite is the only one and counts in memory.) The counters are worth nothing
-- after a crash, so the tables are UNLOGGED: no WAL for the write each sign-in makes; a crash
-- empties them, which only gives every address a fresh burst.

-- A token bucket per limiter and key, stored as its theoretical arrival time (GCRA): tat is
-- when the bucket would be full again (unix microseconds). A request is let through if, with
-- one more interval added, tat stays within burst intervals of now; rows whose tat has passed
-- are full buckets, which hold nothing and are pruned.
CREATE UNLOGGED TABLE throttle_buckets (
    limiter TEXT   NOT NULL,
    key     BYTEA  NOT NULL,
    tat     BIGINT NOT NULL,
    PRIMARY KEY (limiter, key)
);

-- Failures in a row per back-off and key (a hashed user name); at forget_at (unix
-- microseconds), a quiet while after the last one, the streak is over and the row is pruned.
CREATE UNLOGGED TABLE throttle_streaks (
    backoff   TEXT    NOT NULL,
    key       BYTEA   NOT NULL,
    failures  INTEGER NOT NULL,
    forget_at BIGINT  NOT NULL,
    PRIMARY KEY (backoff, key)
);
