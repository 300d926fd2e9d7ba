-- Skill embeddings, computed once per (model, embedded text) and shared by every tenant: the
-- vector depends only on the text (a hash of the skill's description and tags) and the model.
CREATE TABLE skill_vectors (
    model      TEXT    NOT NULL,
    text_hash  TEXT    NOT NULL,
    dimension  INTEGER NOT NULL,
    vector     BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (model, text_hash)
);

-- Routing corrections and confirmations, per tenant.
CREATE TABLE routing_feedback (
    id                TEXT NOT NULL PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    query             TEXT NOT NULL,
    query_key         TEXT NOT NULL,
    routed_skill_id   TEXT,
    expected_skill_id TEXT,
    source            TEXT NOT NULL,
    comment           TEXT NOT NULL,
    execution_id      TEXT,
    principal         TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX routing_feedback_tenant ON routing_feedback (tenant_id, id);
