//! The checks that the crates work as users get them: every feature alone (and none, and all),
//! `cargo package` for each published crate, and a project outside the workspace that depends
//! on the SDK by its package name, as README's install line says.

use std::path::Path;
use std::process::Command;

use crate::{Result, cargo, root, run_cargo};

/// The crates users depend on, in dependency order.
pub(crate) const PUBLISHED: &[&str] = &[
    "posthog-core",
    "posthog-flags",
    "posthog-transport",
    "posthog-api",
    "posthog-sdk",
];

/// A crate's features (besides `default`), read from `cargo metadata`.
fn features_of(krate: &str) -> Result<Vec<String>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--locked", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err("cargo metadata failed".into());
    }
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let package = json["packages"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == krate))
        .ok_or_else(|| format!("no package {krate}"))?;
    let mut features: Vec<String> = package["features"]
        .as_object()
        .map(|f| f.keys().filter(|k| *k != "default").cloned().collect())
        .unwrap_or_default();
    features.sort();
    Ok(features)
}

/// `cargo check` of each published crate's library with no default features, with each
/// feature alone, and with all of them: features must compose.
pub(crate) fn feature_matrix() -> Result {
    for krate in PUBLISHED {
        let base = ["check", "--locked", "-q", "-p", krate, "--lib"];
        cargo(&[&base[..], &["--no-default-features"]].concat(), &[])?;
        for feature in features_of(krate)? {
            cargo(
                &[
                    &base[..],
                    &["--no-default-features", "--features", &feature],
                ]
                .concat(),
                &[],
            )?;
        }
        cargo(&[&base[..], &["--all-features"]].concat(), &[])?;
    }
    eprintln!("==> features: every crate builds with none, each alone, and all");
    Ok(())
}

/// `cargo package` of every published crate (the workspace's crates resolve among themselves
/// through cargo's temporary registry); each package is built from its `.crate` file.
pub(crate) fn package() -> Result {
    let mut args = vec!["package", "--locked", "--allow-dirty", "--workspace"];
    args.extend(["--exclude", "xtask", "--exclude", "posthog-examples"]);
    cargo(&args, &[])
}

/// A new project outside the workspace, depending on the SDK by the line README gives (with a
/// path instead of a version until it is published): it must build and run.
pub(crate) fn out_of_tree() -> Result {
    let dir = root().join("target/out-of-tree");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let sdk = root().join("crates/posthog");
    let manifest = format!(
        "[package]\nname = \"uses-posthog\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         # Its own workspace: not a member of the SDK's.\n[workspace]\n\n\
         [dependencies]\nposthog-sdk = {{ path = {:?} }}\n\
         tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n",
        sdk.display().to_string()
    );
    write(&dir.join("Cargo.toml"), &manifest)?;
    write(&dir.join("src/main.rs"), MAIN)?;
    // Start from the SDK's lockfile, so the project builds with the versions CI tested.
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let target = root().join("target");
    let target = target.to_string_lossy();
    let manifest_path = dir.join("Cargo.toml");
    let manifest_path = manifest_path.to_string_lossy();
    run_cargo(
        &["run", "-q", "--manifest-path", &manifest_path],
        |command| {
            command.env("CARGO_TARGET_DIR", &*target);
        },
    )?;
    eprintln!("==> out of tree: `posthog-sdk = {{ path = … }}` builds and runs as `posthog`");
    Ok(())
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The out-of-tree project's program: the library is `posthog`, whatever the package's name.
const MAIN: &str = r##"use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), posthog::Error> {
    // Nothing listens on port 9: the event is reported undelivered at shutdown.
    let client = posthog::Client::builder("phc_out_of_tree")
        .host("http://127.0.0.1:9")
        .build()?;
    assert!(client.capture(posthog::Event::new("installed", "user-1")).is_some());
    let report = client.shutdown(Duration::from_millis(200)).await;
    assert_eq!(report.sent, 0);
    let flags = posthog::flags::FlagSet::from_slice(br#"{"flags": []}"#).expect("definitions");
    assert!(flags.is_empty());
    Ok(())
}
"##;
