//! Per-phase benchmarks: parse, check (resolve against the kinds), emit and
//! diff, on the flagship example and on generated stacks of N services, so a
//! regression shows in the phase where it happened.
//!
//! Run: `cargo bench --bench phases` (stacks come from `scripts/gen-stack`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ragc::emit::EmitOptions;
use ragc::input::Input;
use ragc::input::UserTemplates;

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// The generated stack of `n` services, made once with `scripts/gen-stack`.
fn generated(n: usize) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("stack-{n}"));
    let path = dir.join("stack.rag");
    if !path.exists() {
        let status = Command::new("python3").arg("scripts/gen-stack").arg(n.to_string()).arg(&dir).status().expect("python3 runs");
        assert!(status.success(), "scripts/gen-stack failed");
    }
    std::fs::read_to_string(path).expect("generated stack")
}

fn inputs() -> Vec<(String, Input)> {
    let mut inputs = vec![("flagship".to_string(), Input::load(Path::new("examples/rag-engine-mini.rag")).expect("flagship"))];
    for n in SIZES {
        inputs.push((format!("{n}"), Input::from_text("stack.rag", &generated(n))));
    }
    inputs
}

fn phases(c: &mut Criterion) {
    for (name, input) in inputs() {
        let mut group = c.benchmark_group(format!("stack-{name}"));
        group.throughput(Throughput::Bytes(input.stack_text.len() as u64));
        if input.stack_text.len() > 1_000_000 {
            group.sample_size(10).measurement_time(Duration::from_secs(20));
        }
        group.bench_function(BenchmarkId::new("parse", &name), |b| b.iter(|| ragc::syntax::parse(0, &input.stack_text).expect("parses")));
        group.bench_function(BenchmarkId::new("check", &name), |b| {
            b.iter(|| {
                let compilation = ragc::analyze(&input);
                assert!(!compilation.has_errors());
                compilation
            });
        });
        let stack = ragc::analyze(&input).stack.expect("checks");
        group.bench_function(BenchmarkId::new("emit", &name), |b| {
            b.iter(|| ragc::emit::emit(&stack, &EmitOptions::default(), &UserTemplates::new()).expect("emits"));
        });
        let plan = ragc::emit::emit(&stack, &EmitOptions::default(), &UserTemplates::new()).expect("emits");
        let old = plan.render_for_review();
        let new = old.replacen("restart: unless-stopped", "restart: always", 1);
        group.bench_function(BenchmarkId::new("diff", &name), |b| {
            b.iter(|| similar::TextDiff::from_lines(&old, &new).unified_diff().context_radius(3).to_string());
        });
        group.finish();
    }
}

criterion_group!(benches, phases);
criterion_main!(benches);
