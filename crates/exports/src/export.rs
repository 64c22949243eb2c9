//! One export as the ledger keeps it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Ready,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Ready => "ready",
            Status::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Queued,
            Status::Running,
            Status::Ready,
            Status::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Export {
    pub export_id: String,
    pub app_id: String,
    /// The period's first and last UTC day, `YYYY-MM-DD`.
    pub from: String,
    pub to: String,
    #[serde(skip)]
    pub email: String,
    pub status: Status,
    pub requested_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When the CSV was complete (before the mail went out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where an export's CSV is written in the exports bucket.
pub const KEY_PREFIX: &str = "exports/";

impl Export {
    pub fn key(&self) -> String {
        key_of(&self.export_id)
    }
}

pub fn key_of(export_id: &str) -> String {
    format!("{KEY_PREFIX}{export_id}.csv")
}

/// The export a CSV's key names, if it is one of ours.
pub fn export_id_of(key: &str) -> Option<&str> {
    let id = key.strip_prefix(KEY_PREFIX)?.strip_suffix(".csv")?;
    valid_export_id(id).then_some(id)
}

/// Export ids are UUIDs, lowercase and hyphenated.
pub fn valid_export_id(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}
