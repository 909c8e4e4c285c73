//! Exception capture on the blocking client: the async client's, which never blocks (the
//! `$exception` event is queued like any other; in sync mode it is delivered before return).

use std::error::Error as StdError;

use uuid::Uuid;

use super::Client;
use crate::ExceptionOptions;

impl Client {
    /// See [`crate::Client::capture_exception`].
    pub fn capture_exception<E: StdError + 'static>(
        &self,
        error: &E,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self.as_async().capture_exception(error, distinct_id, opts);
        self.settle(uuid)
    }

    /// See [`crate::Client::capture_exception_dyn`].
    pub fn capture_exception_dyn(
        &self,
        error: &(dyn StdError + 'static),
        type_name: &str,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self
            .as_async()
            .capture_exception_dyn(error, type_name, distinct_id, opts);
        self.settle(uuid)
    }

    /// See [`crate::Client::capture_exception_message`].
    pub fn capture_exception_message(
        &self,
        kind: &str,
        message: &str,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self
            .as_async()
            .capture_exception_message(kind, message, distinct_id, opts);
        self.settle(uuid)
    }

    /// See [`crate::Client::capture_anyhow`] (feature `anyhow`).
    #[cfg(feature = "anyhow")]
    pub fn capture_anyhow(
        &self,
        error: &anyhow::Error,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self.as_async().capture_anyhow(error, distinct_id, opts);
        self.settle(uuid)
    }

    /// See [`crate::Client::capture_eyre`] (feature `eyre`).
    #[cfg(feature = "eyre")]
    pub fn capture_eyre(
        &self,
        error: &eyre::Report,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self.as_async().capture_eyre(error, distinct_id, opts);
        self.settle(uuid)
    }
}
