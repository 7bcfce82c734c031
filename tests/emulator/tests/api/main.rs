//! The emulator's REST API behaves as Cloudflare's schema, docs and SDKs say Cloudflare does.

#[path = "../support/mod.rs"]
mod support;

mod buckets;
mod controls;
mod tokens;
