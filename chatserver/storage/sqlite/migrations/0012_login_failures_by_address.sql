-- Wrong passwords are counted per (email, client address) as well (domain/lockout.py): one
-- address locks only itself out of an account. login_failures keeps the count per email over
-- every address, the slower lock. address is the per-address limit key (an IPv6 client's /64).
CREATE TABLE login_failures_by_address (
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at REAL NOT NULL,
    locked_until REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (email, address)
);
CREATE INDEX login_failures_by_address_by_time ON login_failures_by_address (last_failure_at);
