//! Page sizes of every listing RPC: 0 means the default, more than the maximum is an error.

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
    fn times_outside_what_the_stores_hold_are_refused() {
        assert!(super::time_from_micros(0).is_some());
        assert!(super::time_from_micros(i64::MIN).is_none());
        assert!(super::time_from_micros(i64::MAX).is_none());
        assert!(super::time_from_micros(-62_135_596_800_000_000).is_some()); // 0001-01-01
        assert!(super::time_from_micros(-62_135_596_800_000_001).is_none());
    }
}
