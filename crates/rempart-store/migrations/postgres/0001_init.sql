-- Rempart schema on PostgreSQL. Every tenant table has Row-Level Security
-- ENABLEd and FORCEd (so even the owner is filtered) with a policy on
-- `tenant = current_setting('rempart.tenant', true)`. The application sets
-- that setting per transaction (`set_config(..., true)`); with none set,
-- `current_setting` is NULL (or '' once a transaction reset it) and no row
-- matches: a connection that forgot the tenant sees nothing.
--
-- The store holds opaque bytes only: ciphertexts, KMS-wrapped keys (text),
-- blind-index values.

-- GIN over (tenant, name_tokens): btree_gin gives GIN a text operator class.
-- It is a trusted extension (PostgreSQL >= 13), shipped with the server.
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    hash TEXT NOT NULL,
    label TEXT,
    created_at TEXT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX api_keys_tenant ON api_keys (tenant);

CREATE TABLE tenant_keys (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    name TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE subjects (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    id UUID NOT NULL,
    -- The subject's data key wrapped by the KMS; NULL once crypto-shredded.
    wrapped_key TEXT,
    profile BYTEA,
    -- Blind name tokens for partial search (`@>` containment, GIN).
    name_tokens BYTEA[] NOT NULL DEFAULT '{}',
    created TIMESTAMPTZ NOT NULL,
    erased_at TIMESTAMPTZ,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX subjects_name_tokens ON subjects USING gin (tenant, name_tokens);

CREATE TABLE subject_index (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    subject_id UUID NOT NULL,
    name TEXT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (tenant, subject_id, name, value),
    FOREIGN KEY (tenant, subject_id) REFERENCES subjects (tenant, id) ON DELETE CASCADE
);
CREATE INDEX subject_index_lookup ON subject_index (tenant, name, value);

CREATE TABLE conversations (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    id UUID NOT NULL,
    subject_id UUID,
    created TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX conversations_subject ON conversations (tenant, subject_id);
CREATE INDEX conversations_expiry ON conversations (tenant, expires_at);

CREATE TABLE turns (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    conversation_id UUID NOT NULL,
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    content BYTEA NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, conversation_id, seq),
    FOREIGN KEY (tenant, conversation_id) REFERENCES conversations (tenant, id) ON DELETE CASCADE
);

CREATE TABLE pseudonym_maps (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    conversation_id UUID NOT NULL,
    subject_id UUID,
    mapping BYTEA NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, conversation_id),
    FOREIGN KEY (tenant, conversation_id) REFERENCES conversations (tenant, id) ON DELETE CASCADE
);
CREATE INDEX pseudonym_maps_subject ON pseudonym_maps (tenant, subject_id);

CREATE TABLE erasures (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    subject_id UUID NOT NULL,
    erased_at TIMESTAMPTZ NOT NULL,
    receipt JSONB NOT NULL,
    PRIMARY KEY (tenant, subject_id, erased_at)
);

-- Row-Level Security on every tenant table.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_keys', 'subjects', 'subject_index', 'conversations',
                             'turns', 'pseudonym_maps', 'erasures', 'api_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant = current_setting(''rempart.tenant'', true)) '
            'WITH CHECK (tenant = current_setting(''rempart.tenant'', true))', t);
    END LOOP;
END $$;

-- Authentication comes before the tenant is known: a lookup sets
-- `rempart.key_id` (per transaction) and may then read that one key row and
-- revoke it (the app role's UPDATE grant on api_keys covers `revoked` only).
CREATE POLICY key_by_id_select ON api_keys FOR SELECT
    USING (id = current_setting('rempart.key_id', true));
CREATE POLICY key_by_id_revoke ON api_keys FOR UPDATE
    USING (id = current_setting('rempart.key_id', true))
    WITH CHECK (id = current_setting('rempart.key_id', true));
