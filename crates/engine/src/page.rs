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
}
