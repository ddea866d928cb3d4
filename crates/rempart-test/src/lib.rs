//! Test helpers: a recording mock upstream speaking the OpenAI API.
