//! A background worker: jobs from a queue, one event per job with its duration, failures
//! captured as exceptions with the job's context, a flag that switches the work, and a
//! shutdown (on Ctrl-C, or when the queue is drained) that delivers what is queued.
//!
//! ```text
//! cargo run -p posthog-examples --example worker
//! ```
//!
//! Without `POSTHOG_API_KEY` the events go to an in-process fake PostHog and are printed.

use std::time::{Duration, Instant};

use posthog::context::Context;
use posthog::test_util::FakePostHog;
use posthog::{Client, ClientBuilder, Event, ExceptionOptions, FlagOptions};
use serde_json::json;
use tokio::sync::mpsc;

struct Job {
    id: u32,
    customer: String,
}

/// Runs one job; `Ok(true)` when it ran on the new resizer.
async fn run_job(posthog: &Client, job: &Job) -> Result<bool, std::io::Error> {
    let new_resizer = posthog
        .is_feature_enabled("new-resizer", &job.customer, &FlagOptions::new())
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await; // the work
    if job.id % 4 == 3 {
        return Err(std::io::Error::other(format!(
            "job {} timed out upstream",
            job.id
        )));
    }
    Ok(new_resizer)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let real = std::env::var("POSTHOG_API_KEY").is_ok_and(|k| !k.trim().is_empty());
    let fake = if real {
        None
    } else {
        Some(FakePostHog::start().await)
    };
    let builder = match &fake {
        Some(server) => {
            server.set_flags(
                json!({"flags": {"new-resizer": {"key": "new-resizer", "enabled": true}}}),
            );
            ClientBuilder::new("phc_worker_example").host(server.url())
        }
        None => ClientBuilder::from_env(),
    };
    let posthog = builder
        .super_property("service", "thumbnail-worker")
        .on_error(|e| eprintln!("lost {} event(s): {}", e.count, e.message))
        .build()?;

    let (jobs, mut queue) = mpsc::channel::<Job>(64);
    tokio::spawn(async move {
        for id in 0..8 {
            let job = Job {
                id,
                customer: format!("customer-{}", id % 3),
            };
            if jobs.send(job).await.is_err() {
                break;
            }
        }
    });

    loop {
        let job = tokio::select! {
            job = queue.recv() => match job { Some(job) => job, None => break },
            _ = tokio::signal::ctrl_c() => break,
        };
        // Everything captured while the job runs carries its customer and job id.
        let context = Context::new()
            .distinct_id(job.customer.clone())
            .tag("job_id", job.id);
        context
            .scope(async {
                let started = Instant::now();
                let outcome = run_job(&posthog, &job).await;
                let millis = started.elapsed().as_millis() as u64;
                if let Err(err) = &outcome {
                    posthog.capture_exception(err, "", &ExceptionOptions::default());
                }
                posthog.capture(
                    Event::new("job_finished", "")
                        .property("ok", outcome.is_ok())
                        .property("new_resizer", *outcome.as_ref().unwrap_or(&false))
                        .property("duration_ms", millis),
                );
            })
            .await;
    }

    let report = posthog.shutdown(Duration::from_secs(10)).await;
    println!(
        "worker stopped: {} sent, {} undelivered",
        report.sent, report.undelivered
    );
    if let Some(server) = fake {
        let events = server.events();
        let finished = events
            .iter()
            .filter(|e| e["event"] == "job_finished")
            .count();
        let failed = events.iter().filter(|e| e["event"] == "$exception").count();
        println!("PostHog received {finished} job_finished and {failed} $exception events");
        assert_eq!((finished, failed), (8, 2));
        assert!(events.iter().all(|e| e["properties"]["job_id"].is_number()));
    }
    Ok(())
}
