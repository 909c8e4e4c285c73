//! The TLS settings of the default HTTP client: which rustls crypto provider and which root
//! certificates.
//!
//! The provider is the process-wide one when the application installed one
//! (`rustls::crypto::CryptoProvider::install_default`), else `aws-lc-rs` with the feature of
//! that name, else `ring` (feature `ring`, a default). The roots are the Mozilla roots compiled
//! in (feature `webpki-roots`, a default) and the operating system's store (feature
//! `native-roots`); with both features on, both are trusted. A `rustls::ClientConfig` given to
//! `HttpClientBuilder::tls_config` replaces all of this.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;

use crate::TransportError;

/// The provider to use: the installed one, else the one the features compiled in.
pub(crate) fn provider() -> Result<Arc<CryptoProvider>, TransportError> {
    if let Some(installed) = CryptoProvider::get_default() {
        return Ok(installed.clone());
    }
    compiled_provider().map(Arc::new).ok_or_else(|| {
        TransportError::config(
            "no rustls crypto provider: enable the feature `ring` or `aws-lc-rs`, install one \
             with rustls::crypto::CryptoProvider::install_default, or pass a ClientConfig to \
             HttpClientBuilder::tls_config",
        )
    })
}

#[cfg(feature = "aws-lc-rs")]
fn compiled_provider() -> Option<CryptoProvider> {
    Some(rustls::crypto::aws_lc_rs::default_provider())
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
fn compiled_provider() -> Option<CryptoProvider> {
    Some(rustls::crypto::ring::default_provider())
}

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
fn compiled_provider() -> Option<CryptoProvider> {
    None
}

/// The roots the features compiled in (both sets when both features are on).
fn roots() -> Result<rustls::RootCertStore, TransportError> {
    #[allow(unused_mut)]
    let mut roots = rustls::RootCertStore::empty();
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "native-roots")]
    {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!(target: "posthog", %error, "a system root certificate could not be read");
        }
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 && !cfg!(feature = "webpki-roots") {
            return Err(TransportError::config(
                "no usable root certificates in the system's store (feature native-roots)",
            ));
        }
    }
    if roots.is_empty() {
        return Err(TransportError::config(
            "no root certificates: enable the feature `webpki-roots` or `native-roots`, or pass \
             a ClientConfig to HttpClientBuilder::tls_config",
        ));
    }
    Ok(roots)
}

/// The client configuration from the features (and the installed provider).
pub(crate) fn default_config() -> Result<ClientConfig, TransportError> {
    let config = ClientConfig::builder_with_provider(provider()?)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::config(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots()?)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ring")]
    #[test]
    fn an_installed_provider_is_the_one_used() {
        let mut only_one_suite = rustls::crypto::ring::default_provider();
        only_one_suite.cipher_suites.truncate(1);
        // Another test of this binary may have installed one first; either way the installed
        // provider is the one the client takes.
        let _ = only_one_suite.install_default();
        let installed = CryptoProvider::get_default().expect("installed");
        let used = provider().expect("a provider");
        assert!(Arc::ptr_eq(&used, installed));
        assert!(default_config().is_ok());
    }
}
