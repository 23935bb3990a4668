//! Logging into the host's tracing, tagged with the plugin and connection. Never log secrets;
//! the host cannot tell them apart from other text once they are in a message.

pub use crate::bindings::channel::log::Level;

pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::log::log(level, message)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.logs.push((level, message.to_string())))
    }
}

pub fn debug(message: &str) {
    log(Level::Debug, message)
}
pub fn info(message: &str) {
    log(Level::Info, message)
}
pub fn warn(message: &str) {
    log(Level::Warn, message)
}
pub fn error(message: &str) {
    log(Level::Error, message)
}
