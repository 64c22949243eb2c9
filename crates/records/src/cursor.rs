//! Listing cursors: opaque to callers, checked on the way back in.
//!
//! A cursor carries the id of the last record of a page plus a MAC keyed by the table's name, so
//! a cursor edited by hand, or issued for another table, is refused with a 400 instead of
//! reaching DynamoDB. The MAC is an integrity check, not a secret: a forged cursor could only
//! start a scan at another record of the same table.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::record::RecordId;

const VERSION: u8 = 1;
const MAC_LEN: usize = 12;
/// Longer than any position this API seals.
const MAX_CURSOR_CHARS: usize = 256;

#[derive(Clone)]
pub struct CursorCodec {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cursor was not issued by this API")]
pub struct ForeignCursor;

impl CursorCodec {
    pub fn new(table_name: &str) -> Self {
        Self {
            keyed: keyed(format!("sluice-records-cursor:{table_name}").as_bytes()),
        }
    }

    pub fn encode(&self, last: &RecordId) -> String {
        self.seal(last.as_str())
    }

    pub fn decode(&self, cursor: &str) -> Result<RecordId, ForeignCursor> {
        RecordId::parse(&self.open(cursor)?).ok_or(ForeignCursor)
    }

    /// Any position as a cursor: the text, then its MAC.
    pub fn seal(&self, position: &str) -> String {
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(position.as_bytes());
        let tag = self.tag(&bytes);
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position a cursor of [`CursorCodec::seal`] carries, if this codec sealed it.
    pub fn open(&self, cursor: &str) -> Result<String, ForeignCursor> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(ForeignCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| ForeignCursor)?;
        if bytes.len() < 1 + MAC_LEN || bytes[0] != VERSION {
            return Err(ForeignCursor);
        }
        let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_truncated_left(tag).map_err(|_| ForeignCursor)?;
        String::from_utf8(body[1..].to_vec()).map_err(|_| ForeignCursor)
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }

    fn tag(&self, bytes: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(bytes);
        mac.finalize().into_bytes().to_vec()
    }
}

/// HMAC keyed as RFC 2104 does it (a key longer than the block is hashed first, then padded
/// with zeros), through the constructor that cannot fail.
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    if key.len() <= block.len() {
        block[..key.len()].copy_from_slice(key);
    } else {
        block[..32].copy_from_slice(&Sha256::digest(key));
    }
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> RecordId {
        RecordId::for_fields("a", "a@b.com", "1234")
    }

    #[test]
    fn a_cursor_round_trips() {
        let codec = CursorCodec::new("records");
        assert_eq!(codec.decode(&codec.encode(&id())), Ok(id()));
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let codec = CursorCodec::new("records");
        let cursor = codec.encode(&id());
        let mut chars: Vec<char> = cursor.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        let edited: String = chars.into_iter().collect();
        assert_eq!(codec.decode(&edited), Err(ForeignCursor));
    }

    #[test]
    fn a_cursor_of_another_table_is_refused() {
        let cursor = CursorCodec::new("other-table").encode(&id());
        assert_eq!(
            CursorCodec::new("records").decode(&cursor),
            Err(ForeignCursor)
        );
    }

    #[test]
    fn garbage_is_refused() {
        let codec = CursorCodec::new("records");
        for junk in ["", "null", "%%%", "AAAA", &"A".repeat(200)] {
            assert_eq!(codec.decode(junk), Err(ForeignCursor), "{junk}");
        }
    }

    #[test]
    fn the_mac_is_the_standard_hmac_for_short_and_long_keys() {
        for key in [&b"sluice-records-cursor:records"[..], &[7u8; 100][..]] {
            let mut ours = keyed(key);
            ours.update(b"message");
            let mut standard = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
            standard.update(b"message");
            assert_eq!(
                ours.finalize().into_bytes(),
                standard.finalize().into_bytes()
            );
        }
    }
}
