//! Ad events exported as CSV, one period of one app at a time, mailed as a presigned URL.
//!
//! - [`api`]: exports-api, `POST /exports` and `GET /exports/{id}`, with [`html`] pages and the
//!   form at `/` for a browser;
//! - [`worker`]: export-worker, one export at a time into a multipart upload;
//! - [`notify`]: export-notifier, the mail once the CSV has landed;
//! - [`request`], [`export`], [`ports`]: what is asked, what the ledger keeps, what they need;
//! - [`aws`]: the adapters (DynamoDB, SQS, S3, SES), each behind the feature of the function
//!   that uses it.

pub mod api;
pub mod aws;
pub mod export;
pub mod html;
pub mod notify;
pub mod ports;
pub mod request;
pub mod worker;
