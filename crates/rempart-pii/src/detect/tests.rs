//! Detector-level tests.
use super::*;
