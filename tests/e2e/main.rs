//! End-to-end tests: the `switchboard` binary over real HTTP and a real SQLite file, with
//! only the providers simulated (`sandbox/`). One test binary, so wasmtime links once.

mod api_input;
mod crash;
mod email;
mod faults;
mod plugin_sandbox;
mod sms;
mod support;
