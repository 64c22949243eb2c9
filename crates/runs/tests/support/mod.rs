//! In-memory fakes of the ETL ports, with the ledger's conditions as DynamoDB applies them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use runs::ports::{
    Alert, AlertLedger, AlertPublisher, ExecutionView, GlueError, GlueRunOrigin, GlueRuns,
    LedgerError, LinkError, ListPosition, ObjectHead, ObjectProbe, PublishError, ReadError,
    Recorded, ReportLinks, RunCatalog, RunLedger, RunListing, RunPage, RunQuery, StartError,
    WorkflowInspector, WorkflowStarter,
};
use runs::run::{ReportLocation, Run, RunId, RunRequest, RunStatus};

#[derive(Default)]
pub struct FakeLedger {
    pub runs: Mutex<HashMap<RunId, Run>>,
    pub failing: Mutex<Option<LedgerError>>,
}

impl FakeLedger {
    pub fn with(runs: impl IntoIterator<Item = Run>) -> Self {
        let ledger = Self::default();
        for run in runs {
            ledger.runs.lock().unwrap().insert(run.run_id.clone(), run);
        }
        ledger
    }

    pub fn run(&self, id: &RunId) -> Option<Run> {
        self.runs.lock().unwrap().get(id).cloned()
    }

    pub fn set_status(&self, id: &RunId, status: RunStatus) {
        self.runs.lock().unwrap().get_mut(id).unwrap().status = status;
    }

    fn fail(&self) -> Result<(), LedgerError> {
        match self.failing.lock().unwrap().clone() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl RunLedger for FakeLedger {
    async fn record(&self, run: &Run) -> Result<Recorded, LedgerError> {
        self.fail()?;
        let mut runs = self.runs.lock().unwrap();
        if let Some(existing) = runs.get(&run.run_id) {
            return Ok(Recorded::Existing(Box::new(existing.clone())));
        }
        runs.insert(run.run_id.clone(), run.clone());
        Ok(Recorded::New)
    }
}

impl AlertLedger for FakeLedger {
    async fn claim_alert(&self, run_id: &RunId, now: &str) -> Result<Option<Run>, LedgerError> {
        self.fail()?;
        let mut runs = self.runs.lock().unwrap();
        let Some(run) = runs.get_mut(run_id) else {
            return Ok(None);
        };
        let claimable = matches!(
            run.status,
            RunStatus::Queued | RunStatus::Running | RunStatus::Failed
        );
        if run.alerted_at.is_some() || !claimable {
            return Ok(None);
        }
        run.status = RunStatus::Failed;
        run.alerted_at = Some(now.to_owned());
        run.finished_at.get_or_insert_with(|| now.to_owned());
        Ok(Some(run.clone()))
    }

    async fn release_alert(&self, run_id: &RunId, claimed_at: &str) -> Result<(), LedgerError> {
        self.fail()?;
        if let Some(run) = self.runs.lock().unwrap().get_mut(run_id)
            && run.alerted_at.as_deref() == Some(claimed_at)
        {
            run.alerted_at = None;
        }
        Ok(())
    }
}

impl RunCatalog for FakeLedger {
    async fn get(&self, run_id: &RunId) -> Result<Option<Run>, LedgerError> {
        self.fail()?;
        Ok(self.run(run_id))
    }

    async fn mark_downloaded(&self, run_id: &RunId, now: &str) -> Result<(), LedgerError> {
        self.fail()?;
        if let Some(run) = self.runs.lock().unwrap().get_mut(run_id)
            && run.status == RunStatus::Succeeded
        {
            run.status = RunStatus::Downloaded;
            run.downloaded_at = Some(now.to_owned());
        }
        Ok(())
    }
}

impl RunListing for FakeLedger {
    async fn list(&self, query: RunQuery<'_>) -> Result<RunPage, LedgerError> {
        self.fail()?;
        let mut runs: Vec<Run> = self
            .runs
            .lock()
            .unwrap()
            .values()
            .filter(|r| query.status.is_none_or(|s| r.status == s))
            .filter(|r| {
                query
                    .created_before
                    .is_none_or(|t| r.created_at.as_str() < t)
            })
            .cloned()
            .collect();
        let position = |r: &Run| (r.created_at.clone(), r.run_id.as_str().to_owned());
        runs.sort_by_key(position);
        if !query.oldest_first {
            runs.reverse();
        }
        if let Some(after) = query.after {
            let after = (after.created_at.clone(), after.run_id.as_str().to_owned());
            runs.retain(|r| {
                if query.oldest_first {
                    position(r) > after
                } else {
                    position(r) < after
                }
            });
        }
        let more = runs.len() > query.limit;
        runs.truncate(query.limit);
        let next = more.then(|| runs.last()).flatten().map(|r| ListPosition {
            created_at: r.created_at.clone(),
            run_id: r.run_id.clone(),
        });
        Ok(RunPage { runs, next })
    }
}

/// Starts by execution name, as a STANDARD state machine does: one execution per name.
#[derive(Default)]
pub struct FakeWorkflow {
    pub starts: Mutex<Vec<RunRequest>>,
    pub failing: Mutex<Option<StartError>>,
    /// Executions by name, as DescribeExecution would show them.
    pub executions: Mutex<HashMap<RunId, ExecutionView>>,
}

impl FakeWorkflow {
    pub fn executions(&self) -> usize {
        let starts = self.starts.lock().unwrap();
        let mut names: Vec<_> = starts.iter().map(|r| r.run_id.clone()).collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        names.dedup();
        names.len()
    }
}

impl WorkflowStarter for FakeWorkflow {
    async fn start(&self, run: &RunRequest) -> Result<(), StartError> {
        if let Some(err) = self.failing.lock().unwrap().clone() {
            return Err(err);
        }
        self.starts.lock().unwrap().push(run.clone());
        self.executions
            .lock()
            .unwrap()
            .entry(run.run_id.clone())
            .or_insert_with(|| ExecutionView {
                arn: format!(
                    "arn:aws:states:us-east-1:123456789012:execution:sm:{}",
                    run.run_id
                ),
                status: "RUNNING".into(),
                error: None,
                cause: None,
            });
        Ok(())
    }
}

impl WorkflowInspector for FakeWorkflow {
    async fn execution(&self, run_id: &RunId) -> Result<Option<ExecutionView>, StartError> {
        Ok(self.executions.lock().unwrap().get(run_id).cloned())
    }
}

#[derive(Default)]
pub struct FakePublisher {
    pub sent: Mutex<Vec<Alert>>,
    pub failing: Mutex<bool>,
}

impl AlertPublisher for FakePublisher {
    async fn publish(&self, alert: &Alert) -> Result<(), PublishError> {
        if *self.failing.lock().unwrap() {
            return Err(PublishError("topic unreachable".into()));
        }
        self.sent.lock().unwrap().push(alert.clone());
        Ok(())
    }
}

/// Glue job runs by id, with the origin their arguments tell.
#[derive(Default)]
pub struct FakeGlue {
    pub runs: Mutex<HashMap<String, GlueRunOrigin>>,
}

impl GlueRuns for FakeGlue {
    async fn origin(&self, _job: &str, job_run_id: &str) -> Result<GlueRunOrigin, GlueError> {
        self.runs
            .lock()
            .unwrap()
            .get(job_run_id)
            .cloned()
            .ok_or_else(|| GlueError(format!("EntityNotFoundException: {job_run_id}")))
    }
}

/// Objects by (bucket, key).
#[derive(Default)]
pub struct FakeObjects {
    pub objects: Mutex<HashMap<(String, String), ObjectHead>>,
}

impl ObjectProbe for FakeObjects {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, ReadError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned())
    }
}

pub struct FakeLinks;

impl ReportLinks for FakeLinks {
    async fn link(
        &self,
        location: &ReportLocation,
        valid_for: Duration,
    ) -> Result<String, LinkError> {
        Ok(format!(
            "https://{}.s3.amazonaws.com/{}?X-Amz-Expires={}",
            location.bucket,
            location.key,
            valid_for.as_secs()
        ))
    }
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("fixture")
}
