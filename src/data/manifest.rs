//! Manifest (stub).
