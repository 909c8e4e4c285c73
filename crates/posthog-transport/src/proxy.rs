//! Outbound proxies: [`Proxy`] says which one (the environment's `HTTPS_PROXY`/`HTTP_PROXY`/
//! `ALL_PROXY`/`NO_PROXY` by default, as curl and reqwest read them), and [`ProxyConnector`]
//! opens each connection directly or through an HTTP `CONNECT` tunnel to that proxy. TLS to
//! PostHog runs inside the tunnel, so the proxy sees only the host name and port.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

use crate::BoxError;

/// Which proxy outbound requests go through.
///
/// The default, [`Proxy::from_env`], reads `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
/// `NO_PROXY` (either case) when the client is built. Only `http://` proxies are supported;
/// `user:password@` in the proxy's URL is sent as `Proxy-Authorization: Basic`. A proxy's URL
/// never appears in `Debug` output with its password.
///
/// ```
/// use posthog_transport::Proxy;
///
/// let proxy = Proxy::url("http://proxy.internal:3128").no_proxy("localhost,.svc.cluster.local");
/// let client = posthog_transport::HttpClient::builder().proxy(proxy);
/// # let _ = client;
/// ```
#[derive(Clone, Default)]
pub struct Proxy {
    kind: Kind,
}

#[derive(Clone, Default)]
enum Kind {
    #[default]
    FromEnv,
    Direct,
    Url {
        url: String,
        no_proxy: String,
    },
}

impl Proxy {
    /// The proxy the environment names (`HTTPS_PROXY` for `https://` hosts, `HTTP_PROXY` for
    /// `http://` ones, `ALL_PROXY` for both), bypassed for the hosts `NO_PROXY` lists.
    pub fn from_env() -> Self {
        Self {
            kind: Kind::FromEnv,
        }
    }

    /// No proxy, whatever the environment says.
    pub fn none() -> Self {
        Self { kind: Kind::Direct }
    }

    /// Every request through the proxy at `url` (`http://[user:password@]host:port`).
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            kind: Kind::Url {
                url: url.into(),
                no_proxy: String::new(),
            },
        }
    }

    /// Hosts reached directly, in `NO_PROXY`'s syntax: comma-separated domains (matching their
    /// subdomains too), IP addresses or networks (`10.0.0.0/8`), or `*`. Only for
    /// [`Proxy::url`]; [`Proxy::from_env`] reads `NO_PROXY`.
    pub fn no_proxy(mut self, hosts: impl Into<String>) -> Self {
        if let Kind::Url { no_proxy, .. } = &mut self.kind {
            *no_proxy = hosts.into();
        }
        self
    }

    /// The rules, read now (the environment's at this moment); `None` for no proxy.
    pub(crate) fn matcher(&self) -> Option<Matcher> {
        match &self.kind {
            Kind::FromEnv => Some(Matcher::from_env()),
            Kind::Direct => None,
            Kind::Url { url, no_proxy } => Some(
                Matcher::builder()
                    .all(url.clone())
                    .no(no_proxy.clone())
                    .build(),
            ),
        }
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::FromEnv => f.write_str("Proxy::FromEnv"),
            Kind::Direct => f.write_str("Proxy::None"),
            Kind::Url { url, no_proxy } => f
                .debug_struct("Proxy")
                .field("url", &redact_userinfo(url))
                .field("no_proxy", no_proxy)
                .finish(),
        }
    }
}

/// `url` with any `user:password@` replaced by `***@`.
fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if scheme.is_empty() => format!("***@{}", &rest[at + 1..]),
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Opens TCP connections, directly or through the proxy the rules pick for the destination.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    direct: HttpConnector,
    matcher: Option<Arc<Matcher>>,
}

impl ProxyConnector {
    pub(crate) fn new(direct: HttpConnector, proxy: &Proxy) -> Self {
        Self {
            direct,
            matcher: proxy.matcher().map(Arc::new),
        }
    }
}

impl Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = self.matcher.as_ref().and_then(|m| m.intercept(&dst));
        let Some(intercept) = intercept else {
            let connecting = self.direct.call(dst);
            return Box::pin(async move { connecting.await.map_err(Into::into) });
        };
        let mut tunnel = Tunnel::new(intercept.uri().clone(), self.direct.clone());
        if let Some(auth) = intercept.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        let dst = with_default_port(dst);
        Box::pin(async move {
            std::future::poll_fn(|cx| tunnel.poll_ready(cx)).await?;
            Ok(tunnel.call(dst).await?)
        })
    }
}

/// `dst` with its scheme's port written out (the tunnel assumes 443 when none is given).
fn with_default_port(dst: Uri) -> Uri {
    if dst.port().is_some() || dst.scheme_str() != Some("http") {
        return dst;
    }
    let Some(host) = dst.host() else {
        return dst;
    };
    let authority = format!("{host}:80");
    let mut parts = dst.clone().into_parts();
    match authority.parse() {
        Ok(authority) => {
            parts.authority = Some(authority);
            Uri::from_parts(parts).unwrap_or(dst)
        }
        Err(_) => dst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_proxy_password() {
        let proxy = Proxy::url("http://alice:s3cret@proxy.internal:3128");
        let shown = format!("{proxy:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("proxy.internal:3128"), "{shown}");
    }

    #[test]
    fn no_proxy_hosts_bypass_an_explicit_proxy() {
        let proxy = Proxy::url("http://proxy.internal:3128").no_proxy("localhost, .corp");
        let matcher = proxy.matcher().expect("a proxy");
        let through = |uri: &'static str| matcher.intercept(&Uri::from_static(uri)).is_some();
        assert!(through("https://us.i.posthog.com"));
        assert!(!through("https://localhost:8000"));
        assert!(!through("https://api.corp/batch/"));
        assert!(Proxy::none().matcher().is_none());
    }

    #[test]
    fn plain_http_destinations_get_port_80_for_the_tunnel() {
        let uri = with_default_port(Uri::from_static("http://posthog.internal/batch/"));
        assert_eq!(uri.port_u16(), Some(80));
        let uri = with_default_port(Uri::from_static("https://eu.i.posthog.com/batch/"));
        assert_eq!(uri.port_u16(), None);
    }
}
