-- Encrypted document collections (private RAG) and groups on API keys.
-- Document names and chunk text are sealed under a per-document data key
-- (wrapped by the KMS, stored beside the document); `content_key` is a
-- keyed HMAC of the content's SHA-256 under a per-tenant key, so the same
-- bytes ingested twice into a collection are recognised without storing a
-- plain hash. Labels (groups, purposes, legal hold) are not personal data.
-- Row-Level Security and the tenant policy as on every other table; the
-- application role's grants are (re)issued by `postgres::bootstrap`.

-- Groups of an API key (JSON array of strings): what retrieval eligibility
-- checks a chunk's groups against. The app role keeps SELECT, INSERT.
ALTER TABLE api_keys ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';

CREATE TABLE documents (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    collection TEXT NOT NULL,
    id UUID NOT NULL,
    content_key BYTEA NOT NULL,
    name BYTEA NOT NULL,
    format TEXT NOT NULL,
    pages INTEGER NOT NULL,
    labels JSONB NOT NULL,
    -- The document's data key wrapped by the KMS; NULL once shredded.
    wrapped_key TEXT,
    created TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, collection, content_key)
);
CREATE INDEX documents_collection ON documents (tenant, collection, created);

CREATE TABLE document_subjects (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    document_id UUID NOT NULL,
    subject_id UUID NOT NULL,
    PRIMARY KEY (tenant, document_id, subject_id),
    FOREIGN KEY (tenant, document_id) REFERENCES documents (tenant, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant, subject_id) REFERENCES subjects (tenant, id)
);
CREATE INDEX document_subjects_subject ON document_subjects (tenant, subject_id);

-- One row per collection with documents: its version, bumped in the same
-- transaction as every change to its documents (ingest, delete, a data
-- subject's erasure), so every gateway replica can tell whether its
-- in-memory index is current with one indexed read.
CREATE TABLE collections (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE chunks (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    document_id UUID NOT NULL,
    seq INTEGER NOT NULL,
    text BYTEA NOT NULL,
    heading BYTEA NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    start_offset BIGINT NOT NULL,
    end_offset BIGINT NOT NULL,
    PRIMARY KEY (tenant, document_id, seq),
    FOREIGN KEY (tenant, document_id) REFERENCES documents (tenant, id) ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['documents', 'document_subjects', 'chunks', 'collections'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant = current_setting(''rempart.tenant'', true)) '
            'WITH CHECK (tenant = current_setting(''rempart.tenant'', true))', t);
    END LOOP;
END $$;
