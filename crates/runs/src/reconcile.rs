//! `run-reconciler`: on a schedule, nothing stays queued or running forever.
//!
//! A run still `queued` or `running` long after it was created is checked against its
//! execution (named by the run id): one that never started (the trigger died between the
//! ledger write and the start) is started now; one whose execution ended badly without the
//! ledger or on-call hearing of it (a lost event) is failed and alerted, once. Attempts stay
//! at most two: the workflow's own condition refuses a third.

use lambda_runtime::Diagnostic;
use serde::Serialize;
use thiserror::Error;

use crate::notify::{Alerts, ExecutionDetail, NotifyError, NotifyOutcome};
use crate::ports::{
    AlertLedger, AlertPublisher, LedgerError, ListPosition, RunListing, RunQuery, StartError,
    WorkflowInspector, WorkflowStarter,
};
use crate::run::{Run, RunId, RunStatus};

#[derive(Debug, Clone)]
pub struct ReconcilerSettings {
    /// Runs are looked at this many per ledger read.
    pub page: usize,
    /// At most this many runs per pass, so a pass ends well within the function's time.
    pub max_runs: usize,
    pub region: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    pub looked_at: usize,
    pub started: Vec<RunId>,
    pub alerted: Vec<RunId>,
    pub still_running: usize,
}

#[derive(Debug, Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Workflow(#[from] StartError),
    #[error(transparent)]
    Alert(#[from] NotifyError),
}

impl From<ReconcileError> for Diagnostic {
    fn from(err: ReconcileError) -> Self {
        let error_type = match &err {
            ReconcileError::Ledger(_) => "LedgerUnavailable",
            ReconcileError::Workflow(_) => "WorkflowUnavailable",
            ReconcileError::Alert(_) => "AlertNotPublished",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

pub struct Reconciler<L, P, W> {
    pub alerts: Alerts<L, P>,
    pub workflow: W,
    pub settings: ReconcilerSettings,
}

impl<L, P, W> Reconciler<L, P, W>
where
    L: AlertLedger + RunListing,
    P: AlertPublisher,
    W: WorkflowStarter + WorkflowInspector,
{
    /// One pass over the runs created before `stale_before` that are still open.
    pub async fn handle(
        &self,
        stale_before: &str,
        now: &str,
    ) -> Result<ReconcileReport, ReconcileError> {
        let mut report = ReconcileReport::default();
        for status in [RunStatus::Queued, RunStatus::Running] {
            let mut after: Option<ListPosition> = None;
            loop {
                let page = self
                    .alerts
                    .ledger
                    .list(RunQuery {
                        status: Some(status),
                        created_before: Some(stale_before),
                        // The longest-stuck first, so a capped pass never starves them.
                        oldest_first: true,
                        limit: self.settings.page,
                        after: after.as_ref(),
                    })
                    .await?;
                for run in &page.runs {
                    if report.looked_at == self.settings.max_runs {
                        return Ok(report);
                    }
                    report.looked_at += 1;
                    self.settle(run, now, &mut report).await?;
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(report)
    }

    async fn settle(
        &self,
        run: &Run,
        now: &str,
        report: &mut ReconcileReport,
    ) -> Result<(), ReconcileError> {
        let execution = self.workflow.execution(&run.run_id).await?;
        match execution {
            None if run.status == RunStatus::Queued => {
                tracing::warn!(run_id = %run.run_id, "a queued run never started: starting it");
                self.workflow.start(&run.request()).await?;
                report.started.push(run.run_id.clone());
            }
            Some(execution) if execution.status == "RUNNING" => report.still_running += 1,
            Some(execution) if execution.status == "SUCCEEDED" => {
                tracing::error!(run_id = %run.run_id, "the execution succeeded but the ledger says {}", run.status.as_str());
            }
            ended => {
                let (arn, status, error, cause) = match ended {
                    Some(e) => (e.arn, e.status, e.error, e.cause),
                    None => (
                        String::new(),
                        "FAILED".to_owned(),
                        Some("ExecutionLost".to_owned()),
                        Some("the run is running but its execution does not exist".to_owned()),
                    ),
                };
                tracing::warn!(run_id = %run.run_id, status, "an ended execution the ledger did not hear of");
                let detail = ExecutionDetail {
                    execution_arn: arn,
                    state_machine_arn: String::new(),
                    name: run.run_id.to_string(),
                    status,
                    input: None,
                    error,
                    cause,
                };
                if let NotifyOutcome::Alerted { run_id } = self
                    .alerts
                    .execution_ended(detail, &self.settings.region, now)
                    .await?
                {
                    report.alerted.push(run_id);
                }
            }
        }
        Ok(())
    }
}
