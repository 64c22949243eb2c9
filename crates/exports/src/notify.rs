//! export-notifier: when an export's CSV lands in the bucket (S3 → EventBridge "Object
//! Created"), mails the requester a presigned URL of it, valid for an hour, and marks the export
//! ready. EventBridge may deliver the event more than once, and at the same moment: the mail
//! is claimed in the ledger before it is sent, so one delivery mails. A delivery that finds the
//! export ready skips; one that finds the mail claimed and the export still running fails, so
//! that the event is delivered again later, when the export is ready or the claim has lapsed
//! ([`CLAIM_LAPSES_AFTER`], for a notifier that died while mailing). Once SES took the mail, the
//! export is marked ready with retries; if the ledger still cannot be written, or the notifier
//! died between the two, a later delivery mails again rather than leave the export running: a
//! second mail, never none.

use std::time::Duration;

use serde::Deserialize;

use crate::api::URL_VALID_FOR;
use crate::export::{Status, export_id_of};
use crate::ports::{ExportLedger, Mailer, Presigner, ServiceError};

#[derive(Debug, Deserialize)]
pub struct ObjectCreated {
    pub detail: ObjectDetail,
}

#[derive(Debug, Deserialize)]
pub struct ObjectDetail {
    pub object: Object,
}

#[derive(Debug, Deserialize)]
pub struct Object {
    pub key: String,
}

/// How long a claim on an export's mail holds: longer than the notifier's timeout (30 s), so
/// only a dead notifier's claim lapses, and shorter than Lambda's retries of an asynchronous
/// event (about one, then two minutes apart), so a retry can take it over.
pub const CLAIM_LAPSES_AFTER: Duration = Duration::from_secs(90);

/// Writes of the ready status after the mail went out, the first included.
const READY_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Mailed { export_id: String },
    Skipped(String),
}

pub struct ExportNotifier<L, P, M> {
    pub ledger: L,
    pub presigner: P,
    pub mailer: M,
}

impl<L: ExportLedger, P: Presigner, M: Mailer> ExportNotifier<L, P, M> {
    /// An error leaves the export running, for the event to be delivered again.
    pub async fn handle(&self, event: &ObjectCreated) -> Result<Outcome, ServiceError> {
        let key = &event.detail.object.key;
        let Some(export_id) = export_id_of(key) else {
            return Ok(Outcome::Skipped(format!("{key} is not an export")));
        };
        let Some(export) = self.ledger.get(export_id).await? else {
            return Ok(Outcome::Skipped(format!("no export {export_id}")));
        };
        if export.status != Status::Running {
            return Ok(Outcome::Skipped(format!(
                "export {export_id} is {}",
                export.status.as_str()
            )));
        }
        let claimed = self
            .ledger
            .claim_mail(
                export_id,
                &platform::now_rfc3339(),
                &platform::rfc3339_before_now(CLAIM_LAPSES_AFTER),
            )
            .await?;
        if !claimed {
            return Err(ServiceError::Unavailable(format!(
                "export {export_id} is being mailed by another delivery; deliver again later"
            )));
        }
        let url = self.presigner.url(key, URL_VALID_FOR).await?;
        let expires = platform::rfc3339_after_now(URL_VALID_FOR);
        let rows = export.rows.unwrap_or(0);
        let subject = format!(
            "Ad events of {} from {} to {}: your CSV is ready",
            export.app_id, export.from, export.to
        );
        let text = format!(
            "The export you asked for is ready: {rows} ad events of {app} from {from} to {to} (UTC days).\n\n\
             Download the CSV here until {expires} (one hour):\n{url}\n\n\
             Export {export_id}.\n",
            app = export.app_id,
            from = export.from,
            to = export.to,
        );
        self.mailer.send(&export.email, &subject, &text).await?;
        self.mark_ready(export_id).await?;
        Ok(Outcome::Mailed {
            export_id: export_id.to_owned(),
        })
    }

    /// The mail went out: the status must follow, so a failed write is tried again.
    async fn mark_ready(&self, export_id: &str) -> Result<(), ServiceError> {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match self.ledger.ready(export_id).await {
                Ok(_) => return Ok(()),
                Err(err) if attempt >= READY_ATTEMPTS => return Err(err),
                Err(err) => {
                    tracing::warn!(export_id, error = %err, "mailed, but not yet marked ready; trying again");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }
}
