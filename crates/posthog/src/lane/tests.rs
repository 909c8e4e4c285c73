//! The lane with a toy route (numbers sent as a JSON array to `/toy/`) against the
//! transport's test server: batching, retries, `Retry-After`, 413 halving, overflow
//! policies, flush and shutdown deadlines, loss reports. No event type is involved.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use posthog_transport::Transport;
use posthog_transport::test_util::{Reply, TestServer};

use super::{
    Answer, Arena, Lane, LaneConfig, Loss, LossKind, NotTaken, OnLoss, Outgoing, Overflow, Refusal,
    Route, SendFuture,
};

/// Numbers, sent as `[1,2,3]`; a number over 999 cannot be encoded.
struct Toy;

impl Route for Toy {
    type Item = u32;

    fn name(&self) -> &'static str {
        "toy"
    }

    fn retryable(&self, status: u16) -> bool {
        // 418: a status this route chooses to retry, besides the lane's usual ones.
        matches!(status, 408 | 418 | 429 | 500..=599)
    }

    fn id(&self, item: &u32) -> Option<u128> {
        Some(u128::from(*item))
    }

    fn encode(&self, item: u32, _arena: &mut Arena) -> Result<Bytes, Refusal> {
        if item > 999 {
            return Err(Refusal::invalid(format!("{item} is too big for a toy")));
        }
        Ok(Bytes::from(item.to_string()))
    }

    /// `POST /toy/?key=…&attempt=…` with `[1,2,3]`; a 2xx body `{"retry":[i…],"drop":[i…]}`
    /// gives per-item verdicts by position.
    fn send<'a>(&'a self, transport: &'a Transport, batch: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let body: Vec<&[u8]> = batch.bodies().collect();
            let body = Bytes::from([b"[".as_slice(), &body.join(&b","[..]), b"]"].concat());
            let path = format!("/toy/?key={}&attempt={}", batch.key, batch.attempt);
            let response = transport.post_json(&path, body, Some(false), false).await?;
            let mut answer = Answer::status(
                response.status(),
                posthog_transport::retry::classify::retry_after(response.headers()),
            );
            let verdicts: serde_json::Value =
                serde_json::from_slice(response.body()).unwrap_or_default();
            let at = |key: &str| -> Vec<usize> {
                verdicts[key]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|i| i.as_u64())
                            .map(|i| i as usize)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            answer
                .not_taken
                .extend(at("retry").into_iter().map(|i| (i, NotTaken::Retry)));
            answer.not_taken.extend(
                at("drop")
                    .into_iter()
                    .map(|i| (i, NotTaken::Dropped("no toys today".into()))),
            );
            Ok(answer)
        })
    }
}

struct Setup {
    server: TestServer,
    lane: Lane<u32>,
    losses: Arc<Mutex<Vec<Loss>>>,
}

async fn setup(config: LaneConfig) -> Setup {
    let server = TestServer::start().await.expect("server");
    let transport = Transport::builder("phc_lane")
        .host(server.url())
        .build()
        .expect("transport");
    let losses = Arc::new(Mutex::new(Vec::new()));
    let sink = losses.clone();
    let on_loss: OnLoss = Arc::new(move |loss: &Loss| sink.lock().unwrap().push(loss.clone()));
    let runtime = tokio::runtime::Handle::current();
    let lane = Lane::start(Toy, transport, config, Some(on_loss), &runtime);
    Setup {
        server,
        lane,
        losses,
    }
}

impl Setup {
    /// The ids of the items lost for `kind`, in the order reported.
    fn ids_lost(&self, kind: LossKind) -> Vec<u128> {
        let losses = self.losses.lock().unwrap();
        losses
            .iter()
            .filter(|l| l.kind == kind)
            .flat_map(|l| l.ids.clone())
            .collect()
    }
}

/// The numbers each `/toy/` request carried, in arrival order.
fn bodies(server: &TestServer) -> Vec<Vec<u64>> {
    server
        .requests_to("/toy/")
        .iter()
        .map(|r| {
            r.json()
                .as_array()
                .map(|a| a.iter().filter_map(|n| n.as_u64()).collect())
                .unwrap_or_default()
        })
        .collect()
}

fn quick(config: LaneConfig) -> LaneConfig {
    LaneConfig {
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
        ..config
    }
}

#[tokio::test]
async fn batches_are_cut_by_count_and_flushed() {
    let s = setup(LaneConfig {
        flush_at: 10,
        flush_interval: Duration::from_secs(60),
        ..LaneConfig::default()
    })
    .await;
    for n in 0..25 {
        assert!(s.lane.push(n));
    }
    let report = s.lane.flush().await;
    assert_eq!((report.sent, report.failed, report.pending), (25, 0, 0));
    let mut sizes: Vec<usize> = bodies(&s.server).iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [5, 10, 10]);
    assert_eq!(s.lane.stats().sent, 25);
}

#[tokio::test]
async fn the_interval_sends_a_partial_batch() {
    let s = setup(LaneConfig {
        flush_at: 100,
        flush_interval: Duration::from_millis(50),
        ..LaneConfig::default()
    })
    .await;
    s.lane.push(7);
    let started = Instant::now();
    while s.lane.stats().sent == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(bodies(&s.server), [[7]]);
    // Later, with the worker asleep and holding nothing: the next item goes out after the
    // interval too, not when the worker next happens to wake.
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.lane.push(8);
    let pushed = Instant::now();
    while s.lane.stats().sent == 1 && pushed.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(bodies(&s.server), [[7], [8]]);
}

#[tokio::test]
async fn failures_are_retried_and_retry_after_is_a_floor() {
    // `Retry-After` is capped at `backoff_cap`: 2 s here.
    let s = setup(LaneConfig {
        backoff_cap: Duration::from_secs(2),
        ..quick(LaneConfig::default())
    })
    .await;
    s.server.script([
        Reply::status(503),
        Reply::status(429).header("retry-after", "1"),
        Reply::ok(),
    ]);
    s.lane.push(1);
    s.lane.push(2);
    let report = s.lane.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.sent, report.failed), (2, 0));
    let attempts = s.server.requests_to("/toy/");
    assert_eq!(attempts.len(), 3);
    let waited = attempts[2].at.duration_since(attempts[1].at);
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 s, waited {waited:?}"
    );
    assert!(s.losses.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_413_halves_the_batch_and_a_single_item_is_lost() {
    let s = setup(LaneConfig::default()).await;
    s.server.script([
        Reply::status(413),
        Reply::ok(),
        Reply::status(413),
        Reply::status(413),
    ]);
    for n in 1..=4 {
        s.lane.push(n);
    }
    let report = s.lane.flush().await;
    // [1,2,3,4] → 413; [1,2] ok; [3,4] → 413; [3] → 413 (lost); [4] ok.
    assert_eq!((report.sent, report.failed), (3, 1));
    assert_eq!(
        bodies(&s.server),
        [vec![1, 2, 3, 4], vec![1, 2], vec![3, 4], vec![3], vec![4]]
    );
    let losses = s.losses.lock().unwrap().clone();
    assert_eq!(losses.len(), 1);
    assert_eq!(
        (losses[0].kind, losses[0].count, losses[0].status),
        (LossKind::TooLarge, 1, Some(413))
    );
}

/// The sizes of the batches sent for `rounds` of items (each round flushed) when the first
/// answer is a 413.
async fn sizes_after_a_413(
    shrink_after_413: bool,
    rounds: &[std::ops::RangeInclusive<u32>],
) -> Vec<usize> {
    let s = setup(LaneConfig {
        flush_at: 8,
        shrink_after_413,
        ..LaneConfig::default()
    })
    .await;
    s.server.script([Reply::status(413)]);
    for round in rounds {
        for n in round.clone() {
            s.lane.push(n);
        }
        s.lane.flush().await;
    }
    assert!(s.losses.lock().unwrap().is_empty());
    bodies(&s.server).iter().map(Vec::len).collect()
}

/// C-LOGS.17: after a 413 the lane cuts batches of at most half the refused one, and each
/// healthy send ramps the size back up by one, to `flush_at`.
#[tokio::test]
async fn after_a_413_batches_stay_halved_and_ramp_back_by_one_per_healthy_send() {
    // [1..8] → 413: halves of 4, each a healthy send (limit 4 → 5 → 6); limit 6: [11..16]
    // (→ 7), then [17, 18] (→ 8); then full batches again.
    let sizes = sizes_after_a_413(true, &[1..=8, 11..=18, 21..=29]).await;
    assert_eq!(sizes, [8, 4, 4, 6, 2, 8, 1]);
}

/// Without `shrink_after_413` (events, C-BATCHER.7) only the refused batch is halved.
#[tokio::test]
async fn without_shrink_after_413_the_next_batch_is_full_size() {
    assert_eq!(
        sizes_after_a_413(false, &[1..=8, 11..=18]).await,
        [8, 4, 4, 8]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn overflow_drops_the_incoming_or_the_oldest() {
    for (policy, kept) in [
        (Overflow::DropIncoming, vec![1, 2, 3]),
        (Overflow::DropOldest, vec![3, 4, 5]),
    ] {
        let s = setup(LaneConfig {
            queue_size: 3,
            overflow: policy,
            ..LaneConfig::default()
        })
        .await;
        // The worker has not run yet on this single thread: the queue fills.
        let accepted: Vec<bool> = (1..=5).map(|n| s.lane.push(n)).collect();
        let report = s.lane.flush().await;
        assert_eq!(report.sent, 3, "{policy:?}");
        assert_eq!(bodies(&s.server), [kept], "{policy:?}");
        let dropped = s.lane.stats().dropped;
        assert_eq!(dropped, 2, "{policy:?}");
        let refused = accepted.iter().filter(|a| !**a).count();
        assert_eq!(
            refused,
            if policy == Overflow::DropIncoming {
                2
            } else {
                0
            }
        );
        let losses = s.losses.lock().unwrap().clone();
        assert!(losses.iter().all(|l| l.kind == LossKind::QueueFull));
        let lost: Vec<u128> = losses.iter().flat_map(|l| l.ids.clone()).collect();
        let expected: Vec<u128> = if policy == Overflow::DropIncoming {
            vec![4, 5]
        } else {
            vec![1, 2]
        };
        assert_eq!(lost, expected, "{policy:?}: the dropped items are named");
    }
}

#[tokio::test]
async fn rejected_invalid_and_exhausted_items_are_reported() {
    let s = setup(quick(LaneConfig {
        max_retries: Some(1),
        max_item_bytes: 3,
        ..LaneConfig::default()
    }))
    .await;
    s.server.script([Reply::status(400)]);
    s.lane.push(1);
    s.lane.flush().await;
    s.server.script([Reply::status(500), Reply::status(500)]);
    s.lane.push(2);
    s.lane.push(1000); // cannot be encoded
    s.lane.shutdown(Duration::from_secs(5)).await;
    let kinds: Vec<(LossKind, usize, Vec<u128>)> = s
        .losses
        .lock()
        .unwrap()
        .iter()
        .map(|l| (l.kind, l.count, l.ids.clone()))
        .collect();
    // Each loss names the items it lost (the route's ids).
    assert_eq!(
        kinds,
        [
            (LossKind::Rejected, 1, vec![1]),
            (LossKind::Invalid, 1, vec![1000]),
            (LossKind::RetriesExhausted, 1, vec![2])
        ]
    );
    let stats = s.lane.stats();
    assert_eq!(
        (stats.queued, stats.sent, stats.failed, stats.dropped),
        (3, 0, 3, 0)
    );
    assert!(!s.lane.push(3), "shut down: refused");
}

#[tokio::test]
async fn shutdown_is_bounded_by_its_deadline_and_reports_what_is_left() {
    let s = setup(LaneConfig::default()).await;
    s.server
        .script([Reply::ok().delay(Duration::from_secs(3600))]);
    for n in 0..5 {
        s.lane.push(n);
    }
    let started = Instant::now();
    let report = s.lane.shutdown(Duration::from_millis(300)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!((report.sent, report.failed), (0, 5));
    let losses = s.losses.lock().unwrap().clone();
    assert_eq!(losses.len(), 1);
    assert_eq!(
        (losses[0].kind, losses[0].count),
        (LossKind::ShutdownTimeout, 5)
    );
    let mut ids = losses[0].ids.clone();
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2, 3, 4], "the report names every item left");
}

#[tokio::test]
async fn a_flush_reports_batches_waiting_for_a_retry_as_pending() {
    let s = setup(LaneConfig {
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(30),
        ..LaneConfig::default()
    })
    .await;
    s.server.script([Reply::status(503)]);
    s.lane.push(1);
    let report = s.lane.flush().await;
    assert_eq!((report.sent, report.failed, report.pending), (0, 0, 1));
}

/// While the worker holds `max_held_bytes` (here: a batch waiting out a long backoff), it
/// takes nothing more from the queue: the queue fills and its overflow policy drops and
/// reports, instead of memory growing through the outage.
#[tokio::test]
async fn the_worker_holds_at_most_max_held_bytes() {
    let s = setup(LaneConfig {
        queue_size: 3,
        flush_at: 2,
        max_held_bytes: 4, // "1,2" is 2 bytes: one batch of two items fills it
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(30),
        ..LaneConfig::default()
    })
    .await;
    s.server.script([Reply::status(503)]);
    s.lane.push(10);
    s.lane.push(11);
    let report = s.lane.flush().await; // the batch failed and waits 30 s for its retry
    assert_eq!(report.pending, 2);
    let accepted: Vec<bool> = (20..30).map(|n| s.lane.push(n)).collect();
    assert_eq!(
        accepted.iter().filter(|a| **a).count(),
        3,
        "the queue took three, the worker none"
    );
    assert_eq!(s.lane.stats().dropped, 7);
    let lost = s.ids_lost(LossKind::QueueFull);
    assert_eq!(lost, (23..30).collect::<Vec<u128>>());
    // The shutdown takes the queue whatever the worker holds; the server has recovered, so
    // the queued three are delivered and their success lets the retry go at once.
    let report = s.lane.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.sent, report.failed), (5, 0));
    assert_eq!(
        s.server.requests_to("/toy/").len(),
        1 + 2 + 1,
        "[10,11], [20,21], [22], [10,11]"
    );
}

/// The route's answer reads item by item: delivered, dropped (lost and reported with its id)
/// or retried — as the same batch, with the same key, as its next attempt.
#[tokio::test]
async fn per_item_verdicts_drop_or_resend_as_the_same_batch() {
    let s = setup(quick(LaneConfig {
        flush_at: 4,
        ..LaneConfig::default()
    }))
    .await;
    s.server.script([
        Reply::json(200, &serde_json::json!({"retry": [1, 3], "drop": [2]})),
        Reply::json(200, &serde_json::json!({})),
    ]);
    for n in [1, 2, 3, 4] {
        s.lane.push(n);
    }
    let report = s.lane.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.sent, report.failed), (3, 1));
    assert_eq!(bodies(&s.server), [vec![1, 2, 3, 4], vec![2, 4]]);
    let requests = s.server.requests_to("/toy/");
    let query = |i: usize| requests[i].query.clone().unwrap_or_default();
    let key = |q: &str| q.split('&').next().unwrap_or_default().to_owned();
    assert_eq!(key(&query(0)), key(&query(1)), "one key for both attempts");
    assert!(query(0).ends_with("attempt=1") && query(1).ends_with("attempt=2"));
    let losses = s.losses.lock().unwrap();
    assert_eq!(losses.len(), 1);
    assert_eq!(
        (losses[0].kind, &losses[0].ids),
        (LossKind::Rejected, &vec![3])
    );
    assert!(
        losses[0].message.contains("no toys today"),
        "{}",
        losses[0].message
    );
    let stats = s.lane.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.retried, stats.batches),
        (3, 1, 2, 2)
    );
}

/// What is retried is the route's to say: this one retries 418.
#[tokio::test]
async fn the_route_says_which_statuses_are_retried() {
    let s = setup(quick(LaneConfig::default())).await;
    s.server
        .script([Reply::status(418), Reply::ok(), Reply::status(409)]);
    s.lane.push(1);
    let report = s.lane.flush().await;
    assert_eq!(
        (report.sent, report.pending),
        (0, 1),
        "418: waits for a retry"
    );
    let report = s.lane.flush().await;
    assert_eq!(report.sent, 1, "a flush gives a waiting retry its attempt");
    s.lane.push(2);
    let report = s.lane.flush().await;
    assert_eq!((report.sent, report.failed), (0, 1), "409 is final");
    assert_eq!(s.server.requests_to("/toy/").len(), 3);
}

/// A flush covers what was queued before it, by batch identity: pushes that keep coming
/// while it waits do not hold it up.
#[tokio::test]
async fn a_flush_waits_for_its_own_batches_only() {
    let s = setup(LaneConfig {
        flush_at: 10,
        ..LaneConfig::default()
    })
    .await;
    s.server
        .set_default(Reply::ok().delay(Duration::from_millis(50)));
    for n in 0..10 {
        s.lane.push(n);
    }
    let lane = s.lane.clone();
    let pusher = tokio::spawn(async move {
        for n in 10..400u32 {
            lane.push(n % 1000);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let report = tokio::time::timeout(Duration::from_secs(2), s.lane.flush())
        .await
        .expect("the flush answers while pushes continue");
    assert!(report.sent >= 10, "{report:?}");
    pusher.abort();
}

/// Items the caller encoded itself keep their place among the others, and past `queue_size`
/// they are still taken within the byte budget (`max_held_bytes`).
#[tokio::test]
async fn encoded_items_keep_their_order_and_fit_the_byte_budget() {
    let s = setup(LaneConfig {
        queue_size: 2,
        flush_at: 100,
        flush_interval: Duration::from_secs(60),
        max_held_bytes: 8,
        ..LaneConfig::default()
    })
    .await;
    // The worker is idle (no batch's worth, no tick for a minute): everything stays queued.
    assert!(s.lane.push(1));
    assert!(
        s.lane
            .push_encoded(Some(2), Bytes::from_static(b"2"))
            .is_ok()
    );
    assert!(s.lane.try_push(3).is_err(), "two items: the queue is full");
    assert!(
        s.lane
            .push_encoded(Some(4), Bytes::from_static(b"44"))
            .is_ok()
    );
    assert!(
        s.lane
            .push_encoded(Some(5), Bytes::from_static(b"555"))
            .is_ok()
    );
    assert!(
        matches!(
            s.lane.push_encoded(Some(6), Bytes::from_static(b"6666")),
            Err(super::Refused::Full(()))
        ),
        "1 + 2 + 3 + 4 bytes is over 8"
    );
    assert!(!s.lane.push(7), "push reports the full queue");
    let report = s.lane.flush().await;
    assert_eq!(report.sent, 4);
    assert_eq!(bodies(&s.server), [vec![1, 2, 44, 555]]);
    let dropped: Vec<u128> = s
        .losses
        .lock()
        .unwrap()
        .iter()
        .flat_map(|l| l.ids.clone())
        .collect();
    assert_eq!(
        dropped,
        [7],
        "refusals of try_push and push_encoded are the caller's to report"
    );
}

/// A worker stopped with items held (its runtime shut down before the lane's shutdown) says
/// so, with their ids.
#[test]
fn a_worker_dropped_with_items_reports_them_abandoned() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let losses = Arc::new(Mutex::new(Vec::new()));
    let sink = losses.clone();
    let on_loss: OnLoss = Arc::new(move |loss: &Loss| sink.lock().unwrap().push(loss.clone()));
    let lane = {
        let _entered = runtime.enter();
        Lane::start(
            Toy,
            Transport::builder("phc_lane")
                .host("http://127.0.0.1:9")
                .build()
                .expect("transport"),
            LaneConfig {
                flush_interval: Duration::from_secs(60),
                ..LaneConfig::default()
            },
            Some(on_loss),
            runtime.handle(),
        )
    };
    for n in [1, 2, 3] {
        lane.push(n);
    }
    drop(runtime);
    let losses = losses.lock().unwrap();
    assert_eq!(losses.len(), 1, "{losses:?}");
    assert_eq!(losses[0].kind, LossKind::Abandoned);
    assert_eq!(losses[0].ids, [1, 2, 3]);
    assert!(lane.worker_gone());
    assert!(!lane.push(4), "a lane whose worker is gone refuses items");
}

/// The worker processes at most `DRAIN_STEP` queued items per turn of its loop and wakes
/// itself for the rest (so sends and packing get their turn under a producer as fast as it).
#[tokio::test]
async fn a_drain_takes_a_bounded_step_and_wakes_itself_for_the_rest() {
    let s = setup(LaneConfig {
        queue_size: 100_000,
        flush_at: 100_000,
        flush_interval: Duration::from_secs(60),
        ..LaneConfig::default()
    })
    .await;
    let step = super::worker::DRAIN_STEP;
    for n in 0..(step + 10) as u32 {
        s.lane.push(n % 1000);
    }
    let report = tokio::time::timeout(Duration::from_secs(5), s.lane.flush())
        .await
        .expect("the rest is taken at once, not at the next interval");
    assert_eq!(report.sent, (step + 10) as u64);
}

/// A worker that reaches `max_held_bytes` halfway through what it took from the queue puts
/// the rest back at the queue's front, so a `DropOldest` queue drops those (the oldest), and a
/// flush queued behind them is answered with them counted as pending.
#[tokio::test]
async fn a_stalled_worker_gives_back_what_it_took_and_the_oldest_go_first() {
    let s = setup(LaneConfig {
        queue_size: 9,
        overflow: Overflow::DropOldest,
        flush_at: 100,
        flush_interval: Duration::from_secs(60),
        max_held_bytes: 4,
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(30),
        ..LaneConfig::default()
    })
    .await;
    s.server.script([Reply::status(503)]);
    for n in 1..=9 {
        assert!(s.lane.push(n));
    }
    // The worker takes 1..4 (4 bytes: full), gives 5..9 back, and sends [1,2,3,4], which
    // fails and waits 30 s.
    let report = s.lane.flush().await;
    assert_eq!((report.sent, report.pending), (0, 4 + 5));
    for n in 20..=25 {
        assert!(s.lane.push(n));
    }
    let dropped = s.ids_lost(LossKind::QueueFull);
    assert_eq!(
        dropped,
        [5, 6],
        "the oldest queued, not the oldest the worker left alone"
    );
    assert_eq!(bodies(&s.server), [vec![1, 2, 3, 4]]);
}

/// Numbers written with 200 leading zeros: items that deflate well.
struct Padded;

impl Route for Padded {
    type Item = u32;

    fn name(&self) -> &'static str {
        "padded"
    }

    fn encode(&self, item: u32, _arena: &mut Arena) -> Result<Bytes, Refusal> {
        Ok(Bytes::from(format!("{item:0>200}")))
    }

    fn send<'a>(&'a self, transport: &'a Transport, batch: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let body = Bytes::from(batch.bodies().collect::<Vec<_>>().join(&b"\n"[..]));
            let response = transport
                .post_json("/padded/", body, Some(false), false)
                .await?;
            Ok(Answer::status(response.status(), None))
        })
    }
}

/// Behind a stalled server, 1,000 items of 200 bytes go through a lane that may hold 64 KiB:
/// with `pack_backlog` the waiting batches are deflated and the worker keeps taking items
/// (none dropped); without it, it stops at 64 KiB and the queue overflows.
#[tokio::test]
async fn packing_holds_a_backlog_in_a_fraction_of_the_memory() {
    async fn run(pack_backlog: bool) -> super::LaneStats {
        let server = TestServer::start().await.expect("server");
        server.script([Reply::ok().delay(Duration::from_millis(1500))]);
        let transport = Transport::builder("phc_lane")
            .host(server.url())
            .build()
            .expect("transport");
        let lane = Lane::start(
            Padded,
            transport,
            LaneConfig {
                queue_size: 50,
                flush_at: 10,
                max_in_flight: 1,
                max_held_bytes: 64 * 1024,
                pack_backlog,
                ..LaneConfig::default()
            },
            None,
            &tokio::runtime::Handle::current(),
        );
        for n in 0..1000u32 {
            lane.push(n);
            if n % 25 == 24 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        lane.shutdown(Duration::from_secs(10)).await;
        lane.stats()
    }
    let packed = run(true).await;
    assert_eq!((packed.sent, packed.dropped), (1000, 0), "{packed:?}");
    let plain = run(false).await;
    assert!(plain.dropped > 0, "{plain:?}");
    assert_eq!(plain.sent + plain.dropped, 1000);
}
