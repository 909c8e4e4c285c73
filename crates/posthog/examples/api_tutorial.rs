//! PostHog's tutorial "How to use the PostHog API to get insights and persons", in Rust: the
//! current user and project id, the insights, one insight's aggregated value, persons filtered
//! by a property, and one person.
//!
//! ```text
//! cargo run -p posthog-sdk --features test-util --example api_tutorial
//! ```
//!
//! With `POSTHOG_PERSONAL_API_KEY` set (and optionally `POSTHOG_API_HOST`, default
//! `https://us.posthog.com`, and `POSTHOG_INSIGHT_SHORT_ID`) it reads your PostHog. Without it,
//! it reads the sample project of an in-process fake PostHog on 127.0.0.1.

use posthog::api::{ApiClient, InsightQuery, PersonQuery, PropertyFilter};
use posthog::test_util::{FAKE_PERSONAL_API_KEY, FakePostHog};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = std::env::var("POSTHOG_PERSONAL_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    // The fake server lives as long as `_fake`.
    let (api, _fake) = match key {
        Some(key) => {
            let host = std::env::var("POSTHOG_API_HOST")
                .unwrap_or_else(|_| posthog::api::DEFAULT_API_HOST.to_owned());
            (ApiClient::builder(key).host(host).build()?, None)
        }
        None => {
            let server = FakePostHog::start().await;
            println!(
                "No POSTHOG_PERSONAL_API_KEY: reading a local fake PostHog at {}",
                server.url()
            );
            let api = ApiClient::builder(FAKE_PERSONAL_API_KEY)
                .host(server.url())
                .build()?;
            (api, Some(server))
        }
    };

    // 1. Who am I, and which project? (`me().team` is the current environment; flags and
    //    definitions belong to its project, persons, events, insights and queries to it.)
    let me = api.me().await?;
    println!(
        "Signed in as {}",
        me.email.as_deref().unwrap_or("(no email)")
    );
    let api = api.resolve_project().await?;
    println!(
        "Project id: {} (environment {})",
        api.project(),
        api.environment()
    );

    // 2. The insights (first page).
    let insights = api
        .insights(&InsightQuery::new().basic(true).limit(20))
        .max_pages(1)
        .collect_all()
        .await?;
    for insight in &insights {
        let name = insight.name.as_deref().or(insight.derived_name.as_deref());
        println!(
            "  insight {} ({}): {}",
            insight.id,
            insight.short_id,
            name.unwrap_or("untitled")
        );
    }

    // 3. One insight by the short id in its URL, and a trend's aggregated value.
    let short_id = std::env::var("POSTHOG_INSIGHT_SHORT_ID")
        .ok()
        .or_else(|| insights.first().map(|i| i.short_id.clone()));
    if let Some(short_id) = short_id {
        if let Some(found) = api.insight_by_short_id(&short_id).await? {
            let insight = api.insight(found.id, None).await?;
            match insight.aggregated_value() {
                Some(total) => println!("Insight {short_id}: aggregated value {total}"),
                None => println!(
                    "Insight {short_id}: no aggregated value (not a trend, or not computed)"
                ),
            }
        }
    }

    // 4. Persons whose $initial_os is Linux.
    let linux = PersonQuery::new()
        .properties(PropertyFilter::person("$initial_os").exact(vec!["Linux"]))
        .limit(100);
    let persons = api.persons(&linux).max_pages(1).collect_all().await?;
    println!("{} person(s) on Linux", persons.len());

    // 5. One person by id.
    if let Some(first) = persons.first() {
        let person = api.person(&first.id).await?;
        println!(
            "Person {}: distinct ids {:?}, email {}",
            person.id,
            person.distinct_ids,
            person
                .properties
                .get("email")
                .and_then(|e| e.as_str())
                .unwrap_or("-")
        );
    }
    Ok(())
}
