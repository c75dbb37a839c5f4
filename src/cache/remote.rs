//! Remote cache over the Bazel HTTP cache protocol.
