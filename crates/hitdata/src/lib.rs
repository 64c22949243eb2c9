//! Search keyword performance from hit-level data: how much revenue external search engines
//! bring, per engine domain and keyword. A streaming engine over any reader; memory holds open
//! visits, not the file.

pub mod block;
pub mod generate;
pub mod hits;
pub mod keyword;
pub mod referrer;
pub mod report;
pub mod revenue;
pub mod visits;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use thiserror::Error;

use crate::block::{ParsedBlock, key_hasher, parse_block};
use crate::hits::{Columns, HeaderError};
use crate::referrer::SearchReferral;
use crate::revenue::Revenue;
use crate::visits::{Sessions, TooLate};

pub use visits::DEFAULT_DISORDER_SECONDS;

/// Malformed revenue fields quoted in the summary; all of them are counted.
const WARNING_EXAMPLES: usize = 20;
/// Lines are handed to parser threads in blocks of about this size.
pub const DEFAULT_BLOCK_BYTES: usize = 4 << 20;

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
    /// Parser threads; blocks are applied to visits in file order on the calling thread.
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

struct RawBlock<'a> {
    seq: u64,
    data: std::borrow::Cow<'a, [u8]>,
}

/// Reads a whole export from a stream (a pipe, an S3 object body) and computes the report.
pub fn analyze(input: impl Read + Send, options: Options) -> Result<Report, EngineError> {
    let started = Instant::now();
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut header = Vec::new();
    let header_bytes = input.read_until(b'\n', &mut header)? as u64;
    let columns = Columns::from_header(&header)?;
    let read_error: Mutex<Option<io::Error>> = Mutex::new(None);
    let (outcome, body_bytes) = run_pipeline(&columns, options, |blocks, spent| {
        read_blocks(
            input,
            options.block_bytes.max(1),
            blocks,
            spent,
            &read_error,
        )
    });
    if let Some(err) = read_error.into_inner().unwrap_or(None) {
        return Err(EngineError::Read(err));
    }
    finish(outcome?, header_bytes + body_bytes, options, started)
}

/// Computes the report of an export already in memory: blocks are slices of it, never copied.
pub fn analyze_bytes(data: &[u8], options: Options) -> Result<Report, EngineError> {
    let started = Instant::now();
    let header_end = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1);
    let columns = Columns::from_header(&data[..header_end])?;
    let (outcome, _) = run_pipeline(&columns, options, |blocks, _| {
        let (mut seq, mut start) = (0u64, header_end);
        while start < data.len() {
            let cut = (start + options.block_bytes.max(1)).min(data.len());
            let end = memchr::memchr(b'\n', &data[cut..]).map_or(data.len(), |i| cut + i + 1);
            let block = RawBlock {
                seq,
                data: std::borrow::Cow::Borrowed(&data[start..end]),
            };
            if blocks.send(block).is_err() {
                break;
            }
            seq += 1;
            start = end;
        }
        data.len() as u64
    });
    finish(outcome?, data.len() as u64, options, started)
}

type Applied = Result<(Sessions, Tally), TooLate>;

/// Blocks from `source` are parsed on `options.threads` threads and applied in file order on
/// the calling thread. Channels are bounded, so memory holds a few blocks, not the input.
fn run_pipeline<'a, F>(columns: &Columns, options: Options, source: F) -> (Applied, u64)
where
    F: FnOnce(SyncSender<RawBlock<'a>>, Receiver<Vec<u8>>) -> u64 + Send,
{
    let threads = options.threads.max(1);
    let (raw_tx, raw_rx) = sync_channel::<RawBlock<'a>>(threads * 2);
    let (spent_tx, spent_rx) = sync_channel::<Vec<u8>>(threads * 2);
    let (parsed_tx, parsed_rx) = sync_channel::<ParsedBlock>(threads * 2);
    let raw_rx = Arc::new(Mutex::new(raw_rx));
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || source(raw_tx, spent_rx));
        for _ in 0..threads {
            let (raw_rx, parsed_tx, spent_tx) =
                (Arc::clone(&raw_rx), parsed_tx.clone(), spent_tx.clone());
            scope.spawn(move || parse_blocks(&raw_rx, &parsed_tx, &spent_tx, columns));
        }
        drop(spent_tx);
        // Only the workers hold the ends: when the applying side stops early, workers stop on
        // their next send, and the reader on its next.
        drop(raw_rx);
        drop(parsed_tx);
        let applied = apply_in_order(&parsed_rx, options.max_disorder_seconds);
        drop(parsed_rx);
        let bytes = reader.join().unwrap_or(0);
        (applied, bytes)
    })
}

fn finish(
    (sessions, tally): (Sessions, Tally),
    total_bytes: u64,
    options: Options,
    started: Instant,
) -> Result<Report, EngineError> {
    let threads = options.threads.max(1);

    let (attribution, peak_open_visitors) = sessions.finish();
    let rows: Vec<(SearchReferral, Revenue)> = attribution
        .ranked()
        .into_iter()
        .map(|(referral, revenue)| (referral.clone(), revenue))
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Report {
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
            threads,
            bytes: total_bytes,
            seconds,
            bytes_per_second: if seconds > 0.0 {
                total_bytes as f64 / seconds
            } else {
                0.0
            },
        },
        rows,
    })
}

/// Cuts a stream into blocks of whole lines; returns the bytes read. Buffers come back from
/// the parsers through `spent`, so pages are not faulted in afresh for every block.
fn read_blocks(
    mut input: impl Read,
    block_bytes: usize,
    blocks: SyncSender<RawBlock<'_>>,
    spent: Receiver<Vec<u8>>,
    failure: &Mutex<Option<io::Error>>,
) -> u64 {
    let (mut seq, mut total) = (0u64, 0u64);
    let mut carry: Vec<u8> = Vec::new();
    // Set when the buffered bytes hold no line end yet: read on, whatever the block size.
    let mut need_more = false;
    loop {
        let mut data = spent.try_recv().unwrap_or_default();
        data.clear();
        data.reserve(block_bytes + carry.len());
        data.append(&mut carry);
        let mut at_end = false;
        while data.len() < block_bytes || need_more {
            let want = block_bytes.saturating_sub(data.len()).max(1 << 12);
            match (&mut input).take(want as u64).read_to_end(&mut data) {
                Ok(n) => {
                    total += n as u64;
                    need_more = false;
                    if n < want {
                        at_end = true;
                        break;
                    }
                }
                Err(err) => {
                    *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
                    return total;
                }
            }
        }
        if !at_end {
            // A partial last line waits for the next block.
            match memchr::memrchr(b'\n', &data) {
                Some(end) => carry = data[end + 1..].to_vec(),
                None => {
                    carry = data;
                    need_more = true;
                    continue;
                }
            }
            let end = data.len() - carry.len();
            data.truncate(end);
        }
        if !data.is_empty() {
            let block = RawBlock {
                seq,
                data: std::borrow::Cow::Owned(data),
            };
            if blocks.send(block).is_err() {
                return total;
            }
            seq += 1;
        }
        if at_end {
            return total;
        }
    }
}

fn parse_blocks(
    raw: &Mutex<Receiver<RawBlock<'_>>>,
    parsed: &SyncSender<ParsedBlock>,
    spent: &SyncSender<Vec<u8>>,
    columns: &Columns,
) {
    let hasher = key_hasher();
    loop {
        let next = raw.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(block) = next else { return };
        let result = parse_block(block.seq, &block.data, columns, &hasher);
        if let std::borrow::Cow::Owned(buffer) = block.data {
            let _ = spent.try_send(buffer);
        }
        if parsed.send(result).is_err() {
            return;
        }
    }
}

#[derive(Default)]
struct Tally {
    rows: u64,
    too_few_fields: u64,
    bad_hit_time: u64,
    warnings: u64,
    warning_examples: Vec<Warning>,
}

/// Applies parsed blocks to visits in file order, whatever order they were parsed in.
fn apply_in_order(
    parsed: &Receiver<ParsedBlock>,
    window: i64,
) -> Result<(Sessions, Tally), TooLate> {
    let mut sessions = Sessions::new(window);
    let mut tally = Tally::default();
    let mut waiting: BTreeMap<u64, ParsedBlock> = BTreeMap::new();
    let mut next = 0u64;
    // Line numbers within a block are relative; the header is line 1.
    let mut first_line = 2u64;
    for block in parsed {
        waiting.insert(block.seq, block);
        while let Some(mut block) = waiting.remove(&next) {
            sessions.add_block(&block, first_line)?;
            for warning in &mut block.warning_examples {
                warning.line += first_line;
            }
            first_line += block.rows;
            tally.rows += block.rows;
            tally.too_few_fields += block.too_few_fields;
            tally.bad_hit_time += block.bad_hit_time;
            tally.warnings += block.warnings;
            let room = WARNING_EXAMPLES.saturating_sub(tally.warning_examples.len());
            tally
                .warning_examples
                .extend(block.warning_examples.into_iter().take(room));
            next += 1;
        }
    }
    Ok((sessions, tally))
}
