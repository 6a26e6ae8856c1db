//! Keyset paging cursors. A cursor names the sort it belongs to and the last row's key, so a
//! page costs the same at row 10 and row 10 million, and a cursor from another sort is refused.

use crate::Code;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::DomainError;

/// A page of a keyset listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
    pub total: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort: String,
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}|{}", self.sort, self.key, self.id))
    }

    /// Decodes a cursor given back by a client; `sort` must match the request's sort.
    pub fn decode(text: &str, sort: &str) -> Result<Cursor, DomainError> {
        let bad = || {
            DomainError::invalid(
                "cursor",
                Code::InvalidCursor,
                "not a cursor from this listing; start again without it",
            )
        };
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.split('|');
        let (Some(s), Some(k), Some(i), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        if s != sort {
            return Err(bad());
        }
        Ok(Cursor { sort: s.to_owned(), key: k.parse().map_err(|_| bad())?, id: i.parse().map_err(|_| bad())? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let c = Cursor { sort: "-updated_at".into(), key: -42, id: 7 };
        assert_eq!(Cursor::decode(&c.encode(), "-updated_at"), Ok(c.clone()));
        assert_eq!(Cursor::decode(&c.encode(), "created_at").map_err(|e| e.code()), Err("invalid_cursor"));
        assert!(Cursor::decode("!!", "x").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("a|b|c"), "a").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("a|1|2|3"), "a").is_err());
    }
}
