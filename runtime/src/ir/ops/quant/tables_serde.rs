//! Serde for the 256-entry byte tables of the 8-bit ops: serde derives arrays only up to 32
//! elements, so tables are written as byte strings and their length checked when read back.

use crate::format::de_error;
use serde::de::Visitor;
use serde::{Deserializer, Serializer};
use std::fmt;
use std::sync::Arc;

/// Reads a byte string (or a sequence of bytes, for formats that write one).
fn read_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct Bytes;
    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a byte string")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut v = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                v.push(b);
            }
            Ok(v)
        }
    }
    d.deserialize_bytes(Bytes)
}

fn to_table<E: serde::de::Error>(bytes: &[u8]) -> Result<[u8; 256], E> {
    bytes
        .try_into()
        .map_err(|_| de_error(format!("a byte table has {} entries, not 256", bytes.len())))
}

/// `Arc<[u8; 256]>` fields.
pub(crate) mod table {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &Arc<[u8; 256]>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&t[..])
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<[u8; 256]>, D::Error> {
        Ok(Arc::new(to_table(&read_bytes(d)?)?))
    }
}

/// `Option<Arc<[u8; 256]>>` fields (an absent table is an empty byte string).
pub(crate) mod opt_table {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<Arc<[u8; 256]>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(t.as_deref().map_or(&[][..], |t| &t[..]))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Arc<[u8; 256]>>, D::Error> {
        let bytes = read_bytes(d)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(to_table(&bytes)?)))
    }
}

/// `Arc<Vec<[u8; 256]>>` fields: the tables back to back.
pub(crate) mod table_vec {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        t: &Arc<Vec<[u8; 256]>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(t.as_flattened())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<Vec<[u8; 256]>>, D::Error> {
        let bytes = read_bytes(d)?;
        if bytes.len() % 256 != 0 {
            return Err(de_error::<D::Error>(format!(
                "{} bytes of per-channel tables is not a multiple of 256",
                bytes.len()
            )));
        }
        let tables = bytes
            .chunks_exact(256)
            .map(to_table::<D::Error>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(tables))
    }
}
