//! A command-line tool with the blocking client: no async runtime of its own. It checks a
//! feature flag, records what the command did (and a failure, as an exception), and flushes
//! before it exits, as a short-lived process must.
//!
//! ```text
//! cargo run -p posthog-examples --example cli -- import data.csv
//! ```
//!
//! Without `POSTHOG_API_KEY` the events go to an in-process fake PostHog (hosted on a runtime
//! the example starts for the fake only) and are printed.

use std::time::Duration;

use posthog::test_util::FakePostHog;
use posthog::{ClientBuilder, Event, ExceptionOptions, FlagOptions};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map_or("import", String::as_str).to_owned();
    let file = args.get(1).map_or("data.csv", String::as_str).to_owned();

    // The fake PostHog needs a runtime; the blocking client brings its own.
    let fake_runtime = tokio::runtime::Runtime::new()?;
    let real = std::env::var("POSTHOG_API_KEY").is_ok_and(|k| !k.trim().is_empty());
    let fake = (!real).then(|| fake_runtime.block_on(FakePostHog::start()));
    let builder = match &fake {
        Some(server) => {
            server.set_flags(
                json!({"flags": {"fast-import": {"key": "fast-import", "enabled": true}}}),
            );
            ClientBuilder::new("phc_cli_example").host(server.url())
        }
        None => ClientBuilder::from_env(),
    };
    let posthog = builder.build_blocking()?;
    let user = std::env::var("USER").unwrap_or_else(|_| "cli-user".into());

    let fast = posthog.is_feature_enabled("fast-import", &user, &FlagOptions::new());
    posthog.capture(
        Event::new("cli_command_run", &user)
            .property("command", command.as_str())
            .property("fast_path", fast),
    );
    if let Err(err) = std::fs::metadata(&file) {
        posthog.capture_exception(&err, &user, &ExceptionOptions::default());
        eprintln!("{command}: cannot read {file}: {err}");
    }

    // A CLI exits right away: deliver what is queued first (bounded).
    let report = posthog.shutdown(Duration::from_secs(5));
    println!(
        "{command}: {} event(s) sent, {} undelivered",
        report.sent, report.undelivered
    );
    if let Some(server) = fake {
        for event in server.events() {
            println!(
                "PostHog received {} from {}",
                event["event"], event["distinct_id"]
            );
        }
        assert_eq!(report.undelivered, 0);
        assert!(
            server
                .events()
                .iter()
                .any(|e| e["event"] == "cli_command_run")
        );
    }
    Ok(())
}
