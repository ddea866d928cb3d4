-- Dense vector index on pgvector: one row per chunk with its embedding and
-- its document's labels, so retrieval evaluates eligibility (tenant by RLS,
-- groups, purposes) inside the HNSW scan instead of filtering a top-k.
--
-- Feature detection, not a hard requirement: the schema is created by the
-- function `rempart_vector_schema()`, which does nothing (and returns false)
-- when the server has no pgvector, or when this role may not CREATE
-- EXTENSION vector (pgvector is not a trusted extension: a superuser creates
-- it once, then `postgres::bootstrap` is run again and calls the function).
-- The store reports the outcome (`Store::has_vector_index`), so a deployment
-- knows whether it searches in PostgreSQL or in its in-process index.
--
-- The table holds no text: ids, label names and the vector. Rows go with
-- their chunk (foreign key, ON DELETE CASCADE) and the store also deletes
-- them explicitly in the transaction that deletes a document or erases a
-- data subject.
--
-- 384 dimensions: rempart-embed (multilingual-e5-small), L2-normalised;
-- cosine distance (`<=>`, `vector_cosine_ops`). Another model size needs a
-- migration of its own.

CREATE FUNCTION rempart_vector_schema() RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
    IF to_regclass('chunk_vectors') IS NOT NULL THEN
        RETURN true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
            RAISE NOTICE 'rempart: pgvector is not installed on this server: no vector index in PostgreSQL';
            RETURN false;
        END IF;
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'rempart: pgvector is installed but this role may not CREATE EXTENSION vector; have a superuser run it, then run the bootstrap again';
            RETURN false;
        END;
    END IF;
    -- Dynamic SQL: the `vector` type does not exist when this function is
    -- created on a server without pgvector.
    EXECUTE $ddl$
        CREATE TABLE chunk_vectors (
            tenant TEXT NOT NULL CHECK (tenant <> ''),
            collection TEXT NOT NULL,
            document_id UUID NOT NULL,
            seq INTEGER NOT NULL,
            -- The document's labels (documents.labels), copied by the store
            -- in the statement that writes the vectors.
            groups TEXT[] NOT NULL,
            purposes TEXT[] NOT NULL,
            legal_hold BOOLEAN NOT NULL,
            embedding vector(384) NOT NULL,
            PRIMARY KEY (tenant, document_id, seq),
            FOREIGN KEY (tenant, document_id, seq)
                REFERENCES chunks (tenant, document_id, seq) ON DELETE CASCADE
        )
    $ddl$;
    EXECUTE 'CREATE INDEX chunk_vectors_collection ON chunk_vectors (tenant, collection)';
    EXECUTE 'CREATE INDEX chunk_vectors_hnsw ON chunk_vectors
             USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)';
    EXECUTE 'ALTER TABLE chunk_vectors ENABLE ROW LEVEL SECURITY';
    EXECUTE 'ALTER TABLE chunk_vectors FORCE ROW LEVEL SECURITY';
    EXECUTE $pol$
        CREATE POLICY tenant_isolation ON chunk_vectors
            USING (tenant = current_setting('rempart.tenant', true))
            WITH CHECK (tenant = current_setting('rempart.tenant', true))
    $pol$;
    RETURN true;
END
$fn$;

-- Only the owner/admin runs it (from the migration and the bootstrap).
REVOKE ALL ON FUNCTION rempart_vector_schema() FROM PUBLIC;

SELECT rempart_vector_schema();
