//! `failure-notifier` against in-memory ports: a real EventBridge event in, one alert out.

mod support;

use runs::notify::{Alerts, FailureEvent, Notifier, NotifierSettings, NotifyOutcome};
use runs::ports::GlueRunOrigin;
use runs::run::{AttemptFailure, Engine, InputObject, ObjectVersion, Run, RunId, RunStatus};
use support::{FakeGlue, FakeLedger, FakePublisher, fixture};

const NOW: &str = "2026-11-23T10:16:02.000Z";

fn failed_run() -> Run {
    let mut run = Run::queued(
        InputObject {
            bucket: "sluice-inbound".into(),
            key: "incoming/day one.tsv".into(),
            version: ObjectVersion::Etag("abc".into()),
            size: 2048,
        },
        Engine::Lambda,
        "sluice-outbound",
        "2026-11-23T10:15:00.000Z",
    );
    run.status = RunStatus::Failed;
    run.attempts = 2;
    run.started_at = Some("2026-11-23T10:15:30.000Z".into());
    run.finished_at = Some("2026-11-23T10:16:00.000Z".into());
    run.failures = (1..=2)
        .map(|attempt| AttemptFailure {
            attempt,
            error: "InputRefused".into(),
            cause: r#"{"errorType":"InputRefused","errorMessage":"the engine refused the input: the header lacks the column(s) ip"}"#.into(),
            at: format!("2026-11-23T10:15:4{attempt}.000Z"),
        })
        .collect();
    run
}

fn notifier(runs: Vec<Run>) -> Notifier<FakeLedger, FakePublisher, FakeGlue> {
    Notifier {
        alerts: Alerts {
            ledger: FakeLedger::with(runs),
            publisher: FakePublisher::default(),
            settings: NotifierSettings {
                status_url: "https://status.example/".into(),
                glue_job_name: "sluice-search-keyword-performance".into(),
            },
        },
        glue: FakeGlue::default(),
    }
}

fn glue_event(job_run_id: &str, state: &str) -> FailureEvent {
    let text = fixture("glue-job-failed.json")
        .replace("JOB_RUN_ID", job_run_id)
        .replace("\"FAILED\"", &format!("\"{state}\""));
    serde_json::from_str(&text).expect("an EventBridge event")
}

fn event_for(run: &Run, status: &str) -> FailureEvent {
    let text = fixture("sfn-execution-failed.json")
        .replace("RUN_ID", run.run_id.as_str())
        .replace("\"FAILED\"", &format!("\"{status}\""));
    serde_json::from_str(&text).expect("an EventBridge event")
}

#[tokio::test]
async fn a_failed_run_pages_on_call_once_with_what_they_need() {
    let run = failed_run();
    let notifier = notifier(vec![run.clone()]);

    let outcome = notifier
        .handle(event_for(&run, "FAILED"), NOW)
        .await
        .unwrap();

    assert_eq!(
        outcome,
        NotifyOutcome::Alerted {
            run_id: run.run_id.clone()
        }
    );
    let sent = notifier.alerts.publisher.sent.lock().unwrap().clone();
    let [alert] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(
        alert.subject,
        format!(
            "Sluice ETL sluice-process-hit-file FAILED run {}",
            run.run_id
        )
    );
    for line in [
        format!("run: {}", run.run_id),
        "input: s3://sluice-inbound/incoming/day one.tsv".to_owned(),
        "key: incoming/day one.tsv".to_owned(),
        "engine: lambda".to_owned(),
        "attempts: 2".to_owned(),
        "error: InputRefused: the engine refused the input: the header lacks the column(s) ip".to_owned(),
        "attempt 1: InputRefused at 2026-11-23T10:15:41.000Z: the engine refused the input: the header lacks the column(s) ip".to_owned(),
        "attempt 2: InputRefused at 2026-11-23T10:15:42.000Z: the engine refused the input: the header lacks the column(s) ip".to_owned(),
        "started: 2026-11-23T10:15:30.000Z".to_owned(),
        "failed: 2026-11-23T10:16:00.000Z".to_owned(),
        format!("console: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:123456789012:execution:sluice-process-hit-file:{}", run.run_id),
        format!("status: https://status.example/runs/{}", run.run_id),
    ] {
        assert!(alert.message.lines().any(|l| l == line), "missing {line:?} in\n{}", alert.message);
    }

    let again = notifier
        .handle(event_for(&run, "FAILED"), NOW)
        .await
        .unwrap();
    assert_eq!(
        again,
        NotifyOutcome::AlreadyAlertedOrSucceeded {
            run_id: run.run_id.clone()
        }
    );
    assert_eq!(notifier.alerts.publisher.sent.lock().unwrap().len(), 1);
    assert_eq!(
        notifier
            .alerts
            .ledger
            .run(&run.run_id)
            .unwrap()
            .alerted_at
            .as_deref(),
        Some(NOW)
    );
}

#[tokio::test]
async fn a_timed_out_execution_marks_a_running_run_failed_and_alerts() {
    let mut run = failed_run();
    run.status = RunStatus::Running;
    run.finished_at = None;
    let notifier = notifier(vec![run.clone()]);

    let outcome = notifier
        .handle(event_for(&run, "TIMED_OUT"), NOW)
        .await
        .unwrap();

    assert!(matches!(outcome, NotifyOutcome::Alerted { .. }));
    let stored = notifier.alerts.ledger.run(&run.run_id).unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    assert_eq!(stored.finished_at.as_deref(), Some(NOW));
    let alert = notifier.alerts.publisher.sent.lock().unwrap()[0].clone();
    assert!(alert.subject.contains("TIMED_OUT"), "{}", alert.subject);
}

#[tokio::test]
async fn a_run_that_succeeded_pages_nobody() {
    let mut run = failed_run();
    run.status = RunStatus::Succeeded;
    let notifier = notifier(vec![run.clone()]);

    let outcome = notifier
        .handle(event_for(&run, "FAILED"), NOW)
        .await
        .unwrap();

    assert!(matches!(
        outcome,
        NotifyOutcome::AlreadyAlertedOrSucceeded { .. }
    ));
    assert!(notifier.alerts.publisher.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_succeeded_execution_is_not_a_failure() {
    let run = failed_run();
    let notifier = notifier(vec![run.clone()]);

    let outcome = notifier
        .handle(event_for(&run, "SUCCEEDED"), NOW)
        .await
        .unwrap();

    assert_eq!(
        outcome,
        NotifyOutcome::NotAFailure {
            state: "SUCCEEDED".into()
        }
    );
    assert!(notifier.alerts.publisher.sent.lock().unwrap().is_empty());
    assert_eq!(
        notifier.alerts.ledger.run(&run.run_id).unwrap().alerted_at,
        None
    );
}

#[tokio::test]
async fn a_publish_failure_is_an_error_and_eventbridges_retry_alerts_once() {
    let run = failed_run();
    let notifier = notifier(vec![run.clone()]);
    *notifier.alerts.publisher.failing.lock().unwrap() = true;

    assert!(
        notifier
            .handle(event_for(&run, "FAILED"), NOW)
            .await
            .is_err()
    );
    *notifier.alerts.publisher.failing.lock().unwrap() = false;
    let retried = notifier
        .handle(event_for(&run, "FAILED"), "2026-11-23T10:16:05.000Z")
        .await
        .unwrap();
    let again = notifier
        .handle(event_for(&run, "FAILED"), "2026-11-23T10:16:09.000Z")
        .await
        .unwrap();

    assert!(
        matches!(retried, NotifyOutcome::Alerted { .. }),
        "{retried:?}"
    );
    assert!(matches!(
        again,
        NotifyOutcome::AlreadyAlertedOrSucceeded { .. }
    ));
    assert_eq!(notifier.alerts.publisher.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_glue_run_of_a_workflow_is_left_to_the_workflow() {
    let run = failed_run();
    let notifier = notifier(vec![run.clone()]);
    notifier
        .glue
        .runs
        .lock()
        .unwrap()
        .insert("jr_1".into(), GlueRunOrigin::Workflow(run.run_id.clone()));

    let outcome = notifier
        .handle(glue_event("jr_1", "FAILED"), NOW)
        .await
        .unwrap();

    assert_eq!(
        outcome,
        NotifyOutcome::LeftToTheWorkflow {
            run_id: run.run_id.clone()
        }
    );
    assert!(notifier.alerts.publisher.sent.lock().unwrap().is_empty());
    assert_eq!(
        notifier.alerts.ledger.run(&run.run_id).unwrap().alerted_at,
        None
    );
}

#[tokio::test]
async fn a_glue_run_started_by_hand_is_recorded_and_pages_once() {
    let notifier = notifier(vec![]);
    notifier.glue.runs.lock().unwrap().insert(
        "jr_manual".into(),
        GlueRunOrigin::Other {
            input: Some("s3://sluice-inbound/incoming/big day.tsv".into()),
        },
    );

    let first = notifier
        .handle(glue_event("jr_manual", "TIMEOUT"), NOW)
        .await
        .unwrap();
    let again = notifier
        .handle(glue_event("jr_manual", "TIMEOUT"), NOW)
        .await
        .unwrap();

    let run_id = RunId::for_glue_job_run("jr_manual");
    assert_eq!(
        first,
        NotifyOutcome::Alerted {
            run_id: run_id.clone()
        }
    );
    assert_eq!(
        again,
        NotifyOutcome::AlreadyAlertedOrSucceeded {
            run_id: run_id.clone()
        }
    );
    let sent = notifier.alerts.publisher.sent.lock().unwrap().clone();
    let [alert] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(
        alert.subject,
        format!("Sluice ETL sluice-search-keyword-performance TIMEOUT run {run_id}")
    );
    for line in [
        "input: s3://sluice-inbound/incoming/big day.tsv",
        "engine: glue",
        "glue job run: jr_manual",
        "error: GlueTIMEOUT: Job run exceeded the timeout",
        "console: https://us-east-1.console.aws.amazon.com/gluestudio/home?region=us-east-1#/job/sluice-search-keyword-performance/run/jr_manual",
    ] {
        assert!(
            alert.message.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            alert.message
        );
    }
    let recorded = notifier.alerts.ledger.run(&run_id).unwrap();
    assert_eq!(recorded.status, RunStatus::Failed);
    assert_eq!(recorded.engine, Engine::Glue);
}

#[tokio::test]
async fn other_jobs_and_successful_glue_runs_page_nobody() {
    let notifier = notifier(vec![]);

    let succeeded = notifier
        .handle(glue_event("jr_2", "SUCCEEDED"), NOW)
        .await
        .unwrap();
    let mut other = glue_event("jr_3", "FAILED");
    other.detail["jobName"] = "someone-elses-job".into();
    let other = notifier.handle(other, NOW).await.unwrap();

    assert_eq!(
        succeeded,
        NotifyOutcome::NotAFailure {
            state: "SUCCEEDED".into()
        }
    );
    assert!(matches!(other, NotifyOutcome::NotOurs { .. }));
    assert!(notifier.alerts.publisher.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_subject_stays_within_what_sns_accepts_for_a_long_stack_name() {
    let job = "retail-analytics-production-eu-west-1-search-keyword-performance";
    let mut notifier = notifier(vec![]);
    notifier.alerts.settings.glue_job_name = job.into();
    notifier.glue.runs.lock().unwrap().insert(
        "jr_manual".into(),
        GlueRunOrigin::Other {
            input: Some("s3://sluice-inbound/incoming/big day.tsv".into()),
        },
    );
    let event = fixture("glue-job-failed.json")
        .replace("JOB_RUN_ID", "jr_manual")
        .replace("sluice-search-keyword-performance", job);

    notifier
        .handle(serde_json::from_str(&event).unwrap(), NOW)
        .await
        .unwrap();

    let sent = notifier.alerts.publisher.sent.lock().unwrap().clone();
    let [alert] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    let run_id = RunId::for_glue_job_run("jr_manual");
    assert!(alert.subject.chars().count() < 100, "{}", alert.subject);
    assert!(alert.subject.starts_with("Sluice ETL retail-analytics-"));
    assert!(
        alert.subject.ends_with(&format!(" FAILED run {run_id}")),
        "{}",
        alert.subject
    );
    assert!(alert.message.contains(&format!("run: {run_id}")));
}
