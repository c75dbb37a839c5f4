//! Tests of gc and stats.
