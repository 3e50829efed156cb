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
    assert_eq!(jwt.len(), "JWT_SECRET=''".len() + 32);
    assert_eq!(ragc(&["compile", stack.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), first);
    assert!(!std::fs::read_to_string(dir.path().join("deploy/compose.yaml")).unwrap().contains(&jwt[12..44]));
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
