//! Search keyword performance from hit-level data: how much revenue external search engines
//! bring, per engine domain and keyword. A streaming engine over any reader; memory holds open
//! visits, not the file.

pub mod block;
pub mod generate;
pub mod hits;
pub mod keyword;
mod pipeline;
pub mod referrer;
pub mod report;
pub mod revenue;
mod table;
pub mod visits;

use std::hash::BuildHasher;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::OnceLock;
use std::time::Instant;

use serde::Serialize;
use thiserror::Error;

use crate::block::Layout;
use crate::hits::{Columns, HeaderError};
use crate::pipeline::{SliceSource, StreamSource, Tally};
use crate::referrer::SearchReferral;
use crate::revenue::Revenue;
use crate::visits::{Sessions, TooLate};

pub use visits::DEFAULT_DISORDER_SECONDS;

/// A hash state chosen once per process, for the hashes every thread must agree on (visitor
/// keys, search referrals): an input cannot be crafted in advance to make them collide.
pub(crate) fn process_hasher() -> foldhash::fast::FixedState {
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = SEED.get_or_init(|| std::hash::RandomState::new().hash_one(0u64));
    foldhash::fast::FixedState::with_seed(*seed)
}

/// Malformed revenue fields quoted in the summary; all of them are counted.
pub(crate) const WARNING_EXAMPLES: usize = 20;

/// Lines are handed to workers in blocks of about this size.
pub const DEFAULT_BLOCK_BYTES: usize = 1 << 20;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("cannot read the input: {0}")]
    Read(#[from] io::Error),
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
    /// Visitors held at once: the sum of each shard's peak, each taken when the shard checks for
    /// idle visitors (so with several threads an upper bound of the moment's count).
    pub peak_open_visitors: usize,
    pub threads: usize,
    pub bytes: u64,
    pub seconds: f64,
    pub bytes_per_second: f64,
}

pub struct Report {
    /// (referral, revenue) with revenue > 0, in output order.
    pub rows: Vec<(SearchReferral, Revenue)>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How far (seconds) a line's time may lag behind an earlier line's and still be placed
    /// exactly.
    pub max_disorder_seconds: i64,
    /// Worker threads, the calling thread included.
    pub threads: usize,
    /// About how many bytes of whole lines a block holds.
    pub block_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_disorder_seconds: DEFAULT_DISORDER_SECONDS,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            block_bytes: DEFAULT_BLOCK_BYTES,
        }
    }
}

/// Reads a whole export from a stream (a file, a pipe, an S3 object body) and computes the
/// report.
pub fn analyze(input: impl Read + Send, options: Options) -> Result<Report, EngineError> {
    let started = Instant::now();
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut header = Vec::new();
    let header_bytes = input.read_until(b'\n', &mut header)? as u64;
    let layout = layout(Columns::from_header(&header)?, options);
    let source = StreamSource::new(input, options.block_bytes);
    let (sessions, tally, bytes) = pipeline::run(source, &layout, options)?;
    Ok(finish(
        sessions,
        tally,
        header_bytes + bytes,
        options,
        started,
    ))
}

/// Computes the report of an export already in memory: blocks are slices of it, never copied.
pub fn analyze_bytes(data: &[u8], options: Options) -> Result<Report, EngineError> {
    let started = Instant::now();
    let header_end = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1);
    let layout = layout(Columns::from_header(&data[..header_end])?, options);
    let source = SliceSource::new(&data[header_end..], options.block_bytes);
    let (sessions, tally, bytes) = pipeline::run(source, &layout, options)?;
    Ok(finish(
        sessions,
        tally,
        header_end as u64 + bytes,
        options,
        started,
    ))
}

/// One visitor shard per worker: each can be applied while another worker applies another.
fn layout(columns: Columns, options: Options) -> Layout {
    Layout::new(
        columns,
        options.threads.max(1),
        options.max_disorder_seconds,
    )
}

/// The next of a repeatable stream of pseudo-random numbers (xorshift64), for tests' sample data.
#[cfg(test)]
pub(crate) fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn finish(
    sessions: Sessions,
    tally: Tally,
    total_bytes: u64,
    options: Options,
    started: Instant,
) -> Report {
    let (attribution, peak_open_visitors) = sessions.finish();
    let rows: Vec<(SearchReferral, Revenue)> = attribution
        .ranked()
        .into_iter()
        .map(|(referral, revenue)| (referral.clone(), revenue))
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    Report {
        summary: Summary {
            rows_read: tally.rows,
            rejected: tally.too_few_fields + tally.bad_hit_time,
            rejected_too_few_fields: tally.too_few_fields,
            rejected_bad_hit_time: tally.bad_hit_time,
            purchases: attribution.purchases,
            attributed_revenue: attribution.attributed.to_string(),
            unattributed_revenue: attribution.unattributed.to_string(),
            keywords: rows.len(),
            warnings: tally.warnings,
            warning_examples: tally.warning_examples,
            peak_open_visitors,
            threads: options.threads.max(1),
            bytes: total_bytes,
            seconds,
            bytes_per_second: if seconds > 0.0 {
                total_bytes as f64 / seconds
            } else {
                0.0
            },
        },
        rows,
    }
}
