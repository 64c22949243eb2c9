//! Admin approval of half-valid submissions: what an approval is, what an admin may send, and
//! the ports the records API decides through.
//!
//! An approval's id is the id its record would have, so the same submission sent twice is the
//! same approval. The approve-record workflow creates the approval (with the task token it waits
//! on, which never leaves the server), and stores or discards the record once a decision
//! arrives or the time runs out.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use platform::Secret;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::record::{Record, RecordId};
use crate::rules::FieldProblems;

pub type ApprovalId = RecordId;

pub const DECIDED_BY_MAX_CHARS: usize = 64;
pub const NOTE_MAX_CHARS: usize = 500;

/// What the workflow is started with: the record an approval would store, what is wrong with
/// it, and how long an admin has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub record: Record,
    pub fields: FieldProblems,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            ApprovalStatus::Pending,
            ApprovalStatus::Approved,
            ApprovalStatus::Rejected,
            ApprovalStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }
}

/// What became of the record once the workflow acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Stored,
    Discarded,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Discarded => "discarded",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Outcome::Stored, Outcome::Discarded]
            .into_iter()
            .find(|outcome| outcome.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ruling {
    Approve,
    Reject,
}

impl Ruling {
    pub fn as_str(self) -> &'static str {
        match self {
            Ruling::Approve => "approve",
            Ruling::Reject => "reject",
        }
    }

    /// The status an approval takes when this verdict is recorded.
    pub fn status(self) -> ApprovalStatus {
        match self {
            Ruling::Approve => ApprovalStatus::Approved,
            Ruling::Reject => ApprovalStatus::Rejected,
        }
    }
}

/// An admin's decision as recorded: who, when, what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Ruling,
    pub decided_by: String,
    pub decided_at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// An approval as the API shows it. The task token is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub id: ApprovalId,
    pub status: ApprovalStatus,
    pub record: Record,
    pub problems: FieldProblems,
    pub requested_at: String,
    pub expires_at: String,
    pub decision: Option<Decision>,
    pub outcome: Option<Outcome>,
}

/// A stored approval with the token its workflow waits on; only the decision path sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApproval {
    pub approval: Approval,
    pub task_token: Option<platform::Secret>,
}

/// Where a page of pending approvals ended: they are listed oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPosition {
    pub requested_at: String,
    pub id: ApprovalId,
}

impl PendingPosition {
    pub fn to_text(&self) -> String {
        format!("{}|{}", self.requested_at, self.id)
    }

    pub fn from_text(text: &str) -> Option<Self> {
        let (requested_at, id) = text.rsplit_once('|')?;
        let well_formed = requested_at.len() == "2026-01-01T00:00:00.000Z".len()
            && requested_at.is_ascii()
            && !requested_at.contains('|');
        Some(Self {
            requested_at: well_formed.then(|| requested_at.to_owned())?,
            id: RecordId::parse(id)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPage {
    pub approvals: Vec<Approval>,
    pub next_after: Option<PendingPosition>,
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("the approval store is throttling requests")]
    Throttled,
    #[error("the approval store could not be reached: {0}")]
    Unavailable(String),
    #[error("a stored item is not an approval: {0}")]
    Corrupt(String),
}

/// What recording a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// This decision is now the approval's.
    Recorded,
    /// The approval was no longer pending when the write landed (another decision, or expiry).
    NotPending,
}

/// The approvals as DynamoDB keeps them.
pub trait ApprovalStore {
    fn get(
        &self,
        id: &ApprovalId,
    ) -> impl Future<Output = Result<Option<StoredApproval>, StoreError>> + Send;

    fn list_pending(
        &self,
        limit: usize,
        after: Option<&PendingPosition>,
    ) -> impl Future<Output = Result<ApprovalPage, StoreError>> + Send;

    /// Records `decision` only while the approval is pending and still waits on `token` (the
    /// one read with it), so one decision wins and it goes to the task that waits.
    fn record_decision(
        &self,
        id: &ApprovalId,
        decision: &Decision,
        token: &Secret,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// Takes back a decision recorded by this call that could not reach the workflow, unless
    /// the workflow has moved on (another token, or an outcome). `false`: nothing taken back.
    fn withdraw_decision(
        &self,
        id: &ApprovalId,
        decision: &Decision,
        token: &Secret,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum WorkflowError {
    #[error("the workflow service is throttling requests")]
    Throttled,
    #[error("the workflow service could not be reached: {0}")]
    Unavailable(String),
    #[error("the workflow service refused the call with {0}")]
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new approval workflow is running (or the identical start was repeated while it runs).
    Started,
    /// A workflow of this name exists already: the same submission was sent before.
    AlreadyExists,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The workflow no longer waits on this token: it timed out (or ended otherwise).
    NoLongerWaiting,
}

/// A workflow that has started but not yet created its approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub submission: Submission,
    pub started_at: String,
    pub expires_at: String,
}

/// The approve-record workflow.
pub trait ApprovalWorkflow {
    fn start(
        &self,
        submission: &Submission,
        timeout: Duration,
    ) -> impl Future<Output = Result<Started, WorkflowError>> + Send;

    /// The workflow named `id` while it runs, for the moment before it has written its approval.
    fn opening(
        &self,
        id: &ApprovalId,
    ) -> impl Future<Output = Result<Option<Opening>, WorkflowError>> + Send;

    fn deliver(
        &self,
        token: &platform::Secret,
        decision: &Decision,
    ) -> impl Future<Output = Result<Delivery, WorkflowError>> + Send;
}

/// What an admin sends to decide, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRequest {
    pub decision: Ruling,
    pub decided_by: String,
    pub note: Option<String>,
}

pub const DECISION_FIELDS: [&str; 3] = ["decision", "decided_by", "note"];
pub const DECISION_UNKNOWN: &str = "must be approve or reject";
pub const DECIDED_BY_RULE: &str =
    "must name who decides: 1 to 64 characters, no control characters";
pub const NOTE_RULE: &str =
    "must be at most 500 characters, without control characters other than line breaks";

/// Whether a decision can be signed with this name (already trimmed).
pub fn signable(name: &str) -> bool {
    (1..=DECIDED_BY_MAX_CHARS).contains(&name.chars().count())
        && !name.chars().any(char::is_control)
}

/// Reads a decision from form fields (or a JSON object's string fields) and names every field
/// that is missing, repeated, unknown or out of range.
pub fn parse_decision(
    fields: &[(String, String)],
) -> Result<DecisionRequest, BTreeMap<String, String>> {
    let mut values: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut problems = BTreeMap::new();
    for (name, value) in fields {
        if DECISION_FIELDS.contains(&name.as_str()) {
            values
                .entry(name.as_str())
                .or_default()
                .push(value.as_str());
        } else {
            problems.insert(name.clone(), crate::query::UNKNOWN.to_owned());
        }
    }
    let mut single = |name: &str| match values.get(name).map(Vec::as_slice) {
        None => None,
        Some([one]) => Some(*one),
        Some(_) => {
            problems.insert(name.to_owned(), crate::query::REPEATED.to_owned());
            None
        }
    };
    let decision = single("decision");
    let decided_by = single("decided_by");
    let note = single("note");
    let repeated: Vec<String> = problems.keys().cloned().collect();

    let verdict = match decision {
        Some("approve") => Some(Ruling::Approve),
        Some("reject") => Some(Ruling::Reject),
        _ => {
            if !repeated.iter().any(|name| name == "decision") {
                problems.insert("decision".into(), DECISION_UNKNOWN.into());
            }
            None
        }
    };
    let decided_by = decided_by.map(str::trim).filter(|name| signable(name));
    if decided_by.is_none() && !repeated.iter().any(|name| name == "decided_by") {
        problems.insert("decided_by".into(), DECIDED_BY_RULE.into());
    }
    let note = note.map(str::trim).filter(|note| !note.is_empty());
    if let Some(text) = note {
        let fits = text.chars().count() <= NOTE_MAX_CHARS
            && !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r');
        if !fits {
            problems.insert("note".into(), NOTE_RULE.into());
        }
    }
    match (verdict, decided_by) {
        (Some(decision), Some(decided_by)) if problems.is_empty() => Ok(DecisionRequest {
            decision,
            decided_by: decided_by.to_owned(),
            note: note.map(str::to_owned),
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_decision_reads_its_verdict_who_and_note() {
        let request = parse_decision(&fields(&[
            ("decision", "approve"),
            ("decided_by", "  Priya "),
            ("note", "pincode checked by phone"),
        ]))
        .unwrap();
        assert_eq!(request.decision, Ruling::Approve);
        assert_eq!(request.decided_by, "Priya");
        assert_eq!(request.note.as_deref(), Some("pincode checked by phone"));
        let bare = parse_decision(&fields(&[("decision", "reject"), ("decided_by", "ops")]));
        assert_eq!(bare.unwrap().note, None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let problems = parse_decision(&fields(&[
            ("decision", "maybe"),
            ("note", &"x".repeat(NOTE_MAX_CHARS + 1)),
            ("token", "t"),
        ]))
        .unwrap_err();
        assert_eq!(
            problems,
            BTreeMap::from([
                ("decided_by".into(), DECIDED_BY_RULE.into()),
                ("decision".into(), DECISION_UNKNOWN.into()),
                ("note".into(), NOTE_RULE.into()),
                ("token".into(), crate::query::UNKNOWN.into()),
            ])
        );
        let repeated = parse_decision(&fields(&[
            ("decision", "approve"),
            ("decision", "reject"),
            ("decided_by", "a\u{1b}b"),
        ]))
        .unwrap_err();
        assert_eq!(repeated["decision"], crate::query::REPEATED);
        assert_eq!(repeated["decided_by"], DECIDED_BY_RULE);
    }

    #[test]
    fn a_pending_position_round_trips_and_refuses_other_text() {
        let position = PendingPosition {
            requested_at: "2026-12-01T10:00:00.000Z".into(),
            id: RecordId::for_fields("a", "b", "c"),
        };
        assert_eq!(
            PendingPosition::from_text(&position.to_text()),
            Some(position.clone())
        );
        for junk in ["", "|", "2026|abc", &position.id.to_string()] {
            assert_eq!(PendingPosition::from_text(junk), None, "{junk}");
        }
    }
}
