//! Unit tests of the worker's loop steps (the whole pipeline is tested over HTTP in
//! `tests/`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::{DRAIN_STEP, Drained, Msg, Worker, WorkerConfig};
use crate::capture::Defaults;
use crate::report::Counters;

fn worker(rx: mpsc::Receiver<Msg>, wake: Arc<Notify>) -> Worker {
    let transport = posthog_transport::Transport::builder("phc_test")
        .host("http://127.0.0.1:9")
        .build()
        .expect("transport");
    let config = WorkerConfig {
        flush_at: 100,
        flush_interval: Duration::from_secs(60),
        max_batch_bytes: 1 << 20,
        max_event_bytes: 1 << 20,
        max_retries: Some(0),
        retry_for: Duration::from_secs(120),
        max_pending_bytes: 128 << 20,
        max_in_flight: 2,
        retry: posthog_transport::RetryPolicy::ingestion(0),
        v1: None,
        debug: false,
        in_app: crate::exceptions::InApp::default(),
        drop_timeout: std::time::Duration::from_secs(1),
    };
    let defaults = Arc::new(Defaults::new(&crate::Properties::new(), false));
    Worker::new(
        rx,
        tokio::sync::oneshot::channel().1,
        wake,
        transport,
        "phc_test",
        false,
        config,
        Arc::new(Counters::default()),
        None,
        defaults,
        Arc::new(super::Shared::new(128 << 20)),
    )
}

fn json(i: usize) -> Msg {
    Msg::Json {
        uuid: Uuid::from_u128(i as u128),
        json: Bytes::from(format!(r#"{{"event":"e","distinct_id":"u","n":{i}}}"#)),
    }
}

#[tokio::test]
async fn a_drain_takes_a_bounded_step_and_wakes_itself_for_the_rest() {
    let extra = 10;
    let (tx, rx) = mpsc::channel(DRAIN_STEP + extra);
    let wake = Arc::new(Notify::new());
    let mut worker = worker(rx, wake.clone());
    for i in 0..DRAIN_STEP + extra {
        tx.try_send(json(i)).expect("room");
    }

    assert!(matches!(worker.drain(), Drained::Open));
    assert_eq!(worker.buffer.len(), DRAIN_STEP);
    assert_eq!(
        tx.max_capacity() - tx.capacity(),
        extra,
        "the rest stays queued"
    );
    // The worker's loop must not sleep on the rest: the wake-up is already stored.
    tokio::time::timeout(Duration::from_secs(1), wake.notified())
        .await
        .expect("a stored wake-up");

    let started = Instant::now();
    assert!(matches!(worker.drain(), Drained::Open));
    assert_eq!(worker.buffer.len(), DRAIN_STEP + extra);
    assert!(started.elapsed() < Duration::from_secs(1));
}
