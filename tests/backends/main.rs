//! The shared backends against real servers, in one binary: Redis (feature `redis`,
//! `REDIS_URL`), Postgres (feature `postgres`, `DATABASE_URL`), and two example servers over
//! one Redis. `.ci/run` starts what is missing:
//! `cargo test --features redis,postgres --test backends`.

#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "redis")]
#[path = "../../examples/server/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../../examples/server/backend.rs"]
#[allow(dead_code)]
mod backend;
#[cfg(feature = "redis")]
#[path = "../../examples/common/env.rs"]
#[allow(dead_code)]
mod env;

mod example_instances;
mod postgres;
mod redis;
mod redis_cluster;
