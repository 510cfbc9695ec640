//! Timestamps as Go's RFC 3339 formats print them (what runc writes).

use std::time::{SystemTime, UNIX_EPOCH};

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// civil-from-days algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn split(t: SystemTime) -> (String, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, mo, da) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let base = format!(
        "{y:04}-{mo:02}-{da:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    (base, d.subsec_nanos())
}

/// `2006-01-02T15:04:05Z` in UTC (log lines).
pub fn rfc3339(t: SystemTime) -> String {
    format!("{}Z", split(t).0)
}

/// `2006-01-02T15:04:05.999999999Z` in UTC: nanoseconds with trailing
/// zeros dropped, as Go's RFC3339Nano (state's `created`).
pub fn rfc3339_nano(t: SystemTime) -> String {
    let (base, nanos) = split(t);
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_431_599); // 2026-11-23T10:59:59Z
        assert_eq!(rfc3339(t), "2026-11-23T10:59:59Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn nanos_drop_trailing_zeros() {
        let t = UNIX_EPOCH + Duration::new(0, 120_000_000);
        assert_eq!(rfc3339_nano(t), "1970-01-01T00:00:00.12Z");
        assert_eq!(rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(0, 1);
        assert_eq!(rfc3339_nano(t), "1970-01-01T00:00:00.000000001Z");
    }
}
