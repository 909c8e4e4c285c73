//! FakePostHog's private API: the endpoints of protocol.md §5 over the sample project of
//! `api_data`, with personal-key auth, scopes, offset pagination, property filters, flag
//! writes, HogQL answers and PostHog's error bodies, shaped as PostHog answers: environment-
//! scoped persons, events, insights and queries (`/api/environments/:id/…`, with the legacy
//! `/api/projects/:id/…` alias) and project-scoped flags and definitions; UUID person ids in
//! lists; an events list limited to the last 24 hours unless `after` is given, paged by
//! `before=`, capped at 1,000 per page; soft-deleted flags listed; HogQL answers of at most
//! 100 rows without `LIMIT`, `202` for a query still running, and PostHog's query throttle
//! when one is set.

use std::collections::{BTreeMap, BTreeSet};

use http::Method;
use posthog_transport::test_util::{RecordedRequest, Reply};
use serde_json::{Value, json};

use super::api_data as data;

/// The personal API key FakePostHog accepts unless told otherwise.
pub const FAKE_PERSONAL_API_KEY: &str = "phx_fake_personal_key";

/// PostHog's default page size.
const DEFAULT_LIMIT: usize = 100;

/// The fake's state.
pub(crate) struct FakeApi {
    pub(crate) key: String,
    pub(crate) denied_scopes: BTreeSet<String>,
    /// Where `next` links point: the server under another spelling (`localhost`), as behind
    /// a proxy, so clients must re-base them.
    base: String,
    persons: Vec<Value>,
    events: Vec<Value>,
    insights: Vec<Value>,
    flags: Vec<Value>,
    pub(crate) queries: BTreeMap<String, Value>,
    /// Queries allowed per hour (PostHog's default throttle is 120); `None`: unthrottled.
    pub(crate) query_limit: Option<u32>,
    queries_run: u32,
}

/// Where a resource lives: the environment (team) or the project.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Environment,
    Project,
}

fn scope_of(resource: &str) -> Scope {
    match resource {
        "persons" | "events" | "insights" | "query" => Scope::Environment,
        _ => Scope::Project,
    }
}

fn error(status: u16, kind: &str, code: &str, detail: &str, attr: Option<&str>) -> Reply {
    Reply::json(
        status,
        &json!({"type": kind, "code": code, "detail": detail, "attr": attr}),
    )
}

fn not_found() -> Reply {
    error(404, "invalid_request", "not_found", "Not found.", None)
}

/// Decodes `%XX` and `+` of a query component.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query parameters of a request, decoded.
fn params(req: &RecordedRequest) -> BTreeMap<String, String> {
    req.query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The `limit` parameter, or PostHog's default page size.
fn page_size(params: &BTreeMap<String, String>) -> usize {
    params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(DEFAULT_LIMIT)
}

/// A property's value as text, for comparisons.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `properties` match a filter (a list: all; a group: AND / OR).
fn matches(filter: &Value, properties: &Value) -> bool {
    match filter {
        Value::Array(items) => items.iter().all(|f| matches(f, properties)),
        Value::Object(f) if f.contains_key("values") => {
            let items = f["values"].as_array().cloned().unwrap_or_default();
            if f.get("type").and_then(Value::as_str) == Some("OR") {
                items.iter().any(|i| matches(i, properties))
            } else {
                items.iter().all(|i| matches(i, properties))
            }
        }
        Value::Object(f) => {
            let key = f.get("key").and_then(Value::as_str).unwrap_or_default();
            let actual = properties.get(key);
            let operator = f.get("operator").and_then(Value::as_str).unwrap_or("exact");
            let wanted = f.get("value").cloned().unwrap_or(Value::Null);
            let any_of = |v: &Value| match &wanted {
                Value::Array(options) => options.iter().any(|o| text(o) == text(v)),
                one => text(one) == text(v),
            };
            let number = |v: &Value| text(v).parse::<f64>().ok();
            match (operator, actual) {
                ("is_set", a) => a.is_some(),
                ("is_not_set", a) => a.is_none(),
                (_, None) => false,
                ("exact", Some(a)) => any_of(a),
                ("is_not", Some(a)) => !any_of(a),
                ("icontains", Some(a)) => text(a)
                    .to_lowercase()
                    .contains(&text(&wanted).to_lowercase()),
                ("not_icontains", Some(a)) => !text(a)
                    .to_lowercase()
                    .contains(&text(&wanted).to_lowercase()),
                (op @ ("gt" | "gte" | "lt" | "lte"), Some(a)) => match (number(a), number(&wanted))
                {
                    (Some(a), Some(w)) => match op {
                        "gt" => a > w,
                        "gte" => a >= w,
                        "lt" => a < w,
                        _ => a <= w,
                    },
                    _ => false,
                },
                _ => false,
            }
        }
        _ => false,
    }
}

impl FakeApi {
    pub(crate) fn new(base: String) -> Self {
        Self {
            key: FAKE_PERSONAL_API_KEY.to_owned(),
            denied_scopes: BTreeSet::new(),
            base,
            persons: data::persons(),
            events: data::events(),
            insights: data::insights(),
            flags: data::feature_flags(),
            queries: BTreeMap::new(),
            query_limit: None,
            queries_run: 0,
        }
    }

    /// A link to this path on the fake's other host spelling with `params` plus `extra`.
    fn link(
        &self,
        req: &RecordedRequest,
        params: &BTreeMap<String, String>,
        extra: &[(&str, String)],
    ) -> String {
        let mut params = params.clone();
        for (k, v) in extra {
            params.insert((*k).to_owned(), v.clone());
        }
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", posthog_transport::query_escape(v)))
            .collect();
        format!("{}{}?{}", self.base, req.path, query.join("&"))
    }

    /// One page of `items` with offset pagination (`count`, `next`, `previous`).
    fn offset_page(&self, req: &RecordedRequest, items: Vec<Value>) -> Reply {
        let p = params(req);
        let limit = page_size(&p);
        let offset: usize = p.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        let count = items.len();
        let results: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
        let at = |offset: usize| {
            self.link(
                req,
                &p,
                &[("limit", limit.to_string()), ("offset", offset.to_string())],
            )
        };
        let next = (offset + limit < count).then(|| at(offset + limit));
        let previous = (offset > 0).then(|| at(offset.saturating_sub(limit)));
        Reply::json(
            200,
            &json!({"count": count, "next": next, "previous": previous, "results": results}),
        )
    }

    /// One page of the events list, newest first: at most `limit` (default 100, at most
    /// 1,000), and a `next` link that asks for the events `before` the page's oldest.
    fn events_page(
        &self,
        req: &RecordedRequest,
        events: Vec<Value>,
        include_person: bool,
    ) -> Reply {
        let p = params(req);
        let limit = page_size(&p).min(1_000);
        let more = events.len() > limit;
        let results: Vec<Value> = events
            .into_iter()
            .take(limit)
            .map(|mut e| {
                if include_person {
                    let person = self.persons.iter().find(|person| {
                        person["distinct_ids"]
                            .as_array()
                            .is_some_and(|ids| ids.contains(&e["distinct_id"]))
                    });
                    e["person"] = person.map_or(Value::Null, |person| {
                        json!({"distinct_ids": person["distinct_ids"], "properties": person["properties"]})
                    });
                }
                e
            })
            .collect();
        let next = more.then(|| {
            let oldest = text(&results[results.len() - 1]["timestamp"]);
            self.link(req, &p, &[("before", oldest)])
        });
        Reply::json(200, &json!({"next": next, "results": results}))
    }

    /// Answers a `/api/…` request, or `None` for paths it does not serve.
    pub(crate) fn handle(&mut self, req: &RecordedRequest) -> Option<Reply> {
        let rest = req.path.strip_prefix("/api/")?;
        if req.header("authorization") != Some(format!("Bearer {}", self.key).as_str()) {
            return Some(error(
                401,
                "authentication_error",
                "authentication_failed",
                "Incorrect authentication credentials.",
                None,
            ));
        }
        let mut parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        // The routes each resource has: `environments/:id/…` for environment-scoped ones
        // (the `projects/:id/…` spelling is their legacy alias, read as an environment id),
        // `projects/:id/…` only for project-scoped ones.
        if let [base @ ("environments" | "projects"), id, resource, ..] = parts.as_slice() {
            let scope = scope_of(resource);
            if *base == "environments" && scope == Scope::Project {
                return Some(not_found());
            }
            let known = match (scope, *id) {
                (_, "@current") => true,
                (Scope::Environment, id) => [data::ENVIRONMENT_ID, data::EMPTY_PROJECT_ID]
                    .contains(&id.parse().unwrap_or(-1)),
                (Scope::Project, id) => {
                    [data::PROJECT_ID, data::EMPTY_PROJECT_ID].contains(&id.parse().unwrap_or(-1))
                }
            };
            if !known {
                return Some(not_found());
            }
            let empty = *id == data::EMPTY_PROJECT_ID.to_string();
            if empty && parts.len() == 3 && req.method == Method::GET {
                return Some(self.offset_page(req, Vec::new()));
            }
            parts[0] = "projects";
        }
        let scope = match parts.as_slice() {
            ["users", ..] => "user:read",
            ["organizations", _, "projects"] => "project:read",
            ["projects"] | ["projects", _] => "project:read",
            ["projects", _, "persons", ..] => "person:read",
            ["projects", _, "events", ..] => "query:read",
            ["projects", _, "insights", ..] => "insight:read",
            ["projects", _, "event_definitions", ..] => "event_definition:read",
            ["projects", _, "property_definitions", ..] => "property_definition:read",
            ["projects", _, "feature_flags", ..] if req.method == Method::GET => {
                "feature_flag:read"
            }
            ["projects", _, "feature_flags", ..] => "feature_flag:write",
            ["projects", _, "query", ..] => "query:read",
            _ => return Some(not_found()),
        };
        if self.denied_scopes.contains(scope) {
            return Some(error(
                403,
                "authentication_error",
                "permission_denied",
                &format!("API key missing required scope '{scope}'"),
                None,
            ));
        }
        if let ["projects", project] = parts.as_slice() {
            let id = if *project == "@current" {
                data::PROJECT_ID
            } else {
                project.parse().unwrap_or(-1)
            };
            if id != data::PROJECT_ID && id != data::EMPTY_PROJECT_ID {
                return Some(not_found());
            }
        }
        Some(self.route(req, &parts))
    }

    fn route(&mut self, req: &RecordedRequest, parts: &[&str]) -> Reply {
        let p = params(req);
        match (&req.method, parts) {
            (&Method::GET, ["users", "@me"]) => Reply::json(200, &data::user()),
            (&Method::GET, ["projects"] | ["organizations", _, "projects"]) => self.offset_page(
                req,
                vec![
                    data::project(data::PROJECT_ID),
                    data::project(data::EMPTY_PROJECT_ID),
                ],
            ),
            (&Method::GET, ["projects", id]) => {
                let id = if *id == "@current" {
                    data::PROJECT_ID
                } else {
                    id.parse().unwrap_or(-1)
                };
                Reply::json(200, &data::project(id))
            }
            (&Method::GET, ["projects", _, "persons"]) => {
                let filter = match p
                    .get("properties")
                    .map(|f| serde_json::from_str::<Value>(f))
                {
                    Some(Err(_)) => {
                        return error(
                            400,
                            "validation_error",
                            "invalid_input",
                            "Properties are unparsable!",
                            Some("properties"),
                        );
                    }
                    Some(Ok(f)) => Some(f),
                    None => None,
                };
                let persons = self
                    .persons
                    .iter()
                    .filter(|person| {
                        let props = &person["properties"];
                        let ids = person["distinct_ids"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        p.get("distinct_id")
                            .is_none_or(|d| ids.iter().any(|i| i == d))
                            && p.get("email").is_none_or(|e| props["email"] == e.as_str())
                            && p.get("search").is_none_or(|s| {
                                text(&props["email"])
                                    .to_lowercase()
                                    .contains(&s.to_lowercase())
                                    || ids.iter().any(|i| i == s)
                            })
                            && filter.as_ref().is_none_or(|f| matches(f, props))
                    })
                    .cloned()
                    .collect();
                self.offset_page(req, persons)
            }
            (&Method::GET, ["projects", _, "persons", id]) => {
                if id.starts_with("user-") || id.starts_with("anon-") {
                    return error(
                        400,
                        "validation_error",
                        "invalid_input",
                        "Use ?distinct_id= to look a person up by distinct id.",
                        Some("id"),
                    );
                }
                // A single fetch gives the numeric id (lists give the UUID).
                self.persons
                    .iter()
                    .find(|person| text(&person["pk"]) == *id || person["uuid"] == *id)
                    .map_or_else(not_found, |person| {
                        let mut person = person.clone();
                        person["id"] = person["pk"].clone();
                        Reply::json(200, &person)
                    })
            }
            (&Method::GET, ["projects", _, "events"]) => {
                let person_ids: Option<Vec<Value>> = p.get("person_id").map(|id| {
                    self.persons
                        .iter()
                        .find(|person| text(&person["pk"]) == *id || person["uuid"] == id.as_str())
                        .and_then(|person| person["distinct_ids"].as_array().cloned())
                        .unwrap_or_default()
                });
                let filter = p
                    .get("properties")
                    .and_then(|f| serde_json::from_str::<Value>(f).ok());
                // Without `after`, only the last 24 hours.
                let after = p
                    .get("after")
                    .cloned()
                    .unwrap_or_else(|| data::DAY_BEFORE_NOW.to_owned());
                let events: Vec<Value> = self
                    .events
                    .iter()
                    .filter(|e| {
                        p.get("event")
                            .is_none_or(|name| e["event"] == name.as_str())
                            && p.get("distinct_id")
                                .is_none_or(|d| e["distinct_id"] == d.as_str())
                            && person_ids
                                .as_ref()
                                .is_none_or(|ids| ids.contains(&e["distinct_id"]))
                            && text(&e["timestamp"]) >= after
                            && p.get("before").is_none_or(|t| text(&e["timestamp"]) < *t)
                            && filter.as_ref().is_none_or(|f| matches(f, &e["properties"]))
                    })
                    .cloned()
                    .collect();
                let include_person = p.get("include_person").map(String::as_str) == Some("true");
                self.events_page(req, events, include_person)
            }
            (&Method::GET, ["projects", _, "insights"]) => {
                let basic = p.get("basic").map(String::as_str) == Some("true");
                let insights = self
                    .insights
                    .iter()
                    .filter(|i| {
                        p.get("short_id")
                            .is_none_or(|s| i["short_id"] == s.as_str())
                    })
                    .map(|i| {
                        let mut i = i.clone();
                        if basic {
                            if let Some(o) = i.as_object_mut() {
                                o.remove("result");
                            }
                        }
                        i
                    })
                    .collect();
                self.offset_page(req, insights)
            }
            (&Method::GET, ["projects", _, "insights", id]) => {
                let Some(mut insight) = self
                    .insights
                    .iter()
                    .find(|i| text(&i["id"]) == *id)
                    .cloned()
                else {
                    return not_found();
                };
                let computes = matches!(
                    p.get("refresh").map(String::as_str),
                    Some("blocking" | "force_blocking")
                );
                if computes && insight["result"].is_null() {
                    insight["result"] = data::computed_signups();
                    insight["last_refresh"] = json!("2026-11-24T09:00:00Z");
                }
                Reply::json(200, &insight)
            }
            (&Method::GET, ["projects", _, "event_definitions"]) => {
                let defs = data::event_definitions()
                    .into_iter()
                    .filter(|d| {
                        p.get("search")
                            .is_none_or(|s| text(&d["name"]).contains(s.as_str()))
                    })
                    .collect();
                self.offset_page(req, defs)
            }
            (&Method::GET, ["projects", _, "property_definitions"]) => {
                let kind = p.get("type").map_or("event", String::as_str);
                let names: Option<Vec<String>> = p
                    .get("event_names")
                    .and_then(|n| serde_json::from_str(n).ok());
                let defs = data::property_definitions()
                    .into_iter()
                    .filter(|(k, d)| {
                        *k == kind
                            && p.get("search").is_none_or(|s| text(&d["name"]).contains(s.as_str()))
                            && p.get("is_numerical").is_none_or(|n| text(&d["is_numerical"]) == *n)
                            // Only event properties are seen on events; `revenue` only on orders.
                            && names.as_ref().is_none_or(|names| {
                                d["name"] != "revenue" || names.iter().any(|n| n == "order_completed")
                            })
                    })
                    .map(|(_, d)| d)
                    .collect();
                self.offset_page(req, defs)
            }
            (&Method::GET, ["projects", _, "feature_flags"]) => {
                // Soft-deleted flags are listed too, marked `deleted: true`.
                let flags = self
                    .flags
                    .iter()
                    .filter(|f| {
                        p.get("search")
                            .is_none_or(|s| text(&f["key"]).contains(s.as_str()))
                    })
                    .cloned()
                    .collect();
                self.offset_page(req, flags)
            }
            (&Method::POST, ["projects", _, "feature_flags"]) => self.create_flag(req),
            (method, ["projects", _, "feature_flags", id]) => self.flag(method, id, req),
            (&Method::POST, ["projects", _, "query"]) => self.query(req),
            _ => error(
                405,
                "invalid_request",
                "method_not_allowed",
                &format!("Method \"{}\" not allowed.", req.method),
                None,
            ),
        }
    }

    fn create_flag(&mut self, req: &RecordedRequest) -> Reply {
        let body = req.json();
        let key = body["key"].as_str().unwrap_or_default();
        if key.is_empty() {
            return error(
                400,
                "validation_error",
                "required",
                "This field is required.",
                Some("key"),
            );
        }
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return error(
                400,
                "validation_error",
                "invalid_key",
                "Only letters, numbers, hyphens (\"-\") & underscores (\"_\") are allowed.",
                Some("key"),
            );
        }
        if self
            .flags
            .iter()
            .any(|f| f["key"] == key && f["deleted"] != true)
        {
            return error(
                400,
                "validation_error",
                "unique",
                "There is already a feature flag with this key.",
                Some("key"),
            );
        }
        let id = self
            .flags
            .iter()
            .filter_map(|f| f["id"].as_i64())
            .max()
            .unwrap_or(0)
            + 1;
        let mut flag = data::flag(id, key, body["name"].as_str().unwrap_or_default(), 100.0);
        flag["active"] = body.get("active").cloned().unwrap_or(json!(true));
        if let Some(filters) = body.get("filters") {
            flag["filters"] = filters.clone();
        }
        flag["created_at"] = json!("2026-11-24T09:00:00Z");
        self.flags.push(flag.clone());
        Reply::json(201, &flag)
    }

    fn flag(&mut self, method: &Method, id: &str, req: &RecordedRequest) -> Reply {
        let Some(flag) = self.flags.iter_mut().find(|f| text(&f["id"]) == id) else {
            return not_found();
        };
        match *method {
            Method::GET => Reply::json(200, flag),
            Method::PATCH => {
                if let Value::Object(changes) = req.json() {
                    for (k, v) in changes {
                        if matches!(
                            k.as_str(),
                            "name" | "active" | "filters" | "deleted" | "key"
                        ) {
                            flag[k.as_str()] = v;
                        }
                    }
                }
                Reply::json(200, flag)
            }
            Method::DELETE => error(
                405,
                "invalid_request",
                "method_not_allowed",
                "Hard delete of this model is not allowed. Use a patch API call to set \"deleted\" to true",
                None,
            ),
            _ => error(
                405,
                "invalid_request",
                "method_not_allowed",
                "Method not allowed.",
                None,
            ),
        }
    }

    fn query(&mut self, req: &RecordedRequest) -> Reply {
        if let Some(limit) = self.query_limit {
            if self.queries_run >= limit {
                return error(
                    429,
                    "throttled_error",
                    "throttled",
                    "Request was throttled. Expected available in 3600 seconds.",
                    None,
                )
                .header("retry-after", "3600");
            }
        }
        self.queries_run += 1;
        let body = req.json();
        let query = &body["query"];
        if query["kind"] != "HogQLQuery" {
            return error(
                400,
                "validation_error",
                "invalid_input",
                "Unsupported query kind",
                Some("query"),
            );
        }
        let sql = query["query"].as_str().unwrap_or_default();
        let normalised = sql
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if let Some(answer) = self.queries.get(&normalised) {
            // A query still running answers 202 with its status.
            let running = answer["query_status"]["complete"] == false;
            return Reply::json(if running { 202 } else { 200 }, answer);
        }
        if let Some(rest) = normalised.strip_prefix("select event from events") {
            // 250 rows. Without LIMIT, PostHog returns at most 100 and says there are more.
            let words: Vec<&str> = rest.split_whitespace().collect();
            let number = |word: &str| {
                words
                    .iter()
                    .position(|w| *w == word)
                    .and_then(|i| words.get(i + 1)?.parse::<usize>().ok())
            };
            let (limit, offset) = (
                number("limit").unwrap_or(100),
                number("offset").unwrap_or(0),
            );
            let all: Vec<Value> = (0..250).map(|i| json!([format!("event-{i}")])).collect();
            let results: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
            return Reply::json(
                200,
                &json!({
                    "results": results, "columns": ["event"], "types": [["event", "String"]],
                    "hogql": sql, "hasMore": all.len() > offset + limit, "limit": limit,
                    "offset": offset,
                }),
            );
        }
        if normalised
            == "select event, count() from events group by event order by count() desc, event"
        {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for e in &self.events {
                *counts.entry(text(&e["event"])).or_default() += 1;
            }
            let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let results: Vec<Value> = rows.iter().map(|(e, c)| json!([e, c])).collect();
            return Reply::json(
                200,
                &json!({
                    "results": results, "columns": ["event", "count()"],
                    "types": [["event", "String"], ["count()", "UInt64"]],
                    "hogql": sql, "hasMore": false, "limit": 100, "offset": 0,
                }),
            );
        }
        error(
            400,
            "validation_error",
            "syntax_error",
            &format!("FakePostHog has no answer for the query {sql:?}"),
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(decode("%5B%7B%22key%22%7D%5D+x"), "[{\"key\"}] x");
        assert_eq!(decode("100%"), "100%");
    }
}
