//! Test plugin built for a plugin API this host does not support (0.9.0). It is otherwise a
//! working plugin: the host must refuse it by its declared version, naming it, before
//! compiling it, and keep every other plugin serving.
//!
//! It exports itself by hand instead of through `export_plugin!`, which would stamp the
//! SDK's real version; the sections below are what a future SDK would write.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

common::plain_plugin!(Future, "test-future", "future-");

#[cfg(target_arch = "wasm32")]
const _: () = {
    switchboard_plugin_sdk::bindings::__export_channel_plugin!(Future with_types_in switchboard_plugin_sdk::bindings);

    #[unsafe(link_section = "switchboard:api-version")]
    #[used]
    static API_VERSION: [u8; 6] = [0, 0, 0, 9, 0, 0];

    #[unsafe(link_section = "switchboard:plugin-package")]
    #[used]
    static PACKAGE_NAME: [u8; 18] = *b"test-plugin-future";
};
