//! The sample project FakePostHog's private API serves: a user, two projects, persons,
//! events, insights, definitions and flags, shaped like PostHog's answers.

use serde_json::{Value, json};

/// The project all sample data belongs to: its flags and definitions live here.
pub(crate) const PROJECT_ID: i64 = 1;
/// The environment (PostHog's "team") of that project the user is in, with its persons,
/// events, insights and queries. Not the project's first environment, so its id differs from
/// the project's, as for every environment after a project's first.
pub(crate) const ENVIRONMENT_ID: i64 = 7;
/// A second, empty project the key can also see (its first environment has the same id).
pub(crate) const EMPTY_PROJECT_ID: i64 = 2;
/// The fake's clock less 24 hours (its clock reads 2026-11-21T10:05:00Z): where the events
/// list starts when `after` is not given. Five of the sample events are older.
pub(crate) const DAY_BEFORE_NOW: &str = "2026-11-20T10:05:00Z";

pub(crate) fn user() -> Value {
    json!({
        "id": 1,
        "uuid": "018f0000-0000-7000-8000-000000000001",
        "email": "ada@example.com",
        "first_name": "Ada",
        "team": environment(ENVIRONMENT_ID, PROJECT_ID),
        "organization": {
            "id": "018f0000-0000-7000-8000-0000000000aa",
            "name": "Example Inc.",
            "teams": [project(PROJECT_ID), project(EMPTY_PROJECT_ID)],
        },
    })
}

/// An environment as `me().team` gives it: its own id and its project's.
pub(crate) fn environment(id: i64, project_id: i64) -> Value {
    let mut env = project(project_id);
    env["id"] = json!(id);
    env["project_id"] = json!(project_id);
    env["name"] = json!("Production");
    env
}

pub(crate) fn project(id: i64) -> Value {
    let name = if id == PROJECT_ID {
        "Default project"
    } else {
        "Staging"
    };
    json!({
        "id": id,
        "uuid": format!("018f0000-0000-7000-8000-00000000010{id}"),
        "name": name,
        "api_token": format!("phc_fake_project_{id}"),
        "timezone": "UTC",
    })
}

pub(crate) fn persons() -> Vec<Value> {
    let people = [
        ("ada", "Linux", "pro", 36, Some("ada@example.com")),
        ("grace", "Mac OS X", "free", 45, Some("grace@example.com")),
        ("linus", "Linux", "free", 29, Some("linus@example.org")),
        (
            "margaret",
            "Windows",
            "pro",
            52,
            Some("margaret@example.com"),
        ),
        // No email: PostHog's `name` is then the raw `name` property, here not a string.
        ("ken", "Linux", "pro", 61, None),
        (
            "barbara",
            "Mac OS X",
            "free",
            33,
            Some("barbara@example.net"),
        ),
    ];
    people
        .iter()
        .enumerate()
        .map(|(i, (name, os, plan, age, email))| {
            let n = i + 1;
            let display = match email {
                Some(_) => json!(name),
                None => json!({"first": "Ken", "last": "Thompson"}),
            };
            let mut properties = json!({
                "name": display,
                "$initial_os": os,
                "plan": plan,
                "age": age,
            });
            if let Some(email) = email {
                properties["email"] = json!(email);
            }
            let uuid = format!("018f1111-0000-7000-8000-00000000000{n}");
            // PostHog's person lists give the UUID as `id`; a single fetch gives the number.
            json!({
                "id": uuid,
                "pk": n,
                "uuid": uuid,
                "name": email.map_or(display, |e| json!(e)),
                "distinct_ids": [format!("user-{name}"), format!("anon-{n}")],
                "properties": properties,
                "created_at": format!("2026-10-0{n}T09:00:00Z"),
                "is_identified": true,
            })
        })
        .collect()
}

/// Events, newest first.
pub(crate) fn events() -> Vec<Value> {
    let plan = [
        ("ada", "$pageview", "/pricing"),
        ("ada", "signed_up", "/signup"),
        ("grace", "$pageview", "/"),
        ("linus", "$pageview", "/docs"),
        ("ada", "checkout_started", "/checkout"),
        ("margaret", "$pageview", "/"),
        ("ada", "order_completed", "/checkout/done"),
        ("ken", "$pageview", "/blog"),
        ("grace", "signed_up", "/signup"),
        ("barbara", "$pageview", "/pricing"),
        ("linus", "$exception", "/docs"),
        ("ada", "$pageview", "/"),
    ];
    let mut events: Vec<Value> = plan
        .iter()
        .enumerate()
        .map(|(i, (who, event, url))| {
            let mut properties = json!({"$current_url": url, "$browser": "Firefox"});
            if *event == "order_completed" {
                properties["revenue"] = json!(49.5);
            }
            json!({
                "id": format!("018f2222-0000-7000-8000-0000000000{i:02}"),
                "distinct_id": format!("user-{who}"),
                "event": event,
                "timestamp": format!("2026-11-20T10:{i:02}:00Z"),
                "properties": properties,
                "elements": [],
            })
        })
        .collect();
    events.reverse();
    events
}

pub(crate) fn insights() -> Vec<Value> {
    vec![
        json!({
            "id": 921029,
            "short_id": "Ab12Cd34",
            "name": "Pageviews this week",
            "derived_name": "Pageview count",
            "description": "",
            "query": {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview", "math": "total"}], "trendsFilter": {"display": "ActionsLineGraph"}}},
            "filters": {},
            // A line graph: PostHog aggregates only for number, pie, table and map displays.
            "result": [{"action": {"id": "$pageview"}, "label": "$pageview", "count": 1234, "data": [120, 180, 200, 210, 190, 170, 164]}],
            "last_refresh": "2026-11-24T08:00:00Z",
        }),
        json!({
            "id": 921030,
            "short_id": "Ef56Gh78",
            "name": "Weekly signups",
            "derived_name": "signed_up count",
            "description": "Signups, computed on demand",
            "query": {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "signed_up", "math": "total"}], "trendsFilter": {"display": "BoldNumber"}}},
            "filters": {},
            "result": null,
            "last_refresh": null,
        }),
        json!({
            "id": 921031,
            "short_id": "Ij90Kl12",
            "name": "Checkout funnel",
            "derived_name": null,
            "description": "",
            "query": {"kind": "InsightVizNode", "source": {"kind": "FunnelsQuery"}},
            "filters": {},
            "result": [[{"name": "checkout_started", "count": 40}, {"name": "order_completed", "count": 25}]],
            "last_refresh": "2026-11-24T07:30:00Z",
        }),
    ]
}

/// The result "Weekly signups" gets when computed (`refresh=blocking`).
pub(crate) fn computed_signups() -> Value {
    json!([{"action": {"id": "signed_up"}, "label": "signed_up", "count": 87, "aggregated_value": 87, "data": [10, 12, 15, 11, 14, 13, 12]}])
}

pub(crate) fn event_definitions() -> Vec<Value> {
    [
        "$pageview",
        "$identify",
        "$exception",
        "$feature_flag_called",
        "signed_up",
        "checkout_started",
        "order_completed",
    ]
    .iter()
    .enumerate()
    .map(|(i, name)| {
        json!({
            "id": format!("018f3333-0000-7000-8000-0000000000{i:02}"),
            "name": name,
            "created_at": "2026-01-01T00:00:00Z",
            "last_seen_at": "2026-11-24T08:00:00Z",
            "tags": [],
        })
    })
    .collect()
}

/// (type, name, property_type, is_numerical)
pub(crate) fn property_definitions() -> Vec<(&'static str, Value)> {
    [
        ("event", "$browser", "String", false),
        ("event", "$current_url", "String", false),
        ("event", "revenue", "Numeric", true),
        ("event", "plan", "String", false),
        ("person", "email", "String", false),
        ("person", "$initial_os", "String", false),
        ("person", "plan", "String", false),
        ("person", "age", "Numeric", true),
    ]
    .iter()
    .enumerate()
    .map(|(i, (kind, name, property_type, numerical))| {
        (
            *kind,
            json!({
                "id": format!("018f4444-0000-7000-8000-0000000000{i:02}"),
                "name": name,
                "property_type": property_type,
                "is_numerical": numerical,
                "type": if *kind == "person" { 2 } else { 1 },
            }),
        )
    })
    .collect()
}

pub(crate) fn feature_flags() -> Vec<Value> {
    let mut retired = flag(3, "old-onboarding", "Retired onboarding", 0.0);
    retired["deleted"] = json!(true);
    retired["active"] = json!(false);
    // PostHog lists soft-deleted flags too, marked `deleted: true`.
    vec![
        flag(1, "new-checkout", "The new checkout", 50.0),
        flag(2, "beta-banner", "Beta banner", 100.0),
        retired,
    ]
}

pub(crate) fn flag(id: i64, key: &str, name: &str, rollout: f64) -> Value {
    json!({
        "id": id,
        "key": key,
        "name": name,
        "active": true,
        "deleted": false,
        "filters": {"groups": [{"properties": [], "rollout_percentage": rollout}]},
        "created_at": "2026-11-01T00:00:00Z",
        "created_by": {"id": 1, "email": "ada@example.com"},
        "ensure_experience_continuity": false,
    })
}
