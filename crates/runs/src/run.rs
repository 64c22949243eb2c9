//! A run: one processing of one input object, as the ledger keeps it.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// At most this many attempts per run: the first and one retry.
pub const MAX_ATTEMPTS: u32 = 2;

/// Identifies a run; derived from the object version it processes, so every delivery of the
/// same S3 event names the same run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    const LEN: usize = 32;

    pub fn for_object(object: &InputObject) -> Self {
        let mut digest = Sha256::new();
        for part in [
            object.bucket.as_str(),
            object.key.as_str(),
            object.version.tag(),
        ] {
            digest.update(part.as_bytes());
            digest.update([0]);
        }
        Self(hex(&digest.finalize()[..Self::LEN / 2]))
    }

    /// The run over these parts, in this order.
    pub fn for_parts(bucket: &str, parts: &[InputPart]) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"parts\0");
        digest.update(bucket.as_bytes());
        for part in parts {
            digest.update([0]);
            digest.update(part.key.as_bytes());
            digest.update([0]);
            digest.update(part.version.tag().as_bytes());
        }
        Self(hex(&digest.finalize()[..Self::LEN / 2]))
    }

    /// The run that stands for a Glue job run Sluice did not start.
    pub fn for_glue_job_run(job_run_id: &str) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"glue-job-run\0");
        digest.update(job_run_id.as_bytes());
        Self(hex(&digest.finalize()[..Self::LEN / 2]))
    }

    /// A run id as a client sends it back, if it has the shape of one.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// Which version of an object a run reads: the version id when the bucket keeps versions,
/// else the ETag (the same bytes under the same key are the same input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectVersion {
    VersionId(String),
    Etag(String),
    /// A run Sluice did not start (a Glue job run started by hand) names no version.
    Unknown,
}

impl ObjectVersion {
    fn tag(&self) -> &str {
        match self {
            Self::VersionId(id) => id,
            Self::Etag(etag) => etag,
            Self::Unknown => "",
        }
    }
}

/// The S3 object a run processes; the key decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputObject {
    pub bucket: String,
    pub key: String,
    pub version: ObjectVersion,
    pub size: u64,
}

impl InputObject {
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// One file of a run over several objects of the inbound bucket (a day's export in parts),
/// processed as one dataset in the given order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPart {
    pub key: String,
    pub version: ObjectVersion,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The Rust engine inside the `etl-run` function.
    Lambda,
    /// The PySpark job in AWS Glue, for inputs beyond what one function should take.
    Glue,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lambda => "lambda",
            Self::Glue => "glue",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "lambda" => Some(Self::Lambda),
            "glue" => Some(Self::Glue),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Skipped,
    /// Succeeded, and the report was handed out through the status API.
    Downloaded,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Downloaded => "downloaded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Skipped,
            Self::Downloaded,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Where a run's report goes: `<date>/<run id>/<date>_SearchKeywordPerformance.tab`, the date
/// being the day (UTC) the run was created. The run id keeps two drops of one day apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLocation {
    pub bucket: String,
    pub key: String,
}

impl ReportLocation {
    pub fn for_run(bucket: &str, run_id: &RunId, created_at: &str) -> Self {
        let date = created_at.get(..10).unwrap_or(created_at);
        Self {
            bucket: bucket.to_owned(),
            key: format!("{date}/{run_id}/{date}_SearchKeywordPerformance.tab"),
        }
    }

    /// The report's date, as its name carries it.
    pub fn date(&self) -> &str {
        self.key.split('/').next().unwrap_or_default()
    }

    /// The folder the report is in (with its trailing `/`), where the Glue job writes it.
    pub fn prefix(&self) -> &str {
        self.key.rfind('/').map_or("", |slash| &self.key[..=slash])
    }
}

/// One failed attempt, as the state machine records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptFailure {
    pub attempt: u32,
    pub error: String,
    pub cause: String,
    pub at: String,
}

impl AttemptFailure {
    /// The readable part of a cause. The workflow records the whole failure as JSON
    /// (`{"Error", "Cause"}`); a Lambda failure's cause is the function's error JSON
    /// (`errorMessage`), a Glue run's the job run (`ErrorMessage`).
    pub fn message(&self) -> String {
        readable(&self.cause)
    }
}

fn readable(cause: &str) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(cause) else {
        return cause.to_owned();
    };
    for name in ["errorMessage", "ErrorMessage"] {
        if let Some(message) = fields.get(name).and_then(|m| m.as_str()) {
            return message.to_owned();
        }
    }
    match fields.get("Cause").and_then(|c| c.as_str()) {
        Some(inner) if !inner.is_empty() => readable(inner),
        _ => fields
            .get("Error")
            .and_then(|e| e.as_str())
            .map_or_else(|| cause.to_owned(), str::to_owned),
    }
}

/// A run as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub run_id: RunId,
    pub input: InputObject,
    pub engine: Engine,
    pub status: RunStatus,
    pub attempts: u32,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub report: ReportLocation,
    /// Every file of a run over several objects, in order (the first is `input` too); empty
    /// for a run over one object.
    pub files_to_process: Vec<InputPart>,
    /// The engine's summary (JSON) of a succeeded run.
    pub summary: Option<String>,
    pub failures: Vec<AttemptFailure>,
    pub execution_arn: Option<String>,
    /// The Glue job run of the latest attempt, on the Glue engine.
    pub glue_job_run_id: Option<String>,
    pub skipped_reason: Option<String>,
    pub alerted_at: Option<String>,
    pub downloaded_at: Option<String>,
}

impl Run {
    /// A new run waiting for its workflow.
    pub fn queued(input: InputObject, engine: Engine, outbound_bucket: &str, now: &str) -> Self {
        let run_id = RunId::for_object(&input);
        let report = ReportLocation::for_run(outbound_bucket, &run_id, now);
        Self {
            run_id,
            input,
            engine,
            status: RunStatus::Queued,
            attempts: 0,
            created_at: now.to_owned(),
            started_at: None,
            finished_at: None,
            report,
            files_to_process: Vec::new(),
            summary: None,
            failures: Vec::new(),
            execution_arn: None,
            glue_job_run_id: None,
            skipped_reason: None,
            alerted_at: None,
            downloaded_at: None,
        }
    }

    /// A new run over several objects of one bucket, read as one dataset in this order. The
    /// parts are never empty (the caller checked).
    pub fn queued_parts(
        bucket: &str,
        parts: Vec<InputPart>,
        outbound_bucket: &str,
        now: &str,
    ) -> Self {
        let first = parts.first().cloned().unwrap_or(InputPart {
            key: String::new(),
            version: ObjectVersion::Unknown,
            size: 0,
        });
        let input = InputObject {
            bucket: bucket.to_owned(),
            key: first.key,
            version: first.version,
            size: parts.iter().map(|p| p.size).sum(),
        };
        let mut run = Self::queued(input, Engine::Lambda, outbound_bucket, now);
        run.run_id = RunId::for_parts(bucket, &parts);
        run.report = ReportLocation::for_run(outbound_bucket, &run.run_id, now);
        run.files_to_process = parts;
        run
    }

    /// A run that will not be processed, with the reason.
    pub fn skipped(input: InputObject, reason: &str, outbound_bucket: &str, now: &str) -> Self {
        let mut run = Self::queued(input, Engine::Lambda, outbound_bucket, now);
        run.status = RunStatus::Skipped;
        run.finished_at = Some(now.to_owned());
        run.skipped_reason = Some(reason.to_owned());
        run
    }

    /// What the workflow is started with: everything it needs, nothing that changes.
    pub fn request(&self) -> RunRequest {
        RunRequest {
            run_id: self.run_id.clone(),
            bucket: self.input.bucket.clone(),
            key: self.input.key.clone(),
            version: self.input.version.clone(),
            size: self.input.size,
            engine: self.engine,
            report_bucket: self.report.bucket.clone(),
            report_key: self.report.key.clone(),
            report_prefix: self.report.prefix().to_owned(),
            report_date: self.report.date().to_owned(),
            parts: self.files_to_process.clone(),
        }
    }
}

/// The contract between the trigger, the state machine and the engine step: the execution's
/// input is `{"run": RunRequest}`, and the engine step gets it back with the attempt number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub run_id: RunId,
    pub bucket: String,
    pub key: String,
    pub version: ObjectVersion,
    pub size: u64,
    pub engine: Engine,
    pub report_bucket: String,
    pub report_key: String,
    /// The report's folder and date, as the Glue job takes them (`--output`, `--date`).
    pub report_prefix: String,
    pub report_date: String,
    /// The files of a run over several objects, in order; empty for one object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<InputPart>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, etag: &str) -> InputObject {
        InputObject {
            bucket: "inbound".into(),
            key: key.into(),
            version: ObjectVersion::Etag(etag.into()),
            size: 10,
        }
    }

    #[test]
    fn the_same_object_version_always_names_the_same_run() {
        let a = RunId::for_object(&object("in/a.tsv", "e1"));
        assert_eq!(a, RunId::for_object(&object("in/a.tsv", "e1")));
        assert_eq!(a.as_str().len(), 32);
        assert_eq!(RunId::parse(a.as_str()), Some(a));
    }

    #[test]
    fn another_key_or_version_is_another_run() {
        let a = RunId::for_object(&object("in/a.tsv", "e1"));
        assert_ne!(a, RunId::for_object(&object("in/a.tsv", "e2")));
        assert_ne!(a, RunId::for_object(&object("in/b.tsv", "e1")));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            RunId::for_object(&object("ab", "c")),
            RunId::for_object(&object("a", "bc"))
        );
    }

    #[test]
    fn run_ids_of_another_shape_are_refused() {
        for text in ["", "abc", &"g".repeat(32), &"A".repeat(32), &"a".repeat(33)] {
            assert_eq!(RunId::parse(text), None, "{text}");
        }
    }

    #[test]
    fn reports_of_one_day_are_kept_apart_by_run() {
        let first = Run::queued(
            object("a.tsv", "1"),
            Engine::Lambda,
            "out",
            "2026-11-23T10:00:00.000Z",
        );
        let second = Run::queued(
            object("b.tsv", "1"),
            Engine::Lambda,
            "out",
            "2026-11-23T11:00:00.000Z",
        );
        assert_eq!(
            first.report.key,
            format!(
                "2026-11-23/{}/2026-11-23_SearchKeywordPerformance.tab",
                first.run_id
            )
        );
        assert_ne!(first.report.key, second.report.key);
        assert_eq!(first.report.date(), "2026-11-23");
        assert_eq!(
            first.report.prefix(),
            format!("2026-11-23/{}/", first.run_id)
        );
    }

    #[test]
    fn a_lambda_failure_reads_as_its_error_message() {
        let failure = AttemptFailure {
            attempt: 1,
            error: "InputRefused".into(),
            cause: r#"{"errorType":"InputRefused","errorMessage":"the header lacks ip"}"#.into(),
            at: "t".into(),
        };
        assert_eq!(failure.message(), "the header lacks ip");
        let recorded = AttemptFailure {
            cause: serde_json::json!({"Error": "InputRefused", "Cause": failure.cause}).to_string(),
            ..failure.clone()
        };
        assert_eq!(recorded.message(), "the header lacks ip");
        let glue = AttemptFailure {
            cause: r#"{"Id":"jr_1","JobRunState":"FAILED","ErrorMessage":"ValueError: no header"}"#
                .into(),
            ..failure.clone()
        };
        assert_eq!(glue.message(), "ValueError: no header");
        let timeout = AttemptFailure {
            cause: r#"{"Error":"States.Timeout"}"#.into(),
            ..failure.clone()
        };
        assert_eq!(timeout.message(), "States.Timeout");
        let plain = AttemptFailure {
            cause: "no JSON here".into(),
            ..failure
        };
        assert_eq!(plain.message(), "no JSON here");
    }
}
