//! The refresh path: any `Authorization` value on `POST /sessions/refresh/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::check(http::Method::POST, "/sessions/refresh/", data);
});
