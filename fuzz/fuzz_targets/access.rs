//! The header-to-claims path: any `Authorization` value on a protected route.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::check(http::Method::GET, "/me", data);
});
