//! The fault run of issue 14: producers on several threads capture events into a client at
//! default settings while FakePostHog fails about a third of `/batch/` requests (500, 502,
//! 503, 429 with `Retry-After`, connections closed without an answer, answers cut off after
//! the batch was stored, 413 for batches of more than one event) and goes down entirely for
//! one outage. It then counts, from the server's side, what was stored, lost and duplicated,
//! and from the client's side what was reported.
//!
//! `tests/faults.rs` runs a short form with assertions; `benches/faults.rs` a long one that
//! prints its figures. With `CHAOS_TRACE` set, each request is printed with its time and
//! fate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use posthog::test_util::{FakePostHog, Reply};
use posthog::{ClientBuilder, Event, Stats};

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct ChaosRun {
    /// Producer threads.
    pub(crate) producers: usize,
    /// Events in all.
    pub(crate) events: usize,
    /// Of every 1,000 requests outside the outage, how many fail.
    pub(crate) failures_per_mille: u64,
    /// When the outage starts (after the first capture) and how long it lasts.
    pub(crate) outage: (Duration, Duration),
    /// How long shutdown may take once every event is captured.
    pub(crate) shutdown: Duration,
}

/// What happened.
#[derive(Debug, Clone)]
pub(crate) struct ChaosReport {
    /// Captures the client accepted.
    pub(crate) sent: u64,
    /// Distinct events the server stored.
    pub(crate) stored_unique: u64,
    /// Accepted events the server never stored.
    pub(crate) lost: u64,
    /// Events stored more than once (each time under the same uuid: the count is by uuid).
    pub(crate) duplicated: u64,
    /// Events reported lost through `on_error`.
    pub(crate) reported: u64,
    /// `/batch/` requests, and how many were failed on purpose.
    pub(crate) requests: u64,
    pub(crate) failed_requests: u64,
    /// Captures refused (`None`).
    pub(crate) refused: u64,
    /// The client's counters after shutdown.
    pub(crate) stats: Stats,
    /// From the first capture to the end of shutdown.
    pub(crate) elapsed: Duration,
}

impl std::fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {} · stored unique {} · lost {} · duplicated {} · reported {} · refused {} · \
             requests {} ({} failed on purpose) · {:.1} s",
            self.sent,
            self.stored_unique,
            self.lost,
            self.duplicated,
            self.reported,
            self.refused,
            self.requests,
            self.failed_requests,
            self.elapsed.as_secs_f64()
        )
    }
}

/// A fast, seeded mix of a request number into a number in [0, 1000).
fn per_mille(n: u64) -> u64 {
    let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)) % 1000
}

/// The server's side: what it stored, by uuid.
#[derive(Default)]
struct Stored {
    counts: Mutex<HashMap<String, u32>>,
    requests: AtomicU64,
    failed: AtomicU64,
}

impl Stored {
    fn store(&self, body: &serde_json::Value) {
        let Some(batch) = body["batch"].as_array() else {
            return;
        };
        let mut counts = self.counts.lock().unwrap();
        for event in batch {
            if let Some(uuid) = event["uuid"].as_str() {
                *counts.entry(uuid.to_owned()).or_default() += 1;
            }
        }
    }
}

/// Runs `run` on a two-thread runtime (the CI machine's two cores) and reports.
pub(crate) fn run(run: &ChaosRun) -> ChaosReport {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(FakePostHog::start());
    // The handler decodes each body itself; recording every request would hold them all.
    server.server().set_recording(false);
    let stored = Arc::new(Stored::default());
    let reported = Arc::new(AtomicUsize::new(0));
    let started: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (outage_at, outage_for) = run.outage;
    let failures = run.failures_per_mille;
    let (server_stored, server_started) = (stored.clone(), started.clone());
    server.server().set_handler(Arc::new(move |request| {
        if request.path != "/batch/" {
            return None;
        }
        let n = server_stored.requests.fetch_add(1, Ordering::Relaxed);
        let body = decode(request);
        let since = server_started
            .lock()
            .unwrap()
            .map_or(Duration::ZERO, |t| t.elapsed());
        let down = since >= outage_at && since < outage_at + outage_for;
        let roll = per_mille(n);
        let reply = if down {
            Some(Reply::Close)
        } else if roll < failures {
            let events = body["batch"].as_array().map_or(0, Vec::len);
            Some(match roll % 7 {
                0 => Reply::status(500),
                1 => Reply::status(502),
                2 => Reply::status(503),
                3 => Reply::status(429).header("retry-after", "1"),
                4 => Reply::Close,
                5 => {
                    // Stored, but the answer is lost: the client resends the same events.
                    server_stored.store(&body);
                    Reply::CutOffBody
                }
                _ if events > 1 => Reply::status(413),
                _ => Reply::status(503),
            })
        } else {
            None
        };
        if std::env::var_os("CHAOS_TRACE").is_some() {
            eprintln!(
                "{:>8.3}s req {n} down={down} fail={}",
                since.as_secs_f64(),
                reply.is_some()
            );
        }
        if let Some(reply) = reply {
            server_stored.failed.fetch_add(1, Ordering::Relaxed);
            return Some(reply);
        }
        server_stored.store(&body);
        Some(Reply::ok())
    }));
    let sink = reported.clone();
    let client = {
        let _entered = runtime.enter();
        ClientBuilder::new("phc_chaos")
            .host(server.url())
            .on_error(move |e| {
                sink.fetch_add(e.count, Ordering::Relaxed);
            })
            .build()
            .unwrap()
    };
    let t0 = Instant::now();
    *started.lock().unwrap() = Some(t0);
    let per_thread = run.events / run.producers;
    let producers: Vec<_> = (0..run.producers)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut refused = 0u64;
                for i in 0..per_thread {
                    let event = Event::new("chaos", format!("user-{t}-{}", i % 50))
                        .property("i", i)
                        .property("thread", t)
                        .property("plan", "pro");
                    if client.capture(event).is_none() {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let refused: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
    let _ = runtime.block_on(client.shutdown(run.shutdown));
    let elapsed = t0.elapsed();
    let stats = client.stats();
    let counts = stored.counts.lock().unwrap();
    let sent = (per_thread * run.producers) as u64 - refused;
    let stored_unique = counts.len() as u64;
    ChaosReport {
        sent,
        stored_unique,
        lost: sent.saturating_sub(stored_unique),
        duplicated: counts.values().filter(|&&c| c > 1).count() as u64,
        reported: reported.load(Ordering::Relaxed) as u64,
        requests: stored.requests.load(Ordering::Relaxed),
        failed_requests: stored.failed.load(Ordering::Relaxed),
        refused,
        stats,
        elapsed,
    }
}

/// A `/batch/` body as JSON, gunzipped when it was sent gzipped.
fn decode(request: &posthog::transport::test_util::RecordedRequest) -> serde_json::Value {
    let gzipped = request.header("content-encoding") == Some("gzip");
    let body = if gzipped {
        let mut out = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(&request.raw_body[..]);
        if std::io::Read::read_to_end(&mut decoder, &mut out).is_err() {
            return serde_json::Value::Null;
        }
        out
    } else {
        request.raw_body.to_vec()
    };
    serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
}
