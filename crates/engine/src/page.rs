//! Page sizes and page tokens of every listing RPC: 0 means the default size, more than the
//! maximum is an error; a token is opaque to callers, and one that does not parse is refused
//! (the caller answers INVALID_PAGE_TOKEN).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// Items per page when the request says 0.
pub const DEFAULT_SIZE: u32 = 100;
/// The most items one page may hold.
pub const MAX_SIZE: u32 = 1000;

/// The number of items a `page_size` asks for; `None` when it is negative or over
/// [`MAX_SIZE`] (the caller answers INVALID_PAGE_SIZE).
pub fn size(page_size: i32) -> Option<u32> {
    match u32::try_from(page_size) {
        Ok(0) => Some(DEFAULT_SIZE),
        Ok(size) if size <= MAX_SIZE => Some(size),
        _ => None,
    }
}

/// `<micros><separator><id>`: the create (or finish) time and id of the last item served.
pub fn time_token(at: DateTime<Utc>, separator: char, id: &str) -> String {
    format!("{}{separator}{id}", at.timestamp_micros())
}

/// The time and id of a [`time_token`].
pub fn time_cursor(token: &str, separator: char) -> Option<(DateTime<Utc>, String)> {
    let (micros, id) = token.split_once(separator)?;
    let at = time_from_micros(micros.parse().ok()?)?;
    Some((at, id.to_owned()))
}

/// The name and id of the last item served, for listings ordered by name then id.
pub fn name_token(name: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{name}\n{id}"))
}

/// The name and id of a [`name_token`].
pub fn name_cursor(token: &str) -> Option<(String, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (name, id) = text.split_once('\n')?;
    Some((name.to_owned(), id.to_owned()))
}

/// A token that also carries the listing's filters, so it is refused under other filters.
pub fn filtered_token(filters: &str, last: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{filters}\u{1e}{last}"))
}

/// The filters and last item of a [`filtered_token`].
pub fn filtered_cursor(token: &str) -> Option<(String, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (filters, last) = text.strip_prefix("after:")?.rsplit_once('\u{1e}')?;
    Some((filters.to_owned(), last.to_owned()))
}

/// A time from a page token or a filter, when both stores can hold it (years 1 to 9999;
/// PostgreSQL refuses times before 4713 BC, which chrono can represent).
pub fn time_from_micros(micros: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_micros(micros).filter(|at| in_range(*at))
}

/// Whether both stores can hold `at` (years 1 to 9999).
pub fn in_range(at: chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&at.year())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_default_and_stop_at_the_maximum() {
        assert_eq!(super::size(0), Some(100));
        assert_eq!(super::size(7), Some(7));
        assert_eq!(super::size(1000), Some(1000));
        assert_eq!(super::size(1001), None);
        assert_eq!(super::size(-1), None);
    }

    #[test]
    fn tokens_round_trip_and_others_are_refused() {
        let at = super::time_from_micros(1_700_000_000_123_456).unwrap();
        let token = super::time_token(at, '~', "j1");
        assert_eq!(super::time_cursor(&token, '~'), Some((at, "j1".into())));
        assert_eq!(super::time_cursor(&token, ':'), None);
        assert_eq!(super::time_cursor("x~j1", '~'), None);
        let token = super::name_token("echo", "r-1");
        assert_eq!(
            super::name_cursor(&token),
            Some(("echo".into(), "r-1".into()))
        );
        assert_eq!(super::name_cursor("not base64!"), None);
        let token = super::filtered_token("a\u{1f}b", "x/y");
        assert_eq!(
            super::filtered_cursor(&token),
            Some(("a\u{1f}b".into(), "x/y".into()))
        );
        assert_eq!(super::filtered_cursor(&super::name_token("a", "b")), None);
    }

    #[test]
    fn times_outside_what_the_stores_hold_are_refused() {
        assert!(super::time_from_micros(0).is_some());
        assert!(super::time_from_micros(i64::MIN).is_none());
        assert!(super::time_from_micros(i64::MAX).is_none());
        assert!(super::time_from_micros(-62_135_596_800_000_000).is_some()); // 0001-01-01
        assert!(super::time_from_micros(-62_135_596_800_000_001).is_none());
    }
}
