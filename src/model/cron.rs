//! When a checked five-field cron expression fires: enough to say how long a
//! healthy schedule can go between two runs, so that a health check can tell
//! a late backup from a dead one.

/// Days simulated: eight years hold every weekday on every date of every
/// month, leap days included.
const DAYS: i64 = 8 * 366;

/// One field's allowed values, from a checked expression (see
/// `check::schedule::validate_cron`); `None` when the field is `*`.
fn field(text: &str, low: u32, high: u32) -> Option<Vec<bool>> {
    if text == "*" {
        return None;
    }
    let mut allowed = vec![false; high as usize + 1];
    for part in text.split(',') {
        let (range, step) = part.split_once('/').map_or((part, 1), |(range, step)| (range, step.parse().unwrap_or(1)));
        let (start, end) = match range {
            "*" => (low, high),
            _ => match range.split_once('-') {
                Some((a, b)) => (a.parse().unwrap_or(low), b.parse().unwrap_or(high)),
                // `5/15` runs from 5 to the field's end.
                None if part.contains('/') => (range.parse().unwrap_or(low), high),
                None => {
                    let value = range.parse().unwrap_or(low);
                    (value, value)
                }
            },
        };
        for value in (start..=end.min(high)).step_by(step.max(1) as usize) {
            allowed[value as usize] = true;
        }
    }
    Some(allowed)
}

/// Year, month (1-12), day (1-31) and weekday (0 = Sunday) of a day counted
/// from 1970-01-01 (Howard Hinnant's civil-from-days).
fn civil(days: i64) -> (i64, u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 4).rem_euclid(7) as u32;
    (year, month, day, weekday)
}

/// The longest time, in minutes, between two runs of `expression`, or
/// `None` when it never fires (`0 0 31 2 *`).
pub fn longest_gap_minutes(expression: &str) -> Option<u64> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields[..] else { return None };
    let (minutes, hours) = (field(minute, 0, 59), field(hour, 0, 23));
    let times: Vec<i64> = (0..24 * 60)
        .filter(|t| hours.as_ref().is_none_or(|h| h[(t / 60) as usize]) && minutes.as_ref().is_none_or(|m| m[(t % 60) as usize]))
        .collect();
    let (doms, months) = (field(dom, 1, 31), field(month, 1, 12));
    // 7 is Sunday too.
    let dows = field(dow, 0, 7).map(|mut d| {
        d[0] |= d[7];
        d
    });
    let (first, last) = (*times.first()?, *times.last()?);
    let fires = |day: i64| {
        let (_, m, d, w) = civil(day);
        let month_ok = months.as_ref().is_none_or(|allowed| allowed[m as usize]);
        // cron's rule: when both day fields are restricted, either may match.
        let day_ok = match (&doms, &dows) {
            (Some(by_date), Some(by_weekday)) => by_date[d as usize] || by_weekday[w as usize],
            (Some(by_date), None) => by_date[d as usize],
            (None, Some(by_weekday)) => by_weekday[w as usize],
            (None, None) => true,
        };
        month_ok && day_ok
    };
    let within_a_day = times.windows(2).map(|pair| pair[1] - pair[0]).max().unwrap_or(0);
    // Every day (the schedules `hourly` and `daily` write): no calendar needed.
    if doms.is_none() && months.is_none() && dows.is_none() {
        return Some(within_a_day.max(1440 + first - last) as u64);
    }
    // From 2024-01-01: a fixed window, so the answer never depends on today.
    // Weekdays alone repeat every week; dates need the leap-year cycle.
    let start = 19_723;
    let window = if doms.is_none() && months.is_none() { 15 } else { DAYS };
    let days: Vec<i64> = (start..start + window).filter(|day| fires(*day)).collect();
    let across_days = days.windows(2).map(|pair| (pair[1] - pair[0]) * 1440 + first - last).max();
    // One firing day in eight years (29 February under a weekday rule is still
    // more): the gap is as long as the window.
    let across_days = across_days.or_else(|| (!days.is_empty()).then_some(DAYS * 1440))?;
    Some(within_a_day.max(across_days) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_of_the_schedules_ragc_writes() {
        assert_eq!(longest_gap_minutes("15 * * * *"), Some(60));
        assert_eq!(longest_gap_minutes("0 2 * * *"), Some(1440));
        assert_eq!(longest_gap_minutes("30 3 * * 0"), Some(7 * 1440));
        assert_eq!(longest_gap_minutes("30 3 * * 7"), Some(7 * 1440));
        assert_eq!(longest_gap_minutes("0 2,14 * * *"), Some(720));
        assert_eq!(longest_gap_minutes("*/20 8-17 * * 1-5"), Some(2 * 1440 + 6 * 60 + 20 + 8 * 60));
        // The 1st of every month: the longest month is 31 days.
        assert_eq!(longest_gap_minutes("0 0 1 * *"), Some(31 * 1440));
        // Either day field matches when both are restricted.
        assert_eq!(longest_gap_minutes("0 0 1 * 1"), Some(7 * 1440));
        // 29 February: every four years.
        assert_eq!(longest_gap_minutes("0 0 29 2 *"), Some((366 + 365 * 3) * 1440));
        assert_eq!(longest_gap_minutes("0 0 31 2 *"), None);
        assert_eq!(longest_gap_minutes("5/15 * * * *"), Some(15));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 4));
        assert_eq!(civil(19_723), (2024, 1, 1, 1));
        assert_eq!(civil(19_723 + 59), (2024, 2, 29, 4));
    }
}
