//! `etl-trigger`: an S3 ObjectCreated event in, one run per object version out.
//!
//! The ledger's conditional write makes every delivery of the same event (S3 delivers at least
//! once, sometimes twice at the same moment) find the same run; only a run still `queued` has
//! its workflow started, and the workflow's execution name is the run id, so a second start
//! while it runs is the same execution.

use lambda_runtime::Diagnostic;
use serde::Serialize;
use thiserror::Error;

use crate::ports::{LedgerError, Recorded, RunLedger, StartError, WorkflowStarter};
use crate::run::{Engine, InputObject, Run, RunId, RunStatus};
use crate::s3_event::S3Notification;

#[derive(Debug, Clone)]
pub struct TriggerSettings {
    /// Keys that do not end in this are skipped (empty: every key is a hit file).
    pub suffix: String,
    pub outbound_bucket: String,
    pub engines: EngineChoice,
}

/// Which engine processes an object.
#[derive(Debug, Clone)]
pub struct EngineChoice {
    /// Objects larger than this go to Glue.
    pub lambda_max_bytes: u64,
    /// Keys under this prefix always go to Glue (empty: none do).
    pub glue_prefix: String,
    /// When set, every run uses this engine.
    pub forced: Option<Engine>,
}

impl EngineChoice {
    pub fn for_object(&self, object: &InputObject) -> Engine {
        if let Some(engine) = self.forced {
            engine
        } else if object.size > self.lambda_max_bytes
            || (!self.glue_prefix.is_empty() && object.key.starts_with(&self.glue_prefix))
        {
            Engine::Glue
        } else {
            Engine::Lambda
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TriggerOutcome {
    Started { run_id: RunId },
    AlreadyKnown { run_id: RunId, status: RunStatus },
    Skipped { run_id: RunId, reason: String },
    Ignored { reason: String },
}

#[derive(Debug, Error)]
pub enum TriggerError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Start(#[from] StartError),
}

impl From<TriggerError> for Diagnostic {
    fn from(err: TriggerError) -> Self {
        let error_type = match &err {
            TriggerError::Ledger(_) => "LedgerUnavailable",
            TriggerError::Start(_) => "WorkflowNotStarted",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

pub struct Trigger<L, W> {
    pub ledger: L,
    pub workflow: W,
    pub settings: TriggerSettings,
}

impl<L: RunLedger, W: WorkflowStarter> Trigger<L, W> {
    /// Handles every record of the event; a failure on one does not stop the others, and the
    /// first one is returned so that S3's retry delivers the event again (which is safe).
    pub async fn handle(
        &self,
        event: S3Notification,
        now: &str,
    ) -> Result<Vec<TriggerOutcome>, TriggerError> {
        let mut outcomes = Vec::with_capacity(event.records.len());
        let mut first_error = None;
        for record in &event.records {
            if !record.is_object_created() {
                outcomes.push(TriggerOutcome::Ignored {
                    reason: format!("{} is not an object creation", record.event_name),
                });
                continue;
            }
            let object = match record.input_object() {
                Ok(object) => object,
                Err(problem) => {
                    tracing::error!(%problem, "S3 record names no usable object");
                    outcomes.push(TriggerOutcome::Ignored {
                        reason: problem.to_string(),
                    });
                    continue;
                }
            };
            match self.accept(object, now).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(err) => {
                    tracing::error!(error = %err, "run not recorded or not started");
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(outcomes),
        }
    }

    async fn accept(&self, object: InputObject, now: &str) -> Result<TriggerOutcome, TriggerError> {
        let bucket = &self.settings.outbound_bucket;
        if let Some(reason) = self.skip_reason(&object) {
            let run = Run::skipped(object, &reason, bucket, now);
            self.ledger.record(&run).await?;
            tracing::info!(run_id = %run.run_id, reason, "object skipped");
            return Ok(TriggerOutcome::Skipped {
                run_id: run.run_id,
                reason,
            });
        }
        let engine = self.settings.engines.for_object(&object);
        let fresh = Run::queued(object, engine, bucket, now);
        let run = match self.ledger.record(&fresh).await? {
            Recorded::New => fresh,
            Recorded::Existing(existing) if existing.status == RunStatus::Queued => *existing,
            Recorded::Existing(existing) => {
                tracing::info!(run_id = %existing.run_id, status = existing.status.as_str(), "duplicate event");
                return Ok(TriggerOutcome::AlreadyKnown {
                    run_id: existing.run_id,
                    status: existing.status,
                });
            }
        };
        // A run left queued by an earlier delivery that died before starting it is started here.
        self.workflow.start(&run.request()).await?;
        tracing::info!(run_id = %run.run_id, key = %run.input.key, "run started");
        Ok(TriggerOutcome::Started { run_id: run.run_id })
    }

    fn skip_reason(&self, object: &InputObject) -> Option<String> {
        if object.key.ends_with('/') {
            Some("the key is a folder marker".into())
        } else if object.size == 0 {
            Some("the object is empty".into())
        } else if !object.key.ends_with(&self.settings.suffix) {
            Some(format!(
                "the key does not end in {:?}",
                self.settings.suffix
            ))
        } else {
            None
        }
    }
}
