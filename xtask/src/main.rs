//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: every check CI runs (formatting, clippy, tests, the quickstart and API-tutorial
//!   examples, docs, fixture sync, dependency guards, the feature matrix, the wasm build and tests,
//!   `cargo package` and an out-of-tree project), stopping at the first failure;
//! - `sync-fixtures [--check]`: copy `../shared/fixtures` into `fixtures/` (or only compare);
//! - `bench`: run the benchmarks and print medians with ratios to their floors.

mod packaging;
mod wasm;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("sync-fixtures") => sync_fixtures(args.iter().any(|a| a == "--check")),
        Some("bench") => bench(&args[1..]),
        _ => {
            Err("usage: cargo xtask <ci | sync-fixtures [--check] | bench [criterion args]>".into())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result {
    run_cargo(args, |command| {
        command.envs(env.iter().copied());
    })
}

/// Runs `cargo args` in the workspace root, after `setup` adjusts the command.
fn run_cargo(args: &[&str], setup: impl FnOnce(&mut Command)) -> Result {
    eprintln!("\n==> cargo {}", args.join(" "));
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).current_dir(root());
    setup(&mut command);
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// The Redis cache test needs `redis-server`; install it from Debian's packages when missing
/// and possible (root with apt-get), else say what to do.
fn ensure_redis_server() -> Result {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    eprintln!("==> redis-server not found; installing it with apt-get");
    let install = Command::new("sh")
        .args(["-c", "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server"])
        .status()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if install.success() {
        Ok(())
    } else {
        Err("redis-server is needed by the Redis cache test: install it (apt-get install redis-server)".into())
    }
}

fn ci() -> Result {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    sync_fixtures(true)?;
    // Clippy also enforces the MSRV: `incompatible_msrv` flags std APIs newer than
    // `rust-version`, and the lockfile was resolved for that version.
    cargo(
        &[
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    ensure_redis_server()?;
    cargo(
        &["test", "--locked", "--workspace", "--all-features"],
        &[("INSTA_UPDATE", "no")],
    )?;
    // The README's quickstart, the API tutorial and the axum, CLI and worker examples, end to
    // end against the in-process fake.
    for example in ["quickstart", "api_tutorial"] {
        run_example(&["-p", "posthog-sdk", "--features", "test-util"], example)?;
    }
    for example in ["axum_service", "cli", "worker"] {
        run_example(&["-p", "posthog-examples"], example)?;
    }
    cargo(
        &["doc", "--locked", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-Dwarnings")],
    )?;
    cargo(
        &[
            "check",
            "--locked",
            "-p",
            "posthog-flags",
            "--no-default-features",
        ],
        &[],
    )?;
    // Each crate alone, as a user builds it: dev-dependencies' features must not be what
    // makes it compile; then with no features, each feature alone, and all.
    for krate in packaging::PUBLISHED {
        cargo(&["check", "--locked", "-p", krate, "--lib"], &[])?;
    }
    packaging::feature_matrix()?;
    wasm::check_and_test()?;
    packaging::package()?;
    packaging::out_of_tree()?;
    no_runtime_in(&["posthog-core", "posthog-flags"])?;
    lane_stands_alone()?;
    eprintln!("\nxtask ci: all checks passed");
    Ok(())
}

/// Runs an example (of `package`) with no PostHog keys in its environment, so it
/// talks to its in-process fake PostHog.
fn run_example(package: &[&str], name: &str) -> Result {
    let args = [&["run", "--locked", "-q"], package, &["--example", name]].concat();
    run_cargo(&args, |command| {
        command
            .env_remove("POSTHOG_API_KEY")
            .env_remove("POSTHOG_PERSONAL_API_KEY")
            .stdout(std::process::Stdio::null());
    })
}

/// The delivery lane (`crates/posthog/src/lane/`) knows items and bytes, not the SDK: none of
/// its files may use anything of the crate outside `lane/`.
fn lane_stands_alone() -> Result {
    let dir = root().join("crates/posthog/src/lane");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("crate::") || code.contains("super::super") {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    if !found.is_empty() {
        return Err(format!(
            "lane/ reaches outside itself:\n{}",
            found.join("\n")
        ));
    }
    eprintln!("==> lane/: uses nothing of the crate outside itself");
    Ok(())
}

/// The pure crates must not pull an async runtime or an HTTP stack.
fn no_runtime_in(crates: &[&str]) -> Result {
    const FORBIDDEN: &[&str] = &[
        "tokio",
        "hyper",
        "tower",
        "async-std",
        "reqwest",
        "futures-executor",
    ];
    for krate in crates {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "tree", "--locked", "-p", krate, "-e", "normal", "--prefix", "none", "--format",
                "{p}",
            ])
            .current_dir(root())
            .output()
            .map_err(|e| format!("cannot run cargo tree: {e}"))?;
        let tree = String::from_utf8_lossy(&out.stdout);
        let bad: Vec<&str> = tree
            .lines()
            .filter(|line| {
                FORBIDDEN
                    .iter()
                    .any(|f| line.split_whitespace().next() == Some(*f))
            })
            .collect();
        if !out.status.success() || !bad.is_empty() {
            return Err(format!("{krate} must not depend on a runtime: {bad:?}"));
        }
        eprintln!(
            "==> {krate}: no runtime dependencies ({} crates)",
            tree.lines().count()
        );
    }
    Ok(())
}

fn sync_fixtures(check_only: bool) -> Result {
    let shared = root().join("../shared/fixtures");
    let local = root().join("fixtures");
    if !shared.is_dir() {
        eprintln!("==> ../shared/fixtures not found; fixtures/ is used as committed");
        return Ok(());
    }
    let mut stale = Vec::new();
    copy_tree(&shared, &local, check_only, &mut stale)?;
    if check_only && !stale.is_empty() {
        return Err(format!(
            "fixtures/ is out of date with ../shared/fixtures: {stale:?}; run `cargo xtask sync-fixtures`"
        ));
    }
    eprintln!(
        "==> fixtures {}",
        if check_only {
            "match ../shared/fixtures"
        } else {
            "synced"
        }
    );
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, check_only: bool, stale: &mut Vec<String>) -> Result {
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst, check_only, stale)?;
            continue;
        }
        let want = std::fs::read(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        if std::fs::read(&dst).ok().as_deref() == Some(&want[..]) {
            continue;
        }
        stale.push(dst.display().to_string());
        if !check_only {
            std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
            std::fs::write(&dst, &want).map_err(|e| format!("{}: {e}", dst.display()))?;
        }
    }
    Ok(())
}

/// Benchmark groups and the bench each group's ratios are taken against.
const GROUPS: &[(&str, &str, &str, &str)] = &[
    ("posthog-flags", "evaluate", "flags", "sha1_floor"),
    (
        "posthog-transport",
        "batch",
        "transport",
        "bare_hyper_gzip_1000",
    ),
];

/// Benchmarks, then a table of criterion's medians with each one's ratio to its floor.
fn bench(extra: &[String]) -> Result {
    for (krate, bench, _, _) in GROUPS {
        let mut args = vec!["bench", "--locked", "-p", krate, "--bench", bench, "--"];
        args.extend(extra.iter().map(String::as_str));
        cargo(&args, &[])?;
    }
    for (krate, _, group, floor_name) in GROUPS {
        let dir = root().join("target/criterion").join(group);
        let floor = median_ns(&dir.join(floor_name))?;
        println!("\n{krate}: medians (ratio to {floor_name})");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n != "report")
            .collect();
        names.sort();
        for name in names {
            if let Ok(ns) = median_ns(&dir.join(&name)) {
                let shown = if ns >= 1e6 {
                    format!("{:.3} ms", ns / 1e6)
                } else {
                    format!("{ns:.1} ns")
                };
                println!("  {name:<24} {shown:>12}   {:>5.2}x", ns / floor);
            }
        }
    }
    println!(
        "\ntargets: flags/rollout_50 <= 2.00x; flags/all_30_flags <= 2000 ns; transport/stack <= 1.10x"
    );
    // The client's benchmarks print their own figures (medians, ratios, p99, events/s, RSS).
    for (bench, features) in [
        ("flags", "test-util"),
        ("exceptions", "test-util"),
        ("pipeline", "test-util"),
        ("faults", "test-util"),
        ("logs", "tracing,test-util"),
        ("traces", "tracing,test-util"),
    ] {
        cargo(
            &[
                "bench",
                "--locked",
                "-p",
                "posthog-sdk",
                "--features",
                features,
                "--bench",
                bench,
            ],
            &[],
        )?;
    }
    Ok(())
}

fn median_ns(dir: &Path) -> Result<f64> {
    let path = dir.join("new/estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    json["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{}: no median", path.display()))
}
