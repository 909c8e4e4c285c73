//! Issue 19: the private-API client against what PostHog really sends (the fake answers in
//! PostHog's shapes): names that are not text, environment vs project scope, the events
//! list's window and paging, HogQL truncation, null columns, running queries and the query
//! throttle.

use std::time::{Duration, Instant};

use posthog::api::{ApiClient, ApiError, EventQuery, PersonQuery};
use posthog::test_util::{FAKE_PERSONAL_API_KEY, FakePostHog};
use serde_json::json;

fn api(server: &FakePostHog) -> ApiClient {
    ApiClient::builder(FAKE_PERSONAL_API_KEY)
        .host(server.url())
        .build()
        .unwrap()
}

fn paths(server: &FakePostHog) -> Vec<String> {
    server.requests().into_iter().map(|r| r.path).collect()
}

/// Item 1: PostHog's `name` is the raw value of the first set email/name/username property,
/// so it can be an object or a number; such a person decodes and the pages go on.
#[tokio::test]
async fn a_person_whose_name_is_not_text_decodes() {
    let server = FakePostHog::start().await;
    let persons = api(&server)
        .persons(&PersonQuery::new())
        .collect_all()
        .await
        .expect("every page decodes");
    assert_eq!(persons.len(), 6);
    let ken = persons
        .iter()
        .find(|p| p.distinct_ids.contains(&"user-ken".to_owned()))
        .unwrap();
    assert_eq!(ken.name, Some(json!({"first": "Ken", "last": "Thompson"})));
    assert_eq!(
        ken.display_name().as_deref(),
        Some(r#"{"first":"Ken","last":"Thompson"}"#)
    );
    assert_eq!(
        persons[0].display_name().as_deref(),
        Some("ada@example.com")
    );
}

/// Item 2: the key's current environment (7) is not its project (1): persons, events,
/// insights and queries go to `/api/environments/7/…`, flags and definitions to
/// `/api/projects/1/…`, and projects are listed through the organisation.
#[tokio::test]
async fn environment_and_project_scopes_are_resolved_apart() {
    let server = FakePostHog::start().await;
    let api = api(&server).resolve_project().await.unwrap();
    assert_eq!((api.project(), api.environment()), ("1", "7"));
    let flags = api
        .feature_flags(None)
        .collect_all()
        .await
        .expect("project-scoped");
    assert!(!flags.is_empty());
    api.event_definitions(None).collect_all().await.unwrap();
    api.persons(&PersonQuery::new())
        .collect_all()
        .await
        .unwrap();
    api.events(&EventQuery::new()).collect_all().await.unwrap();
    api.hogql("select event from events limit 5").await.unwrap();
    assert_eq!(api.projects().collect_all().await.unwrap().len(), 2);
    let paths = paths(&server);
    for expected in [
        "/api/projects/1/feature_flags/",
        "/api/projects/1/event_definitions/",
        "/api/environments/7/persons/",
        "/api/environments/7/events/",
        "/api/environments/7/query/",
        "/api/organizations/@current/projects/",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} in {paths:?}"
        );
    }
}

/// Item 3: the events list looks at the last 24 hours unless told `after`, so the client
/// always says; it pages by `before=`, caps a page at 1,000, and fills `person` only when
/// asked.
#[tokio::test]
async fn the_events_list_reads_all_history_page_by_page() {
    let server = FakePostHog::start().await;
    let api = api(&server);
    let all = api.events(&EventQuery::new()).collect_all().await.unwrap();
    assert_eq!(all.len(), 12, "not only the last 24 hours");
    assert!(all.iter().all(|e| e.person.is_none()));
    let paged = api
        .events(&EventQuery::new().limit(5).include_person(true))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(paged.len(), 12);
    assert!(paged.iter().all(|e| e.person.is_some()));
    let big = api.events(&EventQuery::new().limit(5_000));
    let _ = big.collect_all().await.unwrap();
    let queries: Vec<String> = server
        .requests_to("/api/environments/@current/events/")
        .into_iter()
        .map(|r| r.query.unwrap_or_default())
        .collect();
    assert!(queries.iter().all(|q| q.contains("after=")), "{queries:?}");
    assert!(queries.iter().any(|q| q.contains("before=")), "{queries:?}");
    assert!(
        queries.iter().any(|q| q.contains("limit=1000")),
        "{queries:?}"
    );
}

/// Item 4: a query without LIMIT comes back truncated to 100 rows with `has_more`; columns
/// and types may be null; a query still running is its own error.
#[tokio::test]
async fn hogql_answers_are_modelled_as_posthog_sends_them() {
    let server = FakePostHog::start().await;
    let api = api(&server);
    let truncated = api.hogql("select event from events").await.unwrap();
    assert_eq!(truncated.results.len(), 100);
    assert!(truncated.has_more);
    let limited = api.hogql("select event from events limit 5").await.unwrap();
    assert_eq!((limited.results.len(), limited.has_more), (5, true));

    let all = api
        .hogql_all_rows("select event from events", 100)
        .await
        .expect("three pages");
    assert_eq!(all.len(), 250);
    assert_eq!(all[249], [json!("event-249")]);
    assert!(matches!(
        api.hogql_all_rows("select event from events limit 5", 10)
            .await,
        Err(ApiError::InvalidInput(_))
    ));

    server.set_hogql_result(
        "select 1",
        json!({"results": [[1]], "columns": null, "types": null, "hasMore": null}),
    );
    let bare = api.hogql("select 1").await.expect("null columns decode");
    assert_eq!(
        (bare.columns, bare.types, bare.has_more),
        (None, None, false)
    );

    server.set_hogql_result(
        "select sleep(600)",
        json!({"query_status": {"id": "q-42", "complete": false}, "results": null}),
    );
    let running = api.hogql("select sleep(600)").await.unwrap_err();
    assert!(
        matches!(&running, ApiError::QueryRunning { query_id } if query_id.as_deref() == Some("q-42")),
        "{running:?}"
    );
}

/// Items 4 and 5: PostHog's query throttle asks to wait an hour; the client returns
/// `RateLimited` with that wait at once instead of waiting its 60 s cap twice and failing
/// anyway.
#[tokio::test]
async fn a_long_retry_after_is_returned_at_once() {
    let server = FakePostHog::start().await;
    server.set_query_throttle(1);
    let api = api(&server);
    api.hogql("select event from events limit 5").await.unwrap();
    let started = Instant::now();
    let throttled = api
        .hogql("select event from events limit 5")
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(throttled, ApiError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(3600)),
        "{throttled:?}"
    );
    assert_eq!(
        server
            .requests_to("/api/environments/@current/query/")
            .len(),
        2
    );
}
