//! Visits and attribution: a visitor's hits in (hit_time_gmt, line) order, split into visits at
//! gaps over 30 minutes, each purchase credited to the visit's last search referral.
//!
//! Input is mostly in time order. Hits wait in their visitor's queue until they are older than
//! the newest time seen minus the disorder window; then they are final and applied in order. No
//! hit may be more than the window older than a hit before it in the file — such a hit cannot
//! be placed exactly, and stops the run. So a visitor whose last hit is older than the window
//! plus a visit gap can get no hit that joins its visit, and is dropped: memory holds open
//! visits and the window's hits, not the file.

use std::collections::VecDeque;

use hashbrown::{HashMap, HashTable};
use thiserror::Error;

use crate::block::{NO_REFERRAL, ParsedBlock};
use crate::referrer::SearchReferral;
use crate::revenue::Revenue;

/// A gap longer than this between a visitor's consecutive hits starts a new visit.
pub const VISIT_GAP_SECONDS: i64 = 1800;
pub const DEFAULT_DISORDER_SECONDS: i64 = 3600;
const SWEEP_EVERY_HITS: u64 = 1 << 16;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    time: i64,
    line: u64,
    referral: ReferralId,
    revenue: Option<Revenue>,
}

#[derive(Debug, Default)]
struct Visitor {
    /// Hits not yet final, in (time, line) order.
    queue: VecDeque<Pending>,
    last_time: Option<i64>,
    current: Option<ReferralId>,
}

/// Revenue per (domain, keyword), and what could not be attributed.
#[derive(Debug, Default)]
pub struct Attribution {
    referrals: Vec<SearchReferral>,
    ids: HashMap<SearchReferral, ReferralId, foldhash::fast::RandomState>,
    revenue: Vec<Revenue>,
    pub purchases: u64,
    pub attributed: Revenue,
    pub unattributed: Revenue,
}

impl Attribution {
    fn id(&mut self, referral: &SearchReferral) -> ReferralId {
        if let Some(id) = self.ids.get(referral) {
            return *id;
        }
        let id = ReferralId::try_from(self.referrals.len()).expect("fewer than 2^32 keywords");
        self.referrals.push(referral.clone());
        self.revenue.push(Revenue::ZERO);
        self.ids.insert(referral.clone(), id);
        id
    }

    /// (domain, keyword, revenue) with revenue > 0: revenue descending, then domain, then keyword.
    pub fn ranked(&self) -> Vec<(&SearchReferral, Revenue)> {
        let mut rows: Vec<_> = self
            .referrals
            .iter()
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

pub struct Sessions {
    window: i64,
    newest: i64,
    hits: u64,
    visitors: HashTable<(Box<[u8]>, u64, Visitor)>,
    pub attribution: Attribution,
    pub peak_open_visitors: usize,
}

impl Sessions {
    pub fn new(disorder_window_seconds: i64) -> Self {
        Self {
            window: disorder_window_seconds.max(0),
            newest: i64::MIN,
            hits: 0,
            visitors: HashTable::new(),
            attribution: Attribution::default(),
            peak_open_visitors: 0,
        }
    }

    /// Takes the next block of the file, whose first line is `first_line`; blocks must come in
    /// file order.
    pub fn add_block(&mut self, block: &ParsedBlock, first_line: u64) -> Result<(), TooLate> {
        let ids: Vec<ReferralId> = block
            .referrals
            .iter()
            .map(|r| self.attribution.id(r))
            .collect();
        for hit in &block.hits {
            // Every hit settled so far is at or before this bound; a hit below it could belong
            // before them, or to a visitor already dropped.
            let line = first_line + hit.line;
            if hit.time < self.newest.saturating_sub(self.window) {
                return Err(TooLate {
                    line,
                    time: hit.time,
                    window: self.window,
                });
            }
            self.newest = self.newest.max(hit.time);
            let settled = self.newest.saturating_sub(self.window);
            let key = block.key(hit);
            let entry =
                self.visitors
                    .entry(hit.key_hash, |(k, _, _)| **k == *key, |(_, hash, _)| *hash);
            let (_, _, visitor) = entry
                .or_insert_with(|| (key.into(), hit.key_hash, Visitor::default()))
                .into_mut();
            let pending = Pending {
                time: hit.time,
                line,
                referral: if hit.referral == NO_REFERRAL {
                    NO_REFERRAL
                } else {
                    ids[hit.referral as usize]
                },
                revenue: hit.revenue,
            };
            if visitor.queue.back().is_none_or(|last| *last <= pending) {
                visitor.queue.push_back(pending);
            } else {
                let at = visitor.queue.partition_point(|p| *p <= pending);
                visitor.queue.insert(at, pending);
            }
            apply_settled(visitor, settled, &mut self.attribution);

            self.hits += 1;
            if self.hits.is_multiple_of(SWEEP_EVERY_HITS) {
                self.sweep();
            }
        }
        Ok(())
    }

    /// Applies what is settled everywhere and drops visitors whose visits can no longer change.
    fn sweep(&mut self) {
        self.peak_open_visitors = self.peak_open_visitors.max(self.visitors.len());
        let settled = self.newest.saturating_sub(self.window);
        let closed_before = settled.saturating_sub(VISIT_GAP_SECONDS);
        let attribution = &mut self.attribution;
        self.visitors.retain(|(_, _, visitor)| {
            apply_settled(visitor, settled, attribution);
            !(visitor.queue.is_empty() && visitor.last_time.is_some_and(|t| t < closed_before))
        });
    }

    /// End of input: every waiting hit is final.
    pub fn finish(mut self) -> (Attribution, usize) {
        self.peak_open_visitors = self.peak_open_visitors.max(self.visitors.len());
        for (_, _, visitor) in self.visitors.iter_mut() {
            apply_settled(visitor, i64::MAX, &mut self.attribution);
        }
        (self.attribution, self.peak_open_visitors)
    }
}

fn apply_settled(visitor: &mut Visitor, settled: i64, attribution: &mut Attribution) {
    while visitor.queue.front().is_some_and(|p| p.time <= settled) {
        let Some(hit) = visitor.queue.pop_front() else {
            break;
        };
        if visitor
            .last_time
            .is_some_and(|last| hit.time - last > VISIT_GAP_SECONDS)
        {
            visitor.current = None;
        }
        if hit.referral != NO_REFERRAL {
            visitor.current = Some(hit.referral);
        }
        if let Some(revenue) = hit.revenue {
            attribution.purchases += 1;
            match visitor.current {
                Some(id) => {
                    attribution.revenue[id as usize] += revenue;
                    attribution.attributed += revenue;
                }
                None => attribution.unattributed += revenue,
            }
        }
        visitor.last_time = Some(hit.time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::key_hasher;

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
    /// (blocks applied in order) or all in one block (a visitor's hits within a block).
    fn run(given: Given, window: i64) -> Result<Vec<(String, String, String)>, TooLate> {
        let one_each = run_in_blocks(&given, window, 1);
        let all_in_one = run_in_blocks(&given, window, given.hits.len().max(1));
        assert_eq!(one_each, all_in_one, "one block per hit against one block");
        one_each
    }

    fn run_in_blocks(
        given: &Given,
        window: i64,
        per_block: usize,
    ) -> Result<Vec<(String, String, String)>, TooLate> {
        let mut sessions = Sessions::new(window);
        for (b, hits) in given.hits.chunks(per_block).enumerate() {
            let mut block = ParsedBlock::default();
            for (i, (time, visitor, referral, revenue)) in hits.iter().enumerate() {
                block.push(
                    &key_hasher(),
                    i as u64,
                    *time,
                    &[visitor.as_bytes()],
                    referral.map(|(domain, keyword)| SearchReferral {
                        domain: domain.into(),
                        keyword: keyword.into(),
                    }),
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
