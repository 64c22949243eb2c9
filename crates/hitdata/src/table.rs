//! The visitor table: indices into a shard's visitors, found by their key's hash. Open
//! addressing with linear probing, at most half full; each slot holds the hash's high half as a
//! tag and the index, so a probe reads one cache line and a visitor is looked at only when its
//! tag matches. A slot can be prefetched from the hash alone, so the lookups of a block's hits
//! can wait on memory together rather than one after another.

/// A slot: the hash's high 32 bits, and the index plus one in the low 32 bits; 0 is empty.
type Slot = u64;
const EMPTY: Slot = 0;
const TAG: u64 = 0xffff_ffff_0000_0000;
const MIN_SLOTS: usize = 16;

#[derive(Debug)]
pub(crate) struct VisitorTable {
    slots: Vec<Slot>,
    len: usize,
    /// The indices kept by the last rebuild, its room reused by the next.
    scratch: Vec<u32>,
}

impl Default for VisitorTable {
    fn default() -> Self {
        Self {
            slots: vec![EMPTY; MIN_SLOTS],
            len: 0,
            scratch: Vec::new(),
        }
    }
}

impl VisitorTable {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// Asks the processor to bring in the slot where a lookup of `hash` starts.
    pub(crate) fn prefetch(&self, hash: u64) {
        prefetch(&self.slots[self.home(hash)]);
    }

    /// Every index with `hash`'s tag, in probe order, until `matches` accepts one.
    pub(crate) fn find(&self, hash: u64, mut matches: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        loop {
            let slot = self.slots[at];
            if slot == EMPTY {
                return None;
            }
            if slot & TAG == hash & TAG {
                let index = (slot as u32) - 1;
                if matches(index) {
                    return Some(index);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds `index`, which is not in the table; `hash_of` gives the hash of any index in it.
    pub(crate) fn insert(&mut self, hash: u64, index: u32, hash_of: impl Fn(u32) -> u64) {
        if (self.len + 1) * 2 > self.slots.len() {
            let mut indices = std::mem::take(&mut self.scratch);
            indices.clear();
            indices.extend(self.iter());
            self.rebuild(indices, (self.len + 1) * 2, &hash_of);
        }
        self.place(hash, index);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, index: u32) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        while self.slots[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = (hash & TAG) | (u64::from(index) + 1);
    }

    fn rebuild(&mut self, indices: Vec<u32>, room: usize, hash_of: &impl Fn(u32) -> u64) {
        let slots = room.next_power_of_two().max(MIN_SLOTS);
        if slots == self.slots.len() {
            // The same size: cleared in place, so no fresh memory is faulted in.
            self.slots.fill(EMPTY);
        } else {
            // Written, not allocated zeroed: untouched zeroed memory is mapped to the shared zero
            // page on its first read (a probe), and the first insert there then copies it and
            // flushes the page from every core's TLB, an interrupt to each. Writing faults each
            // page in once.
            let mut fresh = Vec::with_capacity(slots);
            fresh.resize(slots, std::hint::black_box(EMPTY));
            self.slots = fresh;
        }
        self.len = indices.len();
        for &index in &indices {
            self.place(hash_of(index), index);
        }
        self.scratch = indices;
    }

    /// Keeps the indices `keep` accepts; the table shrinks if they fill less than an eighth.
    pub(crate) fn retain(
        &mut self,
        mut keep: impl FnMut(u32) -> bool,
        hash_of: impl Fn(u32) -> u64,
    ) {
        let mut kept = std::mem::take(&mut self.scratch);
        kept.clear();
        kept.extend(self.iter().filter(|&index| keep(index)));
        let room = if kept.len() * 8 < self.slots.len() {
            kept.len() * 4
        } else {
            self.slots.len()
        };
        self.rebuild(kept, room, &hash_of);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .filter(|&&slot| slot != EMPTY)
            .map(|&slot| (slot as u32) - 1)
    }
}

/// A hint to bring `item`'s cache line in; it reads nothing and cannot fault.
#[inline]
pub(crate) fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch reads no memory the program can observe and never faults; SSE is
        // part of every x86_64 target.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(item).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes chosen to collide: the same home slot and, for some, the same tag.
    fn hash(i: u32) -> u64 {
        (u64::from(i % 3) << 32) | u64::from(i % 5)
    }

    #[test]
    fn finds_every_index_through_collisions_growth_and_removal() {
        let mut table = VisitorTable::default();
        for i in 0..1000 {
            table.insert(hash(i), i, hash);
        }
        assert_eq!(table.len(), 1000);
        for i in 0..1000 {
            assert_eq!(table.find(hash(i), |candidate| candidate == i), Some(i));
        }
        assert_eq!(table.find(hash(7), |_| false), None);

        table.retain(|i| i % 10 == 0, hash);
        assert_eq!(table.len(), 100);
        for i in 0..1000 {
            let found = table.find(hash(i), |candidate| candidate == i);
            assert_eq!(found, (i % 10 == 0).then_some(i), "index {i}");
        }
        let mut left: Vec<u32> = table.iter().collect();
        left.sort_unstable();
        assert_eq!(left, (0..1000).step_by(10).collect::<Vec<_>>());
    }
}
