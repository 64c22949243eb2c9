//! `etl-trigger` against in-memory ports: real S3 event JSON in, ledger and workflow checked.

mod support;

use runs::ports::{LedgerError, StartError};
use runs::run::Engine;
use runs::run::{ObjectVersion, RunStatus};
use runs::s3_event::S3Notification;
use runs::trigger::{EngineChoice, Trigger, TriggerOutcome, TriggerSettings};
use support::{FakeLedger, FakeWorkflow, fixture};

const NOW: &str = "2026-11-23T10:15:01.000Z";

fn trigger() -> Trigger<FakeLedger, FakeWorkflow> {
    Trigger {
        ledger: FakeLedger::default(),
        workflow: FakeWorkflow::default(),
        settings: TriggerSettings {
            suffix: ".tsv".into(),
            outbound_bucket: "sluice-outbound".into(),
            engines: EngineChoice {
                lambda_max_bytes: 2048,
                glue_prefix: "incoming/glue/".into(),
                forced: None,
            },
        },
    }
}

fn event(name: &str) -> S3Notification {
    serde_json::from_str(&fixture(name)).expect("an S3 event")
}

#[tokio::test]
async fn an_object_created_event_queues_a_run_and_starts_its_workflow() {
    let trigger = trigger();

    let outcomes = trigger
        .handle(event("s3-object-created.json"), NOW)
        .await
        .unwrap();

    let [TriggerOutcome::Started { run_id }] = outcomes.as_slice() else {
        panic!("{outcomes:?}");
    };
    let run = trigger
        .ledger
        .run(run_id)
        .expect("the run is in the ledger");
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.input.key, "incoming/hit data 2026/été +1.tsv");
    assert_eq!(
        run.input.version,
        ObjectVersion::VersionId("096fKKXTRTtl3on89fVO.nfljtsv6qko".into())
    );
    assert_eq!(run.input.size, 1024);
    assert_eq!(
        run.report.key,
        format!("2026-11-23/{run_id}/2026-11-23_SearchKeywordPerformance.tab")
    );
    let starts = trigger.workflow.starts.lock().unwrap();
    assert_eq!(starts.as_slice(), [run.request()]);
}

#[tokio::test]
async fn the_same_event_delivered_again_is_the_same_run_and_the_same_execution() {
    let trigger = trigger();

    let first = trigger
        .handle(event("s3-object-created.json"), NOW)
        .await
        .unwrap();
    let again = trigger
        .handle(event("s3-object-created.json"), "2026-11-23T10:15:09.000Z")
        .await
        .unwrap();

    assert_eq!(first, again, "a queued run is started again under its name");
    assert_eq!(trigger.ledger.runs.lock().unwrap().len(), 1);
    assert_eq!(trigger.workflow.executions(), 1);
    let starts = trigger.workflow.starts.lock().unwrap().clone();
    assert_eq!(
        starts[0], starts[1],
        "the same input, so the same execution"
    );
}

#[tokio::test]
async fn a_late_duplicate_of_a_started_run_starts_nothing() {
    let trigger = trigger();
    let outcomes = trigger
        .handle(event("s3-object-created.json"), NOW)
        .await
        .unwrap();
    let TriggerOutcome::Started { run_id } = &outcomes[0] else {
        panic!()
    };
    trigger.ledger.set_status(run_id, RunStatus::Succeeded);

    let again = trigger
        .handle(event("s3-object-created.json"), NOW)
        .await
        .unwrap();

    assert_eq!(
        again,
        [TriggerOutcome::AlreadyKnown {
            run_id: run_id.clone(),
            status: RunStatus::Succeeded
        }]
    );
    assert_eq!(trigger.workflow.starts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_empty_object_is_recorded_as_skipped_and_never_started() {
    let trigger = trigger();

    let outcomes = trigger
        .handle(event("s3-object-created-local.json"), NOW)
        .await
        .unwrap();

    assert!(matches!(&outcomes[0], TriggerOutcome::Started { .. }));
    let TriggerOutcome::Skipped { run_id, reason } = &outcomes[1] else {
        panic!("{outcomes:?}");
    };
    assert_eq!(reason, "the object is empty");
    let skipped = trigger.ledger.run(run_id).unwrap();
    assert_eq!(skipped.status, RunStatus::Skipped);
    assert_eq!(skipped.input.key, "incoming/empty.tsv");
    assert_eq!(
        skipped.skipped_reason.as_deref(),
        Some("the object is empty")
    );
    let starts = trigger.workflow.starts.lock().unwrap();
    assert_eq!(starts.len(), 1);
    assert_eq!(
        starts[0].key, "incoming/day one.tsv",
        "the local key, %2F and all, decoded"
    );
}

#[tokio::test]
async fn folder_markers_and_other_suffixes_are_skipped_with_the_reason() {
    let trigger = trigger();
    let mut notification = event("s3-object-created-local.json");
    notification.records[0].s3.object.key = "incoming%2Fnotes.txt".into();
    notification.records[1].s3.object.key = "incoming%2Fsub%2F".into();
    notification.records[1].s3.object.size = 0;

    let outcomes = trigger.handle(notification, NOW).await.unwrap();

    let reasons: Vec<_> = outcomes
        .iter()
        .map(|o| match o {
            TriggerOutcome::Skipped { reason, .. } => reason.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "the key does not end in \".tsv\"",
            "the key is a folder marker"
        ]
    );
    assert!(trigger.workflow.starts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_ledger_outage_fails_the_invocation_so_s3_delivers_again() {
    let trigger = trigger();
    *trigger.ledger.failing.lock().unwrap() = Some(LedgerError::Throttled);

    let result = trigger.handle(event("s3-object-created.json"), NOW).await;

    assert!(result.is_err());
    assert!(trigger.workflow.starts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_run_whose_start_failed_is_started_by_the_next_delivery() {
    let trigger = trigger();
    *trigger.workflow.failing.lock().unwrap() = Some(StartError::Throttled);
    assert!(
        trigger
            .handle(event("s3-object-created.json"), NOW)
            .await
            .is_err()
    );
    assert_eq!(
        trigger.ledger.runs.lock().unwrap().len(),
        1,
        "queued, not lost"
    );

    *trigger.workflow.failing.lock().unwrap() = None;
    let outcomes = trigger
        .handle(event("s3-object-created.json"), NOW)
        .await
        .unwrap();

    assert!(matches!(&outcomes[0], TriggerOutcome::Started { .. }));
    assert_eq!(trigger.workflow.executions(), 1);
}

#[tokio::test]
async fn large_objects_and_the_glue_prefix_go_to_glue_the_rest_to_lambda() {
    let mut trigger = trigger();
    let mut notification = event("s3-object-created-local.json");
    notification.records[1].s3.object.key = "incoming%2Fglue%2Fsmall.tsv".into();
    notification.records[1].s3.object.size = 10;
    let mut large = event("s3-object-created.json");
    large.records[0].s3.object.size = 2049;
    notification.records.push(large.records.remove(0));

    trigger.handle(notification, NOW).await.unwrap();

    let engines: Vec<_> = trigger
        .workflow
        .starts
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.key.clone(), r.engine))
        .collect();
    assert_eq!(
        engines,
        [
            ("incoming/day one.tsv".to_owned(), Engine::Lambda),
            ("incoming/glue/small.tsv".to_owned(), Engine::Glue),
            ("incoming/hit data 2026/été +1.tsv".to_owned(), Engine::Glue),
        ]
    );

    trigger.settings.engines.forced = Some(Engine::Lambda);
    let mut forced = event("s3-object-created-local.json");
    forced.records.truncate(1);
    forced.records[0].s3.object.key = "incoming%2Fglue%2Fother.tsv".into();
    trigger.handle(forced, NOW).await.unwrap();
    assert_eq!(
        trigger
            .workflow
            .starts
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .engine,
        Engine::Lambda,
        "a forced engine wins"
    );
}
