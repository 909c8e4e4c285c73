//! The evaluator on `wasm32-unknown-unknown`: `posthog-core` and `posthog-flags` build for it,
//! and the flag fixtures pass under Node through wasm-bindgen's test runner. What it needs
//! (the target, wasm-bindgen-cli at the version Cargo.lock pins, Node) is installed when
//! missing.

use std::process::Command;

use crate::{Result, cargo, root};

const TARGET: &str = "wasm32-unknown-unknown";

pub(crate) fn check_and_test() -> Result {
    ensure_target()?;
    ensure_node()?;
    ensure_runner()?;
    cargo(
        &[
            "check",
            "--locked",
            "--target",
            TARGET,
            "-p",
            "posthog-core",
            "-p",
            "posthog-flags",
            "--lib",
        ],
        &[],
    )?;
    cargo(
        &[
            "test",
            "--locked",
            "--target",
            TARGET,
            "-p",
            "posthog-flags",
            "--test",
            "wasm",
        ],
        &[(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )],
    )?;
    edge_example()?;
    eprintln!("==> wasm: core and flags build for {TARGET}; the flag fixtures pass under Node");
    Ok(())
}

/// The `edge` example, built for wasm, bound for Node, called from JavaScript with the
/// benchmark definitions: it must answer the flags the native evaluator answers for that
/// subject (`checkout` is `"green"` for user-123, as `evaluate_file` prints natively).
fn edge_example() -> Result {
    cargo(
        &[
            "build",
            "--locked",
            "--target",
            TARGET,
            "-p",
            "posthog-flags",
            "--example",
            "edge",
        ],
        &[],
    )?;
    let target = root().join("target");
    let wasm = target.join(TARGET).join("debug/examples/edge.wasm");
    let out = target.join("edge");
    let (out_dir, wasm) = (out.to_string_lossy(), wasm.to_string_lossy());
    run(
        "wasm-bindgen",
        &["--target", "nodejs", "--out-dir", &out_dir, &wasm],
    )?;
    let script = format!(
        r#"const {{ evaluate }} = require({module:?});
const definitions = require("fs").readFileSync({definitions:?}, "utf8");
const flags = JSON.parse(evaluate(definitions, "user-123", '{{"email": "ada@acme.com", "plan": "pro"}}'));
if (flags.error || flags.checkout !== "green" || flags["pro-plan"] !== true) {{
  console.error(flags); process.exit(1);
}}
console.log(`edge: ${{Object.keys(flags).length}} flags decided in wasm under Node`);"#,
        module = out.join("edge.js").display().to_string(),
        definitions = root()
            .join("fixtures/bench/thirty_flags.json")
            .display()
            .to_string(),
    );
    run("node", &["-e", &script])
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn sh(script: &str) -> Result {
    eprintln!("==> {script}");
    run("sh", &["-c", script])
}

/// Runs `program` with `args`; an error when it cannot start or fails.
fn run(program: &str, args: &[&str]) -> Result {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program}` failed ({status})"))
    }
}

fn ensure_target() -> Result {
    if output("rustup", &["target", "list", "--installed"])
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    sh(&format!("rustup target add {TARGET}"))
}

fn ensure_node() -> Result {
    if succeeds("node", &["--version"]) {
        return Ok(());
    }
    sh("apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs")
}

/// The `wasm-bindgen` version Cargo.lock pins: the test runner must be the same version.
fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(version.to_owned());
            }
        }
    }
    Err("Cargo.lock pins no wasm-bindgen".into())
}

fn ensure_runner() -> Result {
    let version = locked_wasm_bindgen()?;
    if output("wasm-bindgen-test-runner", &["--version"]).contains(&version) {
        return Ok(());
    }
    // Not `--locked`: the tool's own lockfile may name versions a registry mirror lacks.
    sh(&format!(
        "cargo install --quiet wasm-bindgen-cli --version {version}"
    ))
}
