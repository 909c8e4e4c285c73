//! Keys with `Debug` output that never shows the secret.

use std::fmt;
use std::sync::Arc;

/// The project token (`phc_…`): sent in request bodies and as `?token=`. Not a secret, but
/// `Debug` shows only its first characters, as PostHog's SDKs mask it in logs.
///
/// ```
/// let token = posthog_transport::ProjectToken::new("phc_project_token");
/// assert_eq!(token.as_str(), "phc_project_token");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ProjectToken(Arc<str>);

impl ProjectToken {
    /// Wraps a project token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(Arc::from(token.into()))
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProjectToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(8).collect();
        write!(f, "ProjectToken({shown}…)")
    }
}

/// A personal API key (`phx_…`) or project secret key (`phs_…`). It is only ever written into
/// an `Authorization` header; `Debug` prints `***` and there is no `Display`.
///
/// ```
/// let key = posthog_transport::SecretKey::new("phx_personal_key");
/// assert!(!format!("{key:?}").contains("phx_personal_key")); // never in Debug output
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Arc<str>);

impl SecretKey {
    /// Wraps a secret key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(Arc::from(key.into()))
    }

    /// The `Authorization` header value for this key.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Replaces any occurrence of the key in `text` (used on error excerpts).
    pub(crate) fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&*self.0, "***")
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let key = SecretKey::new("phx_supersecret123");
        assert_eq!(format!("{key:?}"), "SecretKey(***)");
        assert_eq!(key.redact("bad key phx_supersecret123!"), "bad key ***!");
        assert_eq!(
            format!("{:?}", ProjectToken::new("phc_abcdefghijk")),
            "ProjectToken(phc_abcd…)"
        );
    }
}
