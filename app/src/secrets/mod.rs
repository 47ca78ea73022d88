//! Secrets: the domain types, and (server only) the service every caller goes through.
pub mod domain;
#[cfg(feature = "ssr")]
pub mod service;
