//! Running the engine on every core: each worker takes the next block of whole lines from the
//! source, parses it, and applies to visits whatever blocks are next in file order. As many
//! threads as workers, so nothing waits on a hand-off thread; a condition variable keeps
//! workers from running more than a few blocks ahead, so memory holds a few blocks.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::block::{ParsedBlock, key_hasher, parse_block};
use crate::hits::Columns;
use crate::visits::Sessions;
use crate::{EngineError, Options, WARNING_EXAMPLES, Warning};

/// Where blocks of whole lines come from.
pub(crate) trait BlockSource<'a>: Send {
    /// The next block, or `None` at the end; `spare` is a buffer to reuse.
    fn next_block(&mut self, spare: Vec<u8>) -> io::Result<Option<Cow<'a, [u8]>>>;
    /// Bytes taken from the source so far.
    fn bytes(&self) -> u64;
}

/// Blocks read from a stream; a partial last line waits for the next block.
pub(crate) struct StreamSource<R> {
    input: R,
    block_bytes: usize,
    carry: Vec<u8>,
    total: u64,
    at_end: bool,
}

impl<R: Read> StreamSource<R> {
    pub(crate) fn new(input: R, block_bytes: usize) -> Self {
        Self {
            input,
            block_bytes: block_bytes.max(1),
            carry: Vec::new(),
            total: 0,
            at_end: false,
        }
    }
}

impl<'a, R: Read + Send> BlockSource<'a> for StreamSource<R> {
    fn next_block(&mut self, spare: Vec<u8>) -> io::Result<Option<Cow<'a, [u8]>>> {
        if self.at_end {
            return Ok(None);
        }
        let mut data = spare;
        data.clear();
        data.reserve(self.block_bytes + self.carry.len());
        data.append(&mut self.carry);
        // Set while the buffered bytes hold no line end: read on, whatever the block size.
        let mut need_more = false;
        loop {
            while data.len() < self.block_bytes || need_more {
                let want = self.block_bytes.saturating_sub(data.len()).max(1 << 12);
                let read = (&mut self.input).take(want as u64).read_to_end(&mut data)?;
                self.total += read as u64;
                need_more = false;
                if read < want {
                    self.at_end = true;
                    break;
                }
            }
            if self.at_end {
                return Ok((!data.is_empty()).then_some(Cow::Owned(data)));
            }
            match memchr::memrchr(b'\n', &data) {
                Some(end) => {
                    self.carry.extend_from_slice(&data[end + 1..]);
                    data.truncate(end + 1);
                    return Ok(Some(Cow::Owned(data)));
                }
                None => need_more = true,
            }
        }
    }

    fn bytes(&self) -> u64 {
        self.total
    }
}

/// Blocks borrowed from data already in memory.
pub(crate) struct SliceSource<'a> {
    data: &'a [u8],
    start: usize,
    block_bytes: usize,
}

impl<'a> SliceSource<'a> {
    pub(crate) fn new(data: &'a [u8], block_bytes: usize) -> Self {
        Self {
            data,
            start: 0,
            block_bytes: block_bytes.max(1),
        }
    }
}

impl<'a> BlockSource<'a> for SliceSource<'a> {
    fn next_block(&mut self, _spare: Vec<u8>) -> io::Result<Option<Cow<'a, [u8]>>> {
        let data = self.data;
        if self.start >= data.len() {
            return Ok(None);
        }
        let cut = (self.start + self.block_bytes).min(data.len());
        let end = memchr::memchr(b'\n', &data[cut..]).map_or(data.len(), |i| cut + i + 1);
        let block = &data[self.start..end];
        self.start = end;
        Ok(Some(Cow::Borrowed(block)))
    }

    fn bytes(&self) -> u64 {
        self.start as u64
    }
}

#[derive(Default)]
pub(crate) struct Tally {
    pub rows: u64,
    pub too_few_fields: u64,
    pub bad_hit_time: u64,
    pub warnings: u64,
    pub warning_examples: Vec<Warning>,
}

struct Applying {
    sessions: Sessions,
    tally: Tally,
    waiting: BTreeMap<u64, ParsedBlock>,
    next: u64,
    /// The header is line 1; block line numbers are relative.
    first_line: u64,
    failure: Option<EngineError>,
}

struct Taking<S> {
    source: S,
    next_seq: u64,
}

/// Runs the workers to the end of `source`; returns the visits, the tally and the bytes read.
pub(crate) fn run<'a, S: BlockSource<'a>>(
    source: S,
    columns: &Columns,
    options: Options,
) -> Result<(Sessions, Tally, u64), EngineError> {
    let workers = options.threads.max(1);
    let taking = Mutex::new(Taking {
        source,
        next_seq: 0,
    });
    let applying = Mutex::new(Applying {
        sessions: Sessions::new(options.max_disorder_seconds),
        tally: Tally::default(),
        waiting: BTreeMap::new(),
        next: 0,
        first_line: 2,
        failure: None,
    });
    let progress = Condvar::new();
    let stop = AtomicBool::new(false);
    let spares: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let shared = Shared {
        taking: &taking,
        applying: &applying,
        progress: &progress,
        stop: &stop,
        spares: &spares,
        columns,
        ahead: (workers * 2) as u64,
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(|| work(&shared));
        }
        work(&shared);
    });
    let bytes = lock(&taking).source.bytes();
    let applying = applying.into_inner().unwrap_or_else(|e| e.into_inner());
    match applying.failure {
        Some(failure) => Err(failure),
        None => Ok((applying.sessions, applying.tally, bytes)),
    }
}

struct Shared<'s, S> {
    taking: &'s Mutex<Taking<S>>,
    applying: &'s Mutex<Applying>,
    progress: &'s Condvar,
    stop: &'s AtomicBool,
    spares: &'s Mutex<Vec<Vec<u8>>>,
    columns: &'s Columns,
    /// How many blocks a worker may be ahead of the next one to apply.
    ahead: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn work<'a, S: BlockSource<'a>>(shared: &Shared<'_, S>) {
    let hasher = key_hasher();
    while !shared.stop.load(Ordering::Relaxed) {
        let spare = lock(shared.spares).pop().unwrap_or_default();
        let (seq, data) = {
            let mut taking = lock(shared.taking);
            match taking.source.next_block(spare) {
                Ok(Some(data)) => {
                    taking.next_seq += 1;
                    (taking.next_seq - 1, data)
                }
                Ok(None) => return,
                Err(err) => return fail(shared, EngineError::Read(err)),
            }
        };
        let parsed = parse_block(&data, shared.columns, &hasher);
        if let Cow::Owned(buffer) = data {
            lock(shared.spares).push(buffer);
        }

        let mut applying = lock(shared.applying);
        while seq >= applying.next + shared.ahead && !shared.stop.load(Ordering::Relaxed) {
            applying = shared
                .progress
                .wait(applying)
                .unwrap_or_else(|e| e.into_inner());
        }
        applying.waiting.insert(seq, parsed);
        while let Some(block) = {
            let next = applying.next;
            applying.waiting.remove(&next)
        } {
            if let Err(late) = apply(&mut applying, block) {
                applying
                    .failure
                    .get_or_insert(EngineError::OutOfOrder(late));
                shared.stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        drop(applying);
        shared.progress.notify_all();
    }
}

fn apply(applying: &mut Applying, mut block: ParsedBlock) -> Result<(), crate::visits::TooLate> {
    let first_line = applying.first_line;
    applying.sessions.add_block(&block, first_line)?;
    for warning in &mut block.warning_examples {
        warning.line += first_line;
    }
    let tally = &mut applying.tally;
    tally.rows += block.rows;
    tally.too_few_fields += block.too_few_fields;
    tally.bad_hit_time += block.bad_hit_time;
    tally.warnings += block.warnings;
    let room = WARNING_EXAMPLES.saturating_sub(tally.warning_examples.len());
    tally
        .warning_examples
        .extend(block.warning_examples.into_iter().take(room));
    applying.first_line += block.rows;
    applying.next += 1;
    Ok(())
}

fn fail<S>(shared: &Shared<'_, S>, failure: EngineError) {
    lock(shared.applying).failure.get_or_insert(failure);
    shared.stop.store(true, Ordering::Relaxed);
    shared.progress.notify_all();
}
