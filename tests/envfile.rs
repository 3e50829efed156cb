//! `.env.production` read exactly as Docker Compose reads it (issue #13 §2),
//! with the real Compose binary as the oracle; what an operator wrote kept
//! byte for byte; rotation with a history and a confirmation, and the
//! database told the new password first (§3).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use ragc::plan::dotenv;

fn ragc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ragc")).args(args).env("NO_COLOR", "1").output().expect("ragc runs")
}

fn ragc_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ragc"));
    command.args(args).env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("ragc runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The flagship compiled into `deploy/` of a fresh directory.
fn compiled_example() -> (tempfile::TempDir, String, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.rag");
    std::fs::copy("examples/rag-engine-mini.rag", &stack).unwrap();
    let stack = stack.to_str().unwrap().to_string();
    let output = ragc(&["compile", &stack]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let env = dir.path().join("deploy/.env.production");
    (dir, stack, env)
}

/// `line` of `text` (starting with `prefix`) replaced by `by`.
fn replace_line(text: &str, prefix: &str, by: &str) -> String {
    let mut found = false;
    let out: String = text
        .split_inclusive('\n')
        .map(|line| {
            if line.starts_with(prefix) {
                found = true;
                format!("{by}\n")
            } else {
                line.to_string()
            }
        })
        .collect();
    assert!(found, "no line starts with {prefix}");
    out
}

// ------------------------------------------------------------- the oracle --

/// The real Compose v2 binary: `RAGC_COMPOSE`, or `docker-compose-v2` in
/// `RAGC_VENV` or `.venv-ci` (what `.ci/setup-validators` installs, and
/// what CI runs before the tests).
fn compose_binary() -> Option<PathBuf> {
    let explicit = std::env::var("RAGC_COMPOSE").ok().map(PathBuf::from);
    let venvs = [std::env::var("RAGC_VENV").ok().map(PathBuf::from), Some(PathBuf::from(".venv-ci"))];
    explicit
        .into_iter()
        .chain(venvs.into_iter().flatten().map(|venv| venv.join("bin/docker-compose-v2")))
        .find(|path| path.is_file())
        .and_then(|path| std::fs::canonicalize(path).ok())
}

/// The binary, or `None` outside CI (said loudly); in CI (`CI` set, or the
/// validators' venv present) its absence fails the test.
fn oracle() -> Option<PathBuf> {
    let found = compose_binary();
    if found.is_none() {
        let in_ci = std::env::var_os("CI").is_some() || Path::new(".venv-ci/.ragc-validators-stamp").exists();
        assert!(!in_ci, "no docker-compose-v2: run .ci/setup-validators, or set RAGC_COMPOSE / RAGC_VENV");
        eprintln!("skipped: no docker-compose-v2 (set RAGC_COMPOSE or RAGC_VENV, or run .ci/setup-validators)");
    }
    found
}

/// Every variable Compose reads from `env`, as `docker compose config
/// --environment` prints them (`KEY=value` lines, sorted, values raw), or
/// `Err(stderr)` when it refuses the file. Run with an empty environment,
/// so that nothing outside the file is read.
fn compose_environment(compose: &Path, env: &[u8]) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::write(root.join("e.env"), env).unwrap();
    std::fs::write(root.join("c.yaml"), "services:\n  a:\n    image: x\n").unwrap();
    let output = Command::new(compose)
        .current_dir(&root)
        .env_clear()
        .env("HOME", &root)
        .env("PATH", "/usr/bin:/bin")
        .args(["-p", "oracle", "--env-file", "e.env", "-f", "c.yaml", "config", "--environment"])
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    // Compose's own variables, around the file's.
    let own = [
        ("COMPOSE_PROJECT_NAME", "oracle".to_string()),
        ("HOME", root.display().to_string()),
        ("PATH", "/usr/bin:/bin".into()),
        ("PWD", root.display().to_string()),
    ];
    let mut printed = output.stdout;
    for (key, value) in own {
        let line = format!("{key}={value}\n").into_bytes();
        let at = printed.windows(line.len()).position(|w| w == line.as_slice()).ok_or(format!("no {key} printed"))?;
        printed.drain(at..at + line.len());
    }
    Ok(printed)
}

/// What `config --environment` prints for `statements` alone.
fn printed(statements: &[dotenv::Statement]) -> Vec<u8> {
    let mut sorted: Vec<&dotenv::Statement> = statements.iter().collect();
    sorted.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    sorted.iter().map(|s| format!("{}={}\n", s.key, s.value)).collect::<String>().into_bytes()
}

/// Raw value text as an operator may type it: quotes, escapes, `#`, `$`,
/// line breaks, tabs, non-ASCII, the odd invalid byte.
fn raw_value() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just("'"),
        Just("\""),
        Just("\\"),
        Just("\\'"),
        Just("\\\""),
        Just("\\n"),
        Just("\\t"),
        Just("\\\\"),
        Just("\\$"),
        Just("\\0101"),
        Just("\\07"),
        Just("\\a"),
        Just("#"),
        Just(" #"),
        Just(" # note"),
        Just("$"),
        Just("$$"),
        Just("${X}"),
        Just("$X"),
        Just("$1"),
        Just("$\u{212a}"),
        Just("\\0044X"),
        Just("\n"),
        Just("\r\n"),
        Just("\t"),
        Just(" "),
        Just("="),
        Just(":"),
        Just("é"),
        Just("日本"),
        Just("\u{a0}"),
        Just("\u{2028}"),
        Just("-----BEGIN KEY-----"),
        Just("MIIE=abc"),
        Just("abc"),
        Just("x"),
        Just("\u{ff}"),
    ];
    let pieces = prop::collection::vec(piece, 0..8);
    let opening = prop_oneof![Just(""), Just("'"), Just("\""), Just(" ")];
    let closing = prop_oneof![Just(""), Just("'"), Just("\""), Just("' # c"), Just("\" # c")];
    (opening, pieces, closing).prop_map(|(open, pieces, close)| {
        let text = format!("{open}{}{close}", pieces.concat());
        // `\u{ff}` stands for a byte that is not UTF-8.
        let mut bytes = Vec::new();
        for ch in text.chars() {
            if ch == '\u{ff}' {
                bytes.push(0xff);
            } else {
                bytes.extend(ch.to_string().as_bytes());
            }
        }
        bytes
    })
}

/// Random env files through ragc's reader and Compose's: whenever ragc
/// accepts a file, Compose reads every variable exactly as ragc does (no
/// more, no fewer); whenever Compose refuses one, so does ragc.
#[test]
fn the_env_file_reads_as_compose_reads_it() {
    let Some(compose) = oracle() else { return };
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let random = 160;
    let mut cases: Vec<Vec<u8>> = (0..random)
        .map(|_| {
            let raw = raw_value().new_tree(&mut runner).unwrap().current();
            [b"A=first\nK=".as_slice(), &raw, b"\nZ='last'\n"].concat()
        })
        .collect();
    // The issue's own lines.
    for line in [
        "K='v' # note",
        "K=\"a\\tb\"",
        "K='it\\'s'",
        "K=\"-----BEGIN KEY-----\nMIIE=abc\n-----END KEY-----\"",
        "K=\"p#ss$$word\"",
        "export K=p#ss$$word # comment",
        "K: yaml",
    ] {
        cases.push(format!("A=first\n{line}\nZ='last'\n").into_bytes());
    }
    let mut accepted = 0;
    for (index, case) in cases.iter().enumerate() {
        let shown = String::from_utf8_lossy(case);
        let theirs = compose_environment(&compose, case);
        match dotenv::parse(case) {
            Ok(statements) => {
                accepted += 1;
                // Every variable, no more, no fewer, each value exactly.
                let ours = printed(&statements);
                assert_eq!(theirs.as_deref().map(String::from_utf8_lossy), Ok(String::from_utf8_lossy(&ours)), "case {index}: {shown:?}");
            }
            Err(refusal) => {
                assert!(index < random, "the issue's line {shown:?} is refused: {refusal:?}");
                assert!(refusal.line >= 1 && !refusal.message.is_empty(), "case {index}");
            }
        }
        if let Err(e) = &theirs {
            assert!(dotenv::parse(case).is_err(), "case {index}: Compose refuses {shown:?} ({e}), ragc reads it");
        }
    }
    eprintln!("{accepted} of {} files read, the others refused", cases.len());
    // The lines are all read, and most random ones too.
    assert!(accepted >= 60, "only {accepted} of {} cases read", cases.len());
}

/// What ragc writes is what Compose reads: every value of a compiled env
/// file, and of one after rotation, through the real binary.
#[test]
fn written_values_read_back_through_compose() {
    let Some(compose) = oracle() else { return };
    let (_dir, stack, env) = compiled_example();
    assert_eq!(ragc(&["rotate", &stack, "jwt_secret"]).status.code(), Some(0));
    let bytes = std::fs::read(&env).unwrap();
    let statements = dotenv::parse(&bytes).unwrap();
    assert_eq!(statements.len(), 4);
    assert_eq!(compose_environment(&compose, &bytes).unwrap(), printed(&statements));
}

// ----------------------------------------------------- the operator's file --

const PEM: &str = "TLS_KEY=\"-----BEGIN PRIVATE KEY-----\nMIIEvQ=abc\n# not=a-comment\n-----END PRIVATE KEY-----\"\n";

/// The operator's lines, as typed, survive every compile byte for byte,
/// read as Compose reads them; a variable the stack drops is kept as a
/// comment, whole, and comes back whole; diff shows no name from inside a value.
#[test]
fn operator_lines_survive_compiles() {
    let (dir, stack, env) = compiled_example();
    let first = std::fs::read_to_string(&env).unwrap();
    let edited = replace_line(
        &first,
        "JWT_SECRET=",
        "# alice set this one by hand, 2026-11\nJWT_SECRET='hand-0123456789abcdef-0123456789' # rotated by hand",
    );
    let edited = replace_line(&edited, "# OPENAI_API_KEY=", "OPENAI_API_KEY=\"sk-\\ta\\\\b\"");
    let edited = format!("{edited}export EXT_DB=\"p#ss$$word\"\n{PEM}");
    std::fs::write(&env, &edited).unwrap();

    let output = ragc(&["compile", &stack]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let after = std::fs::read_to_string(&env).unwrap();
    for line in [
        "\n# alice set this one by hand, 2026-11\nJWT_SECRET='hand-0123456789abcdef-0123456789' # rotated by hand\n",
        "OPENAI_API_KEY=\"sk-\\ta\\\\b\"\n",
    ] {
        assert!(after.contains(line), "{line:?} rewritten:\n{after}");
    }
    // Nothing of the operator's was dropped: no copy needed.
    assert!(!dir.path().join("deploy/.env.production.ragc-keep").exists());
    // Dropped from the stack's view: commented out whole, every line.
    assert!(after.contains("# export EXT_DB=\"p#ss$$word\"\n"), "{after}");
    assert!(
        after.contains("# TLS_KEY=\"-----BEGIN PRIVATE KEY-----\n# MIIEvQ=abc\n# # not=a-comment\n# -----END PRIVATE KEY-----\"\n"),
        "{after}"
    );
    let values = ragc::plan::secrets::parse_env(&after);
    assert_eq!(values["JWT_SECRET"], "hand-0123456789abcdef-0123456789");
    assert_eq!(values["OPENAI_API_KEY"], "sk-\ta\\b");
    let retired = ragc::plan::secrets::parse_retired(&after);
    assert_eq!(retired["EXT_DB"], "p#ss$word");
    assert_eq!(retired["TLS_KEY"], "-----BEGIN PRIVATE KEY-----\nMIIEvQ=abc\n# not=a-comment\n-----END PRIVATE KEY-----");
    assert!(!retired.contains_key("MIIEvQ") && !retired.contains_key("not"));

    // Compiled again: nothing changes; check --env says so.
    assert_eq!(ragc(&["compile", &stack]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), after);
    let check = ragc(&["check", "--env", &stack]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));

    // Declared again, the PEM key comes back as it was typed.
    let text = std::fs::read_to_string(&stack).unwrap();
    let text = text.replace(
        "secret jwt_secret     = generate(hex, 32)",
        "secret jwt_secret     = generate(hex, 32)\nsecret tls_key = required(\"the TLS key\")",
    );
    let text = text.replace("    LOG_LEVEL      = \"info\"", "    LOG_LEVEL      = \"info\"\n    TLS_KEY        = tls_key");
    std::fs::write(&stack, text).unwrap();
    let diff = ragc(&["diff", &stack]);
    let shown = stdout(&diff);
    assert!(!shown.contains("MIIEvQ") && !shown.contains("not=") && !shown.contains("p#ss"), "{shown}");
    // The operator's comment, kept on both sides, is theirs: masked on both.
    assert!(!shown.contains("alice") && !shown.contains("rotated by hand"), "{shown}");
    assert!(shown.contains("+TLS_KEY=<masked>\n") || shown.contains("+TLS_KEY=<masked, changed>\n"), "{shown}");
    assert_eq!(ragc(&["compile", &stack]).status.code(), Some(0));
    let back = std::fs::read_to_string(&env).unwrap();
    assert!(back.contains(&format!("\n{PEM}")), "{back}");
    assert_eq!(ragc::plan::secrets::parse_env(&back)["TLS_KEY"], retired["TLS_KEY"]);
    drop(dir);
}

/// A file Compose reads otherwise than it looks is refused, naming the file
/// and line, by every command; nothing is written; no value is printed.
#[test]
fn unreadable_env_files_are_refused_with_their_line() {
    let (_dir, stack, env) = compiled_example();
    let first = std::fs::read_to_string(&env).unwrap();
    let line_of = |text: &str, prefix: &str| text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1;
    let mut cases: Vec<Vec<u8>> = ["JWT_SECRET=s3cr3t$HOME", "JWT_SECRET='s3cr3t' OTHER=1", "JWT_SECRET=\"s3cr3t"]
        .iter()
        .map(|line| replace_line(&first, "JWT_SECRET=", line).into_bytes())
        .collect();
    // A byte that is not UTF-8.
    let invalid = replace_line(&first, "JWT_SECRET=", "JWT_SECRET=s3cr3t@@");
    let at = invalid.find("@@").unwrap();
    cases.push([&invalid.as_bytes()[..at], &[0xff], &invalid.as_bytes()[at + 2..]].concat());
    for bytes in &cases {
        std::fs::write(&env, bytes).unwrap();
        let line = line_of(&String::from_utf8_lossy(bytes), "JWT_SECRET");
        for command in [vec!["compile", &stack], vec!["check", "--env", &stack], vec!["rotate", &stack, "db.password"]] {
            let output = ragc(&command);
            let text = stderr(&output);
            assert_eq!(output.status.code(), Some(1), "{command:?}: {text}");
            assert!(text.contains("error[E0607]") && text.contains(&format!(".env.production:{line}:")), "{command:?}: {text}");
            assert!(text.contains(&format!("line {line}: ")) && text.contains("help: "), "{text}");
            assert!(!text.contains("s3cr3t"), "a value was printed: {text}");
            assert_eq!(&std::fs::read(&env).unwrap(), bytes, "{command:?} wrote");
        }
        assert_eq!(ragc(&["diff", &stack]).status.code(), Some(2));
    }
}

// ----------------------------------------------------------- rotation --

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The previous value is kept in a 0600 history until confirmed; a second
/// rotation waits for the confirmation; compiles leave the history alone.
#[cfg(unix)]
#[test]
fn rotation_keeps_the_previous_value_until_confirmed() {
    let (dir, stack, env) = compiled_example();
    let history = dir.path().join("deploy/.env.production.history");
    let before = ragc::plan::secrets::parse_env(&std::fs::read_to_string(&env).unwrap());
    let output = ragc(&["rotate", &stack, "JWT_SECRET"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("--confirm"), "{}", stdout(&output));
    assert_eq!(mode(&history), 0o600);
    let kept = ragc::plan::secrets::parse_env(&std::fs::read_to_string(&history).unwrap());
    assert_eq!(kept.get("JWT_SECRET"), before.get("JWT_SECRET"));
    let now = ragc::plan::secrets::parse_env(&std::fs::read_to_string(&env).unwrap());
    assert_ne!(now["JWT_SECRET"], before["JWT_SECRET"]);
    assert!(!stdout(&output).contains(&before["JWT_SECRET"]) && !stdout(&output).contains(&now["JWT_SECRET"]));

    assert_eq!(ragc(&["compile", &stack]).status.code(), Some(0));
    assert!(history.is_file(), "a compile removed the history");
    let again = ragc(&["rotate", &stack, "JWT_SECRET"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("not confirmed"), "{}", stderr(&again));

    // Another secret's rotation joins the history.
    assert_eq!(ragc(&["rotate", &stack, "api_key_salt"]).status.code(), Some(0));
    let confirm = ragc(&["rotate", &stack, "JWT_SECRET", "--confirm"]);
    assert_eq!(confirm.status.code(), Some(0), "{}", stderr(&confirm));
    let kept = ragc::plan::secrets::parse_env(&std::fs::read_to_string(&history).unwrap());
    assert!(!kept.contains_key("JWT_SECRET") && kept.contains_key("API_KEY_SALT"));
    assert_eq!(ragc(&["rotate", &stack, "api_key_salt", "--confirm"]).status.code(), Some(0));
    assert!(!history.exists(), "an empty history is removed");
    assert_eq!(ragc(&["rotate", &stack, "api_key_salt", "--confirm"]).status.code(), Some(1));
    assert_eq!(ragc(&["rotate", &stack, "JWT_SECRET"]).status.code(), Some(0));
}

/// A stand-in `docker` that logs each call (arguments, then standard input)
/// and fails `psql` when `FAIL_PSQL` is set.
#[cfg(unix)]
fn fake_docker(dir: &Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("docker.log");
    let script = dir.join("docker");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf 'ARGS %s\\n' \"$*\" >> '{log}'\ncat >> '{log}'\ncase \"$*\" in *psql*) [ -n \"$FAIL_PSQL\" ] && exit 3;; esac\nexit 0\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

/// `--live`: the database is told the new password on psql's standard
/// input, then the services that use it are recreated; if the database
/// refuses, the rotation is undone.
#[cfg(unix)]
#[test]
fn live_rotation_tells_the_database_before_restarting() {
    let (dir, stack, env) = compiled_example();
    let (docker, log) = fake_docker(dir.path());
    let docker = docker.to_str().unwrap();
    let output = ragc_with(&["rotate", &stack, "db.password", "--live"], &[("RAGC_DOCKER", docker)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let new = ragc::plan::secrets::parse_env(&std::fs::read_to_string(&env).unwrap())["DB_PASSWORD"].clone();
    let calls = std::fs::read_to_string(&log).unwrap();
    let files = "--env-file .env.production -f compose.yaml -f compose.production.yaml";
    let expected = format!(
        "ARGS compose {files} exec -T db psql --no-psqlrc -v ON_ERROR_STOP=1 -U raguser -d postgres\nALTER ROLE \"raguser\" WITH PASSWORD '{new}';\nARGS compose {files} up -d --force-recreate db api worker\n"
    );
    assert_eq!(calls, expected);
    assert!(!stdout(&output).contains(&new));

    // Refused by the database: the file and the history as they were.
    assert_eq!(ragc(&["rotate", &stack, "db.password", "--confirm"]).status.code(), Some(0));
    let before = std::fs::read(&env).unwrap();
    std::fs::remove_file(&log).unwrap();
    let failed = ragc_with(&["rotate", &stack, "db.password", "--live"], &[("RAGC_DOCKER", docker), ("FAIL_PSQL", "1")]);
    assert_eq!(failed.status.code(), Some(2), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("undone"), "{}", stderr(&failed));
    assert_eq!(std::fs::read(&env).unwrap(), before);
    assert!(!dir.path().join("deploy/.env.production.history").exists());
    assert!(!std::fs::read_to_string(&log).unwrap().contains("up -d"), "restarted after the database refused");
}

// --------------------------------------------------------------- entropy --

/// Lengths are bytes of entropy; below 128 bits is refused with a caret and
/// help; a value already in the file is never regenerated for the new meaning.
#[test]
fn generated_lengths_are_bytes_of_entropy() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("s.rag");
    std::fs::write(&stack, "stack s {}\nsecret k = generate(hex, 8)\nservice a: image {\n  image = \"x:1\"\n  env { K = k }\n}\n").unwrap();
    let output = ragc(&["check", stack.to_str().unwrap()]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(text.contains("error[E0107]") && text.contains("(64 bits)") && text.contains("^") && text.contains("help: "), "{text}");

    std::fs::write(&stack, "stack s {}\nsecret k = generate(hex)\nservice a: image {\n  image = \"x:1\"\n  env { K = k }\n}\n").unwrap();
    let output = ragc(&["compile", stack.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let env = dir.path().join("deploy/.env.production");
    let text = std::fs::read_to_string(&env).unwrap();
    assert_eq!(ragc::plan::secrets::parse_env(&text)["K"].len(), 64, "{text}");
    assert!(text.contains("(hex, 32 bytes of entropy = 64 characters)"), "{text}");

    // A file written when the length meant characters: its value stays.
    let old = replace_line(&text, "K=", "K='0123456789abcdef0123456789abcdef'");
    let old = old.replace("(hex, 32 bytes of entropy = 64 characters)", "(hex, 32 characters)");
    std::fs::write(&env, &old).unwrap();
    assert_eq!(ragc(&["compile", stack.to_str().unwrap()]).status.code(), Some(0));
    let now = std::fs::read_to_string(&env).unwrap();
    assert!(now.contains("\nK='0123456789abcdef0123456789abcdef'\n"), "{now}");
}
