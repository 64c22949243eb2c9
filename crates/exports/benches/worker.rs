//! The export worker alone: rows/s and peak RSS for a period of stored events, with the table
//! and the bucket replaced by in-process stand-ins (pages generated on demand, parts counted and
//! dropped), so the figures are the worker's: paging, CSV and parts, not a store's speed.
//!
//! `cargo bench -p exports --bench worker` (part of `make bench`). Exports of 14 days holding
//! 250 000, 1 000 000 and 2 000 000 events, one after the other in one process; the peak RSS
//! (VmHWM) is reset before each, so the peaks show whether memory grows with the rows.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use exports::export::{Export, Status};
use exports::ports::{CsvStore, DayPage, EventDays, ExportLedger, Row, ServiceError};
use exports::worker::{ExportWorker, Outcome, PART_SIZE, columns};
use time::Date;
use time::macros::date;

/// About what DynamoDB returns in one 1 MB page of these items.
const PAGE_ROWS: u64 = 3_500;
const DAYS: u64 = 14;

struct Ledger(Mutex<Export>);

impl ExportLedger for Ledger {
    async fn create(&self, _: &Export, _: &str) -> Result<exports::ports::Created, ServiceError> {
        Ok(exports::ports::Created::New)
    }
    async fn get(&self, _: &str) -> Result<Option<Export>, ServiceError> {
        Ok(Some(self.0.lock().map_err(|_| poisoned())?.clone()))
    }
    async fn start(&self, _: &Export, _: &str) -> Result<bool, ServiceError> {
        Ok(true)
    }
    async fn finish(&self, _: &str, rows: u64, _: &str) -> Result<(), ServiceError> {
        self.0.lock().map_err(|_| poisoned())?.rows = Some(rows);
        Ok(())
    }
    async fn claim_mail(&self, _: &str, _: &str, _: &str) -> Result<bool, ServiceError> {
        Ok(true)
    }
    async fn ready(&self, _: &str) -> Result<bool, ServiceError> {
        Ok(true)
    }
    async fn fail(&self, _: &str, reason: &str, _: &str) -> Result<bool, ServiceError> {
        Err(ServiceError::Refused(reason.to_owned()))
    }
}

fn poisoned() -> ServiceError {
    ServiceError::Unavailable("a lock was poisoned".into())
}

/// `per_day` events a day, made page by page as the table would return them.
struct Generated {
    per_day: u64,
}

impl EventDays for Generated {
    async fn page(
        &self,
        app_id: &str,
        day: Date,
        after: Option<String>,
    ) -> Result<DayPage, ServiceError> {
        let start: u64 = after.map_or(Ok(0), |a| a.parse()).map_err(|_| poisoned())?;
        let end = (start + PAGE_ROWS).min(self.per_day);
        let rows = (start..end)
            .map(|n| {
                let kind = ["install", "reattribution", "event"][(n % 3) as usize];
                let mut row = Row::new();
                row.insert("kind".into(), kind.into());
                row.insert("network".into(), "brightads".into());
                row.insert("event_id".into(), format!("{day}-{n}"));
                row.insert("app_id".into(), app_id.into());
                let at = format!(
                    "{day}T{:02}:{:02}:{:02}.000Z",
                    n / 3600 % 24,
                    n / 60 % 60,
                    n % 60
                );
                row.insert("occurred_at".into(), at.clone());
                row.insert("received_at".into(), at);
                row.insert("schema_version".into(), "1".into());
                row.insert("device_id".into(), format!("DEV-{n:08}"));
                match kind {
                    "install" => {
                        row.insert(
                            "campaign".into(),
                            format!("winter, \"big\" sale {}", n % 50),
                        );
                        row.insert("country".into(), "DE".into());
                    }
                    "reattribution" => {
                        row.insert("days_inactive".into(), (n % 90).to_string());
                    }
                    _ => {
                        row.insert("event_name".into(), "purchase".into());
                        row.insert("revenue".into(), "4.99".into());
                        row.insert("currency".into(), "EUR".into());
                    }
                }
                row
            })
            .collect();
        let next = (end < self.per_day).then(|| end.to_string());
        Ok(DayPage { rows, next })
    }
}

#[derive(Default)]
struct Counted {
    bytes: AtomicU64,
}

impl CsvStore for Counted {
    async fn begin(&self, _: &str) -> Result<String, ServiceError> {
        Ok("upload".into())
    }
    async fn part(&self, _: &str, _: &str, n: i32, bytes: Vec<u8>) -> Result<String, ServiceError> {
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(format!("etag-{n}"))
    }
    async fn complete(&self, _: &str, _: &str, _: Vec<(i32, String)>) -> Result<(), ServiceError> {
        Ok(())
    }
    async fn abort(&self, _: &str, _: &str) -> Result<(), ServiceError> {
        Ok(())
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn export(from: Date, to: Date) -> Export {
    Export {
        export_id: "0f0e4c1a-9a43-4bd5-8c6d-2d8f0c1d2e3f".into(),
        app_id: "com.example.bench".into(),
        from: from.to_string(),
        to: to.to_string(),
        email: "bench@example.com".into(),
        status: Status::Queued,
        requested_at: "2026-12-06T00:00:00.000Z".into(),
        started_at: None,
        finished_at: None,
        rows: None,
        error: None,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let catalog = events::schema::Catalog::new().expect("the schemas");
    let last = date!(2026 - 12 - 06);
    let first = date!(2026 - 11 - 23);
    for events in [250_000, 1_000_000, 2_000_000] {
        let worker = ExportWorker {
            ledger: Ledger(Mutex::new(export(first, last))),
            events: Generated {
                per_day: events / DAYS,
            },
            store: Counted::default(),
            columns: columns(&catalog),
            part_size: PART_SIZE,
        };
        // Resets the peak RSS to the current RSS, so each export's peak is its own.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let outcome = runtime
            .block_on(worker.run("0f0e4c1a-9a43-4bd5-8c6d-2d8f0c1d2e3f"))
            .expect("the export");
        let seconds = started.elapsed().as_secs_f64();
        let Outcome::Written { rows } = outcome else {
            panic!("the export did not complete: {outcome:?}");
        };
        assert_eq!(rows, events / DAYS * DAYS, "every generated row exported");
        println!(
            "{{\"days\": {DAYS}, \"rows\": {rows}, \"seconds\": {seconds:.2}, \"rows_per_second\": {:.0}, \"csv_mib\": {:.1}, \"peak_rss_mib\": {:.1}}}",
            rows as f64 / seconds,
            worker.store.bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
            peak_rss_mib()
        );
    }
}
