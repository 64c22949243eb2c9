//! AWS Glue Schema Registry's framing of a Kafka value, as its serializers write it:
//!
//! | byte | |
//! | --- | --- |
//! | 0 | header version, 3 |
//! | 1 | compression: 0 none, 5 zlib |
//! | 2–17 | the registry's id of the writer's schema version (a UUID) |
//! | 18– | the Avro datum, compressed as byte 1 says |
//!
//! The bridge writes uncompressed values (a callback is a few hundred bytes); the sink reads
//! both, so a producer using AWS's own serializer with compression on can share the topic.

use std::io::Read;

use thiserror::Error;
use uuid::Uuid;

pub const HEADER_VERSION: u8 = 3;
pub const COMPRESSION_NONE: u8 = 0;
pub const COMPRESSION_ZLIB: u8 = 5;
const HEADER_LEN: usize = 18;
/// A decompressed datum larger than this is refused (a callback is a few hundred bytes).
const MAX_DATUM_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    #[error("{0} bytes is shorter than the registry's 18-byte header")]
    Short(usize),
    #[error("header version {0} is not the registry's (3)")]
    HeaderVersion(u8),
    #[error("compression {0} is neither none (0) nor zlib (5)")]
    Compression(u8),
    #[error("the zlib datum does not inflate: {0}")]
    Inflate(String),
}

/// One framed value.
pub fn encode(version_id: Uuid, datum: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(HEADER_LEN + datum.len());
    framed.push(HEADER_VERSION);
    framed.push(COMPRESSION_NONE);
    framed.extend_from_slice(version_id.as_bytes());
    framed.extend_from_slice(datum);
    framed
}

/// The writer's version id and the (inflated) datum.
pub fn decode(framed: &[u8]) -> Result<(Uuid, Vec<u8>), WireError> {
    if framed.len() < HEADER_LEN {
        return Err(WireError::Short(framed.len()));
    }
    if framed[0] != HEADER_VERSION {
        return Err(WireError::HeaderVersion(framed[0]));
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&framed[2..HEADER_LEN]);
    let body = &framed[HEADER_LEN..];
    let datum = match framed[1] {
        COMPRESSION_NONE => body.to_vec(),
        COMPRESSION_ZLIB => {
            let mut inflated = Vec::new();
            flate2::read::ZlibDecoder::new(body)
                .take(MAX_DATUM_BYTES + 1)
                .read_to_end(&mut inflated)
                .map_err(|err| WireError::Inflate(err.to_string()))?;
            if inflated.len() as u64 > MAX_DATUM_BYTES {
                return Err(WireError::Inflate("larger than 1 MiB".into()));
            }
            inflated
        }
        other => return Err(WireError::Compression(other)),
    };
    Ok((Uuid::from_bytes(id), datum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const ID: Uuid = Uuid::from_u128(0x6a1d_3f2e_0b7c_4e5a_9d8f_1234_5678_9abc);

    #[test]
    fn a_framed_value_carries_the_version_id_before_the_datum() {
        let framed = encode(ID, b"\x0adatum");
        assert_eq!(&framed[..2], [3, 0]);
        assert_eq!(&framed[2..18], ID.as_bytes());
        assert_eq!(decode(&framed), Ok((ID, b"\x0adatum".to_vec())));
    }

    #[test]
    fn zlib_values_of_other_producers_are_inflated() {
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(b"the datum").unwrap();
        let mut framed = vec![3, 5];
        framed.extend_from_slice(ID.as_bytes());
        framed.extend_from_slice(&zlib.finish().unwrap());
        assert_eq!(decode(&framed), Ok((ID, b"the datum".to_vec())));
        framed.truncate(20);
        assert!(matches!(decode(&framed), Err(WireError::Inflate(_))));
    }

    #[test]
    fn what_is_not_the_registrys_framing_is_refused() {
        assert_eq!(decode(b"{\"json\":1}"), Err(WireError::Short(10)));
        let mut framed = encode(ID, b"x");
        framed[0] = 0; // Confluent's magic byte
        assert_eq!(decode(&framed), Err(WireError::HeaderVersion(0)));
        framed[0] = 3;
        framed[1] = 2;
        assert_eq!(decode(&framed), Err(WireError::Compression(2)));
    }
}
