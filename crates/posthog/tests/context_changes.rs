//! Changing the active context from inside its scope: `identify_context`,
//! `set_context_session` and `tag` (the Python SDK's names), against FakePostHog.

use posthog::context::{self, Context};
use posthog::test_util::FakePostHog;
use posthog::{Client, Event};

#[tokio::test]
async fn the_scope_learns_who_it_is_serving() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    assert!(
        !context::identify_context("nobody"),
        "no scope: nothing to change"
    );
    assert!(!context::tag("k", "v"));
    let c = client.clone();
    Context::new()
        .scope(async move {
            c.capture(Event::new("before_login", ""));
            assert!(context::identify_context("user-42"));
            assert!(context::set_context_session("session-7"));
            assert!(context::tag("plan", "pro"));
            assert!(
                !context::identify_context("  "),
                "an empty id changes nothing"
            );
            tokio::task::yield_now().await;
            c.capture(Event::new("after_login", ""));
            c.capture(Event::new("explicit", "someone-else").property("plan", "free"));
            // A nested scope inherits the current state; its changes stay inside it.
            Context::inherit()
                .scope(async {
                    assert!(context::tag("nested", true));
                    c.capture(Event::new("nested", ""));
                })
                .await;
            c.capture(Event::new("after_nested", ""));
        })
        .await;
    client.flush().await;
    let events = server.events();
    let by_name = |name: &str| events.iter().find(|e| e["event"] == name).unwrap().clone();
    let before = by_name("before_login");
    assert_eq!(
        before["properties"]["$process_person_profile"], false,
        "personless before"
    );
    let after = by_name("after_login");
    assert_eq!(after["distinct_id"], "user-42");
    assert_eq!(after["properties"]["$session_id"], "session-7");
    assert_eq!(after["properties"]["plan"], "pro");
    let explicit = by_name("explicit");
    assert_eq!(explicit["distinct_id"], "someone-else");
    assert_eq!(
        explicit["properties"]["plan"], "free",
        "the event's own properties win"
    );
    assert_eq!(by_name("nested")["properties"]["nested"], true);
    assert_eq!(by_name("nested")["distinct_id"], "user-42");
    assert!(
        by_name("after_nested")["properties"]
            .get("nested")
            .is_none()
    );
}

#[tokio::test]
async fn blocking_scopes_change_too() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    {
        let _scope = Context::new().enter();
        assert!(context::identify_context("worker-3"));
        assert!(context::tag("queue", "emails"));
        client.capture(Event::new("job_done", ""));
    }
    assert!(!context::tag("queue", "gone"), "the scope ended");
    client.flush().await;
    let event = &server.events()[0];
    assert_eq!(event["distinct_id"], "worker-3");
    assert_eq!(event["properties"]["queue"], "emails");
}
