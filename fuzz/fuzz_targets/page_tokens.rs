//! Page tokens come back from callers: decoding must never panic, and a token that decodes
//! encodes back to one that decodes to the same cursor.

#![no_main]

use libfuzzer_sys::fuzz_target;
use skillos_engine::page;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    for separator in [':', '~'] {
        if let Some((at, id)) = page::time_cursor(token, separator) {
            assert!(page::in_range(at));
            let again = page::time_token(at, separator, &id);
            assert_eq!(page::time_cursor(&again, separator), Some((at, id)));
        }
    }
    if let Some((name, id)) = page::name_cursor(token) {
        assert_eq!(page::name_cursor(&page::name_token(&name, &id)), Some((name, id)));
    }
    if let Some((filters, last)) = page::filtered_cursor(token) {
        let again = page::filtered_token(&filters, &last);
        assert_eq!(page::filtered_cursor(&again), Some((filters, last)));
    }
});
