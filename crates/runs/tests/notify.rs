//! `failure-notifier` against in-memory ports: a real EventBridge event in, one alert out.

mod support;

use runs::notify::{ExecutionStatusChange, Notifier, NotifierSettings, NotifyOutcome};
use runs::run::{AttemptFailure, Engine, InputObject, ObjectVersion, Run, RunStatus};
use support::{FakeLedger, FakePublisher, fixture};

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

fn notifier(runs: Vec<Run>) -> Notifier<FakeLedger, FakePublisher> {
    Notifier {
        ledger: FakeLedger::with(runs),
        publisher: FakePublisher::default(),
        settings: NotifierSettings {
            status_url: "https://status.example/".into(),
        },
    }
}

fn event_for(run: &Run, status: &str) -> ExecutionStatusChange {
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
    let sent = notifier.publisher.sent.lock().unwrap().clone();
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
        format!("execution: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:123456789012:execution:sluice-process-hit-file:{}", run.run_id),
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
    assert_eq!(notifier.publisher.sent.lock().unwrap().len(), 1);
    assert_eq!(
        notifier
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
    let stored = notifier.ledger.run(&run.run_id).unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    assert_eq!(stored.finished_at.as_deref(), Some(NOW));
    let alert = notifier.publisher.sent.lock().unwrap()[0].clone();
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
    assert!(notifier.publisher.sent.lock().unwrap().is_empty());
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
            status: "SUCCEEDED".into()
        }
    );
    assert!(notifier.publisher.sent.lock().unwrap().is_empty());
    assert_eq!(notifier.ledger.run(&run.run_id).unwrap().alerted_at, None);
}

#[tokio::test]
async fn a_publish_failure_is_an_error_for_eventbridge_to_see() {
    let run = failed_run();
    let notifier = notifier(vec![run.clone()]);
    *notifier.publisher.failing.lock().unwrap() = true;

    assert!(
        notifier
            .handle(event_for(&run, "FAILED"), NOW)
            .await
            .is_err()
    );
}
