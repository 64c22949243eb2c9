//! In-memory fakes of the exports' ports, for the handler tests.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use exports::export::{Export, Status};
use exports::ports::{
    Created, CsvStore, DayPage, EventDays, ExportLedger, ExportQueue, Mailer, Presigner, Row,
    ServiceError,
};
use time::Date;

#[derive(Default)]
pub struct Ledger {
    pub exports: Mutex<BTreeMap<String, Export>>,
    /// request key → export id, while queued.
    pub requests: Mutex<HashMap<String, String>>,
    keys: Mutex<HashMap<String, String>>,
    /// export id → when its mail was claimed.
    pub mail_claims: Mutex<HashMap<String, String>>,
    /// How many of the next writes of the ready status fail.
    pub ready_failures: Mutex<usize>,
}

impl Ledger {
    pub fn export(&self, id: &str) -> Export {
        self.exports.lock().unwrap()[id].clone()
    }

    pub fn insert(&self, export: Export) {
        self.exports
            .lock()
            .unwrap()
            .insert(export.export_id.clone(), export);
    }

    fn change(&self, id: &str, f: impl FnOnce(&mut Export)) {
        f(self.exports.lock().unwrap().get_mut(id).unwrap());
    }
}

impl ExportLedger for Ledger {
    async fn create(&self, export: &Export, request_key: &str) -> Result<Created, ServiceError> {
        let mut requests = self.requests.lock().unwrap();
        if let Some(existing) = requests.get(request_key) {
            let existing = self.export(existing);
            if existing.status == Status::Queued {
                return Ok(Created::Existing(Box::new(existing)));
            }
        }
        requests.insert(request_key.into(), export.export_id.clone());
        self.keys
            .lock()
            .unwrap()
            .insert(export.export_id.clone(), request_key.into());
        self.insert(export.clone());
        Ok(Created::New)
    }

    async fn get(&self, export_id: &str) -> Result<Option<Export>, ServiceError> {
        Ok(self.exports.lock().unwrap().get(export_id).cloned())
    }

    async fn start(&self, export: &Export, at: &str) -> Result<bool, ServiceError> {
        let current = self.export(&export.export_id);
        if !matches!(current.status, Status::Queued | Status::Running) {
            return Ok(false);
        }
        self.change(&export.export_id, |e| {
            e.status = Status::Running;
            e.started_at = Some(at.into());
        });
        if let Some(key) = self.keys.lock().unwrap().get(&export.export_id) {
            self.requests.lock().unwrap().remove(key);
        }
        Ok(true)
    }

    async fn finish(&self, export_id: &str, rows: u64, at: &str) -> Result<(), ServiceError> {
        self.change(export_id, |e| {
            e.rows = Some(rows);
            e.finished_at = Some(at.into());
        });
        Ok(())
    }

    async fn claim_mail(
        &self,
        export_id: &str,
        at: &str,
        stale_before: &str,
    ) -> Result<bool, ServiceError> {
        if self.export(export_id).status != Status::Running {
            return Ok(false);
        }
        let mut claims = self.mail_claims.lock().unwrap();
        if claims
            .get(export_id)
            .is_some_and(|claimed| claimed.as_str() >= stale_before)
        {
            return Ok(false);
        }
        claims.insert(export_id.into(), at.into());
        Ok(true)
    }

    async fn ready(&self, export_id: &str) -> Result<bool, ServiceError> {
        let mut failures = self.ready_failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(ServiceError::Unavailable("connection reset".into()));
        }
        let running = self.export(export_id).status == Status::Running;
        if running {
            self.change(export_id, |e| e.status = Status::Ready);
        }
        Ok(running)
    }

    async fn fail(&self, export_id: &str, reason: &str, at: &str) -> Result<bool, ServiceError> {
        if !matches!(
            self.export(export_id).status,
            Status::Queued | Status::Running
        ) {
            return Ok(false);
        }
        self.change(export_id, |e| {
            e.status = Status::Failed;
            e.error = Some(reason.into());
            e.finished_at = Some(at.into());
        });
        Ok(true)
    }
}

#[derive(Default)]
pub struct Queue {
    pub sent: Mutex<Vec<String>>,
    pub down: bool,
}

impl ExportQueue for Queue {
    async fn enqueue(&self, export_id: &str) -> Result<(), ServiceError> {
        if self.down {
            return Err(ServiceError::Unavailable("queue down".into()));
        }
        self.sent.lock().unwrap().push(export_id.into());
        Ok(())
    }
}

pub struct Signer;

impl Presigner for Signer {
    async fn url(&self, key: &str, expires: Duration) -> Result<String, ServiceError> {
        Ok(format!(
            "https://exports.example/{key}?X-Amz-Expires={}",
            expires.as_secs()
        ))
    }
}

/// Stored events per (app, day), served `page_size` to a page.
#[derive(Default)]
pub struct Events {
    pub days: BTreeMap<(String, Date), Vec<Row>>,
    pub page_size: usize,
    pub failing_day: Option<Date>,
}

impl EventDays for Events {
    async fn page(
        &self,
        app_id: &str,
        day: Date,
        after: Option<String>,
    ) -> Result<DayPage, ServiceError> {
        if self.failing_day == Some(day) {
            return Err(ServiceError::Throttled("slow down".into()));
        }
        let rows = self
            .days
            .get(&(app_id.to_owned(), day))
            .cloned()
            .unwrap_or_default();
        let start = after.map_or(0, |n| n.parse().unwrap());
        let end = (start + self.page_size).min(rows.len());
        Ok(DayPage {
            rows: rows[start..end].to_vec(),
            next: (end < rows.len()).then(|| end.to_string()),
        })
    }
}

pub type Completed = (String, Vec<(i32, String)>);

#[derive(Default)]
pub struct Store {
    pub parts: Mutex<Vec<(i32, Vec<u8>)>>,
    /// The key and the parts (number, ETag) of the completed upload.
    pub completed: Mutex<Option<Completed>>,
    pub aborted: Mutex<bool>,
}

impl Store {
    pub fn object(&self) -> Vec<u8> {
        self.parts
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, b)| b.clone())
            .collect()
    }
}

impl CsvStore for Store {
    async fn begin(&self, _: &str) -> Result<String, ServiceError> {
        Ok("upload-1".into())
    }

    async fn part(
        &self,
        _: &str,
        _: &str,
        number: i32,
        bytes: Vec<u8>,
    ) -> Result<String, ServiceError> {
        self.parts.lock().unwrap().push((number, bytes));
        Ok(format!("etag-{number}"))
    }

    async fn complete(
        &self,
        key: &str,
        _: &str,
        parts: Vec<(i32, String)>,
    ) -> Result<(), ServiceError> {
        *self.completed.lock().unwrap() = Some((key.into(), parts));
        Ok(())
    }

    async fn abort(&self, _: &str, _: &str) -> Result<(), ServiceError> {
        *self.aborted.lock().unwrap() = true;
        Ok(())
    }
}

#[derive(Default)]
pub struct Mail {
    pub sent: Mutex<Vec<(String, String, String)>>,
}

impl Mailer for Mail {
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), ServiceError> {
        self.sent
            .lock()
            .unwrap()
            .push((to.into(), subject.into(), text.into()));
        Ok(())
    }
}

pub fn export(id: &str, status: Status, from: &str, to: &str) -> Export {
    Export {
        export_id: id.into(),
        app_id: "com.example.game".into(),
        from: from.into(),
        to: to.into(),
        email: "ops@example.com".into(),
        status,
        requested_at: "2026-12-03T10:00:00.000Z".into(),
        started_at: None,
        finished_at: None,
        rows: None,
        error: None,
    }
}
