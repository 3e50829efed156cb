//! Bounded minijinja rendering, for any target's run-time templates: a
//! render that passes its fuel or its output size fails with E0404 rather
//! than running for minutes or filling memory.
//!
//! Input: an environment, a template name, a context. Output: the text, or
//! an [`EmitError`] naming the template. Invariant: no artifact is larger
//! than [`MAX_ARTIFACT_BYTES`].

use std::sync::atomic::{AtomicUsize, Ordering};

use minijinja::Environment;

use super::{EmitError, TEMPLATE_LIMIT};
use crate::diag::Code;

/// Instructions one minijinja render may run when the user has templates
/// (which run in the same environment as the stdlib's): far above what any
/// template of the stdlib needs for the stack (a few hundred per service),
/// far below minutes of work (nested loops of `range(10000)`). See
/// docs/LIMITS.md.
fn template_fuel(services: usize) -> u64 {
    const BASE: u64 = 20_000_000;
    const PER_SERVICE: u64 = 20_000;
    BASE + PER_SERVICE * services as u64
}

/// Most bytes one rendered artifact may hold: a backup script or nginx site
/// for 10,000 services is under 5 MiB.
pub const MAX_ARTIFACT_BYTES: usize = 64 << 20;

/// Limits an environment that runs the user's templates (the stdlib's
/// alone need none): fuel, and every `{{ }}` counted, also inside
/// `{% filter %}` and `{% set %}` blocks, whose text is held in memory
/// rather than written out.
pub fn limit(env: &mut Environment<'_>, services: usize) {
    // Only then: counting fuel costs every instruction an atomic update.
    env.set_fuel(Some(template_fuel(services)));
    env.set_formatter(|out, state, value| {
        let printed = state.get_or_set_temp_object("ragc_printed", Printed::default);
        let bytes = value.as_str().map_or(0, str::len);
        if printed.0.fetch_add(bytes, Ordering::Relaxed) + bytes > MAX_ARTIFACT_BYTES {
            return Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, over_limit()));
        }
        minijinja::escape_formatter(out, state, value)
    });
}

/// Renders template `name`; a failure or a limit passed is an [`EmitError`].
pub fn render(env: &Environment<'_>, name: &str, context: &minijinja::Value) -> Result<String, EmitError> {
    let error = |e: minijinja::Error| {
        // The innermost cause says what failed; the outer ones say where.
        let mut message = e.to_string();
        let mut limit = e.kind() == minijinja::ErrorKind::OutOfFuel;
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            limit |= cause.downcast_ref::<minijinja::Error>().is_some_and(|e| e.kind() == minijinja::ErrorKind::OutOfFuel);
            source = cause.source();
        }
        let code = if limit || message.contains(&over_limit()) { TEMPLATE_LIMIT } else { Code::E0403 };
        EmitError { template: name.to_string(), message, code, span: None }
    };
    let template = env.get_template(name).map_err(error)?;
    let mut out = Bounded { bytes: Vec::new(), over: false };
    match template.render_captured_to(context, &mut out) {
        Ok(_) => Ok(String::from_utf8(out.bytes).expect("minijinja writes whole strings")),
        Err(_) if out.over => Err(EmitError { template: name.to_string(), message: over_limit(), code: TEMPLATE_LIMIT, span: None }),
        Err(e) => Err(error(e)),
    }
}

/// Bytes a render printed through `{{ }}` so far.
#[derive(Debug, Default)]
struct Printed(AtomicUsize);

impl minijinja::value::Object for Printed {}

fn over_limit() -> String {
    format!("the output is larger than {} MiB, the limit", MAX_ARTIFACT_BYTES >> 20)
}

/// A render's output, refusing to grow past [`MAX_ARTIFACT_BYTES`].
struct Bounded {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_ARTIFACT_BYTES {
            self.over = true;
            return Err(std::io::Error::other("output over the limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
