//! Keyset (cursor) pagination shared by every list.
//!
//! A list is ordered by a unique key; the cursor is that key of the last item returned,
//! base64url-encoded so callers treat it as opaque. Keyset pages stay correct while rows are
//! inserted, unlike offsets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::{Error, ErrorCode};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// An opaque position in a list: the sort key of the last item seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("k1:{}", self.0))
    }

    pub fn decode(text: &str) -> Result<Cursor, Error> {
        let invalid = || {
            Error::new(
                ErrorCode::InvalidCursor,
                "the cursor is not valid for this list",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        text.strip_prefix("k1:")
            .map(|k| Cursor(k.to_owned()))
            .ok_or_else(invalid)
    }
}

/// What a caller asked for: at most `limit` items after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

impl PageRequest {
    /// Validates raw query values (`limit` 1..=500, default 50; `cursor` opaque).
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<PageRequest, Error> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::new(
                ErrorCode::InvalidQuery,
                format!("limit must be between 1 and {MAX_LIMIT}"),
            )
            .with("field", "limit"));
        }
        let after = cursor.map(Cursor::decode).transpose()?.map(|c| c.0);
        Ok(PageRequest { limit, after })
    }

    /// For lists keyed by a sequence number: the number after which to start (0 for the first page).
    pub fn after_seq(&self) -> Result<i64, Error> {
        match &self.after {
            Some(a) => a.parse().map_err(|_| {
                Error::new(
                    ErrorCode::InvalidCursor,
                    "the cursor is not valid for this list",
                )
            }),
            None => Ok(0),
        }
    }

    /// How many rows to fetch: one more than the limit tells whether another page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit as i64 + 1
    }
}

/// One page of a list and the cursor to the next page, if any.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in key order.
    pub fn from_rows(
        mut rows: Vec<T>,
        request: &PageRequest,
        key: impl Fn(&T) -> String,
    ) -> Page<T> {
        let more = rows.len() > request.limit as usize;
        rows.truncate(request.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| Cursor(key(r)).encode())
        } else {
            None
        };
        Page {
            data: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limit_bounds() {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 50);
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(501), None).is_err());
        assert_eq!(PageRequest::parse(Some(1), None).unwrap().fetch_limit(), 2);
    }

    #[test]
    fn sequence_cursors() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap().after_seq().unwrap(),
            0
        );
        let next = Cursor("41".into()).encode();
        assert_eq!(
            PageRequest::parse(None, Some(&next))
                .unwrap()
                .after_seq()
                .unwrap(),
            41
        );
        let text = Cursor("abc".into()).encode();
        assert_eq!(
            PageRequest::parse(None, Some(&text))
                .unwrap()
                .after_seq()
                .unwrap_err()
                .code,
            ErrorCode::InvalidCursor
        );
    }

    #[test]
    fn garbage_cursor_is_rejected() {
        let e = PageRequest::parse(None, Some("%%%")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidCursor);
        let foreign = URL_SAFE_NO_PAD.encode("not-ours");
        assert!(PageRequest::parse(None, Some(&foreign)).is_err());
    }

    #[test]
    fn page_reports_next_only_when_more() {
        let req = PageRequest::parse(Some(2), None).unwrap();
        let page = Page::from_rows(vec![1, 2, 3], &req, |n| n.to_string());
        assert_eq!(page.data, vec![1, 2]);
        let next = PageRequest::parse(Some(2), page.next_cursor.as_deref()).unwrap();
        assert_eq!(next.after.as_deref(), Some("2"));
        let last = Page::from_rows(vec![3], &req, |n| n.to_string());
        assert!(last.next_cursor.is_none());
    }

    proptest! {
        #[test]
        fn cursor_round_trips(key in ".*") {
            let c = Cursor(key.clone());
            prop_assert_eq!(Cursor::decode(&c.encode()).unwrap().0, key);
        }
    }
}
