//! The guides: each job explained once, with examples that run as doc tests. The same
//! files are readable in the repository as `docs/*.md`.
// Links to items behind a feature resolve only with that feature; `cargo doc
// --all-features` (CI, docs.rs) checks every one of them.
#![cfg_attr(
    not(all(
        feature = "jwks",
        feature = "redis",
        feature = "postgres",
        feature = "mcp"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

#[doc = include_str!("../docs/sessions.md")]
pub mod sessions {}

#[doc = include_str!("../docs/resource-server.md")]
pub mod resource_server {}

#[doc = include_str!("../docs/mcp.md")]
pub mod mcp {}

#[doc = include_str!("../docs/dpop.md")]
pub mod dpop {}

#[doc = include_str!("../docs/browser.md")]
pub mod browser {}

#[doc = include_str!("../docs/backends.md")]
pub mod backends {}

#[doc = include_str!("../docs/operations.md")]
pub mod operations {}

#[doc = include_str!("../docs/security.md")]
pub mod security {}

#[doc = include_str!("../docs/examples.md")]
pub mod examples {}
