//! `failure-notifier`: a workflow that ended badly becomes exactly one alert for on-call.
//!
//! EventBridge may deliver a status change more than once, and a run may be reported by more
//! than one source; the ledger's conditional mark decides who alerts, so on-call is paged once.

use lambda_runtime::Diagnostic;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::ports::{Alert, AlertLedger, AlertPublisher, LedgerError, PublishError};
use crate::run::{Run, RunId};

/// An EventBridge "Step Functions Execution Status Change" event; only what the alert needs.
#[derive(Debug, Deserialize)]
pub struct ExecutionStatusChange {
    #[serde(rename = "detail-type", default)]
    pub detail_type: String,
    #[serde(default)]
    pub region: String,
    pub detail: ExecutionDetail,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    pub execution_arn: String,
    #[serde(default)]
    pub state_machine_arn: String,
    #[serde(default)]
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
}

const FAILED_STATES: [&str; 3] = ["FAILED", "TIMED_OUT", "ABORTED"];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum NotifyOutcome {
    Alerted { run_id: RunId },
    AlreadyAlertedOrSucceeded { run_id: RunId },
    NotAFailure { status: String },
    NotARun { execution: String },
}

#[derive(Debug, Error)]
pub enum NotifyError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl From<NotifyError> for Diagnostic {
    fn from(err: NotifyError) -> Self {
        let error_type = match &err {
            NotifyError::Ledger(_) => "LedgerUnavailable",
            NotifyError::Publish(_) => "AlertNotPublished",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// Base of the run status API; the alert links `<base>/runs/<id>`.
    pub status_url: String,
}

pub struct Notifier<L, P> {
    pub ledger: L,
    pub publisher: P,
    pub settings: NotifierSettings,
}

impl<L: AlertLedger, P: AlertPublisher> Notifier<L, P> {
    pub async fn handle(
        &self,
        event: ExecutionStatusChange,
        now: &str,
    ) -> Result<NotifyOutcome, NotifyError> {
        let detail = &event.detail;
        if !FAILED_STATES.contains(&detail.status.as_str()) {
            return Ok(NotifyOutcome::NotAFailure {
                status: detail.status.clone(),
            });
        }
        let Some(run_id) = run_id_of(detail) else {
            tracing::warn!(execution = %detail.execution_arn, "a failed execution that names no run");
            return Ok(NotifyOutcome::NotARun {
                execution: detail.execution_arn.clone(),
            });
        };
        let Some(run) = self.ledger.claim_alert(&run_id, now).await? else {
            tracing::info!(%run_id, "no alert: already alerted, or the run succeeded");
            return Ok(NotifyOutcome::AlreadyAlertedOrSucceeded { run_id });
        };
        let alert = compose(&run, &event, &self.settings, now);
        // If publishing fails the mark stays, and EventBridge's retry finds it claimed: a lost
        // alert is logged as an error here rather than risking a second page.
        if let Err(err) = self.publisher.publish(&alert).await {
            tracing::error!(%run_id, error = %err, "the alert for a failed run was not published");
            return Err(err.into());
        }
        tracing::info!(%run_id, state = %detail.status, "on-call alerted");
        Ok(NotifyOutcome::Alerted { run_id })
    }
}

/// The execution's input names the run; its name is the run id too.
fn run_id_of(detail: &ExecutionDetail) -> Option<RunId> {
    detail
        .input
        .as_deref()
        .and_then(|input| serde_json::from_str::<Value>(input).ok())
        .and_then(|input| input["run"]["run_id"].as_str().and_then(RunId::parse))
        .or_else(|| RunId::parse(&detail.name))
}

/// The alert: a subject naming the job and its state, and a body on-call can act on.
pub fn compose(
    run: &Run,
    event: &ExecutionStatusChange,
    settings: &NotifierSettings,
    now: &str,
) -> Alert {
    let detail = &event.detail;
    let job = detail
        .state_machine_arn
        .rsplit(':')
        .next()
        .filter(|name| !name.is_empty())
        .unwrap_or("process-hit-file");
    let subject = format!("Sluice ETL {job} {} run {}", detail.status, run.run_id);
    let last_error = run
        .failures
        .last()
        .map(|f| format!("{}: {}", f.error, f.message()))
        .or_else(|| {
            detail
                .error
                .as_ref()
                .map(|e| format!("{e}: {}", detail.cause.as_deref().unwrap_or("")))
        })
        .unwrap_or_else(|| format!("the workflow ended {}", detail.status));
    let mut lines = vec![
        format!(
            "The ETL run {} ended {} after {} attempt(s); the report was not written.",
            run.run_id, detail.status, run.attempts
        ),
        String::new(),
        format!("run: {}", run.run_id),
        format!("state: {}", detail.status),
        format!("input: {}", run.input.uri()),
        format!("key: {}", run.input.key),
        format!("engine: {}", run.engine.as_str()),
        format!("attempts: {}", run.attempts),
        format!("error: {last_error}"),
    ];
    for failure in &run.failures {
        lines.push(format!(
            "attempt {}: {} at {}: {}",
            failure.attempt,
            failure.error,
            failure.at,
            failure.message()
        ));
    }
    lines.extend([
        format!(
            "started: {}",
            run.started_at.as_deref().unwrap_or(&run.created_at)
        ),
        format!("failed: {}", run.finished_at.as_deref().unwrap_or(now)),
        format!(
            "execution: https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}",
            region = if event.region.is_empty() {
                "us-east-1"
            } else {
                &event.region
            },
            arn = detail.execution_arn
        ),
        format!(
            "status: {}/runs/{}",
            settings.status_url.trim_end_matches('/'),
            run.run_id
        ),
    ]);
    Alert {
        subject,
        message: lines.join("\n"),
        run_id: run.run_id.clone(),
        state: detail.status.clone(),
    }
}
