//! The HTTP server: OpenAI-compatible API, auth, configuration and the request path.
