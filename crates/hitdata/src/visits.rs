//! Visits and attribution: a visitor's hits in (hit_time_gmt, line) order, split into visits at
//! gaps over 30 minutes, each purchase credited to the visit's last search referral.
//!
//! Input is mostly in time order. No hit may be more than the disorder window older than a hit
//! before it in the file — such a hit cannot be placed exactly, and stops the run ([`Sequencer`]).
//! So every hit yet to come is at or after the newest time seen minus the window: hits wait in
//! buckets of time until that bound has passed their bucket, and are then applied in time order,
//! file order within a time. A visitor whose last hit is older than the bound minus a visit gap
//! can get no hit that joins its visit, and is dropped: memory holds open visits and the window's
//! hits, not the file.
//!
//! Visitors are split into shards by their key's hash ([`Shard`]); a visitor's hits all go to one
//! shard, so shards can be applied at once on different threads, and their revenue is summed.

use std::mem;

use hashbrown::HashTable;
use thiserror::Error;

use crate::block::{NO_REFERRAL, ParsedBlock};
use crate::referrer::{HashedReferral, ReferralRef, SearchReferral};
use crate::revenue::Revenue;
use crate::table::{VisitorTable, prefetch};

/// A gap longer than this between a visitor's consecutive hits starts a new visit.
pub const VISIT_GAP_SECONDS: i64 = 1800;
pub const DEFAULT_DISORDER_SECONDS: i64 = 3600;
/// Idle visitors are looked for once per this many hits, or per the visitors the last sweep kept
/// if more: sweeps cost about two looks at a visitor per hit.
const MIN_SWEEP_HITS: u64 = 1 << 16;
/// Buckets of waiting hits cover the window in at most about this many buckets.
const MAX_BUCKETS: i64 = 4096;
/// Applied buckets keep their room, in all, for as many hits as wait and this many more.
const KEPT_ROOM_FLOOR: usize = 1 << 16;
/// Keys of dropped visitors are reclaimed once they are more than the live ones and this much.
const MIN_RECLAIM_BYTES: usize = 1 << 20;

/// How far ahead of the hit being applied its table slot, its visitor and its key are fetched.
const PREFETCH_SLOTS: usize = 16;
const PREFETCH_VISITORS: usize = 8;
const PREFETCH_KEYS: usize = 4;
/// A shard looks ahead once it holds this many visitors (a few MB of them and their keys).
const PREFETCH_FROM_VISITORS: usize = 1 << 14;
/// Keys are stored in chunks of this size (a longer key has a chunk of its own), so the store
/// grows without moving what it holds.
const KEY_CHUNK_BYTES: usize = 1 << 20;

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "line {line}: hit_time_gmt {time} is more than {window} s older than a hit before it; the \
     input is out of order beyond the disorder window (raise --max-disorder)"
)]
pub struct TooLate {
    pub line: u64,
    pub time: i64,
    pub window: i64,
}

type ReferralId = u32;
const NO_TIME: i64 = i64::MIN;
const NO_PURCHASE: u32 = u32::MAX;

/// Takes blocks in file order and checks that no hit is too late; says for each block the bound
/// every later hit is at or after.
#[derive(Debug)]
pub struct Sequencer {
    window: i64,
    newest: i64,
}

impl Sequencer {
    pub fn new(disorder_window_seconds: i64) -> Self {
        Self {
            window: disorder_window_seconds.max(0),
            newest: i64::MIN,
        }
    }

    /// Admits the next block, whose first line is `first_line`; returns the bound.
    pub fn admit(&mut self, block: &ParsedBlock, first_line: u64) -> Result<i64, TooLate> {
        // A hit is late when it is more than the window older than the newest hit before it: the
        // newest of earlier blocks (then the block's first hit below the floor is the first of
        // its new minima below it) or of the same block (found while parsing).
        let floor = self.newest.saturating_sub(self.window);
        let below_floor = block.minima.iter().find(|low| low.time < floor);
        let late = match (below_floor, block.first_late.as_ref()) {
            (Some(a), Some(b)) => Some(if a.line <= b.line { a } else { b }),
            (a, b) => a.or(b),
        };
        if let Some(late) = late {
            return Err(TooLate {
                line: first_line + late.line,
                time: late.time,
                window: self.window,
            });
        }
        if let Some(newest) = block.newest {
            self.newest = self.newest.max(newest);
        }
        Ok(self.newest.saturating_sub(self.window))
    }
}

/// Revenue per (domain, keyword), and what could not be attributed.
#[derive(Debug, Default)]
pub struct Attribution {
    /// Each referral with its hash, so the table grows without hashing them again.
    referrals: Vec<HashedReferral>,
    /// Indices into `referrals`, by their hash.
    ids: HashTable<ReferralId>,
    revenue: Vec<Revenue>,
    pub purchases: u64,
    pub attributed: Revenue,
    pub unattributed: Revenue,
}

impl Attribution {
    /// The id of a referral, by its [`referral_hash`]: a new one for a new referral.
    fn id(&mut self, referral: ReferralRef) -> ReferralId {
        let referrals = &self.referrals;
        if let Some(id) = self.ids.find(referral.hash, |&id| {
            let known = &referrals[id as usize].referral;
            known.domain == referral.domain && known.keyword == referral.keyword
        }) {
            return *id;
        }
        let id = ReferralId::try_from(self.referrals.len())
            .ok()
            .filter(|&id| id < UNMAPPED)
            .expect("fewer than 2^32 - 2 keywords");
        self.referrals.push(HashedReferral {
            hash: referral.hash,
            referral: referral.to_referral(),
        });
        self.revenue.push(Revenue::ZERO);
        let referrals = &self.referrals;
        self.ids
            .insert_unique(referral.hash, id, |&id| referrals[id as usize].hash);
        id
    }

    /// Adds another shard's revenue to this one's.
    pub fn merge(&mut self, other: Attribution) {
        for (referral, revenue) in other.referrals.iter().zip(other.revenue) {
            // Most referrals lead to no purchase, and adding nothing changes no sum.
            if revenue == Revenue::ZERO {
                continue;
            }
            let id = self.id(referral.as_ref());
            self.revenue[id as usize] += revenue;
        }
        self.purchases += other.purchases;
        self.attributed += other.attributed;
        self.unattributed += other.unattributed;
    }

    /// (domain, keyword, revenue) with revenue > 0: revenue descending, then domain, then keyword.
    pub fn ranked(&self) -> Vec<(&SearchReferral, Revenue)> {
        let mut rows: Vec<_> = self
            .referrals
            .iter()
            .map(|hashed| &hashed.referral)
            .zip(self.revenue.iter().copied())
            .filter(|(_, revenue)| revenue.is_positive())
            .collect();
        rows.sort_by(|(a, ra), (b, rb)| {
            rb.cmp(ra)
                .then_with(|| a.domain.as_bytes().cmp(b.domain.as_bytes()))
                .then_with(|| a.keyword.as_bytes().cmp(b.keyword.as_bytes()))
        });
        rows
    }
}

/// One visitor: where its key is, and the state of its visit.
#[derive(Debug, Clone, Copy)]
struct Visitor {
    hash: u64,
    key_at: KeyAt,
    key_len: u32,
    /// Hits waiting in the buckets.
    waiting: u32,
    /// The time of the last hit applied; [`NO_TIME`] before the first, so that hit starts a visit.
    last_time: i64,
    /// The visit's last search referral, or [`NO_REFERRAL`].
    current: ReferralId,
}

/// Where a key is in a [`KeyArena`]: chunk index in the high half, offset in the low.
type KeyAt = u64;

/// The visitors' keys, back to back in chunks that never move.
#[derive(Debug, Default)]
struct KeyArena {
    chunks: Vec<Vec<u8>>,
    /// Bytes stored, live or not.
    bytes: usize,
}

impl KeyArena {
    fn push(&mut self, key: &[u8]) -> KeyAt {
        let fits = self
            .chunks
            .last()
            .is_some_and(|chunk| chunk.capacity() - chunk.len() >= key.len());
        if !fits {
            self.chunks
                .push(Vec::with_capacity(KEY_CHUNK_BYTES.max(key.len())));
        }
        let index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[index];
        let offset = chunk.len();
        chunk.extend_from_slice(key);
        self.bytes += key.len();
        ((index as u64) << 32) | offset as u64
    }

    fn get(&self, at: KeyAt, len: u32) -> &[u8] {
        let offset = (at & 0xffff_ffff) as usize;
        &self.chunks[(at >> 32) as usize][offset..offset + len as usize]
    }
}

/// A hit waiting for its bucket to be applied. Its time is the bucket's when buckets are one
/// second wide (windows under about an hour and eight minutes), and kept beside it otherwise.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    visitor: u32,
    referral: ReferralId,
    /// Index into the shard's purchases, or [`NO_PURCHASE`].
    purchase: u32,
}

/// What applying a hit changes: its visitor, and the revenue of a purchase.
struct Applied<'s> {
    visitors: &'s mut Vec<Visitor>,
    purchases: &'s [Revenue],
    free_purchases: &'s mut Vec<u32>,
    attribution: &'s mut Attribution,
}

impl Applied<'_> {
    fn hit(&mut self, time: i64, hit: &Waiting) {
        let visitor = &mut self.visitors[hit.visitor as usize];
        // A new visitor's first hit passes too, which changes nothing: it has no referral.
        if time.saturating_sub(visitor.last_time) > VISIT_GAP_SECONDS {
            visitor.current = NO_REFERRAL;
        }
        if hit.referral != NO_REFERRAL {
            visitor.current = hit.referral;
        }
        if hit.purchase != NO_PURCHASE {
            let revenue = self.purchases[hit.purchase as usize];
            self.free_purchases.push(hit.purchase);
            let attribution = &mut *self.attribution;
            attribution.purchases += 1;
            match visitor.current {
                NO_REFERRAL => attribution.unattributed += revenue,
                id => {
                    attribution.revenue[id as usize] += revenue;
                    attribution.attributed += revenue;
                }
            }
        }
        visitor.last_time = time;
        visitor.waiting -= 1;
    }
}

/// The visitors of one shard, their waiting hits, and the revenue credited to them.
pub struct Shard {
    window: i64,
    /// Seconds per bucket.
    width: i64,
    /// A ring: bucket number `b` (times `b * width ..`) is at `b mod len`, a power of two of at
    /// least 64, so the slot is the number's low bits.
    buckets: Vec<Vec<Waiting>>,
    /// The times of each bucket's hits, in the same order, when buckets are wider than a second.
    times: Vec<Vec<i64>>,
    /// A wide bucket's hits with their times, sorted; reused from bucket to bucket.
    sorted: Vec<(i64, Waiting)>,
    /// One bit per bucket of the ring, set while it holds hits: empty stretches are skipped 64
    /// buckets at a time.
    occupied: Vec<u64>,
    /// The first bucket number not yet applied, once a hit came.
    frontier: Option<i64>,
    newest: i64,
    waiting: u64,
    /// The room, in hits, that applied (empty) buckets keep for their next turn.
    kept_room: usize,
    table: VisitorTable,
    visitors: Vec<Visitor>,
    free_visitors: Vec<u32>,
    keys: KeyArena,
    dead_key_bytes: usize,
    purchases: Vec<Revenue>,
    free_purchases: Vec<u32>,
    hits_since_sweep: u64,
    /// The visitors the last sweep kept. (Measured against the visitors held now, the hits
    /// between sweeps would never catch up while every hit is a new visitor's.)
    swept_len: usize,
    /// The time of the earliest hit applied so far, once one is.
    earliest_applied: Option<i64>,
    /// A block's referral indices mapped to this shard's ids, reused from block to block.
    ids: Vec<ReferralId>,
    pub attribution: Attribution,
    pub peak_open_visitors: usize,
}

const UNMAPPED: ReferralId = ReferralId::MAX - 1;

impl Shard {
    pub fn new(disorder_window_seconds: i64) -> Self {
        let window = disorder_window_seconds.max(0);
        let width = window / MAX_BUCKETS + 1;
        // Waiting hits span at most the window plus the bucket the bound is in.
        let len = ((window / width + 2) as u64).next_power_of_two().max(64) as i64;
        Self {
            window,
            width,
            buckets: (0..len).map(|_| Vec::new()).collect(),
            times: (0..if width > 1 { len } else { 0 })
                .map(|_| Vec::new())
                .collect(),
            sorted: Vec::new(),
            occupied: vec![0; (len / 64) as usize],
            frontier: None,
            newest: i64::MIN,
            waiting: 0,
            kept_room: 0,
            table: VisitorTable::default(),
            visitors: Vec::new(),
            free_visitors: Vec::new(),
            keys: KeyArena::default(),
            dead_key_bytes: 0,
            purchases: Vec::new(),
            free_purchases: Vec::new(),
            hits_since_sweep: 0,
            swept_len: 0,
            earliest_applied: None,
            ids: Vec::new(),
            attribution: Attribution::default(),
            peak_open_visitors: 0,
        }
    }

    /// Takes this shard's hits of the next admitted block; `bound` is the sequencer's.
    pub fn add_block(&mut self, block: &ParsedBlock, shard: usize, bound: i64) {
        self.ids.clear();
        self.ids.resize(block.referrals.len(), UNMAPPED);
        let hits = &block.shards[shard];
        // Below this many visitors they stay in the caches, and looking ahead is work for nothing.
        let prefetching = self.table.len() >= PREFETCH_FROM_VISITORS;
        if prefetching {
            for hit in hits.iter().take(PREFETCH_SLOTS) {
                self.table.prefetch(hit.key_hash);
            }
        }
        for (i, hit) in hits.iter().enumerate() {
            // Lookups overlap their waits on memory: the slot of a hit a few ahead, the visitor
            // of a nearer one, the key of the next.
            if prefetching {
                if let Some(ahead) = hits.get(i + PREFETCH_SLOTS) {
                    self.table.prefetch(ahead.key_hash);
                }
                if let Some(near) = hits.get(i + PREFETCH_VISITORS) {
                    self.prefetch_visitor(near.key_hash);
                }
                if let Some(next) = hits.get(i + PREFETCH_KEYS) {
                    self.prefetch_key(next.key_hash);
                }
            }
            // Every later hit of this shard is at or after its newest time minus the window.
            self.newest = self.newest.max(hit.time);
            let floor = self.newest.saturating_sub(self.window);
            let floor_number = self.number(floor);
            let frontier = *self.frontier.get_or_insert(floor_number);
            if frontier < floor_number {
                self.apply_before(floor);
            }

            let key = block.key(hit);
            let visitor = match self.find(hit.key_hash, key) {
                Some(visitor) => visitor,
                None => self.insert(hit.key_hash, key),
            };
            let referral = match hit.referral {
                NO_REFERRAL => NO_REFERRAL,
                index => {
                    let id = &mut self.ids[index as usize];
                    if *id == UNMAPPED {
                        *id = self.attribution.id(block.referrals.get(index));
                    }
                    *id
                }
            };
            let purchase = match hit.revenue {
                None => NO_PURCHASE,
                Some(revenue) => match self.free_purchases.pop() {
                    Some(at) => {
                        self.purchases[at as usize] = revenue;
                        at
                    }
                    None => {
                        self.purchases.push(revenue);
                        u32::try_from(self.purchases.len() - 1)
                            .ok()
                            .filter(|&at| at < NO_PURCHASE)
                            .expect("fewer than 2^32 - 1 purchases waiting")
                    }
                },
            };
            self.visitors[visitor as usize].waiting += 1;
            let bucket = self.bucket(hit.time);
            self.occupied[bucket / 64] |= 1 << (bucket % 64);
            if self.buckets[bucket].is_empty() {
                match self.buckets[bucket].capacity() {
                    0 => self.open_bucket(bucket),
                    kept => self.kept_room -= kept,
                }
            }
            self.buckets[bucket].push(Waiting {
                visitor,
                referral,
                purchase,
            });
            if let Some(times) = self.times.get_mut(bucket) {
                times.push(hit.time);
            }
            self.waiting += 1;
        }
        self.apply_before(bound);
        self.hits_since_sweep += hits.len() as u64;
        if self.hits_since_sweep >= MIN_SWEEP_HITS.max(self.swept_len as u64) {
            self.sweep(bound);
        }
    }

    /// Gives a bucket without room (one that never held hits, or whose room was not kept) room for
    /// about as many as the bucket before it holds.
    /// Hits mostly come in time order, so while that one waits it is nearly full, and this one
    /// fills to about its size in one allocation instead of a dozen doublings, each a copy into
    /// fresh memory. An applied bucket keeps its room for the hits of one ring turn later, within
    /// the budget of [`KEPT_ROOM_FLOOR`].
    fn open_bucket(&mut self, at: usize) {
        let before = self.buckets[(at + self.buckets.len() - 1) % self.buckets.len()].len();
        self.buckets[at].reserve(before + before / 8);
        if let Some(times) = self.times.get_mut(at) {
            times.reserve(before + before / 8);
        }
    }

    fn bucket(&self, time: i64) -> usize {
        self.ring_index(self.number(time))
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let (visitors, keys) = (&self.visitors, &self.keys);
        self.table.find(hash, |i| {
            let v = &visitors[i as usize];
            v.hash == hash && keys.get(v.key_at, v.key_len) == key
        })
    }

    /// The first visitor the table holds under `hash`'s tag, whether or not its key matches.
    fn candidate(&self, hash: u64) -> Option<&Visitor> {
        let index = self.table.find(hash, |_| true)?;
        self.visitors.get(index as usize)
    }

    fn prefetch_visitor(&self, hash: u64) {
        if let Some(visitor) = self.candidate(hash) {
            prefetch(visitor);
        }
    }

    fn prefetch_key(&self, hash: u64) {
        if let Some(visitor) = self.candidate(hash) {
            let key = self.keys.get(visitor.key_at, visitor.key_len);
            for line in key.chunks(64).take(4) {
                prefetch(&line[0]);
            }
        }
    }

    fn insert(&mut self, hash: u64, key: &[u8]) -> u32 {
        let visitor = Visitor {
            hash,
            key_at: self.keys.push(key),
            key_len: key.len() as u32,
            waiting: 0,
            last_time: NO_TIME,
            current: NO_REFERRAL,
        };
        let index = match self.free_visitors.pop() {
            Some(index) => {
                self.visitors[index as usize] = visitor;
                index
            }
            None => {
                self.visitors.push(visitor);
                u32::try_from(self.visitors.len() - 1)
                    .ok()
                    .filter(|&index| index < u32::MAX)
                    .expect("fewer than 2^32 - 1 open visitors")
            }
        };
        let visitors = &self.visitors;
        self.table
            .insert(hash, index, |i| visitors[i as usize].hash);
        index
    }

    /// Applies every bucket wholly before `bound`: no hit yet to come can fall into them.
    fn apply_before(&mut self, bound: i64) {
        let Some(frontier) = self.frontier else {
            return;
        };
        let end = self.number(bound);
        if end <= frontier {
            return;
        }
        // All waiting hits are in the ring's buckets from the frontier on: past one turn of the
        // ring, the rest are empty.
        self.apply_occupied(frontier, i128::from(end));
        self.frontier = Some(end);
    }

    /// Applies the occupied buckets numbered `from..to`, in order; past one turn of the ring
    /// there are none. Numbers are counted wider than times, so the bucket of `i64::MAX` has an
    /// end.
    fn apply_occupied(&mut self, from: i64, to: i128) {
        let to = to.min(i128::from(from) + self.buckets.len() as i128);
        let mut number = i128::from(from);
        while number < to && self.waiting > 0 {
            let at = self.ring_index(number as i64);
            let later = self.occupied[at / 64] >> (at % 64);
            if later == 0 {
                number += (64 - at % 64) as i128;
                continue;
            }
            number += i128::from(later.trailing_zeros());
            if number >= to {
                break;
            }
            self.apply_bucket(number as i64);
            number += 1;
        }
    }

    /// The number of the bucket of a time: the time itself with buckets of one second (windows
    /// under about an hour and eight minutes), without a division.
    fn number(&self, time: i64) -> i64 {
        if self.width == 1 {
            time
        } else {
            time.div_euclid(self.width)
        }
    }

    /// Where bucket `number` is in the ring: `number mod len`, which for a power of two is its
    /// low bits (negative numbers included, in two's complement).
    fn ring_index(&self, number: i64) -> usize {
        (number as u64 & (self.buckets.len() as u64 - 1)) as usize
    }

    fn apply_bucket(&mut self, number: i64) {
        let at = self.ring_index(number);
        self.occupied[at / 64] &= !(1 << (at % 64));
        let mut bucket = mem::take(&mut self.buckets[at]);
        self.waiting -= bucket.len() as u64;
        let mut applied = Applied {
            visitors: &mut self.visitors,
            purchases: &self.purchases,
            free_purchases: &mut self.free_purchases,
            attribution: &mut self.attribution,
        };
        let earliest = match self.times.get_mut(at) {
            // One second wide: every hit is at the bucket's own time.
            None => {
                for (i, hit) in bucket.iter().enumerate() {
                    if let Some(ahead) = bucket.get(i + PREFETCH_VISITORS) {
                        prefetch(&applied.visitors[ahead.visitor as usize]);
                    }
                    applied.hit(number, hit);
                }
                number
            }
            Some(times) => {
                debug_assert_eq!(times.len(), bucket.len(), "a time for every hit");
                let sorted = &mut self.sorted;
                sorted.clear();
                sorted.extend(times.drain(..).zip(bucket.iter().copied()));
                // Stable: hits at the same time stay in file order.
                sorted.sort_by_key(|&(time, _)| time);
                for (i, (time, hit)) in sorted.iter().enumerate() {
                    if let Some((_, ahead)) = sorted.get(i + PREFETCH_VISITORS) {
                        prefetch(&applied.visitors[ahead.visitor as usize]);
                    }
                    applied.hit(*time, hit);
                }
                sorted.first().map_or(i64::MAX, |&(time, _)| time)
            }
        };
        if !bucket.is_empty() {
            let known = self.earliest_applied.get_or_insert(earliest);
            *known = earliest.min(*known);
        }
        // The sorting room, like the buckets' room, is kept within the budget.
        if self.sorted.capacity() > self.waiting as usize + KEPT_ROOM_FLOOR {
            self.sorted = Vec::new();
        }
        bucket.clear();
        // The room stays for the bucket's next turn, within a budget: as many hits as wait, and a
        // floor. Bursts a ring turn apart would otherwise each keep theirs.
        if self.kept_room + bucket.capacity() <= self.waiting as usize + KEPT_ROOM_FLOOR {
            self.kept_room += bucket.capacity();
            self.buckets[at] = bucket;
        } else if let Some(times) = self.times.get_mut(at) {
            *times = Vec::new();
        }
    }

    /// Drops visitors whose visits can no longer change: nothing waiting, and a last hit more
    /// than a visit gap before the bound.
    fn sweep(&mut self, bound: i64) {
        self.hits_since_sweep = 0;
        self.peak_open_visitors = self.peak_open_visitors.max(self.table.len());
        let closed_before = bound.saturating_sub(VISIT_GAP_SECONDS);
        // A visitor is dropped once every hit it had is applied, the last of them before
        // `closed_before`: none can be while no hit applied so far is as old. (With a window
        // longer than the data spans so far, no hit is applied yet, and a look at every visitor
        // would find nothing.) The next check is as many hits away as the last sweep set.
        if self
            .earliest_applied
            .is_none_or(|earliest| earliest >= closed_before)
        {
            return;
        }
        let (visitors, free, dead) = (
            &self.visitors,
            &mut self.free_visitors,
            &mut self.dead_key_bytes,
        );
        self.table.retain(
            |i| {
                let v = &visitors[i as usize];
                let closed = v.waiting == 0 && v.last_time < closed_before;
                if closed {
                    free.push(i);
                    *dead += v.key_len as usize;
                }
                !closed
            },
            |i| visitors[i as usize].hash,
        );
        self.swept_len = self.table.len();
        let live = self.keys.bytes - self.dead_key_bytes;
        if self.dead_key_bytes > live.max(MIN_RECLAIM_BYTES) {
            self.reclaim_keys();
        }
    }

    /// Moves the live visitors' keys into a new buffer, without the dropped ones'.
    fn reclaim_keys(&mut self) {
        let mut keys = KeyArena::default();
        for i in self.table.iter() {
            let v = &mut self.visitors[i as usize];
            v.key_at = keys.push(self.keys.get(v.key_at, v.key_len));
        }
        self.keys = keys;
        self.dead_key_bytes = 0;
    }

    /// End of input: every waiting hit is final.
    pub fn finish(mut self) -> (Attribution, usize) {
        self.peak_open_visitors = self.peak_open_visitors.max(self.table.len());
        if let Some(frontier) = self.frontier {
            self.apply_occupied(frontier, i128::MAX);
        }
        (self.attribution, self.peak_open_visitors)
    }
}

/// The sequencer and every shard, applied one after the other on the calling thread (and
/// finished at once, each on a thread of its own).
pub struct Sessions {
    sequencer: Sequencer,
    shards: Vec<Shard>,
}

impl Sessions {
    pub fn new(disorder_window_seconds: i64, shards: usize) -> Self {
        Self::from_parts(
            Sequencer::new(disorder_window_seconds),
            (0..shards.max(1))
                .map(|_| Shard::new(disorder_window_seconds))
                .collect(),
        )
    }

    pub fn from_parts(sequencer: Sequencer, shards: Vec<Shard>) -> Self {
        Self { sequencer, shards }
    }

    /// Takes the next block of the file, whose first line is `first_line`; blocks must come in
    /// file order.
    pub fn add_block(&mut self, block: &ParsedBlock, first_line: u64) -> Result<(), TooLate> {
        let bound = self.sequencer.admit(block, first_line)?;
        for (index, shard) in self.shards.iter_mut().enumerate() {
            shard.add_block(block, index, bound);
        }
        Ok(())
    }

    /// End of input: every shard's revenue summed, and the sum of their peak open visitors. The
    /// shards apply their last waiting hits at once, each on a thread of its own: with a window
    /// longer than the file spans, that is every hit.
    pub fn finish(self) -> (Attribution, usize) {
        let finished: Vec<_> = std::thread::scope(|scope| {
            let mut shards = self.shards.into_iter();
            let first = shards.next();
            let others: Vec<_> = shards
                .map(|shard| scope.spawn(move || shard.finish()))
                .collect();
            first
                .map(Shard::finish)
                .into_iter()
                .chain(others.into_iter().map(|other| match other.join() {
                    Ok(finished) => finished,
                    Err(panic) => std::panic::resume_unwind(panic),
                }))
                .collect()
        });
        let mut finished = finished.into_iter();
        let (mut total, mut peak) = finished.next().unwrap_or_default();
        for (attribution, shard_peak) in finished {
            total.merge(attribution);
            peak += shard_peak;
        }
        (total, peak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Layout;
    use crate::hits::Columns;

    /// (time, visitor, search referral, purchase revenue) per hit, in file order.
    type GivenHit = (
        i64,
        &'static str,
        Option<(&'static str, &'static str)>,
        Option<&'static str>,
    );

    struct Given {
        hits: Vec<GivenHit>,
    }

    /// The ranked attribution of `given`, the same whether each hit comes in a block of its own
    /// (blocks applied in order) or all in one block (a visitor's hits within a block), and
    /// whether visitors are in one shard or several.
    fn run(given: Given, window: i64) -> Result<Vec<(String, String, String)>, TooLate> {
        let reference = run_in_blocks(&given, window, 1, 1);
        for shards in [1, 2, 3] {
            let all_in_one = run_in_blocks(&given, window, given.hits.len().max(1), shards);
            assert_eq!(
                reference, all_in_one,
                "one block against one per hit, {shards} shards"
            );
            let one_each = run_in_blocks(&given, window, 1, shards);
            assert_eq!(reference, one_each, "one block per hit, {shards} shards");
        }
        reference
    }

    fn run_in_blocks(
        given: &Given,
        window: i64,
        per_block: usize,
        shards: usize,
    ) -> Result<Vec<(String, String, String)>, TooLate> {
        let columns = Columns::from_header(
            b"hit_time_gmt\tip\tuser_agent\tevent_list\tpage_url\tproduct_list\treferrer",
        )
        .unwrap();
        let layout = Layout::new(columns, shards, window);
        let mut sessions = Sessions::new(window, shards);
        for (b, hits) in given.hits.chunks(per_block).enumerate() {
            let mut block = ParsedBlock::new(shards);
            for (i, (time, visitor, referral, revenue)) in hits.iter().enumerate() {
                // Each hit lists its referral afresh, as a referrer too long to keep is listed.
                let referral = match referral {
                    None => NO_REFERRAL,
                    Some((domain, keyword)) => {
                        block.referrals.push(&HashedReferral::new(SearchReferral {
                            domain: (*domain).into(),
                            keyword: (*keyword).into(),
                        }))
                    }
                };
                block.push(
                    &layout,
                    i as u64,
                    *time,
                    &[visitor.as_bytes()],
                    referral,
                    revenue.map(|r| Revenue::parse(r).unwrap()),
                );
            }
            sessions.add_block(&block, (b * per_block) as u64 + 2)?;
        }
        let (attribution, _) = sessions.finish();
        Ok(attribution
            .ranked()
            .into_iter()
            .map(|(r, revenue)| (r.domain.clone(), r.keyword.clone(), revenue.to_string()))
            .collect())
    }

    fn row(domain: &str, keyword: &str, revenue: &str) -> (String, String, String) {
        (domain.into(), keyword.into(), revenue.into())
    }

    const GOOGLE: Option<(&str, &str)> = Some(("google.com", "ipod"));
    const BING: Option<(&str, &str)> = Some(("bing.com", "zune"));

    #[test]
    fn referrals_that_share_a_hash_keep_their_own_revenue() {
        // Every referral below claims one hash, so only their texts tell them apart; a split of
        // the same texts at another place is another referral.
        let texts = [
            ("google.com", "ipod"),
            ("google.com", "zune"),
            ("bing.com", "ipod"),
            ("google.comi", "pod"),
            ("", "google.comipod"),
        ];
        let mut shards = [Attribution::default(), Attribution::default()];
        for (i, (domain, keyword)) in texts.iter().enumerate() {
            for (s, shard) in shards.iter_mut().enumerate() {
                let referral = ReferralRef {
                    hash: 7,
                    domain,
                    keyword,
                };
                let id = shard.id(referral);
                assert_eq!(shard.id(referral), id, "{domain} {keyword}: one id");
                let amount = (i + 1) * (s + 1);
                shard.revenue[id as usize] += Revenue::parse(&amount.to_string()).unwrap();
            }
        }
        let [mut total, other] = shards;
        total.merge(other);
        let rows: Vec<_> = total
            .ranked()
            .into_iter()
            .map(|(referral, revenue)| {
                (referral.domain.as_str(), referral.keyword.as_str(), revenue)
            })
            .collect();
        let mut expected: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, (domain, keyword))| {
                let amount = 3 * (i + 1);
                (
                    *domain,
                    *keyword,
                    Revenue::parse(&amount.to_string()).unwrap(),
                )
            })
            .collect();
        expected.reverse();
        assert_eq!(rows, expected);
    }

    #[test]
    fn a_purchase_is_credited_to_the_visits_search_referral() {
        let given = Given {
            hits: vec![
                (100, "v1", GOOGLE, None),
                (200, "v1", None, None),
                (300, "v1", None, Some("290")),
            ],
        };
        assert_eq!(
            run(given, 0).unwrap(),
            [row("google.com", "ipod", "290.00")]
        );
    }

    #[test]
    fn last_touch_wins_including_on_the_purchase_hit_itself() {
        let given = Given {
            hits: vec![(100, "v1", GOOGLE, None), (200, "v1", BING, Some("10"))],
        };
        assert_eq!(run(given, 0).unwrap(), [row("bing.com", "zune", "10.00")]);
    }

    #[test]
    fn a_gap_over_thirty_minutes_starts_an_unattributed_visit() {
        let exactly = Given {
            hits: vec![(0, "v1", GOOGLE, None), (1800, "v1", None, Some("5"))],
        };
        assert_eq!(
            run(exactly, 0).unwrap(),
            [row("google.com", "ipod", "5.00")]
        );
        let beyond = Given {
            hits: vec![(0, "v1", GOOGLE, None), (1801, "v1", None, Some("5"))],
        };
        assert_eq!(run(beyond, 0).unwrap(), []);
    }

    #[test]
    fn visitors_do_not_share_attribution() {
        let given = Given {
            hits: vec![(100, "v1", GOOGLE, None), (110, "v2", None, Some("7"))],
        };
        assert_eq!(run(given, 0).unwrap(), []);
    }

    #[test]
    fn out_of_order_lines_within_the_window_are_placed_by_time() {
        // The referral is written after the purchase but happened before it.
        let given = Given {
            hits: vec![(200, "v1", None, Some("9")), (100, "v1", GOOGLE, None)],
        };
        assert_eq!(
            run(given, 600).unwrap(),
            [row("google.com", "ipod", "9.00")]
        );
    }

    #[test]
    fn equal_times_keep_file_order() {
        let given = Given {
            hits: vec![
                (100, "v1", GOOGLE, None),
                (100, "v1", BING, None),
                (100, "v1", None, Some("3")),
            ],
        };
        assert_eq!(run(given, 600).unwrap(), [row("bing.com", "zune", "3.00")]);
    }

    #[test]
    fn a_window_wider_than_the_buckets_still_orders_by_time_then_file_order() {
        // Over 4096 buckets' worth: a bucket spans several seconds, and is sorted when applied.
        let window = 100_000;
        let mut hits = vec![
            (120, "v1", None, Some("9")),
            (110, "v1", BING, None),
            (100, "v1", GOOGLE, None),
            (130, "v2", GOOGLE, None),
            (130, "v2", None, Some("4")),
            (130, "v2", BING, None),
            (130, "v2", None, Some("5")),
        ];
        // Enough hits at one time, among earlier ones of another visitor in the same bucket,
        // that an unstable sort would reorder them.
        for k in 0..40 {
            let referral = if k % 2 == 0 { GOOGLE } else { BING };
            hits.push((140, "v3", referral, None));
            hits.push((140, "v3", None, Some("1")));
            hits.push((139 - k % 3, "v4", None, None));
        }
        assert_eq!(
            run(Given { hits }, window).unwrap(),
            [
                row("bing.com", "zune", "34.00"),
                row("google.com", "ipod", "24.00")
            ]
        );
    }

    #[test]
    fn waiting_hits_survive_a_jump_of_many_windows() {
        let given = Given {
            hits: vec![
                (1_000, "v1", GOOGLE, None),
                (1_500, "v1", None, Some("2")),
                // Far beyond one turn of the buckets: everything before is applied first.
                (50_000_000, "v2", BING, None),
                (50_000_010, "v1", None, Some("5")),
                (50_000_005, "v2", None, Some("3")),
            ],
        };
        assert_eq!(
            run(given, 600).unwrap(),
            [
                row("bing.com", "zune", "3.00"),
                row("google.com", "ipod", "2.00")
            ]
        );
    }

    #[test]
    fn visitors_whose_visits_ended_are_dropped() {
        // A new visitor every second for three and a half days, each seen once: at any moment
        // only those of the last window and visit gap can still change.
        let window = 600;
        let columns = Columns::from_header(
            b"hit_time_gmt\tip\tuser_agent\tevent_list\tpage_url\tproduct_list\treferrer",
        )
        .unwrap();
        let layout = Layout::new(columns, 1, window);
        let mut sessions = Sessions::new(window, 1);
        let per_block = 1_000;
        let mut most = 0;
        for b in 0..300 {
            let mut block = ParsedBlock::new(1);
            for i in 0..per_block {
                let second = b * per_block + i;
                let visitor = format!("v{second}");
                block.push(
                    &layout,
                    i as u64,
                    second as i64,
                    &[visitor.as_bytes()],
                    NO_REFERRAL,
                    None,
                );
            }
            sessions
                .add_block(&block, (b * per_block) as u64 + 2)
                .unwrap();
            most = most.max(sessions.shards[0].table.len());
        }
        // Swept at least once per 2^16 hits (or per visitor the last sweep kept, if more).
        let bound = MIN_SWEEP_HITS as usize + 2 * (window + VISIT_GAP_SECONDS) as usize;
        assert!(
            most <= bound,
            "{most} visitors held, at most {bound} expected"
        );
        let (_, peak) = sessions.finish();
        assert!(peak <= bound, "peak {peak}");
    }

    #[test]
    fn buckets_keep_room_for_the_hits_that_wait_not_for_every_burst() {
        // Bursts of hits a ring turn apart, each alone in its window: every bucket that held
        // one could keep its room, and memory would grow with the file. Buckets of one second,
        // and wider ones, whose hits' times are kept beside them.
        for window in [DEFAULT_DISORDER_SECONDS, 100_000] {
            let columns = Columns::from_header(
                b"hit_time_gmt\tip\tuser_agent\tevent_list\tpage_url\tproduct_list\treferrer",
            )
            .unwrap();
            let layout = Layout::new(columns, 1, window);
            let mut sessions = Sessions::new(window, 1);
            let burst = 3 * KEPT_ROOM_FLOOR / 2;
            let width = sessions.shards[0].width;
            let turn = (sessions.shards[0].buckets.len() as i64 + 1) * width;
            let mut first_line = 2;
            for k in 0..8 {
                let mut block = ParsedBlock::new(1);
                for i in 0..burst {
                    let visitor = format!("v{}", i % 100);
                    block.push(
                        &layout,
                        i as u64,
                        k * turn + (i as i64 % width),
                        &[visitor.as_bytes()],
                        NO_REFERRAL,
                        None,
                    );
                }
                sessions.add_block(&block, first_line).unwrap();
                first_line += burst as u64;
                let shard = &sessions.shards[0];
                let empty_room: usize = shard
                    .buckets
                    .iter()
                    .filter(|bucket| bucket.is_empty())
                    .map(Vec::capacity)
                    .sum();
                let shown = format!("window {window}, burst {k}");
                assert_eq!(empty_room, shard.kept_room, "{shown}");
                assert!(
                    empty_room <= shard.waiting as usize + KEPT_ROOM_FLOOR,
                    "{shown}: {empty_room} hits of room kept for {} waiting",
                    shard.waiting
                );
                assert!(
                    shard.sorted.capacity() <= shard.waiting as usize + KEPT_ROOM_FLOOR,
                    "{shown}: room to sort {} hits",
                    shard.sorted.capacity()
                );
                // Wide buckets' times go with their hits: as many, and no room where none is.
                for (bucket, times) in shard.buckets.iter().zip(&shard.times) {
                    assert_eq!(times.len(), bucket.len(), "{shown}");
                    assert!(bucket.capacity() > 0 || times.capacity() == 0, "{shown}");
                }
                assert_eq!(shard.times.is_empty(), width == 1, "{shown}");
            }
        }
    }

    #[test]
    fn a_time_is_in_the_bucket_slot_division_gives() {
        let mut state = 0xbb67_ae85_84ca_a73b_u64;
        let mut times = vec![i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        times.extend((0..2_000).map(|_| crate::next_random(&mut state) as i64));
        times.extend((0..2_000).map(|i| i - 1_000));
        for window in [0, 1, 3600, 4095, 4096, 5000, 9000, 30_000, i64::MAX] {
            let shard = Shard::new(window);
            let len = shard.buckets.len() as i64;
            assert!(
                len.count_ones() == 1 && len >= 64,
                "window {window}: {len} buckets"
            );
            for &time in &times {
                let number = time.div_euclid(shard.width);
                assert_eq!(shard.number(time), number, "window {window}, time {time}");
                assert_eq!(
                    shard.ring_index(number),
                    number.rem_euclid(len) as usize,
                    "window {window}, time {time}"
                );
            }
        }
    }

    #[test]
    fn the_ends_of_time_are_times_like_any_other() {
        for window in [0, 600, 100_000] {
            let at_the_start = Given {
                hits: vec![
                    (i64::MIN, "v1", GOOGLE, None),
                    (i64::MIN + 1800, "v1", None, Some("5")),
                ],
            };
            assert_eq!(
                run(at_the_start, window).unwrap(),
                [row("google.com", "ipod", "5.00")]
            );
            let a_gap_at_the_start = Given {
                hits: vec![
                    (i64::MIN, "v1", GOOGLE, None),
                    (i64::MIN + 1801, "v1", None, Some("5")),
                ],
            };
            assert_eq!(run(a_gap_at_the_start, window).unwrap(), []);
            let at_the_end = Given {
                hits: vec![
                    (i64::MAX - 10, "v1", BING, None),
                    (i64::MAX, "v1", None, Some("7")),
                ],
            };
            assert_eq!(
                run(at_the_end, window).unwrap(),
                [row("bing.com", "zune", "7.00")]
            );
            // More than 2^63 s apart: a new visit, not a difference that wraps around.
            let end_to_end = Given {
                hits: vec![
                    (i64::MIN + 1, "v1", GOOGLE, None),
                    (i64::MAX, "v1", None, Some("3")),
                ],
            };
            assert_eq!(run(end_to_end, window).unwrap(), []);
        }
    }

    #[test]
    fn a_hit_later_than_the_window_stops_the_run_instead_of_misplacing_it() {
        let given = Given {
            hits: vec![(5000, "v1", None, None), (100, "v1", GOOGLE, None)],
        };
        assert_eq!(
            run(given, 600).unwrap_err(),
            TooLate {
                line: 3,
                time: 100,
                window: 600
            }
        );
    }

    #[test]
    fn rows_rank_by_revenue_then_domain_then_keyword() {
        let given = Given {
            hits: vec![
                (1, "a", Some(("yahoo.com", "b")), Some("5")),
                (1, "b", Some(("bing.com", "z")), Some("5")),
                (1, "c", Some(("bing.com", "a")), Some("5")),
                (1, "d", Some(("google.com", "x")), Some("6")),
                (1, "e", Some(("google.com", "refund")), Some("-2")),
            ],
        };
        assert_eq!(
            run(given, 0).unwrap(),
            [
                row("google.com", "x", "6.00"),
                row("bing.com", "a", "5.00"),
                row("bing.com", "z", "5.00"),
                row("yahoo.com", "b", "5.00")
            ]
        );
    }
}
