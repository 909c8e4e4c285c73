//! The private API client (`posthog::api`) against FakePostHog's private API: every call,
//! filter encoding, pagination across pages (offset, and `before=` for events), and each
//! error kind. The fake answers in PostHog's real shapes (see `test_util::api`).

use posthog::api::{
    ApiClient, ApiError, EventQuery, FeatureFlagUpdate, Filter, Id, InsightQuery, NewFeatureFlag,
    PersonQuery, PropertyDefinitionQuery, PropertyFilter, Refresh,
};
use posthog::test_util::{FAKE_PERSONAL_API_KEY, FakePostHog, Reply};

fn api(server: &FakePostHog) -> ApiClient {
    ApiClient::builder(FAKE_PERSONAL_API_KEY)
        .host(server.url())
        .build()
        .unwrap()
}

/// The query string of the `n`-th request to a path starting with `prefix`.
fn queries_to(server: &FakePostHog, prefix: &str) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .map(|r| r.query.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_tutorial_current_user_and_project() {
    let server = FakePostHog::start().await;
    let api = api(&server);
    let me = api.me().await.unwrap();
    assert_eq!(me.email.as_deref(), Some("ada@example.com"));
    let team = me.team.clone().unwrap();
    assert_eq!(
        (team.id, team.project_id),
        (7, Some(1)),
        "an environment of project 1"
    );
    assert_eq!(api.project(), "@current");
    let resolved = api.resolve_project().await.unwrap();
    assert_eq!((resolved.project(), resolved.environment()), ("1", "7"));
    assert_eq!(
        resolved.current_project().await.unwrap().name,
        "Default project"
    );
    let projects = api.projects().collect_all().await.unwrap();
    assert_eq!(projects.len(), 2);
    // The key goes as a bearer header only, never in the query.
    let request = &server.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {FAKE_PERSONAL_API_KEY}").as_str())
    );
    assert!(request.query.is_none());
}

#[tokio::test]
async fn insights_list_by_short_id_and_aggregated_value() {
    let server = FakePostHog::start().await;
    let api = api(&server).with_scope(1, 7);
    let all = api
        .insights(&InsightQuery::new())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let basic = api
        .insights(&InsightQuery::new().basic(true))
        .collect_all()
        .await
        .unwrap();
    assert!(
        basic.iter().all(|i| i.result.is_none()),
        "basic: metadata only"
    );
    let by_short = api.insight_by_short_id("Ab12Cd34").await.unwrap().unwrap();
    assert_eq!(by_short.id, 921029);
    assert!(api.insight_by_short_id("nope").await.unwrap().is_none());
    // The tutorial's trend total: a line graph has no `aggregated_value`; its `count` is.
    let trend = api.insight(921029, None).await.unwrap();
    assert!(
        trend.result.as_ref().unwrap()[0]
            .get("aggregated_value")
            .is_none()
    );
    assert_eq!(trend.aggregated_value(), Some(1234.0));
    assert_eq!(
        trend.filters,
        Some(serde_json::json!({})),
        "a query-based insight"
    );
    // Nothing cached: no result until asked to compute.
    let cold = api.insight(921030, None).await.unwrap();
    assert_eq!(cold.aggregated_value(), None);
    let computed = api.insight(921030, Some(Refresh::Blocking)).await.unwrap();
    assert_eq!(computed.aggregated_value(), Some(87.0));
    assert!(
        queries_to(&server, "/api/environments/7/insights/921030/")
            .contains(&"refresh=blocking".to_owned())
    );
}

/// The tutorial's person filter, encoded as PostHog expects, and the other person filters.
#[tokio::test]
async fn persons_filtered_by_property_and_fetched_one_by_one() {
    let server = FakePostHog::start().await;
    let api = api(&server);
    let linux =
        PersonQuery::new().properties(PropertyFilter::person("$initial_os").exact(vec!["Linux"]));
    let persons = api.persons(&linux).collect_all().await.unwrap();
    let names: Vec<_> = persons
        .iter()
        .map(|p| p.properties["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            serde_json::json!("ada"),
            serde_json::json!("linus"),
            serde_json::json!({"first": "Ken", "last": "Thompson"})
        ]
    );
    let sent = queries_to(&server, "/api/environments/@current/persons/");
    assert_eq!(
        sent[0],
        "properties=%5B%7B%22key%22%3A%22%24initial_os%22%2C%22value%22%3A%5B%22Linux%22%5D%2C%22operator%22%3A%22exact%22%2C%22type%22%3A%22person%22%7D%5D"
    );

    let pro_over_40 = Filter::all([
        PropertyFilter::person("plan").exact("pro"),
        PropertyFilter::person("age").gt(40),
    ]);
    let older_pros = api
        .persons(&PersonQuery::new().properties(pro_over_40))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(older_pros.len(), 2, "margaret and ken");
    let either = Filter::any([
        PropertyFilter::person("$initial_os").exact("Windows"),
        PropertyFilter::person("email").is_not_set(),
    ]);
    assert_eq!(
        api.persons(&PersonQuery::new().properties(either))
            .collect_all()
            .await
            .unwrap()
            .len(),
        2
    );
    let by_distinct_id = api
        .persons(&PersonQuery::new().distinct_id("user-grace"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(by_distinct_id.len(), 1);
    let by_search = api
        .persons(&PersonQuery::new().search("example.org"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(by_search[0].properties["name"], "linus");
    let by_email = api
        .persons(&PersonQuery::new().email("ada@example.com"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(by_email.len(), 1);

    // One person, by UUID (a list's id) and by number (a single fetch's id); a distinct id
    // is refused by PostHog.
    let ada = api.person(&by_email[0].id).await.unwrap();
    assert_eq!(ada.distinct_ids, ["user-ada", "anon-1"]);
    assert_eq!(by_email[0].id, Id::Text(ada.uuid.clone().unwrap()));
    assert_eq!(ada.id, Id::Number(1));
    let same = api.person(&ada.id).await.unwrap();
    assert_eq!(same.uuid, ada.uuid);
    assert!(matches!(
        api.person("user-ada").await,
        Err(ApiError::Validation(body)) if body.detail.as_deref().unwrap().contains("distinct_id")
    ));
    assert!(matches!(
        api.person("../users").await,
        Err(ApiError::InvalidInput(_))
    ));

    // Their events.
    let events = api.person_events(&ada).collect_all().await.unwrap();
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e.distinct_id == "user-ada"));
}

/// Offset pagination (persons, `count` present) and cursor pagination (events, no count),
/// each across several pages; `next` links name another host spelling and are re-based.
#[tokio::test]
async fn pagination_follows_next_links_across_pages() {
    let server = FakePostHog::start().await;
    let api = api(&server);
    let mut pages = api.persons(&PersonQuery::new().limit(2));
    let mut seen = Vec::new();
    while let Some(person) = pages.try_next().await.unwrap() {
        seen.push(person.id.to_string());
    }
    let uuids: Vec<String> = (1..=6)
        .map(|n| format!("018f1111-0000-7000-8000-00000000000{n}"))
        .collect();
    assert_eq!(seen, uuids);
    assert_eq!(pages.pages_read(), 3);
    assert_eq!(pages.count(), Some(6));
    let sent = queries_to(&server, "/api/environments/@current/persons/");
    assert_eq!(sent, ["limit=2", "limit=2&offset=2", "limit=2&offset=4"]);
    // Every request went to the configured host (the links said `localhost`).
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("host").unwrap().starts_with("127.0.0.1"))
    );

    let events = api
        .events(&EventQuery::new().limit(5))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(events.len(), 12);
    let sent = queries_to(&server, "/api/environments/@current/events/");
    assert_eq!(sent.len(), 3);
    assert!(sent[1].contains("before="), "{sent:?}");
    // Newest first, no duplicates across pages.
    let mut ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    assert!(events[0].timestamp > events[11].timestamp);

    // A cap on pages.
    let capped = api
        .persons(&PersonQuery::new().limit(2))
        .max_pages(2)
        .collect_all()
        .await
        .unwrap();
    assert_eq!(capped.len(), 4);
}

#[tokio::test]
async fn events_and_definitions_with_filters() {
    let server = FakePostHog::start().await;
    let api = api(&server);
    let pageviews = api
        .events(&EventQuery::new().event("$pageview"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(pageviews.len(), 7);
    let orders = api
        .events(&EventQuery::new().properties(PropertyFilter::event("revenue").gte(10)))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].event, "order_completed");
    let grace = api
        .events(
            &EventQuery::new()
                .distinct_id("user-grace")
                .after("2026-11-20T10:05:00Z"),
        )
        .collect_all()
        .await
        .unwrap();
    assert_eq!(grace.len(), 1);

    let defs = api.event_definitions(None).collect_all().await.unwrap();
    assert_eq!(defs.len(), 7);
    let dollar = api
        .event_definitions(Some("$"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(dollar.len(), 4);
    let person_props = api
        .property_definitions(&PropertyDefinitionQuery::new().person())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(person_props.len(), 4);
    let numeric = api
        .property_definitions(&PropertyDefinitionQuery::new().numerical())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(numeric.len(), 1);
    assert_eq!(numeric[0].property_type.as_deref(), Some("Numeric"));
    let on_pageviews = api
        .property_definitions(&PropertyDefinitionQuery::new().event_names(["$pageview"]))
        .collect_all()
        .await
        .unwrap();
    assert!(on_pageviews.iter().all(|d| d.name != "revenue"));
    assert!(
        queries_to(&server, "/api/projects/@current/property_definitions/")
            .iter()
            .any(|q| q.contains("event_names=%5B%22%24pageview%22%5D&filter_by_event_names=true"))
    );
}

#[tokio::test]
async fn feature_flags_are_managed_from_rust() {
    let server = FakePostHog::start().await;
    let api = api(&server);
    let before = api.feature_flags(None).collect_all().await.unwrap();
    assert_eq!(before.len(), 3, "a soft-deleted flag is listed too");
    assert_eq!(before.iter().filter(|f| f.deleted).count(), 1);
    let created = api
        .create_feature_flag(
            &NewFeatureFlag::new("rust-sdk-rollout")
                .name("Rust SDK")
                .rollout(25.0),
        )
        .await
        .unwrap();
    assert_eq!(created.key, "rust-sdk-rollout");
    assert_eq!(created.filters["groups"][0]["rollout_percentage"], 25.0);
    assert_eq!(api.feature_flag(created.id).await.unwrap().name, "Rust SDK");

    let duplicate = api
        .create_feature_flag(&NewFeatureFlag::new("rust-sdk-rollout"))
        .await
        .unwrap_err();
    let ApiError::Validation(body) = &duplicate else {
        panic!("{duplicate:?}")
    };
    assert_eq!(
        (body.code.as_deref(), body.attr.as_deref()),
        (Some("unique"), Some("key"))
    );

    let off = api
        .update_feature_flag(
            created.id,
            &FeatureFlagUpdate::new().active(false).name("Paused"),
        )
        .await
        .unwrap();
    assert!(!off.active);
    assert_eq!(off.name, "Paused");
    let patch = server
        .requests()
        .into_iter()
        .rfind(|r| r.method == http::Method::PATCH)
        .unwrap();
    assert_eq!(
        patch.json(),
        serde_json::json!({"name": "Paused", "active": false})
    );

    let deleted = api.delete_feature_flag(created.id).await.unwrap();
    assert!(deleted.deleted);
    // Soft-deleted: still listed and fetched, marked deleted.
    let listed = api.feature_flags(None).collect_all().await.unwrap();
    assert_eq!(listed.iter().filter(|f| !f.deleted).count(), 2);
    assert!(api.feature_flag(created.id).await.unwrap().deleted);
    let search = api
        .feature_flags(Some("checkout"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(search[0].key, "new-checkout");
}

#[tokio::test]
async fn hogql_queries_with_typed_rows() {
    let server = FakePostHog::start().await;
    let api = api(&server);
    let rows: Vec<(String, u64)> = api
        .hogql_rows("select event, count() from events group by event order by count() desc, event")
        .await
        .unwrap();
    assert_eq!(rows[0], ("$pageview".to_owned(), 7));
    assert_eq!(rows.iter().map(|(_, c)| c).sum::<u64>(), 12);
    let sent = server.requests_to("/api/environments/@current/query/")[0].json();
    assert_eq!(sent["query"]["kind"], "HogQLQuery");
    assert_eq!(sent["refresh"], "blocking");

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Revenue {
        day: String,
        total: f64,
    }
    server.set_hogql_result(
        "SELECT toDate(timestamp) AS day, sum(properties.revenue) AS total FROM events GROUP BY day",
        serde_json::json!({"results": [["2026-11-20", 49.5]], "columns": ["day", "total"], "hasMore": false}),
    );
    let revenue: Vec<Revenue> = api
        .hogql_rows("select toDate(timestamp) as day, sum(properties.revenue) as total from events group by day")
        .await
        .unwrap();
    assert_eq!(
        revenue,
        [Revenue {
            day: "2026-11-20".into(),
            total: 49.5
        }]
    );
    let response = api.hogql("select 1").await.unwrap_err();
    assert!(
        matches!(response, ApiError::Validation(ref b) if b.code.as_deref() == Some("syntax_error"))
    );
    assert!(matches!(
        api.hogql("  ").await,
        Err(ApiError::InvalidInput(_))
    ));
}

/// 401, 403, 404, 429 (retried, then given up on) and the secrecy of the key.
#[tokio::test]
async fn each_error_kind_is_typed_and_the_key_stays_secret() {
    let server = FakePostHog::start().await;
    let wrong_key = "phx_wrong_secret_value";
    let bad = ApiClient::builder(wrong_key)
        .host(server.url())
        .build()
        .unwrap();
    let err = bad.me().await.unwrap_err();
    let ApiError::Unauthorized(body) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(body.code.as_deref(), Some("authentication_failed"));
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");
    for text in [err.to_string(), format!("{err:?}"), format!("{bad:?}")] {
        assert!(!text.contains(wrong_key), "{text}");
    }

    let api = api(&server);
    server.deny_scope("person:read");
    let err = api
        .persons(&PersonQuery::new())
        .collect_all()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::Forbidden(b) if b.detail.as_deref().unwrap().contains("person:read")),
        "{err:?}"
    );
    assert!(matches!(
        api.insight(1, None).await,
        Err(ApiError::NotFound(_))
    ));
    assert!(matches!(
        api.with_project(99)
            .insights(&InsightQuery::new())
            .collect_all()
            .await,
        Err(ApiError::NotFound(_))
    ));

    // 429 with Retry-After on a read: waited out and retried.
    let throttled = serde_json::json!({"type": "throttled_error", "code": "throttled", "detail": "Request was throttled. Expected available in 1 second.", "attr": null});
    server.script([Reply::json(429, &throttled).header("retry-after", "1")]);
    let started = std::time::Instant::now();
    assert!(api.me().await.is_ok());
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    // Still throttled after the retries: a typed error carrying Retry-After.
    server.script((0..3).map(|_| Reply::json(429, &throttled).header("retry-after", "0")));
    let err = api.me().await.unwrap_err();
    assert!(
        matches!(&err, ApiError::RateLimited { body, .. } if body.code.as_deref() == Some("throttled")),
        "{err:?}"
    );
    // Writes are not retried on 429.
    server.script([Reply::json(429, &throttled).header("retry-after", "0")]);
    let before = server.requests().len();
    let err = api
        .create_feature_flag(&NewFeatureFlag::new("not-twice"))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::RateLimited { .. }));
    assert_eq!(server.requests().len(), before + 1);
    assert!(matches!(
        ApiClient::builder(" ").build(),
        Err(ApiError::InvalidInput(_))
    ));
}

/// The blocking variant, for scripts.
#[test]
fn the_blocking_client_reproduces_the_tutorial() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakePostHog::start());
    let api = ApiClient::builder(FAKE_PERSONAL_API_KEY)
        .host(server.url())
        .build_blocking()
        .unwrap();
    let project = api.resolve_project().unwrap();
    assert_eq!(project.inner().project(), "1");
    assert_eq!(project.inner().environment(), "7");
    assert_eq!(api.me().unwrap().first_name.as_deref(), Some("Ada"));
    let insights: Vec<_> = api
        .insights(&InsightQuery::new().limit(1))
        .max_pages(2)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(insights.len(), 2);
    assert_eq!(
        api.insight(921029, None).unwrap().aggregated_value(),
        Some(1234.0)
    );
    let linux: Vec<_> = api
        .persons(
            &PersonQuery::new()
                .properties(PropertyFilter::person("$initial_os").exact(vec!["Linux"])),
        )
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(linux.len(), 3);
    let ada = api.person(&linux[0].id).unwrap();
    assert_eq!(api.person_events(&ada).count(), 5);
    let flag = api
        .create_feature_flag(&NewFeatureFlag::new("from-a-script"))
        .unwrap();
    assert!(api.delete_feature_flag(flag.id).unwrap().deleted);
    assert_eq!(api.event_definitions(None).count(), 7);
    assert_eq!(
        api.property_definitions(&PropertyDefinitionQuery::new().person())
            .count(),
        4
    );
    assert_eq!(
        api.feature_flags(None).count(),
        4,
        "two, one retired, one just deleted"
    );
    assert_eq!(api.projects().count(), 2);
    assert!(api.feature_flag(1).is_ok());
    assert!(
        api.update_feature_flag(1, &FeatureFlagUpdate::new().active(false))
            .is_ok()
    );
    assert!(api.insight_by_short_id("Ab12Cd34").unwrap().is_some());
    assert!(api.hogql("select nothing").is_err());
    assert_eq!(api.events(&EventQuery::new()).count(), 12);
    let rows: Vec<(String, u64)> = api
        .hogql_rows("select event, count() from events group by event order by count() desc, event")
        .unwrap();
    assert_eq!(rows.len(), 5);
}

/// A swapped HTTP stack (here not even HTTP) serves the API client too.
#[tokio::test]
async fn a_custom_http_stack_serves_the_api_client() {
    use bytes::Bytes;
    let service = tower::service_fn(|req: http::Request<Bytes>| async move {
        let body = match req.uri().path() {
            "/api/users/@me/" => {
                r#"{"id": 7, "email": "svc@example.com", "team": {"id": 42, "name": "P"}}"#
            }
            "/api/projects/42/feature_flags/" => {
                r#"{"next": null, "results": [{"id": 1, "key": "k", "active": true}]}"#
            }
            _ => {
                return Ok(http::Response::builder()
                    .status(404)
                    .body(Bytes::new())
                    .unwrap());
            }
        };
        Ok::<_, std::io::Error>(http::Response::new(Bytes::from_static(body.as_bytes())))
    });
    let api = ApiClient::builder("phx_key")
        .host("https://posthog.invalid")
        .http_service(posthog::transport::from_service(service))
        .build()
        .unwrap();
    let project = api.resolve_project().await.unwrap();
    assert_eq!(project.project(), "42");
    let flags = project.feature_flags(None).collect_all().await.unwrap();
    assert_eq!(flags[0].key, "k");
}
