//! export-worker: one queued export at a time (a FIFO queue with a single message group), made
//! into a CSV in the exports bucket.
//!
//! The period is read day by day, a page at a time, and written as RFC 4180 CSV (a header, one
//! row per event, UTF-8) into parts of a multipart upload, so the memory used is a part's, not
//! the export's. The ledger gets the row count before the upload is completed: completing it is
//! what tells the notifier (S3 → EventBridge) to mail the link.

use std::time::{Duration, SystemTime};

use events::schema::Catalog;

use crate::export::{Export, Status};
use crate::ports::{CsvStore, EventDays, ExportLedger, ServiceError};
use crate::request::parse_date;

/// A part's size: S3 takes parts of at least 5 MiB (the last excepted).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// How long before the invocation's deadline a run gives up: time to abort the upload and say
/// why in the ledger.
pub const TIME_MARGIN: Duration = Duration::from_secs(10);
/// The longest a run can take: the worker's timeout.
pub const RUN_LIMIT: Duration = Duration::from_secs(900);

/// The CSV's columns: what every stored event has, then every field of every schema version.
pub fn columns(catalog: &Catalog) -> Vec<String> {
    let mut columns: Vec<String> = [
        "kind",
        "network",
        "event_id",
        "app_id",
        "occurred_at",
        "received_at",
        "schema_version",
    ]
    .map(String::from)
    .to_vec();
    for schema in catalog.iter() {
        for field in &schema.fields {
            if !columns.contains(&field.name) {
                columns.push(field.name.clone());
            }
        }
    }
    columns
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Written {
        rows: u64,
    },
    /// Nothing to do: no such export, or it is over (a redelivered message).
    Skipped(String),
    /// It failed; the ledger says why.
    Failed(String),
}

pub struct ExportWorker<L, E, S> {
    pub ledger: L,
    pub events: E,
    pub store: S,
    pub columns: Vec<String>,
    pub part_size: usize,
}

impl<L: ExportLedger, E: EventDays, S: CsvStore> ExportWorker<L, E, S> {
    /// Runs one export. An error is the ledger failing before the export started: the message
    /// should be delivered again.
    pub async fn run(&self, export_id: &str) -> Result<Outcome, ServiceError> {
        self.run_until(export_id, None).await
    }

    /// Runs one export, giving up [`TIME_MARGIN`] before `deadline` (the invocation's): the
    /// upload is aborted and the export failed with the reason, rather than left running when
    /// the function is stopped.
    pub async fn run_until(
        &self,
        export_id: &str,
        deadline: Option<SystemTime>,
    ) -> Result<Outcome, ServiceError> {
        let Some(export) = self.ledger.get(export_id).await? else {
            return Ok(Outcome::Skipped(format!("no export {export_id}")));
        };
        if matches!(export.status, Status::Ready | Status::Failed)
            || !self.ledger.start(&export, &platform::now_rfc3339()).await?
        {
            return Ok(Outcome::Skipped(format!(
                "export {export_id} is {}",
                export.status.as_str()
            )));
        }
        match self.write(&export, deadline).await {
            Ok(rows) => Ok(Outcome::Written { rows }),
            Err(err) => {
                let reason = err.to_string();
                tracing::warn!(export_id, error = %reason, "export failed");
                self.ledger
                    .fail(export_id, &reason, &platform::now_rfc3339())
                    .await?;
                Ok(Outcome::Failed(reason))
            }
        }
    }

    /// The queue gave up on an export's message (its dead-letter queue delivered it): every
    /// delivery ended without an outcome, the worker stopped by its timeout, its memory or a
    /// crash. The export is failed saying so, rather than left running for ever.
    pub async fn abandon(&self, export_id: &str) -> Result<Outcome, ServiceError> {
        // A copy of the message (the same request sent again after the queue's deduplication
        // window) may be running it now: a run started within a run's time is left alone.
        if let Some(export) = self.ledger.get(export_id).await?
            && export.status == Status::Running
            && export
                .started_at
                .as_deref()
                .is_some_and(|at| at > platform::rfc3339_before_now(RUN_LIMIT).as_str())
        {
            return Ok(Outcome::Skipped(format!(
                "export {export_id} was started again at {}",
                export.started_at.as_deref().unwrap_or_default()
            )));
        }
        let reason = "the worker stopped without finishing on every try (out of time or memory); \
                      ask for a shorter period, or ask again";
        if self
            .ledger
            .fail(export_id, reason, &platform::now_rfc3339())
            .await?
        {
            tracing::warn!(export_id, "abandoned export failed");
            Ok(Outcome::Failed(reason.to_owned()))
        } else {
            Ok(Outcome::Skipped(format!(
                "export {export_id} is over or unknown"
            )))
        }
    }

    async fn write(
        &self,
        export: &Export,
        deadline: Option<SystemTime>,
    ) -> Result<u64, ServiceError> {
        let key = export.key();
        let upload = self.store.begin(&key).await?;
        let written = match self.write_parts(export, &key, &upload, deadline).await {
            Ok((rows, parts)) => match self
                .ledger
                .finish(&export.export_id, rows, &platform::now_rfc3339())
                .await
            {
                Ok(()) => self
                    .store
                    .complete(&key, &upload, parts)
                    .await
                    .map(|()| rows),
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        if written.is_err()
            && let Err(err) = self.store.abort(&key, &upload).await
        {
            tracing::warn!(key, error = %err, "could not abort the upload");
        }
        written
    }

    async fn write_parts(
        &self,
        export: &Export,
        key: &str,
        upload: &str,
        deadline: Option<SystemTime>,
    ) -> Result<(u64, Vec<(i32, String)>), ServiceError> {
        let (Some(from), Some(to)) = (parse_date(&export.from), parse_date(&export.to)) else {
            return Err(ServiceError::Refused(format!(
                "the ledger's period {}..{} is not dates",
                export.from, export.to
            )));
        };
        let csv_error = |err: csv::Error| ServiceError::Refused(format!("CSV: {err}"));
        let buffer = || Vec::with_capacity(self.part_size + 64 * 1024);
        let take = |csv: csv::Writer<Vec<u8>>| {
            csv.into_inner()
                .map_err(|e| csv_error(e.into_error().into()))
        };
        let mut csv = csv::Writer::from_writer(buffer());
        csv.write_record(&self.columns).map_err(csv_error)?;
        let (mut rows, mut parts) = (0u64, Vec::new());
        let mut day = Some(from);
        while let Some(current) = day.filter(|d| *d <= to) {
            let mut after = None;
            loop {
                if deadline.is_some_and(|d| SystemTime::now() + TIME_MARGIN >= d) {
                    return Err(ServiceError::Refused(format!(
                        "the export did not finish in the time a run has ({rows} rows written, \
                         up to {current}); ask for a shorter period"
                    )));
                }
                let page = self.events.page(&export.app_id, current, after).await?;
                for row in &page.rows {
                    csv.write_record(
                        self.columns
                            .iter()
                            .map(|c| row.get(c).map_or("", String::as_str)),
                    )
                    .map_err(csv_error)?;
                    rows += 1;
                    // The writer keeps a buffer of its own: flushed into the part's bytes first.
                    csv.flush().map_err(|e| csv_error(e.into()))?;
                    if csv.get_ref().len() >= self.part_size {
                        let bytes = take(std::mem::replace(
                            &mut csv,
                            csv::Writer::from_writer(buffer()),
                        ))?;
                        let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
                        parts.push((number, self.store.part(key, upload, number, bytes).await?));
                    }
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            day = current.next_day();
        }
        let rest = take(csv)?;
        if !rest.is_empty() || parts.is_empty() {
            let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
            parts.push((number, self.store.part(key, upload, number, rest).await?));
        }
        Ok((rows, parts))
    }
}

/// The SQS event, as far as the worker reads it.
#[derive(Debug, serde::Deserialize)]
pub struct QueueEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<QueueRecord>,
}

#[derive(Debug, serde::Deserialize)]
pub struct QueueRecord {
    #[serde(rename = "messageId", default)]
    pub message_id: String,
    pub body: String,
    /// The queue's ARN: the exports queue, or its dead-letter queue.
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: String,
}

/// The message exports-api queues.
#[derive(Debug, serde::Deserialize)]
pub struct Queued {
    pub export_id: String,
}
