//! `etl-run`: the Rust engine as a workflow step. Streams the run's input object through
//! [`hitdata::analyze`] and writes the report; memory holds open visits and the blocks in
//! flight, never the object.

use hitdata::{EngineError, Options, Summary};
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ports::{HitFileSource, ReadError, ReportSink, WriteError};
use crate::run::{ReportLocation, RunRequest};

/// The step's input: the execution's run request and which attempt this is.
#[derive(Debug, Clone, Deserialize)]
pub struct EngineTask {
    pub run: RunRequest,
    /// As the ledger counts it (DynamoDB hands numbers to the workflow as text).
    #[serde(default)]
    pub attempt: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EngineOutput {
    pub report: ReportLocation,
    pub report_bytes: u64,
    pub summary: Summary,
}

/// Failures the workflow tells apart by error type; each is retried once by the workflow.
#[derive(Debug, Error)]
pub enum EngineStepError {
    #[error("the input object could not be read: {0}")]
    ObjectUnreadable(String),
    #[error("the engine refused the input: {0}")]
    InputRefused(String),
    #[error(transparent)]
    ReportNotWritten(#[from] WriteError),
    #[error("the engine stopped unexpectedly: {0}")]
    Crashed(String),
}

impl From<EngineStepError> for Diagnostic {
    fn from(err: EngineStepError) -> Self {
        let error_type = match &err {
            EngineStepError::ObjectUnreadable(_) => "ObjectUnreadable",
            EngineStepError::InputRefused(_) => "InputRefused",
            EngineStepError::ReportNotWritten(_) => "ReportNotWritten",
            EngineStepError::Crashed(_) => "EngineCrashed",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

impl From<ReadError> for EngineStepError {
    fn from(err: ReadError) -> Self {
        Self::ObjectUnreadable(err.to_string())
    }
}

pub async fn run(
    source: &impl HitFileSource,
    sink: &impl ReportSink,
    task: EngineTask,
    options: Options,
) -> Result<EngineOutput, EngineStepError> {
    let request = task.run;
    let reader = source.open(&request).await?;
    // The engine blocks (its workers are threads); the runtime's thread keeps the S3 reads going.
    let report = tokio::task::spawn_blocking(move || hitdata::analyze(reader, options))
        .await
        .map_err(|e| EngineStepError::Crashed(e.to_string()))?
        .map_err(|err| match err {
            // Parts whose headers differ: the input, not the reading, is at fault.
            EngineError::Read(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                EngineStepError::InputRefused(io.to_string())
            }
            EngineError::Read(io) => EngineStepError::ObjectUnreadable(io.to_string()),
            refused @ (EngineError::Header(_) | EngineError::OutOfOrder(_)) => {
                EngineStepError::InputRefused(refused.to_string())
            }
        })?;
    let mut bytes = Vec::new();
    hitdata::report::render(&report.rows, &mut bytes)
        .map_err(|e| EngineStepError::Crashed(e.to_string()))?;
    let location = ReportLocation {
        bucket: request.report_bucket,
        key: request.report_key,
    };
    let report_bytes = bytes.len() as u64;
    sink.put(&location, bytes).await?;
    tracing::info!(
        run_id = %request.run_id,
        rows_read = report.summary.rows_read,
        keywords = report.summary.keywords,
        bytes_per_second = report.summary.bytes_per_second,
        "report written"
    );
    Ok(EngineOutput {
        report: location,
        report_bytes,
        summary: report.summary,
    })
}
