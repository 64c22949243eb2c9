//! From a line of the hit-level export to a [`Hit`]: the header's column positions, the fields
//! the engine needs, and what the hit means (a search referral, a purchase, or neither).

use std::borrow::Cow;

use thiserror::Error;

use crate::revenue::Revenue;

/// The columns the engine reads; every other column is ignored.
pub const NEEDED: [&str; 7] = [
    "hit_time_gmt",
    "ip",
    "user_agent",
    "event_list",
    "page_url",
    "product_list",
    "referrer",
];
const TIME: usize = 0;
const IP: usize = 1;
const USER_AGENT: usize = 2;
const EVENTS: usize = 3;
const PAGE_URL: usize = 4;
const PRODUCTS: usize = 5;
const REFERRER: usize = 6;

/// The event id of a purchase in `event_list`.
const PURCHASE_EVENT: &[u8] = b"1";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("the input is empty: expected a header line")]
    Empty,
    #[error("the header lacks the column(s) {}", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
}

/// Where the needed columns are, from the header line.
#[derive(Debug, Clone)]
pub struct Columns {
    count: usize,
    /// For each slot of [`NEEDED`], the position of its column.
    position_of: [usize; NEEDED.len()],
}

impl Columns {
    pub fn from_header(line: &[u8]) -> Result<Columns, HeaderError> {
        let line = trim_line_end(line);
        if line.is_empty() {
            return Err(HeaderError::Empty);
        }
        let names: Vec<&[u8]> = line
            .split(|&b| b == b'\t')
            .map(|n| unquote(n.trim_ascii()))
            .collect();
        let mut position_of = [0; NEEDED.len()];
        let mut missing = Vec::new();
        for (slot, needed) in NEEDED.iter().enumerate() {
            match names.iter().position(|name| *name == needed.as_bytes()) {
                Some(position) => position_of[slot] = position,
                None => missing.push(*needed),
            }
        }
        if !missing.is_empty() {
            return Err(HeaderError::MissingColumns(missing));
        }
        Ok(Columns {
            count: names.len(),
            position_of,
        })
    }
}

/// Why a row was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    TooFewFields,
    BadHitTime,
}

/// The fields of one row the rules read, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    pub time: i64,
    pub ip: Text<'a>,
    pub user_agent: Text<'a>,
    pub event_list: &'a [u8],
    pub page_url: &'a [u8],
    pub product_list: &'a [u8],
    pub referrer: Text<'a>,
}

/// A text field as written, and whether it is known to be ASCII (then it needs no decoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<'a> {
    pub bytes: &'a [u8],
    ascii: bool,
}

impl<'a> Text<'a> {
    /// The field decoded lossily as UTF-8, as every text field is.
    pub fn decoded(self) -> Cow<'a, [u8]> {
        if self.ascii {
            Cow::Borrowed(self.bytes)
        } else {
            lossy(self.bytes)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub revenue: Revenue,
    /// Total Revenue fields that were not plain decimals and counted as 0.
    pub malformed: Vec<String>,
}

/// Splits one data line (its end of line included or not) into the needed fields.
pub fn split_fields<'a>(line: &'a [u8], columns: &Columns) -> Result<Fields<'a>, Rejection> {
    let tabs: Vec<usize> = memchr::memchr_iter(b'\t', line).collect();
    split_fields_at(line, &tabs, false, columns)
}

/// As [`split_fields`], with the positions of the line's tabs already found (in order), and
/// whether the line is known to be ASCII. Each needed field is cut out where its column is,
/// without a look at the others.
pub fn split_fields_at<'a>(
    line: &'a [u8],
    tabs: &[usize],
    ascii: bool,
    columns: &Columns,
) -> Result<Fields<'a>, Rejection> {
    let line = trim_line_end(line);
    if tabs.len() + 1 < columns.count {
        return Err(Rejection::TooFewFields);
    }
    let field = |slot: usize| {
        let position = columns.position_of[slot];
        let start = match position {
            0 => 0,
            _ => tabs[position - 1] + 1,
        };
        let end = tabs.get(position).copied().unwrap_or(line.len());
        unquote(&line[start..end])
    };
    let text = |slot| Text {
        bytes: field(slot),
        ascii,
    };
    Ok(Fields {
        time: parse_integer(field(TIME)).ok_or(Rejection::BadHitTime)?,
        ip: text(IP),
        user_agent: text(USER_AGENT),
        event_list: field(EVENTS),
        page_url: field(PAGE_URL),
        product_list: field(PRODUCTS),
        referrer: text(REFERRER),
    })
}

/// The row's purchase, when its events include one.
pub fn purchase_of(fields: &Fields<'_>) -> Option<Purchase> {
    is_purchase(fields.event_list).then(|| purchase(fields.product_list))
}

/// True when one of the comma-separated event ids, trimmed, is exactly `1`.
pub fn is_purchase(event_list: &[u8]) -> bool {
    event_list
        .split(|&b| b == b',')
        .any(|event| event.trim_ascii() == PURCHASE_EVENT)
}

/// The sum of the products' Total Revenue fields (the 4th of each product's `;`-separated
/// fields); an empty or absent field is 0. One pass over the list's bytes.
pub fn purchase(product_list: &[u8]) -> Purchase {
    let mut revenue = Revenue::ZERO;
    let mut malformed = Vec::new();
    let mut add = |total: &[u8]| {
        let total = total.trim_ascii();
        if total.is_empty() {
            return;
        }
        match Revenue::parse_bytes(total) {
            Some(amount) => revenue += amount,
            None => malformed.push(String::from_utf8_lossy(total).into_owned()),
        }
    };
    // The field of the current product being read, and where it starts.
    let (mut field, mut start) = (0, 0);
    for (at, &byte) in product_list.iter().enumerate() {
        if byte == b';' || byte == b',' {
            if field == 3 {
                add(&product_list[start..at]);
            }
            field = if byte == b',' { 0 } else { field + 1 };
            start = at + 1;
        }
    }
    if field == 3 {
        add(&product_list[start..]);
    }
    Purchase { revenue, malformed }
}

/// Text fields are UTF-8, decoded lossily; valid text (nearly all of it) is not copied.
pub fn lossy(bytes: &[u8]) -> Cow<'_, [u8]> {
    if is_ascii(bytes) {
        return Cow::Borrowed(bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => Cow::Borrowed(bytes),
        Err(_) => Cow::Owned(String::from_utf8_lossy(bytes).into_owned().into_bytes()),
    }
}

/// True when every byte is below 0x80: on x86_64 16 bytes at a time (64 while the field lasts),
/// their high bits gathered by SSE2, so a field of a few hundred bytes takes a handful of steps.
fn is_ascii(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= 16 {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128};
        // The high bits of the `n` × 16 bytes at `at`, OR'd; callers keep them within `bytes`.
        let high = |at: usize, n: usize| {
            assert!(at + 16 * n <= bytes.len());
            // SAFETY: SSE2 is part of every x86_64 target; the loads read 16 × n bytes from
            // `at`, within `bytes` (asserted).
            unsafe {
                let load =
                    |i: usize| _mm_loadu_si128(bytes.as_ptr().add(at + 16 * i).cast::<__m128i>());
                let mut any = load(0);
                for i in 1..n {
                    any = _mm_or_si128(any, load(i));
                }
                _mm_movemask_epi8(any)
            }
        };
        let mut at = 0;
        while at + 64 <= bytes.len() {
            if high(at, 4) != 0 {
                return false;
            }
            at += 64;
        }
        while at + 16 <= bytes.len() {
            if high(at, 1) != 0 {
                return false;
            }
            at += 16;
        }
        // The last bytes, in one load that ends at the end (it may overlap bytes checked).
        return at == bytes.len() || high(bytes.len() - 16, 1) == 0;
    }
    bytes.is_ascii()
}

/// A decimal integer as `str::parse::<i64>` reads one (an optional sign, then at least one ASCII
/// digit, within range), straight from the bytes.
fn parse_integer(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, field),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(i64::from(digit))?
        } else {
            value.checked_add(i64::from(digit))?
        };
    }
    Some(value)
}

/// A field wrapped entirely in double quotes loses that one pair.
pub fn unquote(field: &[u8]) -> &[u8] {
    match field {
        [b'"', inner @ .., b'"'] => inner,
        _ => field,
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8] = b"hit_time_gmt\tdate_time\tuser_agent\tip\tevent_list\tgeo_city\tgeo_region\tgeo_country\tpagename\tpage_url\tproduct_list\treferrer\r\n";

    fn columns() -> Columns {
        Columns::from_header(HEADER).unwrap()
    }

    fn line(time: &str, agent: &str, events: &str, products: &str, referrer: &str) -> Vec<u8> {
        format!(
            "{time}\t2009-09-27 06:34:40\t{agent}\t67.98.123.1\t{events}\tSalem\tOR\tUS\tHome\thttp://www.esshopzilla.com\t{products}\t{referrer}\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_header_missing_needed_columns_names_them() {
        let err = Columns::from_header(b"hit_time_gmt\tip\tuser_agent\tevent_list\n").unwrap_err();
        assert_eq!(
            err,
            HeaderError::MissingColumns(vec!["page_url", "product_list", "referrer"])
        );
        assert_eq!(
            Columns::from_header(b"\r\n").unwrap_err(),
            HeaderError::Empty
        );
    }

    #[test]
    fn a_byte_above_0x7f_anywhere_is_found() {
        for len in [0, 1, 15, 63, 64, 65, 127, 128, 200, 1000] {
            let text = vec![b'a'; len];
            assert!(is_ascii(&text), "{len} ASCII bytes");
            for at in 0..len {
                for byte in [0x80, 0xc3, 0xff] {
                    let mut other = text.clone();
                    other[at] = byte;
                    assert!(!is_ascii(&other), "{len} bytes, {byte:#x} at {at}");
                }
            }
        }
    }

    #[test]
    fn times_are_read_as_the_standard_parser_reads_them() {
        let mut cases: Vec<String> = [
            "",
            "+",
            "-",
            "0",
            "-0",
            "+0",
            "+-1",
            "--1",
            "1254033280",
            "0001254033280",
            " 1",
            "1 ",
            "1_0",
            "12a",
            "0x10",
            "1e3",
            "1.0",
            "\u{661}\u{662}",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "+9223372036854775807",
            "00000000000000000000000000009223372036854775807",
            "99999999999999999999",
        ]
        .iter()
        .map(|case| case.to_string())
        .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            crate::next_random(&mut state);
            let len = (state % 22) as usize;
            let case: String = (0..len)
                .map(|i| b"0123456789-+ a"[((state >> (i * 2 % 60)) % 14) as usize] as char)
                .collect();
            cases.push(case);
        }
        for case in cases {
            assert_eq!(
                parse_integer(case.as_bytes()),
                case.parse::<i64>().ok(),
                "{case:?}"
            );
        }
        assert_eq!(parse_integer(b"\xff1"), None);
    }

    #[test]
    fn columns_are_found_by_name_whatever_their_order_or_quoting() {
        let header =
            b"\"referrer\"\tproduct_list\tpage_url\tevent_list\tuser_agent\tip\thit_time_gmt\n";
        let columns = Columns::from_header(header).unwrap();
        let fields = split_fields(
            b"http://www.bing.com/?q=x\t\t\t1\tUA\t1.2.3.4\t42\n",
            &columns,
        )
        .unwrap();
        assert_eq!(fields.time, 42);
        assert_eq!(
            (fields.ip.bytes, fields.user_agent.bytes),
            (&b"1.2.3.4"[..], &b"UA"[..])
        );
        assert_eq!(
            crate::referrer::search_referral(&fields.referrer.decoded(), fields.page_url)
                .unwrap()
                .keyword,
            "x"
        );
    }

    #[test]
    fn a_search_referral_and_a_purchase_are_recognised() {
        let text = line(
            "1254033280",
            "Mozilla/5.0",
            "2,1",
            "Electronics;Ipod;1;290;,Electronics;Case;2;;",
            "http://www.google.com/search?q=Ipod",
        );
        let fields = split_fields(&text, &columns()).unwrap();
        let referral =
            crate::referrer::search_referral(&fields.referrer.decoded(), fields.page_url).unwrap();
        assert_eq!(
            (referral.domain.as_str(), referral.keyword.as_str()),
            ("google.com", "ipod")
        );
        assert_eq!(purchase_of(&fields).unwrap().revenue.to_string(), "290.00");
    }

    #[test]
    fn only_event_one_is_a_purchase() {
        assert!(is_purchase(b"1"));
        assert!(is_purchase(b"2, 1 ,12"));
        assert!(!is_purchase(b"11,12,10"));
        assert!(!is_purchase(b""));
        assert!(!is_purchase(b"01"));
    }

    /// The list's products and fields as split before, word for word: the reference.
    fn purchase_before(product_list: &[u8]) -> Purchase {
        let mut revenue = Revenue::ZERO;
        let mut malformed = Vec::new();
        for product in product_list.split(|&b| b == b',') {
            let Some(total) = product.split(|&b| b == b';').nth(3).map(<[u8]>::trim_ascii) else {
                continue;
            };
            if total.is_empty() {
                continue;
            }
            match std::str::from_utf8(total).ok().and_then(Revenue::parse) {
                Some(amount) => revenue += amount,
                None => malformed.push(String::from_utf8_lossy(total).into_owned()),
            }
        }
        Purchase { revenue, malformed }
    }

    #[test]
    fn product_lists_sum_as_they_did_when_split_field_by_field() {
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        const ALPHABET: &[u8] = b";;;;,,0123456789. -x\xc3";
        let mut nonzero = 0;
        for _ in 0..30_000 {
            crate::next_random(&mut state);
            let len = (state % 60) as usize;
            let list: Vec<u8> = (0..len)
                .map(|_| {
                    crate::next_random(&mut state);
                    ALPHABET[(state % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let expected = purchase_before(&list);
            nonzero += usize::from(expected.revenue != Revenue::ZERO);
            assert_eq!(
                purchase(&list),
                expected,
                "{:?}",
                String::from_utf8_lossy(&list)
            );
        }
        assert!(nonzero > 1_000, "{nonzero} lists with revenue");
    }

    #[test]
    fn revenue_is_the_line_total_never_multiplied_by_items() {
        let purchase = purchase(b"Electronics;Zune - 32GB;3;250;;,Electronics;Cable;2;4.50;");
        assert_eq!(purchase.revenue.to_string(), "254.50");
        assert!(purchase.malformed.is_empty());
    }

    #[test]
    fn malformed_revenue_counts_zero_and_is_reported() {
        let purchase = purchase(b"A;B;1;12abc;,A;C;1; 7 ;,A;D;1;;,A;E");
        assert_eq!(purchase.revenue.to_string(), "7.00");
        assert_eq!(purchase.malformed, ["12abc"]);
    }

    /// The fields as the splitter found them before, walking every field of the line: the
    /// reference for cutting out the needed ones by position.
    fn split_before<'a>(line: &'a [u8], header: &[u8]) -> Result<[&'a [u8]; 7], Rejection> {
        // The header read as before, straight from its names.
        let names: Vec<&[u8]> = trim_line_end(header)
            .split(|&b| b == b'\t')
            .map(|n| unquote(n.trim_ascii()))
            .collect();
        let mut slot_of = vec![None; names.len()];
        for (slot, needed) in NEEDED.iter().enumerate() {
            let position = names.iter().position(|name| *name == needed.as_bytes());
            slot_of[position.expect("a needed column")] = Some(slot);
        }
        let tabs = memchr::memchr_iter(b'\t', line);
        let line = trim_line_end(line);
        let mut fields: [&[u8]; 7] = [&[]; 7];
        let mut count = 0;
        let mut start = 0;
        for end in tabs.chain(std::iter::once(line.len())) {
            if let Some(Some(slot)) = slot_of.get(count) {
                fields[*slot] = unquote(&line[start..end]);
            }
            count += 1;
            start = end + 1;
        }
        if count < names.len() {
            return Err(Rejection::TooFewFields);
        }
        parse_integer(fields[TIME]).ok_or(Rejection::BadHitTime)?;
        Ok(fields)
    }

    #[test]
    fn fields_are_cut_out_as_the_field_by_field_splitter_found_them() {
        let headers: [&[u8]; 4] = [
            HEADER,
            b"referrer\tproduct_list\tpage_url\tevent_list\tuser_agent\tip\thit_time_gmt\n",
            b"x\tip\thit_time_gmt\tx\treferrer\tuser_agent\tevent_list\tpage_url\tproduct_list",
            // A needed column named twice: the first is read.
            b"ip\thit_time_gmt\t\"ip\"\treferrer\tuser_agent\tevent_list\tpage_url\tproduct_list",
        ];
        let mut state = 0x6a09_e667_f3bc_c908_u64;
        let mut split = 0;
        for header in headers {
            let columns = Columns::from_header(header).unwrap();
            for _ in 0..5_000 {
                crate::next_random(&mut state);
                let fields = (state % 16) as usize;
                let mut line = Vec::new();
                for i in 0..fields {
                    crate::next_random(&mut state);
                    if i > 0 {
                        line.push(b'\t');
                    }
                    match state % 5 {
                        0 => line.extend_from_slice(b"1254033280"),
                        1 => line.extend_from_slice(b"\"quoted\""),
                        2 => line.extend_from_slice(b"\""),
                        3 => {}
                        _ => line.extend_from_slice(&state.to_le_bytes()[..(state % 7) as usize]),
                    }
                }
                match state % 3 {
                    0 => line.extend_from_slice(b"\r\n"),
                    1 => line.push(b'\n'),
                    _ => {}
                }
                let expected = split_before(&line, header);
                let found = split_fields(&line, &columns).map(|f| {
                    [
                        &line[..0],
                        f.ip.bytes,
                        f.user_agent.bytes,
                        f.event_list,
                        f.page_url,
                        f.product_list,
                        f.referrer.bytes,
                    ]
                });
                let expected = expected.map(|mut fields| {
                    fields[TIME] = &line[..0];
                    fields
                });
                assert_eq!(found, expected, "{:?}", String::from_utf8_lossy(&line));
                split += usize::from(found.is_ok());
            }
        }
        assert!(split > 500, "{split} lines split");
    }

    #[test]
    fn short_rows_and_bad_times_are_rejected() {
        assert_eq!(
            split_fields(b"1254033280\tonly\ttwo\n", &columns()),
            Err(Rejection::TooFewFields)
        );
        assert_eq!(
            split_fields(b"\n", &columns()),
            Err(Rejection::TooFewFields)
        );
        assert_eq!(
            split_fields(&line("12.5", "UA", "", "", ""), &columns()),
            Err(Rejection::BadHitTime)
        );
        assert_eq!(
            split_fields(&line("", "UA", "", "", ""), &columns()),
            Err(Rejection::BadHitTime)
        );
    }

    #[test]
    fn one_pair_of_wrapping_quotes_is_removed() {
        assert_eq!(unquote(b"\"Mozilla/5.0 (X; Y)\""), b"Mozilla/5.0 (X; Y)");
        assert_eq!(unquote(b"\"\"quoted\"\""), b"\"quoted\"");
        assert_eq!(unquote(b"\""), b"\"");
        assert_eq!(unquote(b"a\"b\""), b"a\"b\"");
        let quoted_line = line("5", "\"UA 1\"", "", "", "");
        let bare_line = line("5", "UA 1", "", "", "");
        let quoted = split_fields(&quoted_line, &columns()).unwrap();
        let bare = split_fields(&bare_line, &columns()).unwrap();
        assert_eq!(quoted.user_agent, bare.user_agent);
    }
}
