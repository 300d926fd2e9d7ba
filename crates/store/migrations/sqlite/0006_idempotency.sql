-- Idempotency keys per (tenant, principal, method, key), recorded in the same transaction as
-- the execution they created; `response` is set when the request ended.
CREATE TABLE idempotency_keys (
    tenant_id      TEXT NOT NULL,
    principal      TEXT NOT NULL,
    method         TEXT NOT NULL,
    idem_key       TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    execution_id   TEXT NOT NULL,
    response       TEXT,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, principal, method, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
