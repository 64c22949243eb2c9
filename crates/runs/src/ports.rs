//! What the ETL handlers need from the outside world, as the narrowest traits that say so.

use std::future::Future;
use std::io::Read;

use thiserror::Error;

use crate::run::{ReportLocation, Run, RunId, RunRequest};

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum LedgerError {
    #[error("the run ledger is throttling requests")]
    Throttled,
    #[error("the run ledger could not be reached: {0}")]
    Unavailable(String),
    /// The ledger answered with an error a retry will not fix (permissions, a missing table).
    #[error("the run ledger refused the request: {0}")]
    Refused(String),
    #[error("a ledger item is not a run: {0}")]
    Corrupt(String),
}

/// What recording a run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// This call wrote the run.
    New,
    /// The run was already there (another delivery of the same event); as it is now.
    Existing(Box<Run>),
}

/// Writes new runs, once each.
pub trait RunLedger {
    /// Writes the run unless one with its id exists.
    fn record(&self, run: &Run) -> impl Future<Output = Result<Recorded, LedgerError>> + Send;
}

/// Marks a run as finally failed and alerted, once.
pub trait AlertLedger {
    /// Marks the run failed and alerted unless it succeeded or was already alerted; returns the
    /// run as it now is when this call made the mark (so exactly one caller alerts).
    fn claim_alert(
        &self,
        run_id: &RunId,
        now: &str,
    ) -> impl Future<Output = Result<Option<Run>, LedgerError>> + Send;

    /// Gives back a claim whose alert could not be published, so a retry can alert.
    fn release_alert(
        &self,
        run_id: &RunId,
        claimed_at: &str,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

/// Reads runs for the status API and notes downloads.
pub trait RunCatalog {
    fn get(&self, run_id: &RunId) -> impl Future<Output = Result<Option<Run>, LedgerError>> + Send;

    /// Moves a succeeded run to downloaded; a run already downloaded stays as it is.
    fn mark_downloaded(
        &self,
        run_id: &RunId,
        now: &str,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StartError {
    #[error("the workflow service is throttling requests")]
    Throttled,
    #[error("the workflow could not be started: {0}")]
    Unavailable(String),
}

/// Starts the processing workflow of a run; starting it again while it runs is not an error.
pub trait WorkflowStarter {
    fn start(&self, run: &RunRequest) -> impl Future<Output = Result<(), StartError>> + Send;
}

/// A message for on-call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    pub message: String,
    pub run_id: RunId,
    pub state: String,
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("the alert could not be published: {0}")]
pub struct PublishError(pub String);

pub trait AlertPublisher {
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), PublishError>> + Send;
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("the input object does not exist (or no longer has the version the run names)")]
    NotFound,
    #[error("the input object could not be read: {0}")]
    Unavailable(String),
}

/// Opens the input object of a run as a byte stream.
pub trait HitFileSource {
    type Reader: Read + Send + 'static;

    fn open(
        &self,
        run: &RunRequest,
    ) -> impl Future<Output = Result<Self::Reader, ReadError>> + Send;
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("the report could not be written: {0}")]
pub struct WriteError(pub String);

/// Stores a finished report; writing the same report again replaces it with the same bytes.
pub trait ReportSink {
    fn put(
        &self,
        location: &ReportLocation,
        report: Vec<u8>,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("no link to the report could be made: {0}")]
pub struct LinkError(pub String);

/// Hands out time-limited links to reports.
pub trait ReportLinks {
    fn link(
        &self,
        location: &ReportLocation,
        valid_for: std::time::Duration,
    ) -> impl Future<Output = Result<String, LinkError>> + Send;
}

/// Who started a Glue job run, as its arguments tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlueRunOrigin {
    /// A run's workflow, which reports the run's outcome itself.
    Workflow(RunId),
    /// Someone else (a re-run from the console); `input` is its `--input` argument.
    Other { input: Option<String> },
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("the Glue job run could not be read: {0}")]
pub struct GlueError(pub String);

pub trait GlueRuns {
    fn origin(
        &self,
        job_name: &str,
        job_run_id: &str,
    ) -> impl Future<Output = Result<GlueRunOrigin, GlueError>> + Send;
}

/// Where a listing page ended: the last run's creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub created_at: String,
    pub run_id: RunId,
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, Copy)]
pub struct RunQuery<'a> {
    pub status: Option<crate::run::RunStatus>,
    /// Only runs created before this time.
    pub created_before: Option<&'a str>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    pub limit: usize,
    pub after: Option<&'a ListPosition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// Where the next page starts, when there may be one.
    pub next: Option<ListPosition>,
}

/// Lists runs newest first, by status or all.
pub trait RunListing {
    fn list(
        &self,
        query: RunQuery<'_>,
    ) -> impl Future<Output = Result<RunPage, LedgerError>> + Send;
}

/// What the workflow service knows of a run's execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionView {
    pub arn: String,
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Looks up the execution a run's workflow has (its name is the run id).
pub trait WorkflowInspector {
    fn execution(
        &self,
        run_id: &RunId,
    ) -> impl Future<Output = Result<Option<ExecutionView>, StartError>> + Send;
}

/// What S3 says of an object: its size and the version a run pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub version: crate::run::ObjectVersion,
}

/// Looks objects up before a run is made of them.
pub trait ObjectProbe {
    fn head(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectHead>, ReadError>> + Send;
}
