//! The OpenFeature provider, driven through OpenFeature's own client API against the fake
//! PostHog. Each test registers its provider under its own name (the OpenFeature API is a
//! process-wide singleton).

use open_feature::{
    EvaluationContext, EvaluationErrorCode, EvaluationReason, FlagMetadataValue, OpenFeature,
};
use posthog::openfeature::PostHogProvider;
use posthog::test_util::FakePostHog;
use serde_json::json;

async fn flags_client(name: &str, server: &FakePostHog) -> open_feature::Client {
    let client = posthog::Client::builder("phc_test")
        .host(server.url())
        .build()
        .unwrap();
    let mut api = OpenFeature::singleton_mut().await;
    api.set_named_provider(name, PostHogProvider::new(client))
        .await;
    api.create_named_client(name)
}

fn server_flags() -> serde_json::Value {
    json!({"flags": {
        "beta": {"key": "beta", "enabled": true,
                 "reason": {"code": "condition_match", "condition_index": 0}},
        "off": {"key": "off", "enabled": false,
                "reason": {"code": "out_of_rollout_bound"}},
        "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
                     "reason": {"code": "condition_match"},
                     "metadata": {"payload": "{\"cta\": \"Buy\", \"discount\": 10}"}},
        "limit": {"key": "limit", "enabled": true, "metadata": {"payload": "25"}},
        "ratio": {"key": "ratio", "enabled": true, "metadata": {"payload": "0.5"}}
    }})
}

fn user() -> EvaluationContext {
    EvaluationContext::default().with_targeting_key("user-1")
}

#[tokio::test]
async fn boolean_and_string_evaluation_with_details() {
    let server = FakePostHog::start().await;
    server.set_flags(server_flags());
    let flags = flags_client("bool-string", &server).await;

    let beta = flags
        .get_bool_details("beta", Some(&user()), None)
        .await
        .unwrap();
    assert!(beta.value);
    assert_eq!(beta.reason, Some(EvaluationReason::TargetingMatch));
    assert_eq!(
        beta.flag_metadata.values.get("reason_code"),
        Some(&FlagMetadataValue::String("condition_match".into()))
    );
    assert_eq!(
        beta.flag_metadata.values.get("locally_evaluated"),
        Some(&FlagMetadataValue::Bool(false))
    );

    let off = flags
        .get_bool_details("off", Some(&user()), None)
        .await
        .unwrap();
    assert!(!off.value);
    assert_eq!(off.reason, Some(EvaluationReason::Default));

    // A variant is "on" for a boolean evaluation, and is the string evaluation's value.
    let checkout = flags
        .get_bool_details("checkout", Some(&user()), None)
        .await
        .unwrap();
    assert!(checkout.value);
    assert_eq!(checkout.variant.as_deref(), Some("blue"));
    let variant = flags
        .get_string_value("checkout", Some(&user()), None)
        .await;
    assert_eq!(variant.as_deref(), Ok("blue"));

    // A boolean flag has no string value.
    let err = flags
        .get_string_details("beta", Some(&user()), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, EvaluationErrorCode::TypeMismatch);
}

#[tokio::test]
async fn numbers_and_objects_come_from_payloads() {
    let server = FakePostHog::start().await;
    server.set_flags(server_flags());
    let flags = flags_client("payloads", &server).await;

    assert_eq!(
        flags.get_int_value("limit", Some(&user()), None).await,
        Ok(25)
    );
    assert_eq!(
        flags.get_float_value("ratio", Some(&user()), None).await,
        Ok(0.5)
    );
    let object = flags
        .get_struct_details::<open_feature::StructValue>("checkout", Some(&user()), None)
        .await
        .unwrap();
    assert_eq!(
        object.value.fields.get("cta"),
        Some(&open_feature::Value::String("Buy".into()))
    );
    assert_eq!(object.variant.as_deref(), Some("blue"));

    let err = flags
        .get_int_details("beta", Some(&user()), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, EvaluationErrorCode::TypeMismatch);
}

#[tokio::test]
async fn errors_map_to_openfeature_codes() {
    let server = FakePostHog::start().await;
    server.set_flags(server_flags());
    let flags = flags_client("errors", &server).await;

    let missing = flags
        .get_bool_details("nope", Some(&user()), None)
        .await
        .unwrap_err();
    assert_eq!(missing.code, EvaluationErrorCode::FlagNotFound);

    let anonymous = EvaluationContext::default();
    let err = flags
        .get_bool_details("beta", Some(&anonymous), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, EvaluationErrorCode::TargetingKeyMissing);

    // PostHog cannot be reached: PostHog's error code, and the caller's default.
    server.script(std::iter::repeat_n(
        posthog::transport::test_util::Reply::status(500),
        4,
    ));
    let err = flags
        .get_bool_details("beta", Some(&user()), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.code,
        EvaluationErrorCode::General("api_error_500".into())
    );
    assert!(
        !flags
            .get_bool_value("beta", Some(&user()), None)
            .await
            .unwrap_or(false)
    );
}

#[tokio::test]
async fn context_fields_become_person_properties_and_groups() {
    let server = FakePostHog::start().await;
    server.set_flags(server_flags());
    let flags = flags_client("context", &server).await;

    let context = user()
        .with_custom_field("plan", "pro")
        .with_custom_field("seats", 12)
        .with_custom_field("group.company", "acme");
    flags
        .get_bool_value("beta", Some(&context), None)
        .await
        .unwrap();

    let request = server
        .requests_to("/flags/")
        .pop()
        .expect("a /flags request");
    let body = request.json();
    assert_eq!(body["distinct_id"], "user-1");
    assert_eq!(body["person_properties"]["plan"], "pro");
    assert_eq!(body["person_properties"]["seats"], 12);
    assert_eq!(body["groups"]["company"], "acme");
    assert!(body["person_properties"].get("group.company").is_none());
    assert_eq!(body["flag_keys_to_evaluate"], json!(["beta"]));
}
