//! Key providers, API-key hashing and envelope encryption.
