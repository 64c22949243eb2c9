//! `run-reconciler` against in-memory ports: stuck runs are started or failed, once.

mod support;

use runs::notify::{Alerts, NotifierSettings};
use runs::ports::ExecutionView;
use runs::reconcile::{Reconciler, ReconcilerSettings};
use runs::run::{Engine, InputObject, ObjectVersion, Run, RunStatus};
use support::{FakeLedger, FakePublisher, FakeWorkflow};

const NOW: &str = "2026-11-23T12:00:00.000Z";
const STALE_BEFORE: &str = "2026-11-23T09:00:00.000Z";

fn run(name: &str, status: RunStatus, created_at: &str) -> Run {
    let mut run = Run::queued(
        InputObject {
            bucket: "in".into(),
            key: format!("incoming/{name}.tsv"),
            version: ObjectVersion::Etag("e".into()),
            size: 10,
        },
        Engine::Lambda,
        "out",
        created_at,
    );
    run.status = status;
    run
}

fn reconciler(runs: Vec<Run>) -> Reconciler<FakeLedger, FakePublisher, FakeWorkflow> {
    Reconciler {
        alerts: Alerts {
            ledger: FakeLedger::with(runs),
            publisher: FakePublisher::default(),
            settings: NotifierSettings {
                status_url: "https://status.example".into(),
                glue_job_name: "job".into(),
            },
        },
        workflow: FakeWorkflow::default(),
        settings: ReconcilerSettings {
            page: 1,
            max_runs: 100,
            region: "us-east-1".into(),
        },
    }
}

#[tokio::test]
async fn a_queued_run_that_never_started_is_started_and_a_fresh_one_is_left_alone() {
    let stuck = run("stuck", RunStatus::Queued, "2026-11-23T08:00:00.000Z");
    let fresh = run("fresh", RunStatus::Queued, "2026-11-23T11:59:00.000Z");
    let reconciler = reconciler(vec![stuck.clone(), fresh.clone()]);

    let report = reconciler.handle(STALE_BEFORE, NOW).await.unwrap();

    assert_eq!(report.started, std::slice::from_ref(&stuck.run_id));
    assert_eq!(report.looked_at, 1);
    let starts = reconciler.workflow.starts.lock().unwrap().clone();
    assert_eq!(starts, [stuck.request()]);

    let again = reconciler.handle(STALE_BEFORE, NOW).await.unwrap();
    assert!(again.started.is_empty(), "started once: {again:?}");
    assert_eq!(again.still_running, 1);
}

#[tokio::test]
async fn a_run_whose_execution_ended_unheard_is_failed_and_alerted_once() {
    let lost = run("lost", RunStatus::Running, "2026-11-23T07:00:00.000Z");
    let alive = run("alive", RunStatus::Running, "2026-11-23T07:30:00.000Z");
    let reconciler = reconciler(vec![lost.clone(), alive.clone()]);
    for (r, status) in [(&lost, "ABORTED"), (&alive, "RUNNING")] {
        reconciler.workflow.executions.lock().unwrap().insert(
            r.run_id.clone(),
            ExecutionView {
                arn: format!("arn:aws:states:us-east-1:1:execution:sm:{}", r.run_id),
                status: status.into(),
                error: None,
                cause: None,
            },
        );
    }

    let report = reconciler.handle(STALE_BEFORE, NOW).await.unwrap();
    let again = reconciler.handle(STALE_BEFORE, NOW).await.unwrap();

    assert_eq!(report.alerted, std::slice::from_ref(&lost.run_id));
    assert_eq!(report.still_running, 1);
    assert!(again.alerted.is_empty());
    let stored = reconciler.alerts.ledger.run(&lost.run_id).unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    let sent = reconciler.alerts.publisher.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].subject.contains("ABORTED"), "{}", sent[0].subject);
    assert!(
        reconciler.workflow.starts.lock().unwrap().is_empty(),
        "no third attempt"
    );
}

#[tokio::test]
async fn a_running_run_without_an_execution_is_failed_as_lost() {
    let orphan = run("orphan", RunStatus::Running, "2026-11-23T07:00:00.000Z");
    let reconciler = reconciler(vec![orphan.clone()]);

    let report = reconciler.handle(STALE_BEFORE, NOW).await.unwrap();

    assert_eq!(report.alerted, std::slice::from_ref(&orphan.run_id));
    let alert = reconciler.alerts.publisher.sent.lock().unwrap()[0].clone();
    assert!(alert.message.contains("ExecutionLost"), "{}", alert.message);
}

#[tokio::test]
async fn a_pass_looks_at_the_oldest_runs_first_and_at_most_its_cap() {
    let runs: Vec<Run> = (0..5)
        .map(|i| {
            run(
                &format!("old{i}"),
                RunStatus::Queued,
                &format!("2026-11-23T0{i}:00:00.000Z"),
            )
        })
        .collect();
    let mut reconciler = reconciler(runs.clone());
    reconciler.settings.max_runs = 2;

    let report = reconciler.handle(STALE_BEFORE, NOW).await.unwrap();

    assert_eq!(report.looked_at, 2);
    assert_eq!(
        report.started,
        [runs[0].run_id.clone(), runs[1].run_id.clone()]
    );
}

#[tokio::test]
async fn an_execution_that_succeeded_is_neither_restarted_nor_alerted() {
    let odd = run("odd", RunStatus::Running, "2026-11-23T07:00:00.000Z");
    let reconciler = reconciler(vec![odd.clone()]);
    reconciler.workflow.executions.lock().unwrap().insert(
        odd.run_id.clone(),
        ExecutionView {
            arn: "arn".into(),
            status: "SUCCEEDED".into(),
            error: None,
            cause: None,
        },
    );

    let report = reconciler.handle(STALE_BEFORE, NOW).await.unwrap();

    assert!(
        report.started.is_empty() && report.alerted.is_empty(),
        "{report:?}"
    );
    assert!(reconciler.alerts.publisher.sent.lock().unwrap().is_empty());
    assert!(reconciler.workflow.starts.lock().unwrap().is_empty());
}
