//! `etl-run` against in-memory ports: the report is the engine's, byte for byte.

mod support;

use std::io::Cursor;
use std::sync::Mutex;

use runs::engine::{self, EngineStepError, EngineTask};
use runs::ports::{HitFileSource, ReadError, ReportSink, WriteError};
use runs::run::{Engine, InputObject, ObjectVersion, ReportLocation, Run, RunRequest};

struct MemoryObject(Result<Vec<u8>, ReadError>);

impl HitFileSource for MemoryObject {
    type Reader = Cursor<Vec<u8>>;

    async fn open(&self, _run: &RunRequest) -> Result<Self::Reader, ReadError> {
        self.0.clone().map(Cursor::new)
    }
}

#[derive(Default)]
struct MemoryReports {
    written: Mutex<Vec<(ReportLocation, Vec<u8>)>>,
    failing: bool,
}

impl ReportSink for MemoryReports {
    async fn put(&self, location: &ReportLocation, report: Vec<u8>) -> Result<(), WriteError> {
        if self.failing {
            return Err(WriteError("AccessDenied".into()));
        }
        self.written
            .lock()
            .unwrap()
            .push((location.clone(), report));
        Ok(())
    }
}

fn task() -> EngineTask {
    let run = Run::queued(
        InputObject {
            bucket: "in".into(),
            key: "incoming/day.tsv".into(),
            version: ObjectVersion::Etag("e".into()),
            size: 1,
        },
        Engine::Lambda,
        "out",
        "2026-11-23T10:00:00.000Z",
    );
    serde_json::from_value(serde_json::json!({"run": run.request(), "attempt": "1"})).unwrap()
}

fn hits() -> Vec<u8> {
    let mut data = Vec::new();
    hitdata::generate::generate(&mut data, 400_000, 11).unwrap();
    data
}

fn options() -> hitdata::Options {
    hitdata::Options {
        threads: 2,
        block_bytes: 64 << 10,
        ..hitdata::Options::default()
    }
}

#[tokio::test]
async fn the_report_written_is_the_engines_for_the_same_bytes() {
    let data = hits();
    let reports = MemoryReports::default();
    let task = task();
    let expected_location = ReportLocation {
        bucket: task.run.report_bucket.clone(),
        key: task.run.report_key.clone(),
    };

    let output = engine::run(&MemoryObject(Ok(data.clone())), &reports, task, options())
        .await
        .unwrap();

    let direct = hitdata::analyze_bytes(&data, options()).unwrap();
    let mut expected = Vec::new();
    hitdata::report::render(&direct.rows, &mut expected).unwrap();
    let written = reports.written.lock().unwrap();
    assert_eq!(
        written.as_slice(),
        [(expected_location.clone(), expected.clone())]
    );
    assert_eq!(output.report, expected_location);
    assert_eq!(output.report_bytes, expected.len() as u64);
    assert_eq!(output.summary.rows_read, direct.summary.rows_read);
    assert!(direct.rows.len() > 3, "the sample has keywords to report");
}

#[tokio::test]
async fn a_file_that_is_not_a_hit_export_is_refused_and_nothing_is_written() {
    let reports = MemoryReports::default();

    let err = engine::run(
        &MemoryObject(Ok(b"name\tvalue\nx\t1\n".to_vec())),
        &reports,
        task(),
        options(),
    )
    .await
    .unwrap_err();

    assert!(
        matches!(err, EngineStepError::InputRefused(ref m) if m.contains("lacks")),
        "{err}"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(err).error_type,
        "InputRefused"
    );
    assert!(reports.written.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_object_and_a_refused_write_are_told_apart() {
    let missing = engine::run(
        &MemoryObject(Err(ReadError::NotFound)),
        &MemoryReports::default(),
        task(),
        options(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        lambda_runtime::Diagnostic::from(missing).error_type,
        "ObjectUnreadable"
    );

    let refused = MemoryReports {
        failing: true,
        ..MemoryReports::default()
    };
    let unwritten = engine::run(&MemoryObject(Ok(hits())), &refused, task(), options())
        .await
        .unwrap_err();
    assert_eq!(
        lambda_runtime::Diagnostic::from(unwritten).error_type,
        "ReportNotWritten"
    );
}
