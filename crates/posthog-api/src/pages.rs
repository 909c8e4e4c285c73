//! [`Pages`]: a paginated list as an async stream that follows PostHog's `next` links
//! (offset or cursor, whichever the endpoint gives; protocol.md §5.5).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ApiClient, ApiError};

/// One page of a list answer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// // One page as PostHog sends it; `Pages` follows `next` for you.
/// let mut pages = api.events(&posthog_api::EventQuery::new().limit(5));
/// let first = pages.try_next().await?.expect("an event");
/// println!("{} (pages read: {})", first.event, pages.pages_read());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    /// The total, on endpoints that count.
    #[serde(default)]
    pub count: Option<u64>,
    /// The next page's URL.
    #[serde(default)]
    pub next: Option<String>,
    /// The previous page's URL.
    #[serde(default)]
    pub previous: Option<String>,
    /// This page's items.
    pub results: Vec<T>,
}

type PageFuture<T> = Pin<Box<dyn Future<Output = Result<Page<T>, ApiError>> + Send>>;

/// The items of a paginated list, fetched a page at a time as they are read. It is a
/// [`Stream`] of `Result<T, ApiError>`; [`Pages::try_next`] and [`Pages::collect_all`] read it
/// without a stream library. An error ends it.
///
/// ```no_run
/// # async fn demo(api: posthog_api::ApiClient) -> Result<(), posthog_api::ApiError> {
/// let mut persons = api.persons(&Default::default()).max_pages(3);
/// while let Some(person) = persons.try_next().await? {
///     println!("{:?}", person.distinct_ids);
/// }
/// # Ok(()) }
/// ```
pub struct Pages<T> {
    client: ApiClient,
    next: Option<String>,
    buffer: VecDeque<T>,
    fetching: Option<PageFuture<T>>,
    pages_left: Option<usize>,
    pages_read: usize,
    count: Option<u64>,
}

// Nothing is ever pinned inside a `Pages` (items are moved out, the page future is boxed).
impl<T> Unpin for Pages<T> {}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("next", &self.next)
            .field("buffered", &self.buffer.len())
            .field("pages_read", &self.pages_read)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> Pages<T> {
    pub(crate) fn new(client: ApiClient, first: String) -> Self {
        Self {
            client,
            next: Some(first),
            buffer: VecDeque::new(),
            fetching: None,
            pages_left: None,
            pages_read: 0,
            count: None,
        }
    }

    /// Reads at most `pages` pages (at least one).
    pub fn max_pages(mut self, pages: usize) -> Self {
        self.pages_left = Some(pages.max(1));
        self
    }

    /// The total PostHog reported with the last page, on endpoints that count.
    pub fn count(&self) -> Option<u64> {
        self.count
    }

    /// Pages fetched so far.
    pub fn pages_read(&self) -> usize {
        self.pages_read
    }

    /// The next item, fetching the next page when needed; `None` at the end.
    pub async fn try_next(&mut self) -> Result<Option<T>, ApiError> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }

    /// Every remaining item (bounded by [`Pages::max_pages`] when set).
    pub async fn collect_all(mut self) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        while let Some(item) = self.try_next().await? {
            all.push(item);
        }
        Ok(all)
    }

    fn start_fetch(&mut self) -> bool {
        if self.pages_left == Some(0) {
            self.next = None;
        }
        let Some(url) = self.next.take() else {
            return false;
        };
        if let Some(left) = &mut self.pages_left {
            *left -= 1;
        }
        let client = self.client.clone();
        self.fetching = Some(Box::pin(async move {
            let path = client.rebase(&url)?;
            client.get::<Page<T>>(&path).await
        }));
        true
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for Pages<T> {
    type Item = Result<T, ApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if self.fetching.is_none() && !self.start_fetch() {
                return Poll::Ready(None);
            }
            let Some(fetching) = self.fetching.as_mut() else {
                return Poll::Ready(None);
            };
            match fetching.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => {
                    self.fetching = None;
                    match result {
                        Ok(page) => {
                            self.pages_read += 1;
                            self.count = page.count.or(self.count);
                            self.next = page.next.filter(|n| !n.is_empty());
                            self.buffer.extend(page.results);
                        }
                        Err(err) => {
                            self.next = None;
                            return Poll::Ready(Some(Err(err)));
                        }
                    }
                }
            }
        }
    }
}
