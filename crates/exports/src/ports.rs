//! What the exports functions need from the world.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use thiserror::Error;
use time::Date;

use crate::export::Export;

/// A service the functions call failed; each says whether waiting would help.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ServiceError {
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Refused as asked (a bad value, a missing resource): asking again will not help.
    #[error("refused: {0}")]
    Refused(String),
}

/// What creating an export found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New,
    /// The same request is already queued: this is its export.
    Existing(Box<Export>),
}

pub trait ExportLedger: Send + Sync {
    /// Records a queued export, unless the same request (`request_key`) is queued already.
    fn create(
        &self,
        export: &Export,
        request_key: &str,
    ) -> impl Future<Output = Result<Created, ServiceError>> + Send;

    fn get(
        &self,
        export_id: &str,
    ) -> impl Future<Output = Result<Option<Export>, ServiceError>> + Send;

    /// Queued (or running, when the worker is run again) → running, the request key let go so
    /// that the same request asks for a new export. False if the export is over.
    fn start(
        &self,
        export: &Export,
        at: &str,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;

    /// The CSV is complete with `rows` rows.
    fn finish(
        &self,
        export_id: &str,
        rows: u64,
        at: &str,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Claims the mail of a running export for the caller: true unless another claim newer
    /// than `stale_before` holds it (a notifier that died while mailing lets go that way).
    fn claim_mail(
        &self,
        export_id: &str,
        at: &str,
        stale_before: &str,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;

    /// Running → ready; false if it was ready already.
    fn ready(&self, export_id: &str) -> impl Future<Output = Result<bool, ServiceError>> + Send;

    /// Queued or running → failed with the reason; false if the export was over already (a
    /// ready export is never failed).
    fn fail(
        &self,
        export_id: &str,
        reason: &str,
        at: &str,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;
}

pub trait ExportQueue: Send + Sync {
    /// Queues the export for the worker; exports run one at a time, in order.
    fn enqueue(&self, export_id: &str) -> impl Future<Output = Result<(), ServiceError>> + Send;
}

/// One stored event, attribute name → value as text.
pub type Row = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayPage {
    pub rows: Vec<Row>,
    /// Where the next page of the day starts, if there is one.
    pub next: Option<String>,
}

pub trait EventDays: Send + Sync {
    /// A page of the events of one app on one UTC day, in key order.
    fn page(
        &self,
        app_id: &str,
        day: Date,
        after: Option<String>,
    ) -> impl Future<Output = Result<DayPage, ServiceError>> + Send;
}

/// A multipart upload.
pub trait CsvStore: Send + Sync {
    /// Starts an upload; answers its id.
    fn begin(&self, key: &str) -> impl Future<Output = Result<String, ServiceError>> + Send;
    /// Uploads part `number` (from 1); answers its ETag.
    fn part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<String, ServiceError>> + Send;
    fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(i32, String)>,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;
    fn abort(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;
}

pub trait Presigner: Send + Sync {
    /// A GET URL of the object valid for `expires`.
    fn url(
        &self,
        key: &str,
        expires: Duration,
    ) -> impl Future<Output = Result<String, ServiceError>> + Send;
}

pub trait Mailer: Send + Sync {
    fn send(
        &self,
        to: &str,
        subject: &str,
        text: &str,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;
}
