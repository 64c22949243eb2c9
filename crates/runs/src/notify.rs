//! `failure-notifier`: a run that finally failed becomes exactly one alert for on-call.
//!
//! Two sources report failures: the process-hit-file workflow when it ends badly ("Step
//! Functions Execution Status Change"), and the Glue job ("Glue Job State Change"). A Glue run
//! the workflow started is the workflow's to report (it retries once first); a Glue run someone
//! else started is recorded in the ledger as a run of its own and reported. EventBridge may
//! deliver an event more than once: the ledger's conditional mark decides who alerts.

use lambda_runtime::Diagnostic;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::ports::{
    Alert, AlertLedger, AlertPublisher, GlueError, GlueRunOrigin, GlueRuns, LedgerError,
    PublishError, RunLedger,
};
use crate::run::{
    AttemptFailure, Engine, InputObject, ObjectVersion, ReportLocation, Run, RunId, RunStatus,
};

/// An EventBridge event; `detail` is read according to `detail-type`.
#[derive(Debug, Deserialize)]
pub struct FailureEvent {
    #[serde(rename = "detail-type", default)]
    pub detail_type: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub time: String,
    pub detail: Value,
}

pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";
pub const GLUE_JOB_STATE_CHANGE: &str = "Glue Job State Change";

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlueJobDetail {
    pub job_name: String,
    pub state: String,
    pub job_run_id: String,
    #[serde(default)]
    pub message: String,
}

const FAILED_EXECUTION: [&str; 3] = ["FAILED", "TIMED_OUT", "ABORTED"];
const FAILED_GLUE_RUN: [&str; 4] = ["FAILED", "TIMEOUT", "STOPPED", "ERROR"];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum NotifyOutcome {
    Alerted {
        run_id: RunId,
    },
    AlreadyAlertedOrSucceeded {
        run_id: RunId,
    },
    /// A Glue run of a workflow: the workflow retries it and reports the run's outcome.
    LeftToTheWorkflow {
        run_id: RunId,
    },
    NotAFailure {
        state: String,
    },
    NotOurs {
        reason: String,
    },
}

#[derive(Debug, Error)]
pub enum NotifyError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Glue(#[from] GlueError),
    #[error("the event's detail is not a {kind}: {reason}")]
    MalformedEvent { kind: &'static str, reason: String },
}

impl From<NotifyError> for Diagnostic {
    fn from(err: NotifyError) -> Self {
        let error_type = match &err {
            NotifyError::Ledger(_) => "LedgerUnavailable",
            NotifyError::Publish(_) => "AlertNotPublished",
            NotifyError::Glue(_) => "GlueUnavailable",
            NotifyError::MalformedEvent { .. } => "MalformedEvent",
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
    /// The Glue job whose state changes are ours.
    pub glue_job_name: String,
}

/// Alerts on-call once per run: the ledger decides, the topic delivers.
pub struct Alerts<L, P> {
    pub ledger: L,
    pub publisher: P,
    pub settings: NotifierSettings,
}

pub struct Notifier<L, P, G> {
    pub alerts: Alerts<L, P>,
    pub glue: G,
}

/// What the alert says about the failure, whichever source reported it.
struct Failure {
    job: String,
    state: String,
    /// What the source said went wrong, for runs whose ledger holds no attempt's error.
    error: Option<String>,
    console_url: Option<String>,
}

impl<L: AlertLedger + RunLedger, P: AlertPublisher, G: GlueRuns> Notifier<L, P, G> {
    pub async fn handle(
        &self,
        event: FailureEvent,
        now: &str,
    ) -> Result<NotifyOutcome, NotifyError> {
        let region = if event.region.is_empty() {
            "us-east-1"
        } else {
            event.region.as_str()
        };
        match event.detail_type.as_str() {
            EXECUTION_STATUS_CHANGE => {
                let detail: ExecutionDetail =
                    serde_json::from_value(event.detail).map_err(|e| {
                        NotifyError::MalformedEvent {
                            kind: "execution status change",
                            reason: e.to_string(),
                        }
                    })?;
                self.alerts.execution_ended(detail, region, now).await
            }
            GLUE_JOB_STATE_CHANGE => {
                let detail: GlueJobDetail = serde_json::from_value(event.detail).map_err(|e| {
                    NotifyError::MalformedEvent {
                        kind: "Glue job state change",
                        reason: e.to_string(),
                    }
                })?;
                let at = if event.time.is_empty() {
                    now
                } else {
                    &event.time
                };
                self.glue_run_ended(detail, region, at, now).await
            }
            other => Ok(NotifyOutcome::NotOurs {
                reason: format!("an event of type {other:?}"),
            }),
        }
    }

    async fn glue_run_ended(
        &self,
        detail: GlueJobDetail,
        region: &str,
        at: &str,
        now: &str,
    ) -> Result<NotifyOutcome, NotifyError> {
        if detail.job_name != self.alerts.settings.glue_job_name {
            return Ok(NotifyOutcome::NotOurs {
                reason: format!("Glue job {}", detail.job_name),
            });
        }
        if !FAILED_GLUE_RUN.contains(&detail.state.as_str()) {
            return Ok(NotifyOutcome::NotAFailure {
                state: detail.state,
            });
        }
        let input = match self
            .glue
            .origin(&detail.job_name, &detail.job_run_id)
            .await?
        {
            GlueRunOrigin::Workflow(run_id) => {
                tracing::info!(%run_id, job_run = %detail.job_run_id, "a workflow's Glue run failed; the workflow reports it");
                return Ok(NotifyOutcome::LeftToTheWorkflow { run_id });
            }
            GlueRunOrigin::Other { input } => input,
        };
        let run = outside_run(&detail, input.as_deref(), at);
        self.alerts.ledger.record(&run).await?;
        let failure = Failure {
            job: detail.job_name.clone(),
            state: detail.state.clone(),
            error: None,
            console_url: Some(format!(
                "https://{region}.console.aws.amazon.com/gluestudio/home?region={region}#/job/{}/run/{}",
                detail.job_name, detail.job_run_id
            )),
        };
        self.alerts.alert_once(&run.run_id, &failure, now).await
    }
}

impl<L: AlertLedger, P: AlertPublisher> Alerts<L, P> {
    /// A workflow execution ended: alert once if it failed.
    pub async fn execution_ended(
        &self,
        detail: ExecutionDetail,
        region: &str,
        now: &str,
    ) -> Result<NotifyOutcome, NotifyError> {
        if !FAILED_EXECUTION.contains(&detail.status.as_str()) {
            return Ok(NotifyOutcome::NotAFailure {
                state: detail.status,
            });
        }
        let Some(run_id) = run_id_of(&detail) else {
            tracing::warn!(execution = %detail.execution_arn, "a failed execution that names no run");
            return Ok(NotifyOutcome::NotOurs {
                reason: format!("execution {} names no run", detail.execution_arn),
            });
        };
        let failure = Failure {
            job: detail
                .state_machine_arn
                .rsplit(':')
                .next()
                .filter(|name| !name.is_empty())
                .unwrap_or("process-hit-file")
                .to_owned(),
            state: detail.status.clone(),
            error: detail.error.as_ref().map(|error| match &detail.cause {
                Some(cause) if !cause.is_empty() => format!("{error}: {cause}"),
                _ => error.clone(),
            }),
            console_url: (!detail.execution_arn.is_empty()).then(|| format!(
                "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{}",
                detail.execution_arn
            )),
        };
        self.alert_once(&run_id, &failure, now).await
    }

    async fn alert_once(
        &self,
        run_id: &RunId,
        failure: &Failure,
        now: &str,
    ) -> Result<NotifyOutcome, NotifyError> {
        let Some(run) = self.ledger.claim_alert(run_id, now).await? else {
            tracing::info!(%run_id, "no alert: already alerted, or the run succeeded");
            return Ok(NotifyOutcome::AlreadyAlertedOrSucceeded {
                run_id: run_id.clone(),
            });
        };
        let alert = compose(&run, failure, &self.settings, now);
        // If publishing fails, the claim is given back and the error returned, so EventBridge's
        // retry of this event can alert.
        if let Err(err) = self.publisher.publish(&alert).await {
            tracing::error!(%run_id, error = %err, "the alert for a failed run was not published");
            if let Err(release) = self.ledger.release_alert(run_id, now).await {
                tracing::error!(%run_id, error = %release, "the alert claim could not be given back");
            }
            return Err(err.into());
        }
        tracing::info!(%run_id, state = %failure.state, "on-call alerted");
        Ok(NotifyOutcome::Alerted {
            run_id: run_id.clone(),
        })
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

/// A ledger entry for a Glue run Sluice did not start, already failed.
fn outside_run(detail: &GlueJobDetail, input: Option<&str>, at: &str) -> Run {
    let (bucket, key) = input
        .and_then(|uri| uri.strip_prefix("s3://"))
        .and_then(|rest| rest.split_once('/'))
        .unwrap_or(("", ""));
    let run_id = RunId::for_glue_job_run(&detail.job_run_id);
    Run {
        report: ReportLocation {
            bucket: String::new(),
            key: String::new(),
        },
        input: InputObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version: ObjectVersion::Unknown,
            size: 0,
        },
        engine: Engine::Glue,
        status: RunStatus::Failed,
        attempts: 1,
        created_at: at.to_owned(),
        started_at: None,
        finished_at: Some(at.to_owned()),
        files_to_process: Vec::new(),
        summary: None,
        failures: vec![AttemptFailure {
            attempt: 1,
            error: format!("Glue{}", detail.state),
            cause: detail.message.clone(),
            at: at.to_owned(),
        }],
        execution_arn: None,
        glue_job_run_id: Some(detail.job_run_id.clone()),
        skipped_reason: None,
        alerted_at: None,
        downloaded_at: None,
        run_id,
    }
}

/// SNS refuses a subject of 100 characters or more, or one with control characters.
const SUBJECT_MAX_CHARS: usize = 99;

/// `Sluice ETL <job> <state> run <id>`, within what SNS accepts: the job name, which follows the
/// stack's name, is shortened first, so the state and the run id always fit.
fn subject(job: &str, state: &str, run_id: &str) -> String {
    let tail = format!(" {state} run {run_id}");
    let room = SUBJECT_MAX_CHARS.saturating_sub("Sluice ETL ".len() + tail.chars().count());
    let mut job: String = job
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if job.chars().count() > room {
        job = job.chars().take(room.saturating_sub(1)).collect();
        job.push('…');
    }
    let subject = format!("Sluice ETL {job}{tail}");
    subject.chars().take(SUBJECT_MAX_CHARS).collect()
}

/// The alert: a subject naming the job and its state, and a body on-call can act on.
fn compose(run: &Run, failure: &Failure, settings: &NotifierSettings, now: &str) -> Alert {
    let subject = subject(&failure.job, &failure.state, run.run_id.as_str());
    let last_error = run
        .failures
        .last()
        .map(|f| format!("{}: {}", f.error, f.message()))
        .or_else(|| failure.error.clone())
        .unwrap_or_else(|| format!("the workflow ended {}", failure.state));
    let mut lines = vec![
        format!(
            "The ETL run {} ended {} after {} attempt(s); the report was not written.",
            run.run_id, failure.state, run.attempts
        ),
        String::new(),
        format!("run: {}", run.run_id),
        format!("state: {}", failure.state),
        format!("input: {}", run.input.uri()),
        format!("key: {}", run.input.key),
        format!("engine: {}", run.engine.as_str()),
        format!("attempts: {}", run.attempts),
        format!("error: {last_error}"),
    ];
    for f in &run.failures {
        lines.push(format!(
            "attempt {}: {} at {}: {}",
            f.attempt,
            f.error,
            f.at,
            f.message()
        ));
    }
    if let Some(job_run) = &run.glue_job_run_id {
        lines.push(format!("glue job run: {job_run}"));
    }
    lines.extend([
        format!(
            "started: {}",
            run.started_at.as_deref().unwrap_or(&run.created_at)
        ),
        format!("failed: {}", run.finished_at.as_deref().unwrap_or(now)),
    ]);
    if let Some(url) = &failure.console_url {
        lines.push(format!("console: {url}"));
    }
    lines.extend([format!(
        "status: {}/runs/{}",
        settings.status_url.trim_end_matches('/'),
        run.run_id
    )]);
    Alert {
        subject,
        message: lines.join("\n"),
        run_id: run.run_id.clone(),
        state: failure.state.clone(),
    }
}
