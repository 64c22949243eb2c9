//! A block of whole lines parsed into compact hits, so blocks can be parsed on several threads
//! and applied to visits in file order by one.

use std::hash::BuildHasher;

use hashbrown::HashMap;

use crate::hits::{self, Columns, Rejection, lossy};
use crate::referrer::SearchReferral;
use crate::revenue::Revenue;
use crate::{WARNING_EXAMPLES, Warning};

/// The hasher of visitor keys: fixed, so every thread hashes a key the same way.
pub type KeyHasher = foldhash::fast::FixedState;

pub fn key_hasher() -> KeyHasher {
    foldhash::fast::FixedState::with_seed(0x5ea7_c4e5)
}

pub const NO_REFERRAL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
pub struct CompactHit {
    pub time: i64,
    /// Relative to the block's first line.
    pub line: u64,
    pub key_hash: u64,
    pub key_start: u32,
    pub key_len: u32,
    /// Index into the block's referrals, or [`NO_REFERRAL`].
    pub referral: u32,
    pub revenue: Option<Revenue>,
}

#[derive(Debug, Default)]
pub struct ParsedBlock {
    pub hits: Vec<CompactHit>,
    /// The visitors' keys (`ip<TAB>user_agent`, decoded lossily), back to back.
    pub keys: Vec<u8>,
    pub referrals: Vec<SearchReferral>,
    referral_ids: HashMap<SearchReferral, u32, foldhash::fast::RandomState>,
    pub rows: u64,
    pub too_few_fields: u64,
    pub bad_hit_time: u64,
    pub warnings: u64,
    pub warning_examples: Vec<Warning>,
}

impl ParsedBlock {
    pub fn key(&self, hit: &CompactHit) -> &[u8] {
        &self.keys[hit.key_start as usize..(hit.key_start + hit.key_len) as usize]
    }

    pub fn push(
        &mut self,
        hasher: &KeyHasher,
        line: u64,
        time: i64,
        key: &[&[u8]],
        referral: Option<SearchReferral>,
        revenue: Option<Revenue>,
    ) {
        let key_start = self.keys.len();
        for (i, part) in key.iter().enumerate() {
            if i > 0 {
                self.keys.push(b'\t');
            }
            self.keys.extend_from_slice(&lossy(part));
        }
        let referral = match referral {
            None => NO_REFERRAL,
            Some(referral) => match self.referral_ids.get(&referral) {
                Some(id) => *id,
                None => {
                    let id = self.referrals.len() as u32;
                    self.referrals.push(referral.clone());
                    self.referral_ids.insert(referral, id);
                    id
                }
            },
        };
        let key_bytes = &self.keys[key_start..];
        self.hits.push(CompactHit {
            time,
            line,
            key_hash: hasher.hash_one(key_bytes),
            key_start: key_start as u32,
            key_len: key_bytes.len() as u32,
            referral,
            revenue,
        });
    }
}

/// Parses `data`, whole lines; line numbers in the result count from 0 at the block's start.
pub fn parse_block(data: &[u8], columns: &Columns, hasher: &KeyHasher) -> ParsedBlock {
    let mut block = ParsedBlock {
        hits: Vec::with_capacity(data.len() / 200),
        keys: Vec::with_capacity(data.len() / 3),
        ..ParsedBlock::default()
    };
    let mut line_number = 0u64;
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i + 1);
        let line = &data[start..end];
        start = end;
        block.rows += 1;
        match hits::split_fields(line, columns) {
            Err(Rejection::TooFewFields) => block.too_few_fields += 1,
            Err(Rejection::BadHitTime) => block.bad_hit_time += 1,
            Ok(fields) => {
                let referral = hits::search_referral_of(&fields);
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
                    hasher,
                    line_number,
                    fields.time,
                    &[fields.ip, fields.user_agent],
                    referral,
                    revenue,
                );
            }
        }
        line_number += 1;
    }
    block
}
