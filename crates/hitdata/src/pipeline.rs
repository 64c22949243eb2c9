//! Running the engine on every core. Each worker takes the next block of whole lines from the
//! source and parses it, splitting its hits by visitor shard; blocks are admitted in file order
//! (the late-line check and the line numbers, a few operations per block); then each shard takes
//! its part of the admitted blocks in order, on whichever worker is free, while another worker
//! applies another shard or parses. As many threads as workers, so nothing waits on a hand-off
//! thread; a condition variable keeps workers from running more than a few blocks ahead of the
//! slowest shard, so memory holds a few blocks.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::block::{Layout, ParsedBlock, parse_block};
use crate::referrer::ReferralCache;
use crate::visits::{Sequencer, Sessions, Shard};
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

/// An admitted block, and the bound every later hit is at or after.
type Admitted = (Arc<ParsedBlock>, i64);

/// Blocks between parsing and the shards, and what is known in file order.
struct Admitting {
    sequencer: Sequencer,
    tally: Tally,
    /// Parsed blocks waiting for an earlier one.
    waiting: BTreeMap<u64, ParsedBlock>,
    /// The next block to admit.
    next: u64,
    /// The header is line 1; block line numbers are relative.
    first_line: u64,
    /// Per shard: admitted blocks (with their bound) not yet taken, whether a worker is applying
    /// the shard, and how many blocks it has applied.
    ready: Vec<VecDeque<Admitted>>,
    busy: Vec<bool>,
    applied: Vec<u64>,
    failure: Option<EngineError>,
}

impl Admitting {
    /// The admitted blocks of a shard that no worker is applying, claimed for the caller.
    fn claim(&mut self, prefer: usize) -> Option<(usize, Vec<Admitted>)> {
        let shards = self.ready.len();
        (0..shards)
            .map(|i| (prefer + i) % shards)
            .find_map(|shard| {
                (!self.busy[shard] && !self.ready[shard].is_empty()).then(|| {
                    self.busy[shard] = true;
                    (shard, self.ready[shard].drain(..).collect())
                })
            })
    }

    fn slowest_applied(&self) -> u64 {
        self.applied.iter().copied().min().unwrap_or(self.next)
    }

    /// Admits every parsed block that is next in file order.
    fn admit_ready(&mut self) -> Result<(), crate::visits::TooLate> {
        while let Some(mut block) = self.waiting.remove(&self.next) {
            let bound = self.sequencer.admit(&block, self.first_line)?;
            for warning in &mut block.warning_examples {
                warning.line += self.first_line;
            }
            let tally = &mut self.tally;
            tally.rows += block.rows;
            tally.too_few_fields += block.too_few_fields;
            tally.bad_hit_time += block.bad_hit_time;
            tally.warnings += block.warnings;
            let room = WARNING_EXAMPLES.saturating_sub(tally.warning_examples.len());
            tally
                .warning_examples
                .extend(block.warning_examples.drain(..).take(room));
            self.first_line += block.rows;
            self.next += 1;
            let block = Arc::new(block);
            for ready in &mut self.ready {
                ready.push_back((Arc::clone(&block), bound));
            }
        }
        Ok(())
    }
}

struct Taking<S> {
    source: S,
    next_seq: u64,
}

/// Runs the workers to the end of `source`; returns the visits, the tally and the bytes read.
pub(crate) fn run<'a, S: BlockSource<'a>>(
    source: S,
    layout: &Layout,
    options: Options,
) -> Result<(Sessions, Tally, u64), EngineError> {
    let workers = options.threads.max(1);
    let taking = Mutex::new(Taking {
        source,
        next_seq: 0,
    });
    let admitting = Mutex::new(Admitting {
        sequencer: Sequencer::new(options.max_disorder_seconds),
        tally: Tally::default(),
        waiting: BTreeMap::new(),
        next: 0,
        first_line: 2,
        ready: vec![VecDeque::new(); layout.shards],
        busy: vec![false; layout.shards],
        applied: vec![0; layout.shards],
        failure: None,
    });
    let shards: Vec<Mutex<Shard>> = (0..layout.shards)
        .map(|_| Mutex::new(Shard::new(options.max_disorder_seconds)))
        .collect();
    let progress = Condvar::new();
    let stop = AtomicBool::new(false);
    let spares: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let parsed_spares: Mutex<Vec<ParsedBlock>> = Mutex::new(Vec::new());
    let shared = Shared {
        taking: &taking,
        admitting: &admitting,
        shards: &shards,
        progress: &progress,
        stop: &stop,
        spares: &spares,
        parsed_spares: &parsed_spares,
        layout,
        ahead: (workers * 2) as u64,
    };
    std::thread::scope(|scope| {
        for worker in 1..workers {
            let shared = &shared;
            scope.spawn(move || work(shared, worker));
        }
        work(&shared, 0);
    });
    let bytes = lock(&taking).source.bytes();
    let admitting = admitting.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(failure) = admitting.failure {
        return Err(failure);
    }
    let shards = shards
        .into_iter()
        .map(|shard| shard.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
    Ok((
        Sessions::from_parts(admitting.sequencer, shards),
        admitting.tally,
        bytes,
    ))
}

struct Shared<'s, S> {
    taking: &'s Mutex<Taking<S>>,
    admitting: &'s Mutex<Admitting>,
    shards: &'s [Mutex<Shard>],
    progress: &'s Condvar,
    stop: &'s AtomicBool,
    spares: &'s Mutex<Vec<Vec<u8>>>,
    parsed_spares: &'s Mutex<Vec<ParsedBlock>>,
    layout: &'s Layout,
    /// How many blocks a worker may be ahead of the slowest shard.
    ahead: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn work<'a, S: BlockSource<'a>>(shared: &Shared<'_, S>, worker: usize) {
    let _stop_on_panic = StopOnPanic(shared);
    let prefer = worker % shared.layout.shards;
    let mut referrals = ReferralCache::default();
    while !shared.stop.load(Ordering::Relaxed) {
        // Admitted work first: it frees memory and lets the others run ahead.
        let claimed = lock(shared.admitting).claim(prefer);
        if let Some((shard, blocks)) = claimed {
            apply(shared, shard, blocks);
            continue;
        }

        let spare = lock(shared.spares).pop().unwrap_or_default();
        let (seq, data) = {
            let mut taking = lock(shared.taking);
            match taking.source.next_block(spare) {
                Ok(Some(data)) => {
                    taking.next_seq += 1;
                    (taking.next_seq - 1, data)
                }
                // What others admitted after this worker last looked is theirs to claim.
                Ok(None) => return,
                Err(err) => return fail(shared, EngineError::Read(err)),
            }
        };
        let mut parsed = lock(shared.parsed_spares).pop().unwrap_or_default();
        parse_block(&data, shared.layout, &mut parsed, &mut referrals);
        if let Cow::Owned(buffer) = data {
            lock(shared.spares).push(buffer);
        }

        let mut admitting = lock(shared.admitting);
        while seq >= admitting.slowest_applied() + shared.ahead
            && !shared.stop.load(Ordering::Relaxed)
        {
            if let Some((shard, blocks)) = admitting.claim(prefer) {
                drop(admitting);
                apply(shared, shard, blocks);
                admitting = lock(shared.admitting);
            } else {
                admitting = shared
                    .progress
                    .wait(admitting)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        admitting.waiting.insert(seq, parsed);
        if let Err(late) = admitting.admit_ready() {
            admitting
                .failure
                .get_or_insert(EngineError::OutOfOrder(late));
            shared.stop.store(true, Ordering::Relaxed);
        }
        drop(admitting);
        shared.progress.notify_all();
    }
}

/// Applies a shard's claimed blocks, and whatever is admitted for it meanwhile, then releases it.
fn apply<S>(shared: &Shared<'_, S>, shard: usize, mut blocks: Vec<Admitted>) {
    loop {
        {
            let mut state = lock(&shared.shards[shard]);
            for (block, bound) in &blocks {
                state.add_block(block, shard, *bound);
            }
        }
        let applied = blocks.len() as u64;
        for (block, _) in blocks.drain(..) {
            // The last shard to apply a block keeps its buffers for another.
            if let Ok(block) = Arc::try_unwrap(block) {
                lock(shared.parsed_spares).push(block);
            }
        }
        let mut admitting = lock(shared.admitting);
        admitting.applied[shard] += applied;
        if admitting.ready[shard].is_empty() || shared.stop.load(Ordering::Relaxed) {
            admitting.busy[shard] = false;
            drop(admitting);
            shared.progress.notify_all();
            return;
        }
        blocks.extend(admitting.ready[shard].drain(..));
        drop(admitting);
        shared.progress.notify_all();
    }
}

fn fail<S>(shared: &Shared<'_, S>, failure: EngineError) {
    stop_all(shared, Some(failure));
}

/// Stops every worker, recording `failure` unless an earlier one is recorded.
fn stop_all<S>(shared: &Shared<'_, S>, failure: Option<EngineError>) {
    let mut admitting = lock(shared.admitting);
    if let Some(failure) = failure {
        admitting.failure.get_or_insert(failure);
    }
    // Under the lock, so a worker about to wait sees it or gets the notification.
    shared.stop.store(true, Ordering::Relaxed);
    drop(admitting);
    shared.progress.notify_all();
}

/// Stops every worker if this one panics, instead of leaving them waiting for its work.
struct StopOnPanic<'a, S>(&'a Shared<'a, S>);

impl<S> Drop for StopOnPanic<'_, S> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            stop_all(self.0, None);
        }
    }
}
