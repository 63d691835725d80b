//! How records are stored: JSON behind a one-byte format version. JSON keeps records readable in a debugger
//! and lets fields be added with serde defaults; the version byte lets a later migration recognise an old shape.
//! Hot tables with millions of rows (drive entries) use their own compact encoding.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

const FORMAT_JSON_V1: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = vec![FORMAT_JSON_V1];
    // Serialising our own record types to a Vec cannot fail: they have string keys and no custom serialisers
    // that error.
    serde_json::to_writer(&mut bytes, value).unwrap_or_default();
    bytes
}

pub fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_JSON_V1, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Corrupt { table, message: e.to_string() })
        }
        Some((version, _)) => Err(StoreError::Corrupt { table, message: format!("unknown record format {version}") }),
        None => Err(StoreError::Corrupt { table, message: "empty record".into() }),
    }
}

/// Concatenates two ids into a membership key.
pub fn pair(a: [u8; 16], b: [u8; 16]) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&a);
    key[16..].copy_from_slice(&b);
    key
}

/// The range of membership keys whose first half is `a`.
pub fn pairs_of(a: [u8; 16]) -> std::ops::RangeInclusive<[u8; 32]> {
    pair(a, [0; 16])..=pair(a, [0xff; 16])
}

/// The second half of a membership key.
pub fn second(key: &[u8; 32]) -> [u8; 16] {
    let mut id = [0u8; 16];
    id.copy_from_slice(&key[16..]);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_bytes_are_reported() {
        let bytes = encode(&vec!["a", "b"]);
        assert_eq!(decode::<Vec<String>>("t", &bytes).unwrap(), vec!["a", "b"]);
        assert!(matches!(decode::<Vec<String>>("t", &[9, b'[']), Err(StoreError::Corrupt { .. })));
        assert!(decode::<Vec<String>>("t", &[]).is_err());
    }

    #[test]
    fn pair_ranges_cover_exactly_one_first_half() {
        let a = [1; 16];
        let range = pairs_of(a);
        assert!(range.contains(&pair(a, [0; 16])));
        assert!(range.contains(&pair(a, [0xff; 16])));
        assert!(!range.contains(&pair([2; 16], [0; 16])));
        assert_eq!(second(&pair(a, [3; 16])), [3; 16]);
    }
}
