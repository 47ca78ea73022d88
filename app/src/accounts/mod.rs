//! Accounts: people, their roles and signing in.
pub mod domain;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod service;
