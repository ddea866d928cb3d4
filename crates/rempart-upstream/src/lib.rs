//! Upstream clients: OpenAI wire types, provider quirks, health and circuit breaker.
