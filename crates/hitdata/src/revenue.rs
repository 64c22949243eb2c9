//! Revenue as exact decimals: parsed from product lists, summed without rounding, rounded half
//! away from zero to cents only when written.

use std::fmt;
use std::ops::AddAssign;

/// Fractional digits kept exactly. A field with more is not a plain decimal this engine can sum
/// exactly, and is reported like any other malformed revenue.
pub const MAX_FRACTION_DIGITS: u32 = 18;
const SCALE: i128 = 10i128.pow(MAX_FRACTION_DIGITS);
/// 10^0 to 10^18.
const POWERS_OF_TEN: [u64; MAX_FRACTION_DIGITS as usize + 1] = {
    let mut powers = [1u64; MAX_FRACTION_DIGITS as usize + 1];
    let mut i = 1;
    while i < powers.len() {
        powers[i] = powers[i - 1] * 10;
        i += 1;
    }
    powers
};

/// The value of at most 18 ASCII digits.
fn small_value(digits: &[u8]) -> u64 {
    digits
        .iter()
        .fold(0u64, |value, &d| value * 10 + u64::from(d - b'0'))
}

/// An exact amount in units of 10^-18.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revenue(i128);

impl Revenue {
    pub const ZERO: Revenue = Revenue(0);

    /// A plain decimal: optional sign, digits, optional fraction (`12`, `4.00`, `-3.5`, `.5`).
    /// Surrounding whitespace is the caller's to trim.
    pub fn parse(text: &str) -> Option<Revenue> {
        Revenue::parse_bytes(text.as_bytes())
    }

    /// As [`Revenue::parse`], from bytes: anything but ASCII digits, one sign and one point is
    /// not a plain decimal.
    pub fn parse_bytes(bytes: &[u8]) -> Option<Revenue> {
        let (negative, rest) = match bytes.first() {
            Some(b'-') => (true, &bytes[1..]),
            Some(b'+') => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        let (whole, fraction) = match rest.iter().position(|&b| b == b'.') {
            Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
            None => (rest, None),
        };
        let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        let well_formed = match fraction {
            None => !whole.is_empty() && digits(whole),
            Some(fraction) => !fraction.is_empty() && digits(whole) && digits(fraction),
        };
        let fraction = fraction.unwrap_or(&[]);
        if !well_formed || fraction.len() > MAX_FRACTION_DIGITS as usize {
            return None;
        }
        // Up to 18 digits fit in 64 bits: the fraction always, the whole part nearly always.
        let whole = if whole.len() <= MAX_FRACTION_DIGITS as usize {
            i128::from(small_value(whole))
        } else {
            whole.iter().try_fold(0i128, |units, &d| {
                units.checked_mul(10)?.checked_add(i128::from(d - b'0'))
            })?
        };
        let fraction =
            small_value(fraction) * POWERS_OF_TEN[MAX_FRACTION_DIGITS as usize - fraction.len()];
        let units = whole
            .checked_mul(SCALE)?
            .checked_add(i128::from(fraction))?;
        Some(Revenue(if negative { -units } else { units }))
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Whole cents, rounded half away from zero.
    pub fn cents(self) -> i128 {
        let unit = SCALE / 100;
        let (quotient, remainder) = (self.0 / unit, self.0 % unit);
        if remainder.abs() * 2 >= unit {
            quotient + self.0.signum()
        } else {
            quotient
        }
    }
}

impl AddAssign for Revenue {
    fn add_assign(&mut self, other: Revenue) {
        self.0 = self.0.saturating_add(other.0);
    }
}

/// Two decimals, rounded half away from zero: `480.00`, `-0.05`.
impl fmt::Display for Revenue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = self.cents();
        let sign = if cents < 0 { "-" } else { "" };
        let cents = cents.unsigned_abs();
        write!(f, "{sign}{}.{:02}", cents / 100, cents % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Revenue {
        Revenue::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    /// The parser as it was, with 128-bit arithmetic throughout: the reference for the new one.
    fn parse_before(text: &str) -> Option<Revenue> {
        let bytes = text.as_bytes();
        let (negative, rest) = match bytes.first() {
            Some(b'-') => (true, &bytes[1..]),
            Some(b'+') => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        let (whole, fraction) = match rest.iter().position(|&b| b == b'.') {
            Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
            None => (rest, None),
        };
        let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        let well_formed = match fraction {
            None => !whole.is_empty() && digits(whole),
            Some(fraction) => !fraction.is_empty() && digits(whole) && digits(fraction),
        };
        let fraction = fraction.unwrap_or(&[]);
        if !well_formed || fraction.len() > MAX_FRACTION_DIGITS as usize {
            return None;
        }
        let mut units: i128 = 0;
        for &d in whole {
            units = units.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
        }
        units = units.checked_mul(SCALE)?;
        let mut place = SCALE;
        for &d in fraction {
            place /= 10;
            units = units.checked_add(i128::from(d - b'0') * place)?;
        }
        Some(Revenue(if negative { -units } else { units }))
    }

    #[test]
    fn amounts_parse_as_the_128_bit_parser_parsed_them() {
        let limit = (i128::MAX / SCALE).to_string();
        let mut cases: Vec<String> = vec![
            limit.clone(),
            // The last amounts that fit, and the first that do not.
            format!("{limit}.687303715884105727"),
            format!("-{limit}.687303715884105727"),
            format!("{limit}.687303715884105728"),
            format!("{limit}.999999999999999999"),
            format!("-{limit}.884105727"),
            format!("{limit}.884105728"),
            format!("{}", i128::MAX / SCALE + 1),
            "999999999999999999".into(),
            "1000000000000000000".into(),
            "999999999999999999.999999999999999999".into(),
            "0.1234567890123456789".into(),
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..50_000 {
            crate::next_random(&mut state);
            let len = (state % 44) as usize;
            let mut case = String::new();
            for i in 0..len {
                crate::next_random(&mut state);
                // Mostly digits, so long well-formed amounts come up too.
                let alphabet = b"0123456789012345678901234567890123456789.-+ a";
                case.push(alphabet[(state % alphabet.len() as u64) as usize] as char);
                if i == 0 && state.is_multiple_of(7) {
                    case.push('\u{e9}');
                }
            }
            cases.push(case);
        }
        for case in &cases {
            assert_eq!(Revenue::parse(case), parse_before(case), "{case:?}");
        }
        assert!(
            cases
                .iter()
                .filter(|case| parse_before(case).is_some())
                .count()
                > 1_000
        );
    }

    #[test]
    fn plain_decimals_parse_exactly() {
        assert_eq!(r("12").to_string(), "12.00");
        assert_eq!(r("4.00").to_string(), "4.00");
        assert_eq!(r("-3.5").to_string(), "-3.50");
        assert_eq!(r(".5").to_string(), "0.50");
        assert_eq!(r("+7.25").to_string(), "7.25");
        assert_eq!(r("0.000000000000000001"), Revenue(1));
    }

    #[test]
    fn anything_else_is_not_a_plain_decimal() {
        for bad in [
            "",
            "-",
            ".",
            "12.",
            "1e3",
            "1,5",
            " 12",
            "12 ",
            "$12",
            "--1",
            "0x10",
            "1.2.3",
            "١٢",
            "0.0000000000000000001",
        ] {
            assert_eq!(Revenue::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sums_stay_exact_until_written() {
        let mut total = Revenue::ZERO;
        for _ in 0..3 {
            total += r("0.005");
        }
        assert_eq!(
            total.to_string(),
            "0.02",
            "0.015 rounds half away from zero"
        );
        let mut thirds = Revenue::ZERO;
        for _ in 0..3 {
            thirds += r("0.333333333333333333");
        }
        assert_eq!(thirds.to_string(), "1.00");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(r("2.345").to_string(), "2.35");
        assert_eq!(r("2.3449").to_string(), "2.34");
        assert_eq!(r("-2.345").to_string(), "-2.35");
        assert_eq!(r("0.004").to_string(), "0.00");
        assert_eq!(r("0.995").to_string(), "1.00");
    }
}
