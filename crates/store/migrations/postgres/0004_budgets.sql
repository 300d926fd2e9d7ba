-- Budget limits set through the API (configuration defaults are not stored).
CREATE TABLE budget_limits (
    tenant_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    scope_key  TEXT NOT NULL,
    period     TEXT NOT NULL,
    amount     DOUBLE PRECISION NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, scope, scope_key, period)
);

-- Spent and reserved amounts per budget and period window (`2026-11-24`, `2026-11`, `total`).
CREATE TABLE budget_counters (
    tenant_id TEXT NOT NULL,
    scope     TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    period    TEXT NOT NULL,
    window_key TEXT NOT NULL,
    spent     DOUBLE PRECISION NOT NULL,
    reserved  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, scope, scope_key, period, window_key)
);

-- Reservations of runs in flight; settled or released once, or expired by the sweeper.
CREATE TABLE budget_reservations (
    id         TEXT NOT NULL PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    amount     DOUBLE PRECISION NOT NULL,
    counters   TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX budget_reservations_expiry ON budget_reservations (expires_at);

-- Settled usage per UTC day, skill and principal.
CREATE TABLE usage_daily (
    tenant_id     TEXT   NOT NULL,
    day           TEXT   NOT NULL,
    skill_id      TEXT   NOT NULL,
    principal     TEXT   NOT NULL,
    executions    BIGINT NOT NULL,
    cost          DOUBLE PRECISION NOT NULL,
    input_tokens  BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, skill_id, principal)
);
