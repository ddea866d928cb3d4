//! Persistence: tenants' API keys and more; SQLite embedded default.
