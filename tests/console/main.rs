//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver,
//! `fantoccini`), against a sandbox gateway on SQLite. Every page visited is saved as a
//! screenshot under `target/console-screenshots/` (before its checks, so a failing test
//! keeps its own).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them
//! the tests fail at once and say how to install them.

#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;

/// The browser tests run on SQLite; the pages are the same on PostgreSQL (`e2e_postgres`
/// runs the console's HTTP tests there).
pub const BACKEND: support::Backend = support::Backend::Sqlite;

mod api_reference;
mod automations;
mod browser;
mod facebook;
mod pages;
mod tour;
