-- Encrypted document collections (private RAG) and groups on API keys.
-- Document names and chunk text are sealed under a per-document data key
-- (wrapped by the KMS, stored beside the document); `content_key` is a
-- keyed HMAC of the content's SHA-256 under a per-tenant key, so the same
-- bytes ingested twice into a collection are recognised without storing a
-- plain hash. Labels (groups, purposes, legal hold) are not personal data.

-- Groups of an API key (JSON array of strings): what retrieval eligibility
-- checks a chunk's groups against.
ALTER TABLE api_keys ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';

CREATE TABLE documents (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    collection TEXT NOT NULL,
    id BLOB NOT NULL,
    content_key BLOB NOT NULL,
    name BLOB NOT NULL,
    format TEXT NOT NULL,
    pages INTEGER NOT NULL,
    labels TEXT NOT NULL CHECK (json_valid(labels)),
    -- The document's data key wrapped by the KMS; NULL once shredded.
    wrapped_key TEXT,
    created INTEGER NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, collection, content_key)
);
CREATE INDEX documents_collection ON documents (tenant, collection, created);

-- Registered data subjects a document is about: erasing the subject
-- deletes the document.
CREATE TABLE document_subjects (
    tenant TEXT NOT NULL,
    document_id BLOB NOT NULL,
    subject_id BLOB NOT NULL,
    PRIMARY KEY (tenant, document_id, subject_id),
    FOREIGN KEY (tenant, document_id) REFERENCES documents (tenant, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant, subject_id) REFERENCES subjects (tenant, id)
);
CREATE INDEX document_subjects_subject ON document_subjects (tenant, subject_id);

CREATE TABLE chunks (
    tenant TEXT NOT NULL,
    document_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    text BLOB NOT NULL,
    heading BLOB NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    PRIMARY KEY (tenant, document_id, seq),
    FOREIGN KEY (tenant, document_id) REFERENCES documents (tenant, id) ON DELETE CASCADE
);

-- One row per collection with documents: its version, bumped in the same
-- transaction as every change to its documents (ingest, delete, a data
-- subject's erasure), so every gateway replica can tell whether its
-- in-memory index is current with one indexed read.
CREATE TABLE collections (
    tenant TEXT NOT NULL CHECK (tenant <> ''),
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);
