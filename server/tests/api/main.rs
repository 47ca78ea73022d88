//! Integration tests: the real server on a random port, against a fresh SQLite file and a fresh
//! PostgreSQL database for every test.
#![allow(clippy::unwrap_used)]
mod helpers;

mod accounts;
mod audit;
mod cli;
mod compare;
mod data_keys;
mod environments;
mod exposure;
mod hardening;
mod health;
mod history;
mod leaks;
mod members;
mod openapi;
mod pages;
mod projects;
mod run_time;
mod scale_out;
mod sessions;
mod startup;
mod team_secrets;
mod tokens;
mod upgrade;
mod vault;
