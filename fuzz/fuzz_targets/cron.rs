//! Cron expressions and time zones come from CreateSchedule: parsing must never panic, and a
//! spec that parses has a next fire time after now.
//! Input: the expression, a newline, the time zone.

#![no_main]

use libfuzzer_sys::fuzz_target;
use skillos_engine::schedules::Spec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (expression, zone) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(spec) = Spec::cron(expression, zone) {
        let now = chrono::Utc::now();
        let next = spec.next_after(now).expect("a parsed spec has a next time");
        assert!(next > now);
    }
});
