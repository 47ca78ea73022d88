//! The `sealbox` binary's library: configuration, start-up and the HTTP surface around the app.
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod config;
pub mod health;
pub mod proxy;
pub mod security;
pub mod startup;
pub mod telemetry;
pub mod theme;
