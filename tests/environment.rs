//! ragc's environment as the attacker: links and special files beside the
//! stack, hostile templates, forged sentinels, files ragc does not own in
//! its output directory, a second ragc running at the same time. Each test
//! is one promise of docs/SECURITY.md.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use ragc::emit::EmitOptions;
use ragc::input::Input;

fn ragc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ragc")).args(args).env("NO_COLOR", "1").output().expect("ragc runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Copies a directory tree (regular files only).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The custom-kind example (a user kind with backup templates) in a fresh directory.
fn custom_kind() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(Path::new("examples/custom-kind"), dir.path());
    let stack = dir.path().join("stack.rag");
    (dir, stack)
}

/// `Input::load` on another thread, so that a test of a FIFO fails instead of hanging.
fn load_within(stack: &Path, limit: Duration) -> Result<Input, String> {
    let (send, receive) = mpsc::channel();
    let stack = stack.to_path_buf();
    std::thread::spawn(move || {
        let _ = send.send(Input::load(&stack).map_err(|e| format!("{} {e}", e.code)));
    });
    receive.recv_timeout(limit).unwrap_or_else(|_| Err("timed out: Input::load blocked".into()))
}

#[test]
fn a_template_linked_to_proc_self_environ_is_refused() {
    let (dir, stack) = custom_kind();
    let template = dir.path().join("kinds/minio/backup.sh.j2");
    fs::remove_file(&template).unwrap();
    symlink("/proc/self/environ", &template).unwrap();
    let error = load_within(&stack, Duration::from_secs(10)).expect_err("a linked template is refused");
    assert!(error.starts_with("E0005 ") && error.contains("backup.sh.j2") && error.contains("symbolic link"), "{error}");
    let output = Command::new(env!("CARGO_BIN_EXE_ragc"))
        .args(["compile", stack.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env("RAGC_TEST_SECRET", "environ-leak-7f3a")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("error[E0005]"), "{}", stderr(&output));
    assert!(!dir.path().join("deploy").exists(), "nothing is written");
    let diff = ragc(&["diff", stack.to_str().unwrap()]);
    assert!(!String::from_utf8_lossy(&diff.stdout).contains("environ-leak"));
}

#[test]
fn a_kind_file_linked_outside_is_refused_and_never_quoted() {
    let (dir, stack) = custom_kind();
    let outside = tempfile::tempdir().unwrap();
    let shadow = outside.path().join("shadow");
    fs::write(&shadow, "root:$6$very-secret-hash:19000:0:99999:7:::\n").unwrap();
    symlink(&shadow, dir.path().join("kinds/zz.rag")).unwrap();
    let output = ragc(&["check", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("error[E0005]") && text.contains("zz.rag"), "{text}");
    assert!(!text.contains("very-secret-hash"), "the file's text is quoted: {text}");
    // A linked template directory and a linked kinds/ are refused the same way.
    fs::remove_file(dir.path().join("kinds/zz.rag")).unwrap();
    symlink(outside.path(), dir.path().join("kinds/other")).unwrap();
    assert!(load_within(&stack, Duration::from_secs(10)).unwrap_err().starts_with("E0005 "));
    let moved = tempfile::tempdir().unwrap();
    fs::remove_file(dir.path().join("kinds/other")).unwrap();
    fs::rename(dir.path().join("kinds"), moved.path().join("kinds")).unwrap();
    symlink(moved.path().join("kinds"), dir.path().join("kinds")).unwrap();
    assert!(load_within(&stack, Duration::from_secs(10)).unwrap_err().starts_with("E0005 "));
}

#[test]
fn a_fifo_named_like_a_template_is_refused_without_hanging() {
    let (dir, stack) = custom_kind();
    let template = dir.path().join("kinds/minio/backup.sh.j2");
    fs::remove_file(&template).unwrap();
    let made = Command::new("mkfifo").arg(&template).status().unwrap();
    assert!(made.success());
    let error = load_within(&stack, Duration::from_secs(10)).expect_err("a FIFO is refused");
    assert!(error.starts_with("E0005 ") && error.contains("FIFO"), "{error}");
    // A FIFO named like a kind file too.
    fs::remove_file(&template).unwrap();
    fs::copy("examples/custom-kind/kinds/minio/backup.sh.j2", &template).unwrap();
    assert!(Command::new("mkfifo").arg(dir.path().join("kinds/pipe.rag")).status().unwrap().success());
    assert!(load_within(&stack, Duration::from_secs(10)).unwrap_err().starts_with("E0005 "));
}

#[test]
fn terminal_escapes_in_the_input_are_shown_escaped() {
    let text = "stack s {}\nservice db: image { image = \"nginx:1.27.3\u{1b}]0;owned\u{7}\u{1b}[2J\", port = 80 }\n";
    let input = Input::from_text("stack\u{1b}[31m.rag", text);
    let (compilation, _) = ragc::compile(&input, &EmitOptions::default());
    let rendered = compilation.sources.render(&compilation.diagnostics, false);
    assert!(rendered.contains("error["), "{rendered}");
    assert!(!rendered.chars().any(|c| c.is_control() && c != '\n'), "a control character reached the terminal: {rendered:?}");
    assert!(rendered.contains("\\u{1b}]0;owned\\u{7}"), "{rendered}");
    // The caret still sits under the string, escapes included.
    let source_line = rendered.lines().find(|l| l.contains("service db")).unwrap();
    let caret_line = rendered.lines().find(|l| l.contains('^')).unwrap();
    assert_eq!(caret_line.find('^'), source_line.find("\"nginx"), "{rendered}");
    assert_eq!(caret_line.matches('^').count(), "\"nginx:1.27.3\\u{1b}]0;owned\\u{7}\\u{1b}[2J\"".len(), "{rendered}");
    // In colour, only ragc's own escapes remain.
    let coloured = compilation.sources.render(&compilation.diagnostics, true);
    assert!(!coloured.contains("\u{1b}]0;") && !coloured.contains("\u{1b}[2J"), "{coloured:?}");
}

/// Runs the binary with a memory cap (so that the old behaviour fails
/// instead of taking the machine) and a time limit (killed past it).
fn ragc_bounded(args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -v 3000000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ragc"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut text = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut text).unwrap();
            return (status.code(), text);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return (None, format!("killed after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn nested_loops_in_a_template_stop_at_the_fuel_limit() {
    let (dir, stack) = custom_kind();
    fs::write(
        dir.path().join("kinds/minio/restore.sh.j2"),
        "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}{% endfor %}{% endfor %}{% endfor %}\n",
    )
    .unwrap();
    let (code, text) = ragc_bounded(&["compile", stack.to_str().unwrap()], Duration::from_secs(90));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error[E0404]") && text.contains("fuel"), "{text}");
    assert!(!dir.path().join("deploy").exists());
    // A kind string has its own, smaller fuel.
    let kind = fs::read_to_string(dir.path().join("kinds/minio.rag")).unwrap();
    fs::write(dir.path().join("kinds/minio/restore.sh.j2"), fs::read("examples/custom-kind/kinds/minio/restore.sh.j2").unwrap()).unwrap();
    let looping = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}";
    fs::write(
        dir.path().join("kinds/minio.rag"),
        kind.replace("\"minio/minio:{{ version }}\"", &format!("\"minio/minio:{{{{ version }}}}{looping}\"")),
    )
    .unwrap();
    let (code, text) = ragc_bounded(&["check", stack.to_str().unwrap()], Duration::from_secs(30));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error[E0402]") && text.contains("fuel"), "{text}");
}

#[test]
fn a_template_printing_without_bound_stops_at_the_output_limit() {
    for template in [
        // Printed straight out...
        "{% set s = \"x\" * 1000000 %}{% for a in range(10000) %}{{ s }}{{ s }}{% endfor %}\n",
        // ... and held in memory by a block that captures its text.
        "{% set s = \"x\" * 10000000 %}{% set t %}{% for a in range(10000) %}{{ s }}{% endfor %}{% endset %}{{ t|length }}\n",
    ] {
        let (dir, stack) = custom_kind();
        fs::write(dir.path().join("kinds/minio/backup.sh.j2"), template).unwrap();
        let (code, text) = ragc_bounded(&["compile", stack.to_str().unwrap()], Duration::from_secs(60));
        assert_eq!(code, Some(1), "{template}: {text}");
        assert!(text.contains("error[E0404]") && text.contains("64 MiB"), "{text}");
    }
}

fn compile_text(text: &str) -> (Vec<String>, Option<ragc::plan::Plan>) {
    let input = Input::from_text("stack.rag", text);
    let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
    let rendered = compilation.sources.render(&compilation.diagnostics, false);
    (rendered.split("\n\n").map(str::to_string).collect(), plan)
}

fn compose_of(plan: &ragc::plan::Plan) -> String {
    match &plan.get("compose.yaml").unwrap().contents {
        ragc::plan::Contents::Text(text) => text.clone(),
        ragc::plan::Contents::Secrets(_) | ragc::plan::Contents::SecretFile(_) => unreachable!(),
    }
}

#[test]
fn a_kind_string_cannot_forge_a_secret_sentinel() {
    let kind = |value: &str| {
        format!(
            "stack s {{}}\nsecret other = generate(hex, 32)\nkind evil {{\n  field pw : secret = generate(alnum, 20)\n  image = \"nginx:1.27.3\"\n  port = 8080\n  env {{\n    X = \"{value}\"\n  }}\n}}\nservice web: evil {{}}\nservice db: image {{ image = \"nginx:1.27.3\", port = 80, env {{ O = other }} }}\n"
        )
    };
    // Jinja's own escapes write the reserved characters: an undeclared
    // variable, a secret given to another service, a stray half.
    for forged in [r"{{ '\\uE000HOME\\uE001' }}", r"{{ '\\uE000OTHER\\uE001' }}", r"a{{ '\\uE000' }}b", r"{{ pw[0] ~ 'HOME' ~ pw[-1] }}"] {
        let (diagnostics, plan) = compile_text(&kind(forged));
        assert!(plan.is_none(), "{forged} compiled: {}", plan.map(|p| compose_of(&p)).unwrap_or_default());
        assert!(diagnostics.iter().any(|d| d.starts_with("error[E0402]")), "{forged}: {diagnostics:?}");
    }
    // A secret the kind is given still flows through a template.
    let (diagnostics, plan) = compile_text(&kind("x://u:{{ pw }}@h/{{ 'db' | upper }}"));
    let compose = compose_of(&plan.unwrap_or_else(|| panic!("{diagnostics:?}")));
    assert!(compose.contains("X: \"x://u:${WEB_PW:?WEB_PW is not set: see .env.production}@h/DB\""), "{compose}");
    assert!(!compose.contains("${HOME"), "{compose}");
}

/// The flagship in a fresh directory, compiled once into `deploy/`.
fn compiled_flagship() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.rag");
    fs::copy("examples/rag-engine-mini.rag", &stack).unwrap();
    let output = ragc(&["compile", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let deploy = dir.path().join("deploy");
    (dir, stack, deploy)
}

#[test]
fn compile_removes_only_files_it_wrote() {
    let (_dir, stack, deploy) = compiled_flagship();
    // The operator's own copies, byte for byte ragc's files, header and all.
    fs::copy(deploy.join("compose.yaml"), deploy.join("compose.yaml.bak")).unwrap();
    fs::copy(deploy.join("backup/backup.sh"), deploy.join("backup/backup.sh.orig")).unwrap();
    fs::create_dir(deploy.join("old")).unwrap();
    fs::copy(deploy.join("Dockerfile.api"), deploy.join("old/Dockerfile.api")).unwrap();
    fs::copy(deploy.join("compose.production.yaml"), deploy.join("old/compose.production.yaml")).unwrap();
    // The stack drops the worker: its Dockerfile is ragc's, and goes.
    let text = fs::read_to_string(&stack).unwrap();
    let worker = text.find("service worker").unwrap();
    let end = text[worker..].find("\n}\n").map(|at| worker + at + 3).unwrap();
    fs::write(&stack, format!("{}{}", &text[..worker], &text[end..])).unwrap();
    let had_worker = deploy.join("Dockerfile.worker").exists();
    let output = ragc(&["compile", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for kept in ["compose.yaml.bak", "backup/backup.sh.orig", "old/Dockerfile.api", "old/compose.production.yaml"] {
        assert!(deploy.join(kept).is_file(), "{kept} was removed: {}", stderr(&output));
    }
    if had_worker {
        assert!(!deploy.join("Dockerfile.worker").exists(), "a file ragc wrote and no longer generates stays");
    }
    assert!(!stderr(&output).contains(".bak") && !stderr(&output).contains("old/"), "{}", stderr(&output));
}

#[test]
fn a_second_stack_is_refused_in_the_first_ones_directory() {
    let (dir, _stack, deploy) = compiled_flagship();
    let before: Vec<(PathBuf, Vec<u8>)> = ["compose.yaml", ".env.production", "backup/backup.sh"]
        .iter()
        .map(|path| (deploy.join(path), fs::read(deploy.join(path)).unwrap()))
        .collect();
    let other = dir.path().join("other.rag");
    fs::write(&other, "stack other {}\nservice web: image { image = \"nginx:1.27.3\", port = 8080 }\n").unwrap();
    let output = ragc(&["compile", other.to_str().unwrap(), "-o", deploy.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("error[E0605]") && text.contains("`rag-engine`") && text.contains("-o DIR"), "{text}");
    assert_eq!(ragc(&["compile", other.to_str().unwrap(), "-o", deploy.to_str().unwrap(), "--force"]).status.code(), Some(1));
    // `diff` has no diff to show: 2, as for any directory it can't compare.
    for (command, code) in [("check", 1), ("diff", 2)] {
        let output = ragc(&[command, other.to_str().unwrap(), "-o", deploy.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(code), "{command}: {}", stderr(&output));
        assert!(stderr(&output).contains("error[E0605]"), "{command}: {}", stderr(&output));
    }
    for (path, bytes) in before {
        assert_eq!(fs::read(&path).unwrap(), bytes, "{} changed", path.display());
    }
}

#[test]
fn a_committed_deploy_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.rag");
    fs::copy("examples/rag-engine-mini.rag", &stack).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), dir.path().join("deploy")).unwrap();
    for args in [vec!["compile", stack.to_str().unwrap()], vec!["check", stack.to_str().unwrap()]] {
        let output = ragc(&args);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains("error[E0603]") && stderr(&output).contains("is a symbolic link"), "{}", stderr(&output));
    }
    let slash = format!("{}/", dir.path().join("deploy").display());
    assert_eq!(ragc(&["compile", stack.to_str().unwrap(), "-o", &slash]).status.code(), Some(2));
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0, "nothing was written through the link");
}

#[test]
fn a_killed_runs_scratch_files_are_cleaned_even_when_nothing_changes() {
    let (_dir, stack, deploy) = compiled_flagship();
    // What a run killed mid-write leaves: a staged file, a link to the
    // env file as it was before a rotation (its old secrets), one in a subdirectory.
    fs::hard_link(deploy.join(".env.production"), deploy.join(".ragc-old-Xk2a9q")).unwrap();
    fs::write(deploy.join(".ragc-tmp-3hG7aa"), "partial").unwrap();
    fs::write(deploy.join("backup/.ragc-tmp-9aQ1zz"), "partial").unwrap();
    let output = ragc(&["compile", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("unchanged") && !stderr(&output).contains("created"), "{}", stderr(&output));
    for gone in [".ragc-old-Xk2a9q", ".ragc-tmp-3hG7aa", "backup/.ragc-tmp-9aQ1zz"] {
        assert!(!deploy.join(gone).exists(), "{gone} survived");
    }
    // And after a rotation, which writes only the env file.
    fs::write(deploy.join(".ragc-tmp-4kK2bb"), "partial").unwrap();
    let output = ragc(&["rotate", stack.to_str().unwrap(), "JWT_SECRET"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let left: Vec<_> = fs::read_dir(&deploy)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".ragc-tmp-") || name.starts_with(".ragc-old-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_compile_waits_for_the_output_directory_lock_or_gives_up_clearly() {
    let (_dir, stack, deploy) = compiled_flagship();
    // Another ragc holds the lock (as this test process does now).
    let held = fs::File::open(&deploy).unwrap();
    held.lock().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ragc"))
        .args(["compile", stack.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env("RAGC_LOCK_TIMEOUT", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("waiting for it to finish") && text.contains("error[E0606]"), "{text}");
    // Released while a compile waits: it goes on and finishes.
    let mut waiting = Command::new(env!("CARGO_BIN_EXE_ragc"))
        .args(["rotate", stack.to_str().unwrap(), "JWT_SECRET"])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let env_before = fs::read(deploy.join(".env.production")).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(fs::read(deploy.join(".env.production")).unwrap(), env_before, "rotate wrote while the lock was held");
    held.unlock().unwrap();
    let status = waiting.wait().unwrap();
    assert!(status.success());
    assert_ne!(fs::read(deploy.join(".env.production")).unwrap(), env_before);
}

/// Four compiles at once, two of each version: each succeeds (before the
/// lock, one would fail on a file the other changed, or remove the other's
/// staged files), and the files are all of one version.
#[test]
fn parallel_compiles_of_two_versions_never_leave_a_mix() {
    let (dir, stack, deploy) = compiled_flagship();
    let text = fs::read_to_string(&stack).unwrap();
    let other = dir.path().join("other.rag");
    // The same stack, another version of every file that mentions the concurrency.
    fs::write(&other, text.replace("concurrency=4", "concurrency=8").replace("LOG_LEVEL      = \"info\"", "LOG_LEVEL      = \"debug\""))
        .unwrap();
    for round in 0..15 {
        let spawn = |file: &Path| {
            Command::new(env!("CARGO_BIN_EXE_ragc"))
                .args(["compile", file.to_str().unwrap(), "-o", deploy.to_str().unwrap()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut runs = [spawn(&stack), spawn(&other), spawn(&stack), spawn(&other)];
        assert!(runs.iter_mut().all(|run| run.wait().unwrap().success()), "round {round}");
        let in_sync = |file: &Path| ragc(&["check", file.to_str().unwrap(), "-o", deploy.to_str().unwrap()]).status.code() == Some(0);
        assert!(in_sync(&stack) || in_sync(&other), "round {round}: the output is a mix of both versions");
    }
}

#[test]
fn two_stacks_on_one_host_never_share_an_nginx_upstream_name() {
    let site = |stack: &str, service: &str| {
        let text = format!(
            "stack {stack} {{\n  domain = \"{stack}.example.com\"\n  acme_email = \"ops@example.com\"\n}}\nservice {service}: image {{ image = \"nginx:1.27.3\", port = 8080, route = \"/\" }}\nproxy nginx {{}}\n"
        );
        let input = Input::from_text("stack.rag", &text);
        let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
        let plan = plan.unwrap_or_else(|| panic!("{}", compilation.sources.render(&compilation.diagnostics, false)));
        let ragc::plan::Contents::Text(conf) = &plan.get(&format!("nginx/{stack}.conf")).unwrap().contents else { unreachable!() };
        conf.lines()
            .filter_map(|line| line.strip_prefix("upstream "))
            .map(|rest| rest.trim_end_matches(" {").to_string())
            .collect::<Vec<_>>()
    };
    let first = site("my", "app-x");
    let second = site("my-app", "x");
    assert_eq!(first.len(), 1);
    assert_ne!(first, second, "both sites define upstream {first:?}: nginx merges them or refuses to start");
}

#[test]
fn a_cron_schedule_that_never_fires_is_refused() {
    let stack =
        |cron: &str| format!("stack s {{}}\nservice db: postgres {{\n  version = \"16.4\"\n  backup = cron(\"{cron}\", keep: 7d)\n}}\n");
    for never in ["0 0 31 2 *", "0 0 30,31 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2-2 *"] {
        let (diagnostics, plan) = compile_text(&stack(never));
        assert!(plan.is_none(), "{never} compiled");
        assert!(diagnostics.iter().any(|d| d.starts_with("error[E0303]") && d.contains("never")), "{never}: {diagnostics:?}");
    }
    // Leap days come, and a day of week given too means either fires.
    for fires in ["0 0 29 2 *", "0 0 31 2 1", "0 0 30 1,2 *", "0 0 */10 2 *", "0 0 31 * *", "30 2 * * *"] {
        let (diagnostics, plan) = compile_text(&stack(fires));
        assert!(plan.is_some(), "{fires}: {diagnostics:?}");
    }
}

#[test]
fn a_template_building_a_huge_string_in_variables_is_stopped() {
    let (dir, stack) = custom_kind();
    // Never printed: only the memory it takes shows it (3.2 GB by `f`).
    let doubling = "{% set a = \"x\" * 100000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}{% set e = d ~ d %}{% set f = e ~ e %}{{ f|length }}\n";
    fs::write(dir.path().join("kinds/minio/restore.sh.j2"), doubling).unwrap();
    let (code, text) = ragc_bounded(&["compile", stack.to_str().unwrap()], Duration::from_secs(60));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error[E0404]") && text.contains("MiB of memory"), "{text}");
    assert!(!dir.path().join("deploy").exists());
}

#[test]
fn a_directory_from_before_manifests_is_still_refused_to_another_stack() {
    let (dir, _stack, deploy) = compiled_flagship();
    // As a ragc without manifests left it: the env file's header names the stack.
    fs::remove_file(deploy.join(".ragc-manifest")).unwrap();
    let env = fs::read(deploy.join(".env.production")).unwrap();
    let other = dir.path().join("other.rag");
    fs::write(&other, "stack other {}\nservice web: image { image = \"nginx:1.27.3\", port = 8080 }\n").unwrap();
    let output = ragc(&["compile", other.to_str().unwrap(), "-o", deploy.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("error[E0605]") && stderr(&output).contains("`rag-engine`"), "{}", stderr(&output));
    assert_eq!(fs::read(deploy.join(".env.production")).unwrap(), env);
}
