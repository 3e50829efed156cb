//! Schedules: `daily(at: "02:00", keep: 7d)`, `weekly(...)`, `cron("...")`
//! and `none()`, checked into a [`Schedule`] (a cron expression and a
//! retention).
//!
//! Input: one call expression. Output: the schedule, or E0303 naming what
//! is wrong. Invariant: a schedule's cron expression names a date that
//! comes, so every backup runs.

use super::types::{check_value, mismatch, CallArgs, Type, Val};
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::model::Schedule;
use crate::syntax::{Expr, ExprKind, Ident};

fn parse_time(expr: &Expr) -> Result<(u32, u32), Diagnostic> {
    let ExprKind::Str(text) = &expr.kind else { return Err(mismatch(&Type::String, expr)) };
    let parsed = text.split_once(':').and_then(|(h, m)| {
        let valid = h.len() == 2 && m.len() == 2;
        Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)).filter(|(h, m)| valid && *h < 24 && *m < 60)
    });
    parsed.ok_or_else(|| {
        Diagnostic::error(Code::E0303, format!("`{text}` is not a time of day"), expr.span, "invalid time")
            .with_help("write a 24-hour time as \"HH:MM\", like \"02:00\"")
    })
}

/// What `backup = none()` reads as: no schedule, said on purpose.
pub const NO_BACKUP: &str = "none";

const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

pub(super) fn schedule_call(expr: &Expr, name: &Ident, args: &[crate::syntax::Arg]) -> Result<Schedule, Diagnostic> {
    let function = name.name.as_str();
    let (cron, call, gap) = match function {
        "hourly" => {
            let call = CallArgs::new(expr, function, args, &["minute", "keep"])?;
            call.expect_positional(0, "hourly(minute: 15, keep: 2d)")?;
            let minute = match call.named("minute") {
                None => 0,
                Some(value) => match &value.kind {
                    ExprKind::Int(n) if (0..60).contains(n) => *n,
                    _ => {
                        return Err(Diagnostic::error(Code::E0303, "`minute` must be 0 to 59", value.span, "invalid minute")
                            .with_help("write `hourly(minute: 15, keep: 2d)`"))
                    }
                },
            };
            (format!("{minute} * * * *"), call, None)
        }
        "daily" => {
            let call = CallArgs::new(expr, function, args, &["at", "keep"])?;
            call.expect_positional(0, "daily(at: \"02:00\", keep: 7d)")?;
            let (hour, minute) = call.named("at").map(parse_time).transpose()?.unwrap_or((2, 0));
            (format!("{minute} {hour} * * *"), call, None)
        }
        "weekly" => {
            let call = CallArgs::new(expr, function, args, &["on", "at", "keep"])?;
            call.expect_positional(0, "weekly(on: sun, at: \"03:00\", keep: 28d)")?;
            let (hour, minute) = call.named("at").map(parse_time).transpose()?.unwrap_or((2, 0));
            let day = match call.named("on") {
                None => 0,
                Some(value) => match check_value(value, &Type::Enum(WEEKDAYS.iter().map(ToString::to_string).collect())) {
                    Ok(Val::Enum(day)) => WEEKDAYS.iter().position(|d| *d == day).expect("member of WEEKDAYS"),
                    Ok(_) => unreachable!("check_value returns the type asked for"),
                    Err(error) => return Err(error.with_code(Code::E0303)),
                },
            };
            (format!("{minute} {hour} * * {day}"), call, None)
        }
        "cron" => {
            let call = CallArgs::new(expr, function, args, &["keep"])?;
            call.expect_positional(1, "cron(\"30 2 * * *\", keep: 7d)")?;
            let ExprKind::Str(text) = &call.positional[0].kind else { return Err(mismatch(&Type::String, call.positional[0])) };
            let gap = validate_cron(text).map_err(|problem| {
                Diagnostic::error(
                    Code::E0303,
                    format!("invalid cron expression `{text}`: {problem}"),
                    call.positional[0].span,
                    "invalid schedule",
                )
                .with_help("five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12), day of week (0-7)")
            })?;
            (text.split_whitespace().collect::<Vec<_>>().join(" "), call, Some(gap))
        }
        other => {
            return Err(Diagnostic::error(Code::E0303, format!("`{other}(...)` is not a schedule"), name.span, "unknown schedule")
                .with_help(did_you_mean(other, ["hourly", "daily", "weekly", "cron", "none"])))
        }
    };
    let keep_seconds = call.duration("keep", 7 * 86_400)?;
    let span = call.named("keep").map_or(expr.span, |keep| keep.span);
    if !keep_seconds.is_multiple_of(86_400) || keep_seconds == 0 {
        return Err(Diagnostic::error(Code::E0303, "backups are kept for whole days", span, "not a whole number of days")
            .with_help("write `keep: 7d` (or `2w`)"));
    }
    // `hourly`, `daily` and `weekly` always fire; `cron(...)` was checked to.
    let longest_gap_minutes = gap.or_else(|| crate::model::cron::longest_gap_minutes(&cron)).unwrap_or(u64::MAX);
    Ok(Schedule { cron, keep_days: keep_seconds / 86_400, longest_gap_minutes })
}

/// Checks a five-field cron expression; the error says which field is
/// wrong. Gives the longest gap between two runs, in minutes.
pub fn validate_cron(text: &str) -> Result<u64, String> {
    const FIELDS: [(&str, u32, u32); 5] =
        [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7)];
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 fields, found {}", fields.len()));
    }
    for (field, (name, low, high)) in fields.iter().zip(FIELDS) {
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (part, None),
            };
            if let Some(step) = step {
                match step.parse::<u32>() {
                    Ok(step) if step >= 1 && step <= high => {}
                    _ => return Err(format!("bad step `{step}` in the {name} field")),
                }
            }
            if range == "*" {
                continue;
            }
            let bounds: Vec<&str> = range.split('-').collect();
            if bounds.len() > 2 || bounds.iter().any(|b| b.is_empty()) {
                return Err(format!("bad range `{range}` in the {name} field"));
            }
            let mut values = Vec::new();
            for bound in &bounds {
                match bound.parse::<u32>() {
                    Ok(value) if (low..=high).contains(&value) => values.push(value),
                    _ => return Err(format!("`{bound}` is out of range for the {name} field ({low}-{high})")),
                }
            }
            if values.len() == 2 && values[0] > values[1] {
                return Err(format!("range `{range}` runs backwards in the {name} field"));
            }
        }
    }
    // The fields are each valid; the date they name must exist. With a day
    // of week given as well, cron fires on either, so some day always comes.
    crate::model::cron::longest_gap_minutes(text)
        .ok_or_else(|| format!("day {} of month {} never comes, so the backup would never run", fields[2], fields[3]))
}
