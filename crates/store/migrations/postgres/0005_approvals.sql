-- The approval an execution waits for or waited for.
ALTER TABLE executions ADD COLUMN approval_id TEXT;
CREATE INDEX executions_status ON executions (status, id);

-- Runs held for human approval. An approval binds the tenant, the execution, the skill at one
-- version and the SHA-256 of the canonical payload; it leaves `pending` exactly once.
CREATE TABLE approvals (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL,
    execution_id   TEXT    NOT NULL,
    skill_id       TEXT    NOT NULL,
    skill_version  TEXT    NOT NULL,
    payload_sha256 TEXT    NOT NULL,
    risk_tier      TEXT,
    requester      TEXT    NOT NULL,
    required       INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    policy_id      TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    approver_group TEXT,
    run_context    TEXT    NOT NULL,
    expire_at      TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    resolved_at    TIMESTAMPTZ
);
CREATE INDEX approvals_tenant ON approvals (tenant_id, created_at, id);
CREATE INDEX approvals_pending ON approvals (state, expire_at);

-- One decision per approver and approval.
CREATE TABLE approval_decisions (
    approval_id TEXT    NOT NULL,
    approver    TEXT    NOT NULL,
    approve     BOOLEAN NOT NULL,
    comment     TEXT    NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (approval_id, approver)
);
