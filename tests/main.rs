//! Integration and conformance tests, linked into one binary.
