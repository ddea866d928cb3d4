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
            -- A hash of (groups, purposes): finds the rows of the label sets
            -- a principal may see through a btree (bigint equality is
            -- leakproof, so RLS lets it drive an index scan; `&&` is not).
            -- A selector only: the search re-checks the predicate itself.
            label_key BIGINT NOT NULL,
            embedding vector(384) NOT NULL,
            PRIMARY KEY (tenant, document_id, seq),
            FOREIGN KEY (tenant, document_id, seq)
                REFERENCES chunks (tenant, document_id, seq) ON DELETE CASCADE
        )
    $ddl$;
    EXECUTE 'CREATE INDEX chunk_vectors_labels ON chunk_vectors (tenant, collection, label_key)';
    EXECUTE 'CREATE INDEX chunk_vectors_hnsw ON chunk_vectors
             USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128)';
    -- The distinct label sets of each collection with their number of
    -- vectors, kept by statement triggers on chunk_vectors (every path:
    -- insert, upsert, delete, the cascade from chunks): a search counts the
    -- chunks a principal may see from these few rows, and scans them
    -- exactly instead of walking the graph when they are few.
    EXECUTE $ddl$
        CREATE TABLE chunk_label_sets (
            tenant TEXT NOT NULL CHECK (tenant <> ''),
            collection TEXT NOT NULL,
            label_key BIGINT NOT NULL,
            groups TEXT[] NOT NULL,
            purposes TEXT[] NOT NULL,
            chunks BIGINT NOT NULL,
            PRIMARY KEY (tenant, collection, label_key)
        )
    $ddl$;
    EXECUTE $ddl$
        CREATE FUNCTION rempart_label_sets_add() RETURNS trigger LANGUAGE plpgsql AS $t$
        BEGIN
            INSERT INTO chunk_label_sets AS s (tenant, collection, label_key, groups, purposes, chunks)
                SELECT tenant, collection, label_key, min(groups), min(purposes), COUNT(*)
                FROM new_rows GROUP BY tenant, collection, label_key
                ON CONFLICT (tenant, collection, label_key)
                DO UPDATE SET chunks = s.chunks + EXCLUDED.chunks;
            RETURN NULL;
        END $t$
    $ddl$;
    EXECUTE $ddl$
        CREATE FUNCTION rempart_label_sets_remove() RETURNS trigger LANGUAGE plpgsql AS $t$
        BEGIN
            UPDATE chunk_label_sets s SET chunks = s.chunks - o.n
                FROM (SELECT tenant, collection, label_key, COUNT(*) AS n FROM old_rows
                      GROUP BY tenant, collection, label_key) o
                WHERE s.tenant = o.tenant AND s.collection = o.collection
                  AND s.label_key = o.label_key;
            DELETE FROM chunk_label_sets s USING (SELECT DISTINCT tenant, collection, label_key
                                                  FROM old_rows) o
                WHERE s.tenant = o.tenant AND s.collection = o.collection
                  AND s.label_key = o.label_key AND s.chunks <= 0;
            RETURN NULL;
        END $t$
    $ddl$;
    -- An upsert's updated rows leave their old set and join their new one.
    EXECUTE 'CREATE TRIGGER label_sets_insert AFTER INSERT ON chunk_vectors
             REFERENCING NEW TABLE AS new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION rempart_label_sets_add()';
    EXECUTE 'CREATE TRIGGER label_sets_delete AFTER DELETE ON chunk_vectors
             REFERENCING OLD TABLE AS old_rows
             FOR EACH STATEMENT EXECUTE FUNCTION rempart_label_sets_remove()';
    EXECUTE 'CREATE TRIGGER label_sets_update_old AFTER UPDATE ON chunk_vectors
             REFERENCING OLD TABLE AS old_rows
             FOR EACH STATEMENT EXECUTE FUNCTION rempart_label_sets_remove()';
    EXECUTE 'CREATE TRIGGER label_sets_update_new AFTER UPDATE ON chunk_vectors
             REFERENCING NEW TABLE AS new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION rempart_label_sets_add()';
    EXECUTE 'REVOKE ALL ON FUNCTION rempart_label_sets_add() FROM PUBLIC';
    EXECUTE 'REVOKE ALL ON FUNCTION rempart_label_sets_remove() FROM PUBLIC';
    EXECUTE $ddl$
        DO $rls$
        DECLARE t text;
        BEGIN
            FOREACH t IN ARRAY ARRAY['chunk_vectors', 'chunk_label_sets'] LOOP
                EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
                EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
                EXECUTE format(
                    'CREATE POLICY tenant_isolation ON %I '
                    'USING (tenant = current_setting(''rempart.tenant'', true)) '
                    'WITH CHECK (tenant = current_setting(''rempart.tenant'', true))', t);
            END LOOP;
        END $rls$
    $ddl$;
    RETURN true;
END
$fn$;

-- Only the owner/admin runs it (from the migration and the bootstrap).
REVOKE ALL ON FUNCTION rempart_vector_schema() FROM PUBLIC;

SELECT rempart_vector_schema();
