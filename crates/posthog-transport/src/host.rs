//! Host normalisation (protocol.md §0).

use crate::TransportError;

/// PostHog's US ingestion host, the default.
pub const US_INGESTION_HOST: &str = "https://us.i.posthog.com";
/// PostHog's EU ingestion host.
pub const EU_INGESTION_HOST: &str = "https://eu.i.posthog.com";

/// Trims, defaults a blank host, drops one trailing `/`, and rewrites PostHog's app hosts to
/// their ingestion hosts. Anything else (self-hosted, proxy) is kept as given.
pub fn normalize_host(host: &str) -> Result<String, TransportError> {
    let host = host.trim();
    let host = if host.is_empty() {
        US_INGESTION_HOST
    } else {
        host
    };
    let host = host.strip_suffix('/').unwrap_or(host);
    let host = match host {
        "https://app.posthog.com" | "https://us.posthog.com" => US_INGESTION_HOST,
        "https://eu.posthog.com" => EU_INGESTION_HOST,
        other => other,
    };
    let uri: http::Uri = host
        .parse()
        .map_err(|e| TransportError::config(format!("invalid host {host:?}: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(TransportError::config(format!(
            "host {host:?} must be an http(s) URL"
        )));
    }
    if uri.query().is_some() {
        return Err(TransportError::config(format!(
            "host {host:?} must not have a query"
        )));
    }
    Ok(host.to_owned())
}

/// The private API's host for an ingestion host: the app host for PostHog Cloud, the same
/// host otherwise (protocol.md §0: keep a separate `api_host`).
pub fn default_api_host(ingestion_host: &str) -> String {
    match ingestion_host {
        US_INGESTION_HOST => "https://us.posthog.com".to_owned(),
        EU_INGESTION_HOST => "https://eu.posthog.com".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_hosts() {
        assert_eq!(normalize_host("").unwrap(), US_INGESTION_HOST);
        assert_eq!(
            normalize_host(" https://app.posthog.com/ ").unwrap(),
            US_INGESTION_HOST
        );
        assert_eq!(
            normalize_host("https://eu.posthog.com").unwrap(),
            EU_INGESTION_HOST
        );
        assert_eq!(
            normalize_host("http://127.0.0.1:8000/").unwrap(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            normalize_host("https://ph.example.com/proxy").unwrap(),
            "https://ph.example.com/proxy"
        );
        assert!(normalize_host("ftp://x").is_err());
        assert!(normalize_host("not a url").is_err());
        assert_eq!(
            default_api_host(EU_INGESTION_HOST),
            "https://eu.posthog.com"
        );
    }
}
