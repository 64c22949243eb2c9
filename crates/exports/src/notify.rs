//! export-notifier: when an export's CSV lands in the bucket (S3 → EventBridge "Object
//! Created"), mails the requester a presigned URL of it, valid for an hour, and marks the export
//! ready. EventBridge may deliver the event more than once, and at the same moment: the mail
//! is claimed in the ledger before it is sent, so one delivery mails and the others skip. A
//! claim older than [`CLAIM_LAPSES_AFTER`] lapses, for a notifier that died while mailing; if
//! one died after SES took the mail but before the export was marked ready, the retry mails
//! again (the outcome of that send is not known).

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

/// How long a claim on an export's mail holds.
pub const CLAIM_LAPSES_AFTER: Duration = Duration::from_secs(300);

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
            return Ok(Outcome::Skipped(format!(
                "export {export_id} is being mailed by another delivery"
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
        self.ledger.ready(export_id).await?;
        Ok(Outcome::Mailed {
            export_id: export_id.to_owned(),
        })
    }
}
