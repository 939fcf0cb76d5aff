//! Wall-clock time in the unit JWTs use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch; a clock before 1970 reads as 0 rather than panicking.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A second at or after the current one, read more cheaply than [`unix_now`]: what a hit in
/// a thread's own cache checks `exp` against (`coarse_clock` in `benches/README.md`).
/// Linux's coarse clock lags the true time by up to one tick (1 to 10 ms), so a second is
/// added: no cache serves a token past its `exp`, and in its last second a token is looked
/// up in the shared cache instead.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // One call into the C library; std has no safe way to read this clock.
pub(crate) fn unix_now_or_later() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable `timespec` for the duration of the call.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) };
    match u64::try_from(now.tv_sec) {
        Ok(secs) if read == 0 => secs.saturating_add(1),
        _ => unix_now().saturating_add(1),
    }
}

/// [`unix_now`] itself where there is no coarse clock to read.
#[cfg(not(target_os = "linux"))]
pub(crate) fn unix_now_or_later() -> u64 {
    unix_now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_reading_is_never_earlier_and_at_most_two_seconds_later() {
        for _ in 0..1000 {
            let before = unix_now();
            let coarse = unix_now_or_later();
            let after = unix_now();
            assert!(coarse >= before, "{coarse} < {before}");
            assert!(coarse <= after + 2, "{coarse} > {after} + 2");
        }
    }
}
