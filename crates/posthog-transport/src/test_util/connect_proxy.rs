//! [`ConnectProxy`]: an HTTP `CONNECT` proxy on 127.0.0.1.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An HTTP `CONNECT` proxy on 127.0.0.1, for testing clients behind an egress proxy: each
/// connection's request head is recorded, then a tunnel is opened to the host and port it
/// names.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// use posthog_transport::{HttpClient, Proxy, from_service, test_util::ConnectProxy};
/// let proxy = ConnectProxy::start().await?;
/// let http = HttpClient::builder().proxy(Proxy::url(proxy.url())).build()?;
/// let through = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .service(from_service(http))
///     .build()?;
/// through.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await?;
/// assert!(proxy.heads()[0].starts_with("CONNECT "));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConnectProxy {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, seen.clone()));
            }
        });
        Ok(Self { url, heads })
    }

    /// The proxy's URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The request head of every connection so far (`CONNECT host:port HTTP/1.1` and its
    /// headers).
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

async fn tunnel(mut client: TcpStream, heads: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if let Ok(mut heads) = heads.lock() {
        heads.push(head.clone());
    }
    let target = head
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_owned();
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
