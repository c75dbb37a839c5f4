//! Which files a test run opened: an `LD_PRELOAD` shim that logs every
//! file opened by name, by the test and by every process it starts, so
//! that a run that read something outside its declared inputs is not
//! cached (see `docs/test-observation.md`).
//!
//! [`prepare`] builds the shim (C, compiled once with the system compiler
//! into a cache directory); [`Shim::instrument`] points a command at a log;
//! [`read_log`] reads back what was opened and [`AccessPolicy::undeclared`]
//! keeps what the run may not read undeclared.

mod log;
pub(crate) mod path;
mod policy;
mod shim;

pub(crate) use log::read_log;
pub(crate) use policy::AccessPolicy;
#[cfg(test)]
pub(crate) use shim::ShimError;
pub(crate) use shim::{prepare, Availability, Shim};

#[cfg(test)]
mod tests;
