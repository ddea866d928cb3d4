-- Dense retrieval: each chunk's embedding, sealed under its document's data
-- key like its text (AEAD, associated data binding tenant, table, column and
-- chunk id), tagged inside the ciphertext with the model that made it. NULL
-- until a model embedded the chunk (ingested without one, or before dense
-- retrieval was enabled): the retriever embeds and fills it on load.
-- Row-level security and grants on `chunks` already cover the column.
ALTER TABLE chunks ADD COLUMN embedding bytea;
