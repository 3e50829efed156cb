//! The AFL++ target: the same pipeline and invariants as `ragc-fuzz`, with
//! AFL's coverage feedback. A broken invariant is a panic, which AFL records
//! as a crash.
//!
//! ```text
//! cargo afl build --release --manifest-path fuzz/Cargo.toml --features afl --bin afl-target
//! cargo afl fuzz -i fuzz/seeds -o fuzz/out/afl -x fuzz/rag.dict fuzz/target/release/afl-target
//! ```

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Err(broken) = ragc_fuzz::exercise(data) {
            panic!("invariant: {broken}");
        }
    });
}
