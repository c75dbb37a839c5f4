//! On-disk local cache (CAS + action cache).
