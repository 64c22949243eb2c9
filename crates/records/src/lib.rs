//! The records pipeline: what a valid record is, how callers ask for one, and the two Lambda
//! handlers (records-api, validate-record) over ports that the `aws` module implements.

pub mod api;
mod api_approvals;
pub mod approval;
pub mod aws;
pub mod aws_approvals;
pub mod config;
pub mod cursor;
pub mod html;
pub mod ports;
pub mod query;
pub mod record;
pub mod rules;
pub mod validate;

pub use record::{Record, RecordId, RecordInput};
pub use rules::{FieldProblems, Verdict};
