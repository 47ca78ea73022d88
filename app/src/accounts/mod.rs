//! Accounts: people, their roles and signing in.
pub mod auth;
pub mod domain;
pub mod members;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub(crate) mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod session;
pub mod setup;
#[cfg(feature = "ssr")]
mod sign_in;
