-- Whether a tenant runs a composition, set through the API; without a row the composition file's
-- "active" decides.
CREATE TABLE composition_activations (
    tenant_id   TEXT    NOT NULL,
    skill_id    TEXT    NOT NULL,
    active      BOOLEAN NOT NULL,
    updated_by  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, skill_id)
);
