-- Webhook triggers made through WebhookService (those of the skills root live in its
-- triggers/webhooks.json). The id is part of the webhook URL, so it is unique across tenants.
CREATE TABLE webhook_triggers (
    id                TEXT    NOT NULL PRIMARY KEY,
    tenant_id         TEXT    NOT NULL,
    skill_id          TEXT    NOT NULL,
    description       TEXT    NOT NULL,
    scheme            TEXT    NOT NULL,
    allow_unsigned    BOOLEAN NOT NULL,
    tolerance_seconds BIGINT  NOT NULL,
    payload_mapping   TEXT    NOT NULL,
    forwarded_headers JSONB   NOT NULL,
    enabled           BOOLEAN NOT NULL,
    principal         TEXT    NOT NULL,
    run_context       JSONB   NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_triggers_tenant ON webhook_triggers (tenant_id, id);

-- A trigger's signing secrets. HMAC needs the secret itself, so it is kept as given; it is
-- never returned after the call that made it. Several are valid during a rotation.
CREATE TABLE webhook_secrets (
    id         TEXT NOT NULL PRIMARY KEY,
    trigger_id TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);
CREATE INDEX webhook_secrets_trigger ON webhook_secrets (trigger_id, created_at);

-- One row per accepted delivery, written in the same transaction as the job it created: a
-- second delivery with the same id finds it and creates nothing.
CREATE TABLE webhook_deliveries (
    trigger_id  TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (trigger_id, delivery_id)
);
CREATE INDEX webhook_deliveries_expiry ON webhook_deliveries (expires_at);
