//! Search referrals: which referrers are an external search engine, and the keyword they carry.

use std::hash::BuildHasher;

use crate::keyword;

/// Search engines by the first label of their registrable domain, with the query parameters
/// that carry the keyword, in the order they are tried.
pub const ENGINES: &[(&str, &[&str])] = &[
    ("google", &["q"]),
    ("bing", &["q"]),
    ("msn", &["q"]),
    ("duckduckgo", &["q"]),
    ("ask", &["q"]),
    ("ecosia", &["q"]),
    ("yahoo", &["p"]),
    ("aol", &["q", "query"]),
    ("baidu", &["wd", "word"]),
    ("yandex", &["text"]),
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SearchReferral {
    /// The registrable domain, e.g. `google.co.uk`.
    pub domain: String,
    pub keyword: String,
}

/// The hash a search referral is known by in every shard's revenue table: the same in every
/// worker of the process, which computes it once per referrer it works out.
pub fn referral_hash(domain: &str, keyword: &str) -> u64 {
    crate::process_hasher().hash_one((domain, keyword))
}

/// A search referral with its [`referral_hash`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedReferral {
    pub hash: u64,
    pub referral: SearchReferral,
}

impl HashedReferral {
    pub fn new(referral: SearchReferral) -> Self {
        Self {
            hash: referral_hash(&referral.domain, &referral.keyword),
            referral,
        }
    }

    pub fn as_ref(&self) -> ReferralRef<'_> {
        ReferralRef {
            hash: self.hash,
            domain: &self.referral.domain,
            keyword: &self.referral.keyword,
        }
    }
}

/// A search referral held elsewhere, with its [`referral_hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferralRef<'a> {
    pub hash: u64,
    pub domain: &'a str,
    pub keyword: &'a str,
}

impl ReferralRef<'_> {
    pub fn to_referral(&self) -> SearchReferral {
        SearchReferral {
            domain: self.domain.to_owned(),
            keyword: self.keyword.to_owned(),
        }
    }
}

/// A block's search referrals, their texts back to back in one buffer that is reused from block
/// to block: listing one copies its text, and allocates nothing once the buffers have grown.
#[derive(Debug, Default)]
pub struct ReferralList {
    text: String,
    /// The hash, where the domain starts, and where the domain and the keyword end, in `text`.
    entries: Vec<(u64, usize, usize, usize)>,
}

impl ReferralList {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.entries.clear();
    }

    /// Adds a referral; its index in the list.
    pub fn push(&mut self, referral: &HashedReferral) -> u32 {
        let index =
            u32::try_from(self.entries.len()).expect("fewer than 2^32 referrals in a block");
        let start = self.text.len();
        self.text.push_str(&referral.referral.domain);
        let domain_end = self.text.len();
        self.text.push_str(&referral.referral.keyword);
        self.entries
            .push((referral.hash, start, domain_end, self.text.len()));
        index
    }

    pub fn get(&self, index: u32) -> ReferralRef<'_> {
        let (hash, start, domain_end, end) = self.entries[index as usize];
        ReferralRef {
            hash,
            domain: &self.text[start..domain_end],
            keyword: &self.text[domain_end..end],
        }
    }
}

/// The parts of an absolute http(s) URL this engine looks at.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Lowercased, without userinfo, port or a trailing dot.
    pub host: String,
    pub query: &'a [u8],
}

/// Splits an absolute `http://` or `https://` URL (scheme case-insensitive); anything else is
/// not a URL a referral can come from.
pub fn parse_url(url: &[u8]) -> Option<UrlParts<'_>> {
    let (host, after) = split_host(url)?;
    let after = &after[..memchr::memchr(b'#', after).unwrap_or(after.len())];
    let query = match memchr::memchr(b'?', after) {
        Some(q) => &after[q + 1..],
        None => &[][..],
    };
    Some(UrlParts {
        host: lower_host(host),
        query,
    })
}

/// The host of an absolute http(s) URL as written (without userinfo, port or a trailing dot; not
/// empty), and what follows the authority.
fn split_host(url: &[u8]) -> Option<(&[u8], &[u8])> {
    let (authority, rest) = split_authority(url)?;
    Some((host_of(authority)?, rest))
}

/// The authority of an absolute http(s) URL, and what follows it.
fn split_authority(url: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = after_scheme(url)?;
    Some(rest.split_at(authority_end(rest)))
}

/// The host in an authority, without userinfo, port or a trailing dot; `None` when empty.
fn host_of(authority: &[u8]) -> Option<&[u8]> {
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = match host_port.iter().position(|&b| b == b':') {
        Some(colon) => &host_port[..colon],
        None => host_port,
    };
    let host = host.strip_suffix(b".").unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

fn lower_host(host: &[u8]) -> String {
    String::from_utf8_lossy(host).to_ascii_lowercase()
}

fn strip_prefix_ignore_case<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (value.len() >= prefix.len() && value[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &value[prefix.len()..])
}

/// The registrable domain of a host under the Public Suffix List (`www.google.co.uk` →
/// `google.co.uk`), or `None` for a bare suffix or a name the list cannot place.
pub fn registrable_domain(host: &str) -> Option<&str> {
    psl::domain_str(host)
}

/// The value of the first occurrence of `name` in a query string, undecoded.
fn first_value<'a>(query: &'a [u8], name: &str) -> Option<&'a [u8]> {
    query.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &[][..]),
        };
        (key == name.as_bytes()).then_some(value)
    })
}

/// A search referral when `referrer` is an external search engine URL carrying a keyword. A
/// referrer on the registrable domain of the hit's own `page_url` is site search: internal.
pub fn search_referral(referrer: &[u8], page_url: &[u8]) -> Option<SearchReferral> {
    // The Public Suffix List lookup is the costly step; most referrers never need it.
    if !may_be_search_engine(referrer) {
        return None;
    }
    let referral = engine_referral(referrer)?;
    let page = split_host(page_url).and_then(|(host, _)| page_domain(host));
    (page.as_deref() != Some(referral.domain.as_str())).then_some(referral)
}

/// The engine's registrable domain and the keyword a referrer carries, whatever the page; for a
/// referrer that [`may_be_search_engine`] let through.
fn engine_referral(referrer: &[u8]) -> Option<SearchReferral> {
    let url = parse_url(referrer)?;
    let domain = registrable_domain(&url.host)?;
    let parameters = engine(domain.split('.').next()?)?;
    let keyword = parameters
        .iter()
        .filter_map(|name| first_value(url.query, name))
        .find_map(keyword::normalize)?;
    Some(SearchReferral {
        domain: domain.to_owned(),
        keyword,
    })
}

/// The registrable domain of a page's host as written in its URL.
fn page_domain(host: &[u8]) -> Option<String> {
    registrable_domain(&lower_host(host)).map(str::to_owned)
}

/// Referrers in this many slots per cache.
const CACHED_REFERRERS: usize = 4096;
/// Referrers and authorities longer than this are worked out every time, never kept.
const MAX_CACHED_BYTES: usize = 1024;

/// One worker's memory of the referrers it saw lately and of the last page's authority, so that a
/// repeated referrer is not parsed, looked up in the Public Suffix List and decoded again on
/// every hit. Referrers are kept by their exact text, each in the slot of its hash (a new one
/// takes the place of the one there), and only texts of at most 1 KiB (besides the one page
/// authority), so a cache holds a few MB at most whatever the traffic. Gives what
/// [`search_referral`] gives.
#[derive(Debug)]
pub struct ReferralCache {
    hasher: foldhash::fast::FixedState,
    /// Referrers' authorities, and whether an engine could be named in them.
    authorities: Vec<Option<Remembered<bool>>>,
    referrers: Vec<Option<Remembered<Option<HashedReferral>>>>,
    /// The referral of the last referrer too long to keep.
    long: Option<HashedReferral>,
    /// The last page URL's authority, as written, and the registrable domain of its host.
    page: Option<Remembered<Option<String>>>,
    /// Per referrer slot: the block it was last listed for, and its index in that block's list.
    listed: Vec<(u64, u32)>,
    /// The block being parsed, counted from 1.
    block: u64,
}

/// Where a search referral was found: in a referrer slot, or the last long referrer.
#[derive(Debug, Clone, Copy)]
enum Found {
    Slot(usize),
    Long,
}

/// A text as written, and what it gave.
type Remembered<T> = (Box<[u8]>, T);

/// Authorities in this many slots per cache: a site's referrers come from a few dozen hosts.
const CACHED_AUTHORITIES: usize = 64;

impl Default for ReferralCache {
    fn default() -> Self {
        Self::with_slots(CACHED_REFERRERS)
    }
}

impl ReferralCache {
    fn with_slots(slots: usize) -> Self {
        Self {
            hasher: foldhash::fast::FixedState::with_seed(0x4ef3_22a1),
            authorities: vec![None; slots.clamp(1, CACHED_AUTHORITIES).next_power_of_two()],
            referrers: vec![None; slots.next_power_of_two()],
            long: None,
            page: None,
            listed: vec![(0, 0); slots.next_power_of_two()],
            block: 1,
        }
    }

    /// A new block's list of referrals starts: [`ReferralCache::listed_referral`] lists each
    /// referral afresh.
    pub fn start_block(&mut self) {
        self.block += 1;
    }

    /// The index in `list` (the block's referrals) of the search referral of `referrer` (already
    /// decoded) and `page_url`, as [`search_referral`] gives it. A referrer kept in the cache is
    /// listed once per block, however many hits carry it, without hashing the referral again;
    /// one too long to keep is listed at each hit.
    pub fn listed_referral(
        &mut self,
        referrer: &[u8],
        page_url: &[u8],
        list: &mut ReferralList,
    ) -> Option<u32> {
        let found = self.find(referrer, page_url)?;
        if let Found::Slot(slot) = found {
            let (block, index) = self.listed[slot];
            if block == self.block {
                debug_assert!(
                    (index as usize) < list.len(),
                    "a new list needs a new block"
                );
                return Some(index);
            }
        }
        match found {
            Found::Slot(slot) => {
                let next = list.push(self.referrers[slot].as_ref()?.1.as_ref()?);
                self.listed[slot] = (self.block, next);
                Some(next)
            }
            Found::Long => Some(list.push(self.long.as_ref()?)),
        }
    }

    /// [`search_referral`] of `referrer` (already decoded) and `page_url`, by reference: what the
    /// tests hold the cache to.
    #[cfg(test)]
    fn referral(&mut self, referrer: &[u8], page_url: &[u8]) -> Option<&SearchReferral> {
        match self.find(referrer, page_url)? {
            Found::Slot(slot) => self.referrers[slot].as_ref()?.1.as_ref(),
            Found::Long => self.long.as_ref(),
        }
        .map(|hashed| &hashed.referral)
    }

    /// Where the search referral of `referrer` and `page_url` is, once worked out.
    fn find(&mut self, referrer: &[u8], page_url: &[u8]) -> Option<Found> {
        // The prefilter's answer depends on the authority alone.
        let rest = after_scheme(referrer)?;
        let authority = &rest[..authority_end(rest)];
        if !self.may_be_engine(authority) {
            return None;
        }
        let (found, referral) = if referrer.len() <= MAX_CACHED_BYTES {
            let slot = self.hasher.hash_one(referrer) as usize & (self.referrers.len() - 1);
            let cached = self.referrers[slot]
                .as_ref()
                .is_some_and(|(text, _)| **text == *referrer);
            if !cached {
                let referral = engine_referral(referrer).map(HashedReferral::new);
                self.referrers[slot] = Some((referrer.into(), referral));
                self.listed[slot] = (0, 0);
            }
            (
                Found::Slot(slot),
                self.referrers[slot].as_ref()?.1.as_ref()?,
            )
        } else {
            self.long = engine_referral(referrer).map(HashedReferral::new);
            (Found::Long, self.long.as_ref()?)
        };
        // The page's domain depends on its URL's authority alone, remembered as written (one of
        // them, of any length: that is at most a line).
        let page = match split_authority(page_url) {
            None => None,
            Some((authority, _)) => {
                let known = self
                    .page
                    .as_ref()
                    .is_some_and(|(text, _)| **text == *authority);
                if !known {
                    self.page = Some((authority.into(), host_of(authority).and_then(page_domain)));
                }
                self.page.as_ref().and_then(|(_, page)| page.as_deref())
            }
        };
        (page != Some(referral.referral.domain.as_str())).then_some(found)
    }

    /// [`may_be_engine_authority`], remembered.
    fn may_be_engine(&mut self, authority: &[u8]) -> bool {
        if authority.len() > MAX_CACHED_BYTES {
            return may_be_engine_authority(authority);
        }
        let slot = self.hasher.hash_one(authority) as usize & (self.authorities.len() - 1);
        match &self.authorities[slot] {
            Some((text, may)) if **text == *authority => *may,
            _ => {
                let may = may_be_engine_authority(authority);
                self.authorities[slot] = Some((authority.into(), may));
                may
            }
        }
    }
}

/// A cheap test on the raw field, without allocating: could it name an engine at all? True for
/// every referrer [`search_referral`] could accept, whatever its case; false for most others.
pub fn may_be_search_engine(referrer: &[u8]) -> bool {
    after_scheme(referrer).is_some_and(|rest| may_be_engine_authority(&rest[..authority_end(rest)]))
}

/// What follows `http://` or `https://` (either case), or `None` for any other URL. The first
/// eight bytes are compared as one word: letters with their case bit (0x20) set, the rest exactly.
fn after_scheme(url: &[u8]) -> Option<&[u8]> {
    let Some(head) = url.first_chunk::<8>() else {
        return after_scheme_portable(url);
    };
    let word = u64::from_le_bytes(*head);
    if (word | 0x2020_2020) & 0x00ff_ffff_ffff_ffff == u64::from_le_bytes(*b"http://\0") {
        Some(&url[7..])
    } else if word | 0x20_2020_2020 == u64::from_le_bytes(*b"https://") {
        Some(&url[8..])
    } else {
        None
    }
}

fn after_scheme_portable(url: &[u8]) -> Option<&[u8]> {
    strip_prefix_ignore_case(url, b"http://").or_else(|| strip_prefix_ignore_case(url, b"https://"))
}

/// Where the authority that starts `rest` ends: at the first `/`, `?` or `#`. 16 bytes at a time
/// on x86_64 (SSE2), where a host is found in one or two steps.
#[cfg(target_arch = "x86_64")]
fn authority_end(rest: &[u8]) -> usize {
    let mut at = 0;
    while at + 16 <= rest.len() {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of every x86_64 target; the unaligned load reads the 16 bytes at
        // `at`, which lie within `rest`.
        let found = unsafe {
            let bytes = _mm_loadu_si128(rest.as_ptr().add(at).cast::<__m128i>());
            let is = |byte: u8| _mm_cmpeq_epi8(bytes, _mm_set1_epi8(byte as i8));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(is(b'/'), is(b'?')), is(b'#')))
        };
        if found != 0 {
            return at + found.trailing_zeros() as usize;
        }
        at += 16;
    }
    at + authority_end_portable(&rest[at..])
}

#[cfg(not(target_arch = "x86_64"))]
fn authority_end(rest: &[u8]) -> usize {
    authority_end_portable(rest)
}

fn authority_end_portable(rest: &[u8]) -> usize {
    rest.iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len())
}

/// [`may_be_search_engine`] of a URL with this authority.
fn may_be_engine_authority(authority: &[u8]) -> bool {
    let host = match memchr::memrchr(b'@', authority) {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    host.split(|&b| b == b'.' || b == b':').any(|label| {
        label.len() < 64
            && ENGINE_LENGTHS & (1 << label.len()) != 0
            && ENGINES
                .iter()
                .any(|(engine, _)| label.eq_ignore_ascii_case(engine.as_bytes()))
    })
}

/// Bit `n` is set when an engine's name is `n` bytes long: most labels are no engine's length.
const ENGINE_LENGTHS: u64 = {
    let mut lengths = 0u64;
    let mut i = 0;
    while i < ENGINES.len() {
        lengths |= 1 << ENGINES[i].0.len();
        i += 1;
    }
    lengths
};

fn engine(label: &str) -> Option<&'static [&'static str]> {
    ENGINES
        .iter()
        .find(|(engine, _)| *engine == label)
        .map(|(_, parameters)| *parameters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referral(referrer: &str, page: Option<&str>) -> Option<(String, String)> {
        let page_url = page.map(|domain| format!("http://www.{domain}/product?id=1"));
        search_referral(
            referrer.as_bytes(),
            page_url.as_deref().unwrap_or("").as_bytes(),
        )
        .map(|r| (r.domain, r.keyword))
    }

    /// How a block lists `referral`: its texts, and the hash every shard knows it by.
    fn listed(referral: &SearchReferral) -> ReferralRef<'_> {
        ReferralRef {
            hash: referral_hash(&referral.domain, &referral.keyword),
            domain: &referral.domain,
            keyword: &referral.keyword,
        }
    }

    fn some(domain: &str, keyword: &str) -> Option<(String, String)> {
        Some((domain.into(), keyword.into()))
    }

    #[test]
    fn engines_report_their_registrable_domain() {
        assert_eq!(
            referral("http://www.google.com/search?q=Ipod", None),
            some("google.com", "ipod")
        );
        assert_eq!(
            referral("https://search.yahoo.com/search?p=cd+player", None),
            some("yahoo.com", "cd player")
        );
        assert_eq!(
            referral("http://www.google.co.uk/search?hl=en&q=zune", None),
            some("google.co.uk", "zune")
        );
        assert_eq!(
            referral("http://www.bing.com/search?q=Zune&go=", None),
            some("bing.com", "zune")
        );
        assert_eq!(
            referral("https://duckduckgo.com/?q=ipod", None),
            some("duckduckgo.com", "ipod")
        );
        assert_eq!(
            referral(
                "http://yandex.ru/search/?text=%D0%BF%D0%BB%D0%B5%D0%B5%D1%80",
                None
            ),
            some("yandex.ru", "плеер")
        );
    }

    #[test]
    fn parameters_are_tried_in_order_and_only_first_occurrences_count() {
        assert_eq!(
            referral("http://search.aol.com/aol/search?query=tv&q=radio", None),
            some("aol.com", "radio")
        );
        assert_eq!(
            referral("http://search.aol.com/aol/search?q=&query=tv", None),
            some("aol.com", "tv")
        );
        assert_eq!(
            referral("http://www.baidu.com/s?word=b&wd=a", None),
            some("baidu.com", "a")
        );
        assert_eq!(
            referral("http://www.baidu.com/s?wd=+&word=b", None),
            some("baidu.com", "b")
        );
        assert_eq!(
            referral("http://www.google.com/search?q=&q=second", None),
            None
        );
    }

    /// The functions as they were before the cache and the fast paths, word for word: what
    /// the new ones must answer on every input.
    mod before {
        use super::super::{
            ENGINES, SearchReferral, UrlParts, engine, first_value, keyword, registrable_domain,
            strip_prefix_ignore_case,
        };

        pub fn parse_url(url: &[u8]) -> Option<UrlParts<'_>> {
            let rest = strip_prefix_ignore_case(url, b"http://")
                .or_else(|| strip_prefix_ignore_case(url, b"https://"))?;
            let authority_end = rest
                .iter()
                .position(|&b| matches!(b, b'/' | b'?' | b'#'))
                .unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            let host_port = match authority.iter().rposition(|&b| b == b'@') {
                Some(at) => &authority[at + 1..],
                None => authority,
            };
            let host = match host_port.iter().position(|&b| b == b':') {
                Some(colon) => &host_port[..colon],
                None => host_port,
            };
            let host = host.strip_suffix(b".").unwrap_or(host);
            if host.is_empty() {
                return None;
            }
            let after = &rest[authority_end..];
            let after = &after[..after.iter().position(|&b| b == b'#').unwrap_or(after.len())];
            let query = match after.iter().position(|&b| b == b'?') {
                Some(q) => &after[q + 1..],
                None => &[][..],
            };
            Some(UrlParts {
                host: String::from_utf8_lossy(host).to_ascii_lowercase(),
                query,
            })
        }

        pub fn search_referral(referrer: &[u8], page_url: &[u8]) -> Option<SearchReferral> {
            // The Public Suffix List lookup is the costly step; most referrers never need it.
            if !may_be_search_engine(referrer) {
                return None;
            }
            let url = parse_url(referrer)?;
            let domain = registrable_domain(&url.host)?;
            let parameters = engine(domain.split('.').next()?)?;
            let page_host = parse_url(page_url).map(|page| page.host);
            if page_host.as_deref().and_then(registrable_domain) == Some(domain) {
                return None;
            }
            let keyword = parameters
                .iter()
                .filter_map(|name| first_value(url.query, name))
                .find_map(keyword::normalize)?;
            Some(SearchReferral {
                domain: domain.to_owned(),
                keyword,
            })
        }

        pub fn may_be_search_engine(referrer: &[u8]) -> bool {
            let Some(rest) = strip_prefix_ignore_case(referrer, b"http://")
                .or_else(|| strip_prefix_ignore_case(referrer, b"https://"))
            else {
                return false;
            };
            let authority_end = memchr::memchr3(b'/', b'?', b'#', rest).unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            let host = match memchr::memrchr(b'@', authority) {
                Some(at) => &authority[at + 1..],
                None => authority,
            };
            host.split(|&b| b == b'.' || b == b':').any(|label| {
                ENGINES
                    .iter()
                    .any(|(engine, _)| label.eq_ignore_ascii_case(engine.as_bytes()))
            })
        }
    }

    #[test]
    fn the_new_paths_answer_as_the_old_functions_did() {
        let schemes: [&[u8]; 9] = [
            b"http://",
            b"https://",
            b"HTTP://",
            b"HtTpS://",
            b"http:/",
            b"ftp://",
            b"",
            b"http:",
            b"https:/",
        ];
        let authorities: [&[u8]; 18] = [
            b"",
            b"www.google.com",
            b"google.com.",
            b"u@google.com.:1",
            b"@",
            b":80",
            b".",
            b"www.bing.com:8080",
            b"search.yahoo.com",
            b"GOOGLE.CO.UK",
            b"duckduckgo.com",
            b"yandex.ru",
            b"\xff.google.com",
            b"www.esshopzilla.com",
            b"goog.le",
            b"a@b@google.com",
            b"google.com@evil.example",
            b"www.google.com\xc3",
        ];
        let rests: [&[u8]; 10] = [
            b"",
            b"/",
            b"/search?q=Ipod",
            b"?q=x",
            b"#?q=a",
            b"/search?p=cd+player&q=x",
            b"/?text=%D0%BF%D0%BB",
            b"/s?q=&query=tv",
            b"/s?wd=%E4%B8%AD",
            b"/s?q=\xff\xfe",
        ];
        let pages: [&[u8]; 10] = [
            b"http://www.esshopzilla.com/p",
            b"http://www.google.com:8080/a",
            b"http://x@google.com./",
            b"https://google.com/",
            b"http://\xff.com/",
            b"",
            b"not a url",
            b"HTTP://WWW.GOOGLE.CO.UK./x",
            b"http://u@bing.com:8/",
            b"http://",
        ];
        let mut referrers = Vec::new();
        for scheme in schemes {
            for authority in authorities {
                for rest in rests {
                    referrers.push([scheme, authority, rest].concat());
                }
            }
        }
        // A long one, past what a cache keeps.
        referrers.push([&b"http://www.google.com/search?q=long"[..], &[b'x'; 2000]].concat());
        for mut cache in [ReferralCache::with_slots(1), ReferralCache::default()] {
            let mut listing = ReferralCache::with_slots(cache.referrers.len());
            let mut list = ReferralList::default();
            for round in 0..2 {
                for (i, raw) in referrers.iter().enumerate() {
                    assert_eq!(parse_url(raw), before::parse_url(raw), "{raw:?}");
                    assert_eq!(
                        may_be_search_engine(raw),
                        before::may_be_search_engine(raw),
                        "{raw:?}"
                    );
                    let referrer = crate::hits::lossy(raw);
                    let page = pages[(i + round) % pages.len()];
                    let expected = before::search_referral(&referrer, page);
                    assert_eq!(
                        cache.referral(&referrer, page),
                        expected.as_ref(),
                        "{raw:?} on {page:?}"
                    );
                    // Blocks of a few hits each, so listings start afresh often.
                    if i % 7 == 0 {
                        listing.start_block();
                        list.clear();
                    }
                    let index = listing.listed_referral(&referrer, page, &mut list);
                    assert_eq!(
                        index.map(|index| list.get(index)),
                        expected.as_ref().map(|referral| listed(referral)),
                        "{raw:?} on {page:?}, listed"
                    );
                }
            }
        }
    }

    #[test]
    fn the_cache_gives_what_search_referral_gives() {
        let referrers: [&[u8]; 12] = [
            b"http://www.google.com/search?q=Ipod",
            b"https://search.yahoo.com/search?p=cd+player",
            b"http://www.esshopzilla.com/search/?k=Ipod",
            b"http://www.google.com/search?q=",
            b"http://www.bing.com/search?q=zune#q=other",
            b"HTTP://WWW.GOOGLE.CO.UK/search?hl=en&q=Zune",
            b"http://search.aol.com/aol/search?q=&query=tv",
            b"http://www.google.com/",
            b"",
            b"http://www.google.com\xff/search?q=x",
            b"http://user@www.google.com:8080./search?q=tv",
            b"https://www.esshopzilla.com/product/?pid=as32213",
        ];
        let pages: [&[u8]; 5] = [
            b"http://www.esshopzilla.com/product/?pid=as32213",
            b"http://www.google.com/maps",
            b"https://shop.esshopzilla.com:443/cart",
            b"not a url",
            b"",
        ];
        // A cache of one slot makes every other referrer (and authority) replace the last; the
        // default keeps them all. Pages change often and come back.
        for mut cache in [ReferralCache::with_slots(1), ReferralCache::default()] {
            for round in 0..3 {
                for (i, referrer) in referrers.iter().enumerate() {
                    for page in pages.iter().cycle().skip(i + round).take(pages.len()) {
                        let referrer = crate::hits::lossy(referrer);
                        let expected = search_referral(&referrer, page);
                        let shown = format!(
                            "{:?} on {:?}",
                            String::from_utf8_lossy(&referrer),
                            String::from_utf8_lossy(page)
                        );
                        assert_eq!(
                            cache.referral(&referrer, page),
                            expected.as_ref(),
                            "{shown}"
                        );
                        // Listed for a block: once, whichever hit comes again.
                        let mut list = ReferralList::default();
                        cache.start_block();
                        let first = cache.listed_referral(&referrer, page, &mut list);
                        let again = cache.listed_referral(&referrer, page, &mut list);
                        assert_eq!(
                            first.map(|at| list.get(at)),
                            expected.as_ref().map(|referral| listed(referral))
                        );
                        assert_eq!((again, list.len()), (first, usize::from(first.is_some())));
                    }
                }
            }
        }
    }

    #[test]
    fn schemes_are_recognised_as_the_portable_comparison_does() {
        for base in [
            &b"https://a/b"[..],
            b"http://ab/c",
            b"HTTP://x",
            b"hTTpS://",
            b"http:/",
        ] {
            for at in 0..base.len() {
                for byte in 0..=255u8 {
                    let mut url = base.to_vec();
                    url[at] = byte;
                    for len in [at + 1, url.len()] {
                        let url = &url[..len];
                        assert_eq!(after_scheme(url), after_scheme_portable(url), "{url:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_authority_ends_where_the_portable_search_says() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in (0..70).chain([200, 1000]) {
            for _ in 0..50 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        crate::next_random(&mut state);
                        match state % 40 {
                            0 => b'/',
                            1 => b'?',
                            2 => b'#',
                            3 => 0xff,
                            _ => b'a' + (state % 26) as u8,
                        }
                    })
                    .collect();
                assert_eq!(
                    authority_end(&text),
                    authority_end_portable(&text),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn engine_names_have_the_lengths_the_prefilter_knows() {
        for (engine, _) in ENGINES {
            assert!(may_be_search_engine(
                format!("http://www.{}.com/", engine.to_uppercase()).as_bytes()
            ));
        }
        assert!(!may_be_search_engine(b"http://www.googles.com/search?q=x"));
        assert!(!may_be_search_engine(b"http://www.goog.le/search?q=x"));
    }

    #[test]
    fn no_keyword_means_no_referral() {
        assert_eq!(referral("http://www.google.com/", None), None);
        assert_eq!(referral("http://www.google.com/search?oq=ipod", None), None);
        assert_eq!(referral("http://www.google.com/search?q=+%20", None), None);
        assert_eq!(
            referral("http://search.yahoo.com/search?q=ipod", None),
            None
        );
    }

    #[test]
    fn other_sites_and_non_urls_are_not_search_engines() {
        assert_eq!(
            referral("http://www.esshopzilla.com/search?q=ipod", None),
            None
        );
        assert_eq!(referral("http://google.example.com/?q=ipod", None), None);
        assert_eq!(referral("ftp://www.google.com/?q=ipod", None), None);
        assert_eq!(referral("www.google.com/search?q=ipod", None), None);
        assert_eq!(referral("", None), None);
    }

    #[test]
    fn a_referrer_on_the_pages_own_domain_is_internal() {
        assert_eq!(
            referral("http://www.google.com/search?q=ipod", Some("google.com")),
            None
        );
        assert_eq!(
            referral(
                "http://www.google.com/search?q=ipod",
                Some("esshopzilla.com")
            ),
            some("google.com", "ipod")
        );
    }

    #[test]
    fn urls_split_like_a_browser_would() {
        let url = parse_url(b"HTTPS://user:pw@WWW.Google.COM.:443/s?q=a#frag?q=b").unwrap();
        assert_eq!(url.host, "www.google.com");
        assert_eq!(url.query, b"q=a");
        assert_eq!(
            parse_url(b"http://www.google.com/s#top?q=a").unwrap().query,
            b""
        );
    }

    #[test]
    fn the_prefilter_lets_every_engine_through_and_stops_the_rest() {
        for url in [
            "http://WWW.GOOGLE.CO.UK/s?q=a",
            "https://user@search.Yahoo.com:80/?p=a",
            "HTTPS://yandex.ru/?text=a",
        ] {
            assert!(may_be_search_engine(url.as_bytes()), "{url}");
        }
        for url in [
            "",
            "http://www.esshopzilla.com/?q=a",
            "ftp://google.com/",
            "http://googlex.com/",
            "http://x.com/google",
        ] {
            assert!(!may_be_search_engine(url.as_bytes()), "{url}");
        }
    }

    #[test]
    fn every_engine_is_recognised_whatever_the_case_of_its_host() {
        for (engine, parameters) in ENGINES {
            let url = format!(
                "HTTP://WWW.{}.COM/s?{}=Find+Me",
                engine.to_uppercase(),
                parameters[0]
            );
            assert_eq!(
                referral(&url, None),
                some(&format!("{engine}.com"), "find me"),
                "{url}"
            );
        }
    }
}
