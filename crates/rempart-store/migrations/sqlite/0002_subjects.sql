-- Data subjects, their blind indexes and name tokens, conversations, turns,
-- pseudonym maps and erasure tombstones. The store holds opaque bytes only:
-- ciphertexts, KMS-wrapped keys (text) and blind-index values.
-- Times are microseconds since the Unix epoch (UTC).

CREATE TABLE tenant_keys (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    name TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE subjects (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    id BLOB NOT NULL,
    -- The subject's data key wrapped by the KMS; NULL once crypto-shredded.
    wrapped_key TEXT,
    profile BLOB,
    created INTEGER NOT NULL,
    erased_at INTEGER,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE subject_index (
    tenant TEXT NOT NULL,
    subject_id BLOB NOT NULL,
    name TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (tenant, subject_id, name, value),
    FOREIGN KEY (tenant, subject_id) REFERENCES subjects (tenant, id) ON DELETE CASCADE
);
CREATE INDEX subject_index_lookup ON subject_index (tenant, name, value);

-- Name tokens for partial search: one row per (subject, token); a query
-- intersects the rows of all its tokens.
CREATE TABLE subject_tokens (
    tenant TEXT NOT NULL,
    subject_id BLOB NOT NULL,
    token BLOB NOT NULL,
    PRIMARY KEY (tenant, token, subject_id),
    FOREIGN KEY (tenant, subject_id) REFERENCES subjects (tenant, id) ON DELETE CASCADE
);
CREATE INDEX subject_tokens_subject ON subject_tokens (tenant, subject_id);

CREATE TABLE conversations (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    id BLOB NOT NULL,
    subject_id BLOB,
    created INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX conversations_subject ON conversations (tenant, subject_id);
CREATE INDEX conversations_expiry ON conversations (tenant, expires_at);

CREATE TABLE turns (
    tenant TEXT NOT NULL,
    conversation_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    content BLOB NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (tenant, conversation_id, seq),
    FOREIGN KEY (tenant, conversation_id) REFERENCES conversations (tenant, id) ON DELETE CASCADE
);

CREATE TABLE pseudonym_maps (
    tenant TEXT NOT NULL,
    conversation_id BLOB NOT NULL,
    subject_id BLOB,
    mapping BLOB NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (tenant, conversation_id),
    FOREIGN KEY (tenant, conversation_id) REFERENCES conversations (tenant, id) ON DELETE CASCADE
);
CREATE INDEX pseudonym_maps_subject ON pseudonym_maps (tenant, subject_id);

-- Tombstones: one row per erasure request carried out.
CREATE TABLE erasures (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    subject_id BLOB NOT NULL,
    erased_at INTEGER NOT NULL,
    receipt TEXT NOT NULL CHECK (json_valid(receipt)),
    PRIMARY KEY (tenant, subject_id, erased_at)
);
