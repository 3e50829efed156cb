//! The `ragc` binary as a user runs it: exit codes, output streams, files.

use std::path::Path;
use std::process::{Command, Output};

fn ragc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ragc")).args(args).env("NO_COLOR", "1").output().expect("ragc runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn copy_example(dir: &Path) -> std::path::PathBuf {
    let stack = dir.join("stack.rag");
    std::fs::copy("examples/rag-engine-mini.rag", &stack).unwrap();
    stack
}

#[test]
fn compile_writes_every_artifact_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_example(dir.path());
    let output = ragc(&["compile", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("compiled stack `rag-engine`"));
    let deploy = dir.path().join("deploy");
    for path in ["compose.yaml", "Dockerfile.api", "nginx/rag-engine.conf", "backup/backup.sh", "ops/health-check.sh", ".env.production"] {
        assert!(deploy.join(path).is_file(), "{path} missing");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &str| std::fs::metadata(deploy.join(path)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(".env.production"), 0o600);
        assert_eq!(mode("backup/backup.sh"), 0o755);
    }
    let compose = std::fs::read_to_string(deploy.join("compose.yaml")).unwrap();
    assert!(compose.contains("context: \"..\"") && compose.contains("dockerfile: \"deploy/Dockerfile.api\""));
}

#[test]
fn secrets_survive_a_recompile() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_example(dir.path());
    let env = dir.path().join("deploy/.env.production");
    assert_eq!(ragc(&["compile", stack.to_str().unwrap()]).status.code(), Some(0));
    let first = std::fs::read_to_string(&env).unwrap();
    let jwt = first.lines().find(|l| l.starts_with("JWT_SECRET=")).unwrap().to_string();
    // generate(hex, 32): 32 bytes of entropy, as `openssl rand -hex 32`.
    assert_eq!(jwt.len(), "JWT_SECRET=''".len() + 64);
    assert_eq!(ragc(&["compile", stack.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), first);
    assert!(!std::fs::read_to_string(dir.path().join("deploy/compose.yaml")).unwrap().contains(&jwt[12..76]));
}

#[test]
fn errors_exit_one_with_a_rendered_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.rag");
    std::fs::write(&stack, "stack s {}\nservice db: postgress {}\n").unwrap();
    let output = ragc(&["compile", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("error[E0101]: unknown kind `postgress`"), "{text}");
    assert!(text.contains("2 │ service db: postgress {}"), "{text}");
    assert!(text.contains("^^^^^^^^^"), "{text}");
    assert!(text.contains("help: did you mean `postgres`?"), "{text}");
    assert!(!text.contains('\u{1b}'), "NO_COLOR means no escape codes");
    assert!(!dir.path().join("deploy").exists(), "nothing is written on error");
}

#[test]
fn check_writes_nothing_and_reports_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_example(dir.path());
    let output = ragc(&["check", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("missing"), "{}", stderr(&output));
    assert!(!dir.path().join("deploy").exists());
}

#[test]
fn check_json_lists_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.rag");
    std::fs::write(&stack, "stack s {}\nservice db: postgres { versoin = \"16\" }\n").unwrap();
    let output = ragc(&["check", "--format", "json", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ok"], false);
    let first = &json["diagnostics"][0];
    assert_eq!(first["code"], "E0102");
    assert_eq!(first["line"], 2);
    assert_eq!(first["column"], 24);
    assert_eq!(first["help"][0], "did you mean `version`?");
    assert_eq!(json["files"], serde_json::json!([]));
}

#[test]
fn missing_file_is_a_user_error() {
    let output = ragc(&["compile", "/nonexistent/stack.rag"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("error[E0002]: can't read the stack"));
}

#[test]
fn explain_prints_the_long_text() {
    let output = ragc(&["explain", "e0203"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("# E0203: "));
    assert_eq!(ragc(&["explain", "E9999"]).status.code(), Some(1));
    let list = String::from_utf8_lossy(&ragc(&["explain"]).stdout).into_owned();
    assert!(list.lines().any(|line| line.starts_with("W0001")));
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let output = ragc(&["--help"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("ragc compile examples/rag-engine-mini.rag"));
    assert!(text.contains("Exit codes: 0 success, 1 errors in the input"));
    for command in ["ragc diff", "ragc check --env", "ragc rotate"] {
        assert!(text.contains(command), "{command} missing from --help");
    }
}

#[test]
fn unwritable_output_is_exit_two_and_keeps_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_example(dir.path());
    // A file where the output directory's `nginx/` should be.
    let deploy = dir.path().join("deploy");
    std::fs::create_dir_all(&deploy).unwrap();
    std::fs::write(deploy.join("nginx"), "not a directory").unwrap();
    let output = ragc(&["compile", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("nginx"));
    assert_eq!(std::fs::read_to_string(deploy.join("nginx")).unwrap(), "not a directory");
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A temporary copy of the flagship, compiled once.
fn compiled_example() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_example(dir.path()).to_str().unwrap().to_string();
    let output = ragc(&["compile", &stack]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    (dir, stack)
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                files.push((entry.path(), std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn diff_exit_codes_follow_git() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_example(dir.path());
    let stack = stack.to_str().unwrap();
    let fresh = ragc(&["diff", stack]);
    assert_eq!(fresh.status.code(), Some(1), "everything would be created");
    assert!(stdout(&fresh).contains("--- /dev/null\n+++ "), "{}", stdout(&fresh));
    assert!(!dir.path().join("deploy").exists(), "diff writes nothing");

    assert_eq!(ragc(&["compile", stack]).status.code(), Some(0));
    let same = ragc(&["diff", stack]);
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));
    assert_eq!(stdout(&same), "");

    edit(Path::new(stack), "concurrency=4", "concurrency=8");
    let changed = ragc(&["diff", stack]);
    assert_eq!(changed.status.code(), Some(1));
    let text = stdout(&changed);
    assert!(text.contains("deploy/compose.yaml\n@@ "), "{text}");
    assert!(
        text.contains("\n-    command: [\"celery\", \"-A\", \"tasks\", \"worker\", \"--loglevel=info\", \"--concurrency=4\"]\n"),
        "{text}"
    );
    assert!(
        text.contains("\n+    command: [\"celery\", \"-A\", \"tasks\", \"worker\", \"--loglevel=info\", \"--concurrency=8\"]\n"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no color off a terminal");

    let stat = ragc(&["diff", "--stat", stack]);
    assert_eq!(stat.status.code(), Some(1));
    let text = stdout(&stat);
    assert!(text.contains("deploy/compose.yaml | 4 ++--\n"), "{text}");
    assert!(text.ends_with(" 1 file changed, 2 insertions(+), 2 deletions(-)\n"), "{text}");

    let colored = ragc(&["--color", "always", "diff", stack]);
    assert!(stdout(&colored).contains("\u{1b}[31m-    command:"), "{}", stdout(&colored));

    std::fs::write(stack, "stack s {}\nservice db: postgress {}\n").unwrap();
    assert_eq!(ragc(&["diff", stack]).status.code(), Some(2), "a stack with errors can't be diffed");
}

#[test]
fn diff_never_shows_a_secret() {
    let (dir, stack) = compiled_example();
    let env = std::fs::read_to_string(dir.path().join("deploy/.env.production")).unwrap();
    let values: Vec<String> = ragc::plan::secrets::parse_env(&env).into_values().collect();
    assert_eq!(values.len(), 4);
    edit(
        Path::new(&stack),
        "secret jwt_secret     = generate(hex, 32)",
        "secret jwt_secret     = generate(hex, 32)\nsecret extra = generate(hex, 24)",
    );
    edit(Path::new(&stack), "    LOG_LEVEL      = \"info\"", "    LOG_LEVEL      = \"info\"\n    EXTRA          = extra");
    let output = ragc(&["diff", &stack]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("+EXTRA=<masked, new>\n"), "{text}");
    assert!(text.contains("holds secrets: every value is masked"), "{text}");
    for value in &values {
        assert!(!text.contains(value.as_str()), "a secret value was shown:\n{text}");
    }
    assert!(!text.lines().any(|line| line.starts_with("+EXTRA='")), "{text}");
    let stat = stdout(&ragc(&["diff", "--stat", &stack]));
    assert!(stat.lines().any(|line| line.contains("deploy/.env.production ") && line.ends_with(" 3 +++ (values masked)")), "{stat}");
    // The new secret file is counted, never shown.
    assert!(
        stat.lines().any(|line| line.contains("deploy/secrets/api.EXTRA ") && line.ends_with(" 1 + (new, secret, not shown)")),
        "{stat}"
    );
    assert!(text.contains("secrets/api.EXTRA holds a secret, made from .env.production's values: never shown"), "{text}");
}

#[test]
fn check_reports_drift_hand_edits_and_json() {
    let (dir, stack) = compiled_example();
    let ok = ragc(&["check", &stack]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("ok: stack `rag-engine` checks (5 services) and"), "{}", stderr(&ok));

    edit(Path::new(&stack), "concurrency=4", "concurrency=8");
    let drift = ragc(&["check", &stack]);
    assert_eq!(drift.status.code(), Some(1));
    let text = stderr(&drift);
    assert!(text.contains("1 of 36 files differ"), "{text}");
    assert!(text.contains("drifted  ") && text.contains("deploy/compose.yaml"), "{text}");

    let deploy = dir.path().join("deploy");
    edit(&deploy.join("compose.production.yaml"), "max-size: \"10m\"", "max-size: \"50m\"");
    std::fs::remove_file(deploy.join("ops/health-check.sh")).unwrap();
    // A generated, unedited file the stack no longer produces (a removed
    // service's): one ragc wrote, so its manifest lists it.
    std::fs::copy(deploy.join("Dockerfile.api"), deploy.join("Dockerfile.old")).unwrap();
    let manifest = std::fs::read_to_string(deploy.join(".ragc-manifest")).unwrap();
    std::fs::write(deploy.join(".ragc-manifest"), format!("{manifest}file Dockerfile.old\n")).unwrap();
    let output = ragc(&["check", "--format", "json", &stack]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["checked"], 37, "the 36 generated files and the stale one");
    assert_eq!(json["diagnostics"], serde_json::json!([]));
    let files = json["files"].as_array().unwrap();
    let by_path = |path: &str| files.iter().find(|f| f["path"] == path).unwrap_or_else(|| panic!("{path} not listed: {json}"));
    assert_eq!(files.len(), 4, "{json}");
    assert_eq!(by_path("Dockerfile.old")["status"], "stale");
    assert_eq!(by_path("compose.yaml")["status"], "drifted");
    assert_eq!(by_path("compose.yaml")["code"], serde_json::Value::Null);
    assert_eq!(by_path("compose.production.yaml")["status"], "hand-edited");
    assert_eq!(by_path("compose.production.yaml")["code"], "E0601");
    assert!(by_path("compose.production.yaml")["help"].as_str().unwrap().contains("--force"));
    assert_eq!(by_path("ops/health-check.sh")["status"], "missing");
    assert!(by_path("ops/health-check.sh")["file"].as_str().unwrap().ends_with("deploy/ops/health-check.sh"));
}

#[test]
fn check_ignores_an_absent_env_file_unless_asked() {
    let (dir, stack) = compiled_example();
    std::fs::remove_file(dir.path().join("deploy/.env.production")).unwrap();
    let output = ragc(&["check", &stack]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("no .env.production here"), "{}", stderr(&output));
    let output = ragc(&["check", "--env", &stack]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("missing") && stderr(&output).contains(".env.production"), "{}", stderr(&output));
}

#[test]
fn check_env_fails_until_required_secrets_are_set() {
    let (dir, stack) = compiled_example();
    let output = ragc(&["check", "--env", &stack]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("error[E0604]: required secret `OPENAI_API_KEY` is not set"), "{text}");
    assert!(text.contains("secret openai_api_key = required("), "points at the declaration: {text}");
    let json: serde_json::Value = serde_json::from_slice(&ragc(&["check", "--env", "--format", "json", &stack]).stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["diagnostics"][0]["code"], "E0604");
    assert_eq!(json["diagnostics"][0]["line"], 11);
    assert_eq!(json["files"], serde_json::json!([]));

    // Filled in by hand, unquoted: set, and the env file is not drift; the
    // secret file made from it is still missing, until the next compile.
    edit(&dir.path().join("deploy/.env.production"), "# OPENAI_API_KEY=\n", "OPENAI_API_KEY=sk-test-123\n");
    let output = ragc(&["check", "--env", &stack]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("1 of 37 files differ"), "{}", stderr(&output));
    assert!(stderr(&output).contains("missing  ") && stderr(&output).contains("deploy/secrets/api.OPENAI_API_KEY"), "{}", stderr(&output));
    assert_eq!(ragc(&["check", &stack]).status.code(), Some(0));
    let compile = ragc(&["compile", &stack]);
    assert!(
        stderr(&compile).contains("1 created, 36 unchanged") && !stderr(&compile).contains("note: OPENAI_API_KEY"),
        "{}",
        stderr(&compile)
    );
    let key = std::fs::read(dir.path().join("deploy/secrets/api.OPENAI_API_KEY")).unwrap();
    assert_eq!(key, b"sk-test-123", "the value as Compose reads it from the env file");
    assert_eq!(ragc(&["check", "--env", &stack]).status.code(), Some(0));
}

#[test]
fn compile_refuses_hand_edits_and_force_keeps_a_copy() {
    let (dir, stack) = compiled_example();
    let deploy = dir.path().join("deploy");
    edit(&deploy.join("compose.production.yaml"), "max-size: \"10m\"", "max-size: \"50m\"");
    edit(Path::new(&stack), "concurrency=4", "concurrency=8");
    let before = snapshot(&deploy);
    let output = ragc(&["compile", &stack]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("error[E0601]: ") && text.contains("deploy/compose.production.yaml was edited by hand"), "{text}");
    assert!(text.contains("ragc compile --force") && text.contains("compose.production.yaml.ragc-keep"), "{text}");
    assert!(text.contains("error: nothing was written"), "{text}");
    assert_eq!(snapshot(&deploy), before, "compose.yaml was not updated either");

    let output = ragc(&["compile", "--force", &stack]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("kept compose.production.yaml.ragc-keep"), "{}", stderr(&output));
    assert!(std::fs::read_to_string(deploy.join("compose.production.yaml.ragc-keep")).unwrap().contains("max-size: \"50m\""));
    assert!(std::fs::read_to_string(deploy.join("compose.yaml")).unwrap().contains("--concurrency=8"));
    assert_eq!(ragc(&["check", &stack]).status.code(), Some(0));
}

#[test]
fn compile_refuses_a_file_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_example(dir.path());
    let deploy = dir.path().join("deploy");
    std::fs::create_dir_all(&deploy).unwrap();
    std::fs::write(deploy.join("compose.yaml"), "services: {}\n").unwrap();
    let output = ragc(&["compile", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("error[E0602]: "), "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(&deploy).unwrap().count(), 1, "nothing else was written");
}

#[cfg(unix)]
#[test]
fn compile_refuses_a_symlink_with_exit_two() {
    let (dir, stack) = compiled_example();
    let deploy = dir.path().join("deploy");
    let outside = dir.path().join("outside.conf");
    std::fs::write(&outside, "precious\n").unwrap();
    std::fs::remove_file(deploy.join("nginx/rag-engine.conf")).unwrap();
    std::os::unix::fs::symlink(&outside, deploy.join("nginx/rag-engine.conf")).unwrap();
    let output = ragc(&["compile", &stack]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("error[E0603]: ") && stderr(&output).contains("is a symbolic link"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    assert_eq!(ragc(&["check", &stack]).status.code(), Some(2));
    assert_eq!(ragc(&["diff", &stack]).status.code(), Some(2));
}

#[test]
fn rotate_replaces_one_value_and_names_the_services() {
    let (dir, stack) = compiled_example();
    let env = dir.path().join("deploy/.env.production");
    let before = std::fs::read_to_string(&env).unwrap();
    let output = ragc(&["rotate", &stack, "JWT_SECRET"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("rotated JWT_SECRET in "), "{text}");
    assert!(text.contains("used by: api\n"), "{text}");
    assert!(
        text.contains("docker compose --env-file .env.production -f compose.yaml -f compose.production.yaml up -d --force-recreate api\n"),
        "{text}"
    );
    let after = std::fs::read_to_string(&env).unwrap();
    let changed: Vec<_> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1, "exactly one line changed");
    assert!(changed[0].1.starts_with("JWT_SECRET='"));
    assert!(!text.contains(&changed[0].1[12..44]), "the new value is not printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&env).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A compile afterwards keeps the rotated value.
    assert_eq!(ragc(&["compile", &stack]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), after);

    // By its stack name; the database keeps the old password in its volume.
    let output = ragc(&["rotate", &stack, "db.password"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("rotated DB_PASSWORD") && stdout(&output).contains("used by: db, api, worker"));
    assert!(stdout(&output).contains("up -d --force-recreate db api worker\n"));
    // The database is told first, with psql's own prompt (no value on a command line).
    let told = stdout(&output).find("exec db psql -U raguser -d postgres -c '\\password'\n").expect("the ALTER step");
    assert!(told < stdout(&output).find("up -d --force-recreate").unwrap(), "{}", stdout(&output));

    let required = ragc(&["rotate", &stack, "openai_api_key"]);
    assert_eq!(required.status.code(), Some(1));
    assert!(stderr(&required).contains("OPENAI_API_KEY is a required secret"), "{}", stderr(&required));
    let unknown = ragc(&["rotate", &stack, "NOPE"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("JWT_SECRET, API_KEY_SALT, DB_PASSWORD, CACHE_PASSWORD"), "{}", stderr(&unknown));
}

#[test]
fn rotate_before_the_first_compile_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_example(dir.path());
    let output = ragc(&["rotate", stack.to_str().unwrap(), "JWT_SECRET"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("does not exist yet"), "{}", stderr(&output));
    assert!(!dir.path().join("deploy").exists());
}

#[test]
fn output_diagnostics_are_explained() {
    for code in ["E0601", "E0602", "E0603", "E0604", "E0605", "E0606", "E0607"] {
        let output = ragc(&["explain", code]);
        assert_eq!(output.status.code(), Some(0), "{code}");
        assert!(stdout(&output).starts_with(&format!("# {code}: ")));
    }
}

/// A reader that went away (`ragc diff | head`, a runner that closed stderr)
/// must not turn a diagnostic into a panic and exit 101.
#[cfg(unix)]
#[test]
fn closed_output_pipes_keep_the_exit_code() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.rag");
    std::fs::write(&stack, "stack s {}\nservice db: postgress {}\n").unwrap();
    for args in [vec!["check", stack.to_str().unwrap()], vec!["diff", "examples/rag-engine-mini.rag", "-o", dir.path().to_str().unwrap()]] {
        let mut child =
            Command::new(env!("CARGO_BIN_EXE_ragc")).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("ragc runs");
        // Close both read ends before ragc writes anything.
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "{args:?}");
    }
}

#[cfg(unix)]
#[test]
fn an_endless_input_is_refused_without_reading_it_all() {
    let output = ragc(&["check", "/dev/zero"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("error[E0002]") && text.contains("too large"), "{text}");
}

/// Threads change how fast a large stack compiles, never what it compiles to.
#[test]
fn a_large_stack_compiles_to_the_same_bytes_on_one_thread_or_several() {
    let dir = tempfile::tempdir().unwrap();
    let services: String = (0..5_000)
        .map(|i| format!("service s{i}: image {{\n  image = \"nginx:1.27.3\"\n  port = 8080\n  volume data = \"/data\"\n  env {{ MODE = \"bench\", N = \"{i}\" }}\n}}\n\n"))
        .collect();
    let stack = dir.path().join("stack.rag");
    std::fs::write(&stack, format!("stack big {{}}\n\n{services}")).unwrap();
    assert!(std::fs::metadata(&stack).unwrap().len() > 512 * 1024, "large enough to parse on threads");
    let compile = |jobs_flag: &[&str], jobs_env: &str, out: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_ragc"))
            .args(["compile", stack.to_str().unwrap(), "--out", dir.path().join(out).to_str().unwrap()])
            .args(jobs_flag)
            .env("RAGC_JOBS", jobs_env)
            .output()
            .expect("ragc runs");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    };
    compile(&[], "1", "one");
    compile(&[], "4", "four");
    compile(&["--jobs", "1"], "4", "flag-one");
    compile(&["-j", "3"], "1", "flag-three");
    for file in ["compose.yaml", "compose.production.yaml", ".compose-lint.yml", ".env.example", "ops/health-check.sh"] {
        let one = std::fs::read(dir.path().join("one").join(file)).unwrap();
        for other in ["four", "flag-one", "flag-three"] {
            assert!(one == std::fs::read(dir.path().join(other).join(file)).unwrap(), "{file} differs in {other}");
        }
    }
    let zero = ragc(&["compile", stack.to_str().unwrap(), "--jobs", "0"]);
    assert_eq!(zero.status.code(), Some(2), "{}", stderr(&zero));
    let compose = std::fs::read_to_string(dir.path().join("one/compose.yaml")).unwrap();
    assert!(compose.contains("  s799:\n"), "every service is there");
}
