//! Integration tests of the `kunci` binary and the application it builds. One test binary;
//! a module per feature; shared set-up in `helpers`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failing test should stop at the step that failed"
)]

mod account_page;
mod admin_accounts;
mod audit;
mod backup;
mod canary;
mod cli;
mod config;
mod connections;
mod console_admin_browser;
mod console_browser;
mod console_pages;
mod contract;
mod docs_snippets;
mod doctor;
mod examples;
mod faults;
mod findings;
mod forward_auth;
mod generic;
mod headers;
mod health;
mod helpers;
mod inventory;
mod key_import;
mod languages;
mod limits;
mod lockout;
mod login;
mod metrics;
mod mfa;
mod mobile;
mod notifications;
mod outage_log;
mod pool;
mod pool_instances;
mod pool_settings;
mod routes;
mod secrets;
mod service;
mod sessions;
mod shutdown;
mod tls;
