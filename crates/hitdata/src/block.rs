//! A block of whole lines parsed into compact hits split by visitor shard, so blocks can be
//! parsed on several threads and each shard's part applied in file order on its own.

use std::hash::BuildHasher;

use crate::hits::{self, Columns, Rejection};
use crate::referrer::{ReferralCache, ReferralList};
use crate::revenue::Revenue;
use crate::{WARNING_EXAMPLES, Warning};

/// The hasher of visitor keys: one per process, so every thread hashes a key the same way.
pub type KeyHasher = foldhash::fast::FixedState;

pub fn key_hasher() -> KeyHasher {
    crate::process_hasher()
}

pub const NO_REFERRAL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
pub struct CompactHit {
    pub time: i64,
    pub key_hash: u64,
    pub key_start: u32,
    pub key_len: u32,
    /// Index into the block's referrals, or [`NO_REFERRAL`].
    pub referral: u32,
    pub revenue: Option<Revenue>,
}

/// A hit's time and its line, relative to the block's first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedLine {
    pub line: u64,
    pub time: i64,
}

/// How lines are parsed: the columns, and what the visits need to know in advance.
#[derive(Debug, Clone)]
pub struct Layout {
    pub columns: Columns,
    pub hasher: KeyHasher,
    /// Visitors are split into this many shards by their key's hash, each applied on its own.
    pub shards: usize,
    /// The disorder window, so a line too late against an earlier line of the same block is
    /// found while parsing.
    pub window: i64,
}

impl Layout {
    pub fn new(columns: Columns, shards: usize, window: i64) -> Self {
        Self {
            columns,
            hasher: key_hasher(),
            shards: shards.max(1),
            window: window.max(0),
        }
    }

    /// The shard of a key's hash, from bits 24 to 55: above those the tables index by (unless a
    /// table has over 2^24 slots); they overlap the tag, whose remaining bits still tell keys
    /// apart.
    pub fn shard_of(&self, key_hash: u64) -> usize {
        ((((key_hash >> 24) & 0xffff_ffff) * self.shards as u64) >> 32) as usize
    }
}

#[derive(Debug, Default)]
pub struct ParsedBlock {
    /// Hits per shard, each in file order.
    pub shards: Vec<Vec<CompactHit>>,
    /// The visitors' keys (`ip<TAB>user_agent`, decoded lossily), back to back.
    pub keys: Vec<u8>,
    /// The search referrals the hits point to; one may be listed more than once.
    pub referrals: ReferralList,
    /// The newest hit time in the block.
    pub newest: Option<i64>,
    /// Each hit older than every hit before it in the block, in file order: the first of them
    /// below a bound is the block's first hit below it.
    pub minima: Vec<TimedLine>,
    /// The first hit more than the window older than a hit before it in the block.
    pub first_late: Option<TimedLine>,
    pub rows: u64,
    pub too_few_fields: u64,
    pub bad_hit_time: u64,
    pub warnings: u64,
    pub warning_examples: Vec<Warning>,
}

impl ParsedBlock {
    pub fn new(shards: usize) -> Self {
        Self {
            shards: vec![Vec::new(); shards.max(1)],
            ..Self::default()
        }
    }

    /// Empties the block for the next one, keeping its buffers.
    pub fn clear(&mut self, shards: usize) {
        self.shards.resize_with(shards.max(1), Vec::new);
        for hits in &mut self.shards {
            hits.clear();
        }
        self.keys.clear();
        self.referrals.clear();
        self.newest = None;
        self.minima.clear();
        self.first_late = None;
        self.rows = 0;
        self.too_few_fields = 0;
        self.bad_hit_time = 0;
        self.warnings = 0;
        self.warning_examples.clear();
    }

    pub fn key(&self, hit: &CompactHit) -> &[u8] {
        &self.keys[hit.key_start as usize..(hit.key_start + hit.key_len) as usize]
    }

    /// Adds a hit; `key` is the visitor's key in parts, each already decoded, joined with tabs;
    /// `referral` an index into the block's referrals, or [`NO_REFERRAL`].
    pub fn push(
        &mut self,
        layout: &Layout,
        line: u64,
        time: i64,
        key: &[&[u8]],
        referral: u32,
        revenue: Option<Revenue>,
    ) {
        let timed = TimedLine { line, time };
        if self.first_late.is_none()
            && self
                .newest
                .is_some_and(|newest| time < newest.saturating_sub(layout.window))
        {
            self.first_late = Some(timed);
        }
        if self.minima.last().is_none_or(|low| time < low.time) {
            self.minima.push(timed);
        }
        self.newest = Some(self.newest.map_or(time, |newest| newest.max(time)));

        let key_start = self.keys.len();
        for (i, part) in key.iter().enumerate() {
            if i > 0 {
                self.keys.push(b'\t');
            }
            self.keys.extend_from_slice(part);
        }
        let key_bytes = &self.keys[key_start..];
        let key_hash = layout.hasher.hash_one(key_bytes);
        self.shards[layout.shard_of(key_hash)].push(CompactHit {
            time,
            key_hash,
            key_start: key_start as u32,
            key_len: key_bytes.len() as u32,
            referral,
            revenue,
        });
    }
}

/// The positions of tabs and line ends in a block, in order: one pass over the bytes, 64 at a
/// time into a bit mask (SSE2 compares on x86_64, byte by byte elsewhere), instead of a search
/// for each line end and then for each tab of the line. The same pass notes where bytes of 0x80
/// and above were last seen, so a line without any needs no check before its fields are text.
pub struct Separators<'a> {
    data: &'a [u8],
    /// Where the chunk of `mask` starts.
    base: usize,
    /// The separators of the current chunk not yet returned, one bit per byte.
    mask: u64,
    /// The end of the last chunk scanned that holds a byte of 0x80 or above; 0 if none.
    high_end: usize,
}

const CHUNK: usize = 64;

impl<'a> Separators<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let mut separators = Separators {
            data,
            base: 0,
            mask: 0,
            high_end: 0,
        };
        separators.load(0);
        separators
    }

    /// True when no byte from `start` to the last separator returned (or to the end of the data,
    /// once they have run out) is 0x80 or above. False may be wrong: a high byte anywhere in a
    /// scanned 64-byte chunk that ends after `start` counts, before `start` or after the separator.
    pub fn ascii_from(&self, start: usize) -> bool {
        self.high_end <= start
    }

    fn load(&mut self, base: usize) {
        let (separators, high) = match self.data.get(base..base + CHUNK) {
            Some(chunk) => masks(chunk.try_into().expect("a whole chunk")),
            None => {
                let mut padded = [0u8; CHUNK];
                let tail = &self.data[base.min(self.data.len())..];
                padded[..tail.len()].copy_from_slice(tail);
                masks(&padded)
            }
        };
        self.mask = separators;
        if high {
            self.high_end = base + CHUNK;
        }
    }
}

/// The separators (tabs and line ends) of a chunk, and whether it holds a byte of 0x80 or above.
#[cfg(target_arch = "x86_64")]
#[inline]
fn masks(chunk: &[u8; CHUNK]) -> (u64, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    let mut separators = 0u64;
    // SAFETY: SSE2 is part of every x86_64 target; each unaligned load reads 16 bytes that lie
    // within `chunk`.
    let high = unsafe {
        let tab = _mm_set1_epi8(b'\t' as i8);
        let line_end = _mm_set1_epi8(b'\n' as i8);
        let mut any = _mm_setzero_si128();
        for i in 0..CHUNK / 16 {
            let bytes = _mm_loadu_si128(chunk.as_ptr().add(16 * i).cast::<__m128i>());
            let found = _mm_or_si128(_mm_cmpeq_epi8(bytes, tab), _mm_cmpeq_epi8(bytes, line_end));
            separators |= u64::from(_mm_movemask_epi8(found) as u16) << (16 * i);
            any = _mm_or_si128(any, bytes);
        }
        _mm_movemask_epi8(any) != 0
    };
    (separators, high)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn masks(chunk: &[u8; CHUNK]) -> (u64, bool) {
    portable_masks(chunk)
}

/// The same byte by byte, for targets without the vector version.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn portable_masks(chunk: &[u8; CHUNK]) -> (u64, bool) {
    let mut separators = 0u64;
    for (i, &byte) in chunk.iter().enumerate() {
        separators |= u64::from((byte == b'\t') | (byte == b'\n')) << i;
    }
    (separators, !chunk.is_ascii())
}

impl Iterator for Separators<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += CHUNK;
            if self.base >= self.data.len() {
                return None;
            }
            self.load(self.base);
        }
        let at = self.base + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// Parses `data`, whole lines, into `block` (emptied first, its buffers reused); line numbers
/// in the result count from 0 at the block's start. `referrals` is the calling worker's.
pub fn parse_block(
    data: &[u8],
    layout: &Layout,
    block: &mut ParsedBlock,
    referrals: &mut ReferralCache,
) {
    block.clear(layout.shards);
    referrals.start_block();
    let mut line_number = 0u64;
    let mut start = 0;
    let mut separators = Separators::new(data);
    let mut tabs: Vec<usize> = Vec::with_capacity(32);
    while start < data.len() {
        tabs.clear();
        let mut end = data.len();
        for at in separators.by_ref() {
            if data[at] == b'\n' {
                end = at + 1;
                break;
            }
            tabs.push(at - start);
        }
        let ascii = separators.ascii_from(start);
        let line = &data[start..end];
        start = end;
        block.rows += 1;
        match hits::split_fields_at(line, &tabs, ascii, &layout.columns) {
            Err(Rejection::TooFewFields) => block.too_few_fields += 1,
            Err(Rejection::BadHitTime) => block.bad_hit_time += 1,
            Ok(fields) => {
                // The referrer decoded lossily first, as every text field is; the page URL is
                // only read for its host, which URL parsing decodes.
                let referral = referrals
                    .listed_referral(
                        &fields.referrer.decoded(),
                        fields.page_url,
                        &mut block.referrals,
                    )
                    .unwrap_or(NO_REFERRAL);
                let revenue = hits::purchase_of(&fields).map(|purchase| {
                    for text in purchase.malformed {
                        block.warnings += 1;
                        if block.warning_examples.len() < WARNING_EXAMPLES {
                            block.warning_examples.push(Warning {
                                line: line_number,
                                message: format!(
                                    "Total Revenue {text:?} is not a plain decimal; counted as 0"
                                ),
                            });
                        }
                    }
                    purchase.revenue
                });
                block.push(
                    layout,
                    line_number,
                    fields.time,
                    &[&fields.ip.decoded(), &fields.user_agent.decoded()],
                    referral,
                    revenue,
                );
            }
        }
        line_number += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes with separators at awkward places: none for a while, runs, chunk edges.
    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                crate::next_random(&mut state);
                match state % 11 {
                    0 => b'\t',
                    1 => b'\n',
                    2 => b'\r',
                    _ => b'a' + (state % 26) as u8,
                }
            })
            .collect()
    }

    #[test]
    fn separators_are_every_tab_and_line_end_in_order() {
        for len in (0..300).chain([1000, 4096, 4097]) {
            let data = sample(len, len as u64 + 7);
            let expected: Vec<usize> = (0..len)
                .filter(|&i| data[i] == b'\t' || data[i] == b'\n')
                .collect();
            assert_eq!(
                Separators::new(&data).collect::<Vec<_>>(),
                expected,
                "{len} bytes"
            );
        }
        let none = vec![b'x'; 200];
        assert_eq!(Separators::new(&none).count(), 0);
        let all = vec![b'\t'; 130];
        assert_eq!(Separators::new(&all).count(), 130);
    }

    /// Each line of `data` as parsing reads it, with whether the separators call it ASCII.
    fn lines_read(data: &[u8]) -> Vec<(&[u8], bool)> {
        let mut separators = Separators::new(data);
        let mut lines = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let end = separators
                .by_ref()
                .find(|&at| data[at] == b'\n')
                .map_or(data.len(), |at| at + 1);
            lines.push((&data[start..end], separators.ascii_from(start)));
            start = end;
        }
        lines
    }

    #[test]
    fn a_line_with_a_high_byte_is_never_called_ascii() {
        for len in (0..300).chain([1000, 4096, 4097]) {
            for seed in 0..4 {
                let mut data = sample(len, len as u64 * 4 + seed);
                let mut state = seed | 1;
                for byte in &mut data {
                    crate::next_random(&mut state);
                    if state % (7 + 300 * seed) == 0 {
                        *byte = 0x80 | (state >> 8) as u8;
                    }
                }
                for (line, ascii) in lines_read(&data) {
                    assert!(
                        !ascii || line.is_ascii(),
                        "{len} bytes, seed {seed}: {line:?}"
                    );
                }
            }
            let plain = sample(len, len as u64);
            assert!(
                lines_read(&plain).iter().all(|&(_, ascii)| ascii),
                "{len} bytes"
            );
        }
        // Lines wholly before or after the chunk of a high byte are ASCII.
        let mut data = [
            b"a\tb\n".repeat(40),
            b"\xc3\xa9\n".to_vec(),
            b"c\td\n".repeat(40),
        ]
        .concat();
        data.extend_from_slice(b"e");
        let lines = lines_read(&data);
        assert!(lines[..16].iter().all(|&(_, ascii)| ascii));
        assert!(!lines[40].1);
        assert!(lines[60..].iter().all(|&(_, ascii)| ascii));
    }

    #[test]
    fn the_vector_and_portable_masks_agree() {
        for seed in 0..200 {
            let mut data = sample(CHUNK, seed);
            if seed % 2 == 0 {
                data[(seed % 64) as usize] |= 0x80;
            }
            let chunk: &[u8; CHUNK] = data.as_slice().try_into().unwrap();
            assert_eq!(masks(chunk), portable_masks(chunk), "seed {seed}");
        }
    }
}
