//! Test plugin exported the way plugins were before the SDK stamped an API version: no
//! `switchboard:api-version` section. The host must judge it by the version of the
//! `switchboard:channel/plugin@0.1.0` interface it exports, load it, and send through it.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

common::plain_plugin!(Unversioned, "test-unversioned", "unversioned-");

#[cfg(target_arch = "wasm32")]
const _: () = {
    switchboard_plugin_sdk::bindings::__export_channel_plugin!(Unversioned with_types_in switchboard_plugin_sdk::bindings);
};
