//! What the routes on the shared delivery lane (events, AI, logs, traces) have in common: sending one
//! body and reading the answer, reporting losses to `on_error`, and OTLP resource attributes.

use bytes::Bytes;
use posthog_transport::Transport;
use serde_json::{Map, Value};

use crate::DeliveryErrorKind;
use crate::lane::{Answer, Loss, LossKind, OnLoss, SendFuture};

/// One `POST {host}{path}` of `body` (gzipped when `gzip` says so, the project token as
/// `Authorization: Bearer` when `bearer`), read as the lane's [`Answer`].
pub(crate) fn post(
    transport: &Transport,
    path: &str,
    body: Vec<u8>,
    gzip: Option<bool>,
    bearer: bool,
) -> SendFuture<'static> {
    let (transport, path) = (transport.clone(), path.to_owned());
    Box::pin(async move {
        let response = transport
            .post_json(&path, Bytes::from(body), gzip, bearer)
            .await?;
        Ok(Answer::status(
            response.status(),
            posthog_transport::retry::classify::retry_after(response.headers()),
        ))
    })
}

/// Hands a lane's losses to `on_error`, their message prefixed with `route` when given (the
/// lane counts and logs them itself).
pub(crate) fn report_losses(
    on_error: Option<crate::OnError>,
    route: Option<&'static str>,
) -> Option<OnLoss> {
    let on_error = on_error?;
    Some(std::sync::Arc::new(move |loss: &Loss| {
        let error = crate::DeliveryError {
            kind: delivery_kind(loss.kind),
            count: loss.count,
            uuids: loss
                .ids
                .iter()
                .map(|&id| uuid::Uuid::from_u128(id))
                .collect(),
            status: loss.status,
            message: match route {
                Some(route) => format!("{route}: {}", loss.message),
                None => loss.message.clone(),
            },
        };
        if crate::hooks::contain(|| on_error(&error)).is_none() {
            tracing::warn!(target: "posthog", "the on_error callback panicked");
        }
    }))
}

/// OTLP resource attributes (C-LOGS.7, C-TRACES.13): the user's, then the service and the
/// SDK's identity, which win.
pub(crate) fn resource(
    service_name: &str,
    service_version: Option<&str>,
    environment: Option<&str>,
    extra: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = extra.clone();
    out.insert("service.name".into(), service_name.into());
    if let Some(version) = service_version {
        out.insert("service.version".into(), version.into());
    }
    if let Some(environment) = environment {
        out.insert("deployment.environment".into(), environment.into());
    }
    out.insert("telemetry.sdk.name".into(), posthog_core::LIB_NAME.into());
    out.insert(
        "telemetry.sdk.version".into(),
        posthog_core::LIB_VERSION.into(),
    );
    out.insert("os.name".into(), std::env::consts::OS.into());
    out
}

/// The `on_error` kind of a lane's loss.
pub(crate) fn delivery_kind(kind: LossKind) -> DeliveryErrorKind {
    match kind {
        LossKind::QueueFull => DeliveryErrorKind::QueueFull,
        LossKind::Invalid => DeliveryErrorKind::Invalid,
        LossKind::TooLarge => DeliveryErrorKind::EventTooLarge,
        LossKind::Rejected => DeliveryErrorKind::Rejected,
        LossKind::RetriesExhausted => DeliveryErrorKind::RetriesExhausted,
        LossKind::ShutdownTimeout => DeliveryErrorKind::ShutdownTimeout,
        LossKind::Abandoned => DeliveryErrorKind::Abandoned,
    }
}
