//! Examples of the PostHog SDK for Rust in the shapes services take, each with its own
//! dependencies as a user's project would have them (run with `cargo run -p posthog-examples
//! --example <name>`): `axum_service`, `cli`, `worker`. Not published.
