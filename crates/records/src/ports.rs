//! What the records handlers need from the outside world, as the narrowest traits that say so.

use std::future::Future;

use thiserror::Error;

use crate::approval::Submission;
use crate::record::{Record, RecordId, RecordInput};
use crate::rules::FieldProblems;

/// How an ingest ended, when the workflow itself ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The record now exists: newly written, or the one an identical earlier request wrote.
    Stored(Record),
    /// The validation step refused it; nothing was written.
    Rejected(FieldProblems),
    /// Half right: the record waits for an admin's decision; nothing was written yet.
    NeedsApproval(Submission),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("the workflow service is throttling requests")]
    Throttled,
    #[error("the workflow service could not be reached: {0}")]
    Unavailable(String),
    #[error("the ingest workflow failed with {error}")]
    WorkflowFailed { error: String },
    #[error("the ingest workflow answered in an unexpected shape: {0}")]
    UnexpectedOutput(String),
}

/// Runs the validate-and-store workflow for one record and waits for its outcome.
pub trait RecordWorkflow {
    fn ingest(
        &self,
        input: &RecordInput,
    ) -> impl Future<Output = Result<IngestOutcome, IngestError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<Record>,
    /// The last record of this page when more may follow.
    pub next_after: Option<RecordId>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("the record store is throttling requests")]
    Throttled,
    #[error("the record store could not be reached: {0}")]
    Unavailable(String),
    #[error("a stored item is not a record: {0}")]
    Corrupt(String),
}

/// Reads stored records a page at a time.
pub trait RecordCatalog {
    fn list(
        &self,
        limit: usize,
        after: Option<&RecordId>,
    ) -> impl Future<Output = Result<Page, CatalogError>> + Send;
}
