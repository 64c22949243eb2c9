//! export-worker and export-notifier handler tests, with in-memory fakes.

mod fakes;

use std::collections::BTreeMap;

use exports::export::Status;
use exports::notify::{
    CLAIM_LAPSES_AFTER, ExportNotifier, Object, ObjectCreated, ObjectDetail, Outcome as Notified,
};
use exports::ports::Row;
use exports::worker::{ExportWorker, Outcome, columns};
use fakes::{Events, Ledger, Mail, Signer, Store};
use time::macros::date;

const ID: &str = "0f0e4c1a-9a43-4bd5-8c6d-2d8f0c1d2e3f";

fn row(kind: &str, event_id: &str, extra: &[(&str, &str)]) -> Row {
    let mut row: Row = [
        ("kind", kind),
        ("network", "brightads"),
        ("event_id", event_id),
        ("app_id", "com.example.game"),
        ("occurred_at", "2026-11-20T10:00:00.000Z"),
        ("received_at", "2026-11-20T10:00:01.000Z"),
        ("schema_version", "1"),
        ("pk", "com.example.game#2026-11-20"),
        ("sk", "brightads#x"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    row.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    row
}

fn worker(events: Events, part_size: usize) -> ExportWorker<Ledger, Events, Store> {
    ExportWorker {
        ledger: Ledger::default(),
        events,
        store: Store::default(),
        columns: columns(&events::schema::Catalog::new().unwrap()),
        part_size,
    }
}

#[tokio::test]
async fn the_period_is_written_day_by_day_as_rfc_4180_csv_in_parts() {
    let mut days = BTreeMap::new();
    days.insert(
        ("com.example.game".to_owned(), date!(2026 - 11 - 20)),
        vec![
            row(
                "install",
                "ev-1",
                &[("campaign", "winter, \"big\" sale"), ("device_id", "D1")],
            ),
            row(
                "event",
                "ev-2",
                &[
                    ("revenue", "4.99"),
                    ("currency", "EUR"),
                    ("event_name", "köp\nnu"),
                ],
            ),
            row("install", "ev-3", &[]),
        ],
    );
    days.insert(
        ("com.example.game".to_owned(), date!(2026 - 11 - 22)),
        vec![row("reattribution", "ev-4", &[("days_inactive", "30")])],
    );
    days.insert(
        ("other.app".to_owned(), date!(2026 - 11 - 21)),
        vec![row("install", "not-mine", &[])],
    );
    let worker = worker(
        Events {
            days,
            page_size: 2,
            failing_day: None,
        },
        200,
    );
    worker.ledger.insert(fakes::export(
        ID,
        Status::Queued,
        "2026-11-20",
        "2026-11-22",
    ));

    assert_eq!(worker.run(ID).await.unwrap(), Outcome::Written { rows: 4 });
    let csv = String::from_utf8(worker.store.object()).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[..7],
        [
            "kind",
            "network",
            "event_id",
            "app_id",
            "occurred_at",
            "received_at",
            "schema_version"
        ]
    );
    assert!(header.contains(&"ad_set".to_owned()) && !header.contains(&"pk".to_owned()));
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(
        records
            .iter()
            .map(|r| r[column("event_id")].to_owned())
            .collect::<Vec<_>>(),
        ["ev-1", "ev-2", "ev-3", "ev-4"]
    );
    assert_eq!(&records[0][column("campaign")], "winter, \"big\" sale");
    assert_eq!(&records[1][column("event_name")], "köp\nnu");
    assert_eq!(&records[2][column("campaign")], "");
    assert!(
        csv.contains("\"winter, \"\"big\"\" sale\""),
        "RFC 4180 quoting: {csv}"
    );

    let parts = worker.store.parts.lock().unwrap();
    assert!(
        parts.len() > 1,
        "a 200-byte part size cuts the CSV into parts"
    );
    assert!(
        parts[..parts.len() - 1]
            .iter()
            .all(|(_, b)| b.len() >= 200 && b.len() < 400),
        "every part but the last about one part size"
    );
    let (key, completed) = worker.store.completed.lock().unwrap().clone().unwrap();
    assert_eq!(key, format!("exports/{ID}.csv"));
    assert_eq!(completed.len(), parts.len());
    let export = worker.ledger.export(ID);
    assert_eq!(
        (export.status, export.rows),
        (Status::Running, Some(4)),
        "ready is the notifier's to say"
    );
    assert!(export.started_at.is_some() && export.finished_at.is_some());
}

#[tokio::test]
async fn an_empty_period_is_a_header_and_a_finished_export_is_not_run_again() {
    let worker = worker(
        Events {
            page_size: 10,
            ..Events::default()
        },
        1024,
    );
    worker.ledger.insert(fakes::export(
        ID,
        Status::Queued,
        "2026-11-20",
        "2026-11-20",
    ));
    assert_eq!(worker.run(ID).await.unwrap(), Outcome::Written { rows: 0 });
    let csv = String::from_utf8(worker.store.object()).unwrap();
    assert_eq!(csv.lines().count(), 1);
    assert!(csv.starts_with("kind,network,event_id,"));

    worker
        .ledger
        .insert(fakes::export(ID, Status::Ready, "2026-11-20", "2026-11-20"));
    assert!(matches!(worker.run(ID).await.unwrap(), Outcome::Skipped(_)));
    assert!(matches!(
        worker.run("missing").await.unwrap(),
        Outcome::Skipped(_)
    ));
}

#[tokio::test]
async fn a_read_that_fails_aborts_the_upload_and_fails_the_export_with_the_reason() {
    let worker = worker(
        Events {
            page_size: 10,
            failing_day: Some(date!(2026 - 11 - 21)),
            ..Events::default()
        },
        1024,
    );
    worker.ledger.insert(fakes::export(
        ID,
        Status::Queued,
        "2026-11-20",
        "2026-11-22",
    ));
    let Outcome::Failed(reason) = worker.run(ID).await.unwrap() else {
        panic!("the export fails");
    };
    assert!(reason.contains("slow down"));
    assert!(*worker.store.aborted.lock().unwrap());
    assert!(
        worker.store.completed.lock().unwrap().is_none(),
        "nothing lands, so nothing is mailed"
    );
    assert_eq!(worker.ledger.export(ID).status, Status::Failed);
}

fn landed(key: &str) -> ObjectCreated {
    ObjectCreated {
        detail: ObjectDetail {
            object: Object { key: key.into() },
        },
    }
}

/// Makes the claim on export `ID`'s mail older than a claim holds.
fn lapse_mail_claim(ledger: &Ledger) {
    ledger.mail_claims.lock().unwrap().insert(
        ID.into(),
        platform::rfc3339_before_now(CLAIM_LAPSES_AFTER + std::time::Duration::from_secs(1)),
    );
}

/// A notifier over a ledger holding export `ID`, running, its CSV about to land.
fn notifier_of_a_running_export() -> ExportNotifier<Ledger, Signer, Mail> {
    let notifier = ExportNotifier {
        ledger: Ledger::default(),
        presigner: Signer,
        mailer: Mail::default(),
    };
    notifier.ledger.insert(fakes::export(
        ID,
        Status::Running,
        "2026-11-20",
        "2026-12-03",
    ));
    notifier
}

#[tokio::test]
async fn the_notifier_mails_the_url_once_and_marks_the_export_ready() {
    let notifier = ExportNotifier {
        ledger: Ledger::default(),
        presigner: Signer,
        mailer: Mail::default(),
    };
    let mut running = fakes::export(ID, Status::Running, "2026-11-20", "2026-12-03");
    running.rows = Some(1234);
    notifier.ledger.insert(running);
    let key = format!("exports/{ID}.csv");

    assert_eq!(
        notifier.handle(&landed(&key)).await.unwrap(),
        Notified::Mailed {
            export_id: ID.into()
        }
    );
    // EventBridge delivers the same event again.
    assert!(matches!(
        notifier.handle(&landed(&key)).await.unwrap(),
        Notified::Skipped(_)
    ));
    assert!(matches!(
        notifier
            .handle(&landed("exports/elsewhere.csv"))
            .await
            .unwrap(),
        Notified::Skipped(_)
    ));

    let sent = notifier.mailer.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let (to, subject, text) = &sent[0];
    assert_eq!(to, "ops@example.com");
    assert!(subject.contains("com.example.game") && subject.contains("2026-11-20"));
    assert!(
        text.contains(&format!("https://exports.example/{key}?X-Amz-Expires=3600")),
        "{text}"
    );
    assert!(text.contains("1234 ad events"));
    assert_eq!(notifier.ledger.export(ID).status, Status::Ready);
}

#[tokio::test]
async fn a_delivery_while_another_is_mailing_is_delivered_again_and_a_lapsed_claim_is_taken_over() {
    let notifier = notifier_of_a_running_export();
    let key = format!("exports/{ID}.csv");
    // Another delivery of the same event claimed the mail a moment ago.
    notifier
        .ledger
        .mail_claims
        .lock()
        .unwrap()
        .insert(ID.into(), platform::now_rfc3339());
    assert!(
        notifier.handle(&landed(&key)).await.is_err(),
        "an error, so that the event is delivered again"
    );
    assert!(notifier.mailer.sent.lock().unwrap().is_empty());
    assert_eq!(notifier.ledger.export(ID).status, Status::Running);

    // That one died while mailing: its claim lapses and a retry mails.
    lapse_mail_claim(&notifier.ledger);
    assert!(matches!(
        notifier.handle(&landed(&key)).await.unwrap(),
        Notified::Mailed { .. }
    ));
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 1);
    assert_eq!(notifier.ledger.export(ID).status, Status::Ready);
}

#[tokio::test]
async fn a_run_out_of_time_aborts_the_upload_and_fails_the_export_saying_so() {
    let worker = worker(
        Events {
            page_size: 10,
            ..Events::default()
        },
        1024,
    );
    worker.ledger.insert(fakes::export(
        ID,
        Status::Queued,
        "2026-11-20",
        "2026-11-22",
    ));
    // The invocation ends within the margin a run keeps to say why it stopped.
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    let Outcome::Failed(reason) = worker.run_until(ID, Some(deadline)).await.unwrap() else {
        panic!("the export fails");
    };
    assert!(
        reason.contains("did not finish in the time a run has"),
        "{reason}"
    );
    assert!(*worker.store.aborted.lock().unwrap());
    let export = worker.ledger.export(ID);
    assert_eq!(export.status, Status::Failed);
    assert_eq!(export.error.as_deref(), Some(reason.as_str()));
}

#[tokio::test]
async fn a_mailed_export_becomes_ready_though_the_ledger_fails_for_a_while() {
    let notifier = notifier_of_a_running_export();
    *notifier.ledger.ready_failures.lock().unwrap() = 2;
    let key = format!("exports/{ID}.csv");

    assert!(matches!(
        notifier.handle(&landed(&key)).await.unwrap(),
        Notified::Mailed { .. }
    ));
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 1);
    assert_eq!(notifier.ledger.export(ID).status, Status::Ready);
}

#[tokio::test]
async fn a_mailed_export_the_ledger_never_took_is_mailed_again_once_the_claim_lapses() {
    let notifier = notifier_of_a_running_export();
    *notifier.ledger.ready_failures.lock().unwrap() = usize::MAX;
    let key = format!("exports/{ID}.csv");

    assert!(notifier.handle(&landed(&key)).await.is_err());
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 1);
    assert_eq!(notifier.ledger.export(ID).status, Status::Running);

    // Lambda delivers the event again a minute later: the claim still holds, nothing is sent.
    *notifier.ledger.ready_failures.lock().unwrap() = 0;
    assert!(notifier.handle(&landed(&key)).await.is_err());
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 1);

    // Later still the claim has lapsed: mailed again, and now the export is ready.
    lapse_mail_claim(&notifier.ledger);
    assert!(matches!(
        notifier.handle(&landed(&key)).await.unwrap(),
        Notified::Mailed { .. }
    ));
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 2);
    assert_eq!(notifier.ledger.export(ID).status, Status::Ready);
}

#[tokio::test]
async fn an_export_the_queue_gave_up_on_is_failed_saying_so_unless_it_is_over() {
    let worker = worker(Events::default(), 1024);
    worker.ledger.insert(fakes::export(
        ID,
        Status::Running,
        "2026-11-20",
        "2026-12-03",
    ));

    let outcome = worker.abandon(ID).await.unwrap();

    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    let export = worker.ledger.export(ID);
    assert_eq!(export.status, Status::Failed);
    assert!(
        export
            .error
            .as_deref()
            .unwrap()
            .contains("stopped without finishing"),
        "{export:?}"
    );

    // A copy of the message (the same request asked again) started it a moment ago: left alone.
    const AGAIN: &str = "2b7c1f0e-5d4a-4f3e-8a1b-6c9d0e1f2a3b";
    let mut running = fakes::export(AGAIN, Status::Running, "2026-11-20", "2026-12-03");
    running.started_at = Some(platform::now_rfc3339());
    worker.ledger.insert(running);
    assert!(matches!(
        worker.abandon(AGAIN).await.unwrap(),
        Outcome::Skipped(_)
    ));
    assert_eq!(worker.ledger.export(AGAIN).status, Status::Running);

    // A message that reached the dead letters after its export was done changes nothing.
    const DONE: &str = "7d1c0c55-2c51-4a9e-9d1b-0a7e5f1d6b20";
    worker.ledger.insert(fakes::export(
        DONE,
        Status::Ready,
        "2026-11-20",
        "2026-12-03",
    ));
    assert!(matches!(
        worker.abandon(DONE).await.unwrap(),
        Outcome::Skipped(_)
    ));
    assert_eq!(worker.ledger.export(DONE).status, Status::Ready);
}
