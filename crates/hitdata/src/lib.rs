//! Search keyword performance from hit-level data: how much revenue external search engines
//! bring, per engine domain and keyword. A streaming engine over any reader; memory holds open
//! visits, not the file.

pub mod generate;
pub mod hits;
pub mod keyword;
pub mod referrer;
pub mod report;
pub mod revenue;
pub mod visits;

use std::io::BufRead;
use std::time::Instant;

use serde::Serialize;
use thiserror::Error;

use crate::hits::{Columns, HeaderError, Rejection};
use crate::referrer::SearchReferral;
use crate::revenue::Revenue;
use crate::visits::{Sessions, TooLate};

pub use visits::DEFAULT_DISORDER_SECONDS;

/// How many malformed revenue fields the summary quotes; all of them are counted.
const WARNING_EXAMPLES: usize = 20;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("cannot read the input: {0}")]
    Read(#[from] std::io::Error),
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error(transparent)]
    OutOfOrder(#[from] TooLate),
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub rows_read: u64,
    pub rejected: u64,
    pub rejected_too_few_fields: u64,
    pub rejected_bad_hit_time: u64,
    pub purchases: u64,
    pub attributed_revenue: String,
    pub unattributed_revenue: String,
    pub keywords: usize,
    pub warnings: u64,
    pub warning_examples: Vec<Warning>,
    pub peak_open_visitors: usize,
    pub bytes: u64,
    pub seconds: f64,
    pub bytes_per_second: f64,
}

pub struct Report {
    /// (referral, revenue) with revenue > 0, in output order.
    pub rows: Vec<(SearchReferral, Revenue)>,
    pub summary: Summary,
}

/// Reads a whole export and computes the report.
pub fn analyze(mut input: impl BufRead, max_disorder_seconds: i64) -> Result<Report, EngineError> {
    let started = Instant::now();
    let mut line = Vec::with_capacity(4096);
    let mut bytes = input.read_until(b'\n', &mut line)? as u64;
    let columns = Columns::from_header(&line)?;

    let mut sessions = Sessions::new(max_disorder_seconds);
    let (mut rows_read, mut too_few, mut bad_time, mut warnings) = (0u64, 0u64, 0u64, 0u64);
    let mut warning_examples = Vec::new();
    let mut line_number = 1u64;
    loop {
        line.clear();
        let read = input.read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        line_number += 1;
        rows_read += 1;
        match hits::parse_hit(&line, &columns) {
            Err(Rejection::TooFewFields) => too_few += 1,
            Err(Rejection::BadHitTime) => bad_time += 1,
            Ok(hit) => {
                if let Some(purchase) = &hit.purchase {
                    for text in &purchase.malformed {
                        warnings += 1;
                        if warning_examples.len() < WARNING_EXAMPLES {
                            warning_examples.push(Warning {
                                line: line_number,
                                message: format!(
                                    "Total Revenue {text:?} is not a plain decimal; counted as 0"
                                ),
                            });
                        }
                    }
                }
                sessions.add(line_number, hit)?;
            }
        }
    }

    let (attribution, peak_open_visitors) = sessions.finish();
    let rows: Vec<(SearchReferral, Revenue)> = attribution
        .ranked()
        .into_iter()
        .map(|(referral, revenue)| (referral.clone(), revenue))
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let summary = Summary {
        rows_read,
        rejected: too_few + bad_time,
        rejected_too_few_fields: too_few,
        rejected_bad_hit_time: bad_time,
        purchases: attribution.purchases,
        attributed_revenue: attribution.attributed.to_string(),
        unattributed_revenue: attribution.unattributed.to_string(),
        keywords: rows.len(),
        warnings,
        warning_examples,
        peak_open_visitors,
        bytes,
        seconds,
        bytes_per_second: if seconds > 0.0 {
            bytes as f64 / seconds
        } else {
            0.0
        },
    };
    Ok(Report { rows, summary })
}
