//! No injection into artifacts: arbitrary strings (quotes, `$`, `#`, `;`,
//! backslashes, newlines, `{{`, `%`, Unicode) go through every escaping
//! filter and through whole compiles, and each either reads back byte for
//! byte through a real parser of the artifact's syntax or is rejected at
//! compile time by a diagnostic on the field's own line.
//!
//! Parsers: YAML via `serde_yaml_ng` (libyaml's grammar, like Compose's Go
//! YAML), then Compose's `$$` unescaping; dotenv via a re-implementation of
//! compose-go's reader, checked on samples against the real `docker compose`
//! binary when the validators are installed; shell words via `bash` itself;
//! nginx tokens via `nginx -t` and `crossplane` when present; Dockerfile
//! exec form as JSON (BuildKit parses it with Go's `encoding/json`).

use std::path::{Path, PathBuf};
use std::process::Command;

use minijinja::Value;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use ragc::emit::compose::filters::{self, Pieces};
use ragc::emit::EmitOptions;
use ragc::input::Input;
use ragc::plan::{Contents, Plan};

// ------------------------------------------------------------ strategies --

/// Strings made of the pieces that break artifacts, and arbitrary characters.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("$".to_string()),
        Just("$$".to_string()),
        Just("${X}".to_string()),
        Just("$(id)".to_string()),
        Just("`id`".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("\t".to_string()),
        Just(" ".to_string()),
        Just("#".to_string()),
        Just(";".to_string()),
        Just("%".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{%".to_string()),
        Just("../".to_string()),
        Just("/".to_string()),
        Just(":".to_string()),
        Just("- ".to_string()),
        Just("&*!|>".to_string()),
        Just("\u{2028}".to_string()),
        Just("\u{85}".to_string()),
        Just("\u{feff}".to_string()),
        Just("\u{fffe}".to_string()),
        Just("\u{e000}".to_string()),
        Just("é日本\u{1f600}".to_string()),
        "[a-z0-9._-]{1,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

/// The same, without NUL (no process argument or file can hold one).
fn hostile_text() -> impl Strategy<Value = String> {
    hostile().prop_map(|s| s.replace('\0', ""))
}

// ---------------------------------------------------------------- readers --

/// A YAML document `k: <scalar>` read with a YAML parser, then Compose's
/// interpolation of `$$` as `$` undone.
fn read_compose_scalar(scalar: &str) -> String {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&format!("k: {scalar}\n")).expect("the filter writes valid YAML");
    doc.get("k").and_then(serde_yaml_ng::Value::as_str).expect("a string").replace("$$", "$")
}

/// compose-go's dotenv reader for the forms ragc writes (a single- or
/// double-quoted value after `KEY=`): single quotes keep everything but
/// `\'`; double quotes turn `\n`/`\r` into line breaks and drop the
/// backslash before any other character but a few (`\$` stays `$` after
/// interpolation, `\x` stays `\x`). Verified against `docker compose` below.
fn read_dotenv(line: &str) -> Option<String> {
    let raw = line.strip_prefix("K=")?;
    let quote = raw.chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let mut chars: Vec<char> = Vec::new();
    let mut escape = false;
    let mut rest = raw[1..].chars();
    loop {
        let ch = rest.next()?;
        if ch != quote {
            if !escape && ch == '\\' {
                escape = true;
                continue;
            }
            if escape {
                escape = false;
                chars.push('\\');
            }
            chars.push(ch);
            continue;
        }
        if escape {
            escape = false;
            chars.push(ch);
            continue;
        }
        if !rest.as_str().is_empty() {
            return None;
        }
        break;
    }
    let value: String = chars.into_iter().collect();
    if quote == '\'' {
        return Some(value);
    }
    // expandEscapes: `\n`, `\r` become line breaks; `\X` becomes X unless X is `$`...
    let mut out = String::new();
    let mut it = value.chars().peekable();
    while let Some(ch) = it.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('$') => out.push_str("\\$"),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    // ...then interpolation, where `\$` is a literal dollar (and ragc writes no other `$`).
    Some(out.replace("\\$", "$"))
}

/// Runs `printf '%s\0' WORDS...` in bash and returns the words it printed.
fn bash_words(words: &[String]) -> Vec<String> {
    let script = format!("printf '%s\\0' {}", words.join(" "));
    let output = Command::new("bash").arg("-c").arg(&script).output().expect("bash runs");
    assert!(output.status.success(), "bash failed on {script:?}: {}", String::from_utf8_lossy(&output.stderr));
    let mut out: Vec<String> = output.stdout.split(|b| *b == 0).map(|w| String::from_utf8(w.to_vec()).unwrap()).collect();
    out.pop();
    out
}

fn find_tool(relative: &str) -> Option<PathBuf> {
    let venvs = [std::env::var("RAGC_VENV").ok().map(PathBuf::from), Some(PathBuf::from(".venv-ci"))];
    // Absolute, because tests run tools from scratch directories.
    venvs
        .into_iter()
        .flatten()
        .map(|venv| venv.join(relative))
        .find(|path| path.is_file())
        .and_then(|path| std::fs::canonicalize(path).ok())
}

fn compose_binary() -> Option<PathBuf> {
    [
        "lib/python3.11/site-packages/compose/docker-compose",
        "lib/python3.12/site-packages/compose/docker-compose",
        "lib/python3.13/site-packages/compose/docker-compose",
    ]
    .iter()
    .find_map(|path| find_tool(path))
}

// --------------------------------------------------------------- filters --

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// compose: YAML double-quoted scalar with `$` as `$$`.
    #[test]
    fn compose_filter_reads_back_through_yaml(text in hostile()) {
        let mut out = String::new();
        filters::write_compose(&mut out, text.pieces()).unwrap();
        prop_assert_eq!(read_compose_scalar(&out), text);
    }

    /// dotenv: the value `.env.production` holds, read back by Compose's rules.
    #[test]
    fn dotenv_quote_reads_back_by_compose_rules(text in hostile_text()) {
        let line = format!("K={}", ragc::artifact::dotenv_quote(&text));
        prop_assert_eq!(read_dotenv(&line), Some(text));
    }

    /// dotenv: and by ragc's own reader of `.env.production` (a port of Compose's).
    #[test]
    fn dotenv_quote_reads_back_through_ragcs_reader(text in hostile_text()) {
        let line = format!("K={}\n", ragc::artifact::dotenv_quote(&text));
        let statements = ragc::plan::dotenv::parse(line.as_bytes()).unwrap();
        prop_assert_eq!(statements.len(), 1);
        prop_assert_eq!(&statements[0].value, &text);
    }

    /// A comment never ends its line.
    #[test]
    fn comment_filter_stays_on_its_line(text in hostile()) {
        let out = filters::comment(&Value::from(text.as_str())).unwrap();
        prop_assert!(!out.contains(['\n', '\r']));
    }

    /// nginx: a token either passes unchanged and plain, or is refused.
    #[test]
    fn nginx_filter_passes_only_plain_tokens(text in hostile()) {
        if let Ok(out) = filters::nginx(&Value::from(text.as_str())) {
            prop_assert_eq!(&out, &text);
            prop_assert!(!out.is_empty() && out.chars().all(|c| c.is_ascii_alphanumeric() || "._/@:+=-~".contains(c)));
        }
    }

    /// Dockerfile exec form: a JSON array of strings, as BuildKit reads it.
    #[test]
    fn exec_form_reads_back_as_json(words in prop::collection::vec(hostile(), 0..5)) {
        let value = Value::from_serialize(&words);
        let out = filters::exec_form(&value).unwrap();
        prop_assert!(!out.contains('\n'));
        let back: Vec<String> = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(back, words);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// sh: every word bash reads back byte for byte (256 words per bash run).
    #[test]
    fn sh_filter_reads_back_through_bash(words in prop::collection::vec(hostile_text(), 256)) {
        let quoted: Vec<String> = words.iter().map(|w| filters::sh_quote(w)).collect();
        prop_assert_eq!(bash_words(&quoted), words);
    }

    /// cron: after `sh`, a crontab command has no line break and no bare `%`
    /// (cron's newline); with cron's `\%` → `%`, bash reads the word back.
    #[test]
    fn cron_filter_reads_back_through_cron_and_bash(words in prop::collection::vec(hostile_text(), 64)) {
        let mut kept = Vec::new();
        let mut read = Vec::new();
        for word in &words {
            let Ok(out) = filters::cron(&Value::from(filters::sh_quote(word))) else {
                prop_assert!(word.contains(['\n', '\r']));
                continue;
            };
            prop_assert!(!out.contains(['\n', '\r']));
            prop_assert!(!out.replace("\\%", "").contains('%'));
            kept.push(word.clone());
            read.push(out.replace("\\%", "%"));
        }
        prop_assert_eq!(bash_words(&read), kept);
    }
}

/// The dotenv rules above, against the real Compose binary (when installed
/// by `.ci/setup-validators`): one .env file of samples, read by `docker
/// compose config`.
#[test]
fn dotenv_quote_reads_back_through_docker_compose() {
    let Some(compose) = compose_binary() else {
        eprintln!("skipped: no docker-compose binary (set RAGC_VENV or run .ci/setup-validators)");
        return;
    };
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let samples: Vec<String> = (0..64)
        .map(|_| hostile_text().new_tree(&mut runner).unwrap().current())
        // Compose reads the file as lines of text; a lone CR is a line end to it.
        .chain(["abc\\", "a\\'b", "'", "$HOME", "a\\nb", "#x", "\\\\$", " lead"].map(String::from))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let env: String = samples.iter().enumerate().map(|(i, s)| format!("K{i}={}\n", ragc::artifact::dotenv_quote(s))).collect();
    std::fs::write(dir.path().join("e.env"), env).unwrap();
    let mut yaml = String::from("services:\n  a:\n    image: x\n    environment:\n");
    for i in 0..samples.len() {
        yaml.push_str(&format!("      K{i}: ${{K{i}}}\n"));
    }
    std::fs::write(dir.path().join("c.yaml"), yaml).unwrap();
    let output = Command::new(&compose)
        .current_dir(dir.path())
        .args(["--env-file", "e.env", "-f", "c.yaml", "config", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let config: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for (i, sample) in samples.iter().enumerate() {
        // `config` writes the resolved value back with `$` as `$$`.
        let value = config["services"]["a"]["environment"][format!("K{i}")].as_str().unwrap_or_default().replace("$$", "$");
        assert_eq!(&value, sample, "K{i}");
    }
}

// ------------------------------------------------------------ end to end --

/// A string as a `.rag` string literal holds it.
fn rag_string(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Compiles `text`: the plan, or the rendered diagnostics.
fn compile(text: &str) -> Result<Plan, String> {
    let input = Input::from_text("stack.rag", text);
    let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
    plan.ok_or_else(|| compilation.sources.render(&compilation.diagnostics, false))
}

fn artifact<'a>(plan: &'a Plan, path: &str) -> &'a str {
    match &plan.get(path).unwrap_or_else(|| panic!("no {path}")).contents {
        Contents::Text(text) => text,
        Contents::Secrets(_) | Contents::SecretFile(_) => panic!("{path} holds secrets"),
    }
}

fn yaml(plan: &Plan, path: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(artifact(plan, path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// A rejection names the field: the diagnostic's source line is the field's.
fn assert_names(rendered: &str, field: &str) {
    assert!(rendered.contains("error["), "{rendered}");
    assert!(rendered.contains(field), "the diagnostics should show `{field}`:\n{rendered}");
}

/// Every line of a dotenv file is a comment, blank, or `NAME=` with a quoted value.
fn assert_dotenv_lines(text: &str) {
    for line in text.lines() {
        let ok = line.is_empty()
            || line.starts_with('#')
            || line.split_once('=').is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert!(ok, "stray line in an env file: {line:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// env values → compose.yaml (YAML + `$$`) and .env.example (comments).
    #[test]
    fn env_values_reach_compose_intact(text in hostile()) {
        let stack = format!("stack demo {{}}\nservice web: image {{\n  image = \"nginx:1.27\"\n  env {{\n    GIVEN = {}\n  }}\n}}\n", rag_string(&text));
        match compile(&stack) {
            Err(rendered) => assert_names(&rendered, "GIVEN = "),
            Ok(plan) => {
                let doc = yaml(&plan, "compose.yaml");
                let value = doc["services"]["web"]["environment"]["GIVEN"].as_str().unwrap().replace("$$", "$");
                prop_assert_eq!(value, text);
                assert_dotenv_lines(artifact(&plan, ".env.example"));
            }
        }
    }

    /// A command line → compose `command:` array and the Dockerfile's exec-form CMD.
    #[test]
    fn commands_reach_compose_and_dockerfile_intact(text in hostile()) {
        let stack = format!("stack demo {{}}\nservice api: python {{\n  command = {}\n}}\n", rag_string(&text));
        match compile(&stack) {
            Err(rendered) => assert_names(&rendered, "command = "),
            Ok(plan) => {
                let words = shlex::split(&text).unwrap();
                let doc = yaml(&plan, "compose.yaml");
                let command: Vec<String> = doc["services"]["api"]["command"].as_sequence().unwrap().iter().map(|w| w.as_str().unwrap().replace("$$", "$")).collect();
                prop_assert_eq!(&command, &words);
                let dockerfile = artifact(&plan, "Dockerfile.api");
                let cmd = dockerfile.lines().find_map(|l| l.strip_prefix("CMD ")).unwrap();
                let exec: Vec<String> = serde_json::from_str(cmd).unwrap();
                prop_assert_eq!(&exec, &words);
            }
        }
    }

    /// postgres `user`/`database` → backup.sh words, read back by bash.
    #[test]
    fn postgres_names_reach_backup_script_intact(user in hostile_text(), database in hostile_text()) {
        let stack = format!(
            "stack demo {{}}\nservice db: postgres {{\n  user = {}\n  database = {}\n  backup = daily()\n}}\n",
            rag_string(&user),
            rag_string(&database)
        );
        match compile(&stack) {
            Err(rendered) => {
                prop_assert!(rendered.contains("user = ") || rendered.contains("database = "), "{}", rendered);
            }
            Ok(plan) => {
                let script = artifact(&plan, "backup/backup.sh");
                check_bash_syntax(script);
                let line = script.lines().find(|l| l.contains("pg_dump")).unwrap();
                let word = |flag: &str| line.split_whitespace().find_map(|w| w.strip_prefix(flag)).unwrap().to_string();
                let back = bash_words(&[word("--username="), word("--dbname=")]);
                prop_assert_eq!(back, vec![user, database]);
            }
        }
    }

    /// A health path → compose probe, ops/health-check.sh (bash) and the Dockerfile HEALTHCHECK.
    #[test]
    fn health_paths_reach_scripts_intact(path in hostile_text()) {
        let path = format!("/{}", path);
        let stack = format!(
            "stack demo {{}}\nservice api: python {{\n  command = \"app\"\n  port = 8000\n  publish = 8000\n  health = http({})\n}}\n",
            rag_string(&path)
        );
        match compile(&stack) {
            Err(rendered) => assert_names(&rendered, "health = "),
            Ok(plan) => {
                let script = artifact(&plan, "ops/health-check.sh");
                check_bash_syntax(script);
                let url = script.lines().find_map(|l| l.trim().strip_prefix("if curl -fsS --max-time 5 -o /dev/null ")).unwrap();
                let url = url.strip_suffix("; then").unwrap();
                prop_assert_eq!(bash_words(&[url.to_string()]), vec![format!("http://127.0.0.1:8000{path}")]);
                let doc = yaml(&plan, "compose.yaml");
                let probe = doc["services"]["api"]["healthcheck"]["test"].as_sequence().unwrap();
                prop_assert_eq!(probe.last().and_then(serde_yaml_ng::Value::as_str).map(|s| s.replace("$$", "$")), Some(format!("http://127.0.0.1:8000{path}")));
            }
        }
    }

    /// Server paths → common.sh's `${BACKUP_ROOT:-...}` and the crontab line, through bash.
    #[test]
    fn server_paths_reach_scripts_intact(root in hostile_text(), path in hostile_text()) {
        let (root, path) = (format!("/{}", root), format!("/{}", path));
        let stack = format!(
            "stack demo {{\n  backup_root = {}\n  path = {}\n}}\nservice db: postgres {{ backup = daily() }}\n",
            rag_string(&root),
            rag_string(&path)
        );
        match compile(&stack) {
            Err(rendered) => {
                prop_assert!(rendered.contains("backup_root = ") || rendered.contains("path = "), "{}", rendered);
            }
            Ok(plan) => {
                let script = artifact(&plan, "backup/backup.sh");
                check_bash_syntax(script);
                // The root is given as a default that the environment may override.
                let lines: Vec<&str> = script.lines().filter(|l| l.starts_with("default_root=") || l.starts_with("readonly BACKUP_ROOT=")).collect();
                prop_assert_eq!(lines.len(), 2, "{}", script);
                let output = Command::new("bash").env_remove("BACKUP_ROOT").arg("-c").arg(format!("{}; printf %s \"$BACKUP_ROOT\"", lines.join("; "))).output().unwrap();
                prop_assert_eq!(String::from_utf8(output.stdout).unwrap(), root);
                let crontab = artifact(&plan, "backup/crontab");
                let entry = crontab.lines().find(|l| l.contains(" root ")).unwrap();
                prop_assert!(!entry.replace("\\%", "").contains('%'));
                let command = entry.split_once(" root ").unwrap().1.replace("\\%", "%");
                let first = command.split(' ').next().unwrap().to_string();
                // `path` is the stack file's directory on the server; the output is its deploy/.
                prop_assert_eq!(bash_words(&[first]), vec![format!("{path}/deploy/backup/backup.sh")]);
            }
        }
    }

    /// Values written unquoted into the Dockerfile: the Python version (FROM)
    /// and the requirements file (COPY, exec form).
    #[test]
    fn dockerfile_values_stay_one_token(version in hostile_text(), requirements in hostile_text()) {
        let stack = format!(
            "stack demo {{}}\nservice api: python {{\n  command = \"app\"\n  python = {}\n  requirements = {}\n}}\n",
            rag_string(&version),
            rag_string(&requirements)
        );
        match compile(&stack) {
            Err(rendered) => {
                prop_assert!(rendered.contains("python = ") || rendered.contains("requirements = "), "{}", rendered);
            }
            Ok(plan) => {
                let dockerfile = artifact(&plan, "Dockerfile.api");
                let from: Vec<&str> = dockerfile.lines().find(|l| l.starts_with("FROM ")).unwrap().split_whitespace().collect();
                let base = format!("python:{}-slim", version);
                prop_assert_eq!(from, vec!["FROM", base.as_str(), "AS", "builder"]);
                let copy = dockerfile.lines().find_map(|l| l.strip_prefix("COPY [")).map(|l| format!("[{l}")).unwrap();
                let words: Vec<String> = serde_json::from_str(&copy).unwrap();
                prop_assert_eq!(words, vec![requirements.clone(), "./requirements.txt".to_string()]);
                prop_assert!(!requirements.starts_with('/') && !requirements.split('/').any(|p| p == ".."));
            }
        }
    }

    /// The domain and a route → nginx tokens, or a diagnostic.
    #[test]
    fn nginx_values_are_plain_tokens(domain in hostile_text(), route in hostile_text()) {
        let route = format!("/{}", route);
        let stack = format!(
            "stack demo {{\n  domain = {}\n  acme_email = \"ops@example.com\"\n}}\nservice web: image {{\n  image = \"nginx:1.27\"\n  port = 8080\n  route = {}\n}}\nproxy nginx {{}}\n",
            rag_string(&domain),
            rag_string(&route)
        );
        match compile(&stack) {
            Err(rendered) => {
                prop_assert!(rendered.contains("domain = ") || rendered.contains("route = "), "{}", rendered);
            }
            Ok(plan) => {
                let conf = artifact(&plan, "nginx/demo.conf");
                let names: Vec<&str> = conf.lines().filter_map(|l| l.trim().strip_prefix("server_name ")).collect();
                let server_name = format!("{};", domain);
                let location = format!("location {} {{", route);
                prop_assert!(names.iter().all(|n| *n == server_name));
                prop_assert!(conf.lines().any(|l| l.trim() == location));
                prop_assert!(route.chars().all(|c| c.is_ascii_alphanumeric() || "._/@:+=-~".contains(c)));
            }
        }
    }

    /// A cron expression → the crontab: five plain fields or a diagnostic.
    #[test]
    fn cron_expressions_are_plain_fields(expr in hostile_text()) {
        let stack = format!("stack demo {{}}\nservice db: postgres {{\n  backup = cron({})\n}}\n", rag_string(&expr));
        match compile(&stack) {
            Err(rendered) => assert_names(&rendered, "backup = "),
            Ok(plan) => {
                let crontab = artifact(&plan, "backup/crontab");
                let entry = crontab.lines().find(|l| l.contains(" root ")).unwrap();
                let fields: Vec<&str> = entry.split(' ').take(5).collect();
                prop_assert_eq!(fields.join(" "), expr.split_whitespace().collect::<Vec<_>>().join(" "));
                prop_assert!(fields.iter().all(|f| f.chars().all(|c| c.is_ascii_digit() || ",-*/".contains(c))));
            }
        }
    }

    /// A required secret's help → comments in .env.example, never a line of its own.
    #[test]
    fn secret_help_stays_in_comments(help in hostile()) {
        let stack = format!(
            "stack demo {{}}\nsecret key = required({})\nservice web: image {{\n  image = \"nginx:1.27\"\n  env {{ KEY = key }}\n}}\n",
            rag_string(&help)
        );
        match compile(&stack) {
            Err(rendered) => assert_names(&rendered, "required("),
            Ok(plan) => assert_dotenv_lines(artifact(&plan, ".env.example")),
        }
    }

    /// Names that become DNS labels, volume and file names: valid, inside
    /// the output directory, and distinct after normalisation.
    #[test]
    fn names_stay_inside_and_distinct(a in "[a-zA-Z_][a-zA-Z0-9_-]{0,70}", b in "[a-zA-Z_][a-zA-Z0-9_-]{0,70}", va in "[a-zA-Z_][a-zA-Z0-9_-]{0,8}", vb in "[a-zA-Z_][a-zA-Z0-9_-]{0,8}") {
        let stack = format!(
            "stack demo {{}}\nservice {a}: python {{\n  command = \"app\"\n  release = \"migrate\"\n  volume {va} = \"/data\"\n}}\nservice {b}: python {{\n  command = \"app\"\n  volume {vb} = \"/data\"\n}}\n"
        );
        let Ok(plan) = compile(&stack) else { return Ok(()) };
        for artifact in &plan.artifacts {
            prop_assert!(!artifact.path.starts_with('/') && !artifact.path.split('/').any(|p| p.is_empty() || p == "." || p == ".."));
        }
        for name in [&a, &b] {
            prop_assert!(name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
        let doc = yaml(&plan, "compose.yaml");
        let services = doc["services"].as_mapping().unwrap();
        prop_assert_eq!(services.len(), 3, "two services and a release job, all distinct");
        let volumes = doc["volumes"].as_mapping().unwrap();
        prop_assert_eq!(volumes.len(), 2, "two distinct volumes");
        let dockerfiles: Vec<&str> = plan.artifacts.iter().map(|a| a.path.as_str()).filter(|p| p.starts_with("Dockerfile.") && !p.ends_with(".dockerignore")).collect();
        prop_assert_eq!(dockerfiles.len(), 2);
    }
}

/// `bash -n`: the script parses.
fn check_bash_syntax(script: &str) {
    let output = Command::new("bash").arg("-n").arg("-c").arg(script).output().unwrap();
    assert!(output.status.success(), "bash -n: {}", String::from_utf8_lossy(&output.stderr));
}

/// nginx's own parser on a sample of generated sites: `nginx -t` accepts the
/// file, and `crossplane` (a port of nginx's lexer, when installed) reads
/// `server_name` and each `location` back as single tokens.
#[test]
fn generated_nginx_sites_pass_nginx_t() {
    let Ok(nginx) = which("nginx") else {
        eprintln!("skipped: no nginx");
        return;
    };
    let samples = [("a.example.com", "/"), ("xn--d1acufc.xn--p1ai", "/api/v1/"), ("a-b.c-d.example", "/x@y:z+=~._-/")];
    for (domain, route) in samples {
        let stack = format!(
            "stack demo {{\n  domain = {}\n  acme_email = \"ops@example.com\"\n}}\nservice web: image {{\n  image = \"nginx:1.27\"\n  port = 8080\n  route = {}\n}}\nproxy nginx {{ tls = manual, certificate = \"/tmp/ragc-nginx-test/c.pem\", certificate_key = \"/tmp/ragc-nginx-test/k.pem\" }}\n",
            rag_string(domain),
            rag_string(route)
        );
        let plan = compile(&stack).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site.conf");
        std::fs::write(&site, artifact(&plan, "nginx/demo.conf")).unwrap();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "pid {0}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n  access_log off;\n  include {1};\n}}\n",
                dir.path().display(),
                site.display()
            ),
        )
        .unwrap();
        // nginx -t loads the certificates: make a throwaway pair.
        std::fs::create_dir_all("/tmp/ragc-nginx-test").unwrap();
        if !Path::new("/tmp/ragc-nginx-test/k.pem").exists() {
            let status = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=test",
                ])
                .args(["-keyout", "/tmp/ragc-nginx-test/k.pem", "-out", "/tmp/ragc-nginx-test/c.pem"])
                .output();
            if status.map(|o| !o.status.success()).unwrap_or(true) {
                eprintln!("skipped: no openssl");
                return;
            }
        }
        let output = Command::new(&nginx).arg("-t").arg("-c").arg(&conf).arg("-p").arg(dir.path()).output().unwrap();
        assert!(output.status.success(), "nginx -t: {}", String::from_utf8_lossy(&output.stderr));
        if let Some(crossplane) = find_tool("bin/crossplane") {
            let output = Command::new(crossplane).arg("parse").arg(&conf).output().unwrap();
            let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let text = parsed.to_string();
            assert!(text.contains(&format!("\"args\":[\"{}\"]", domain)), "{text}");
            assert!(text.contains(&format!("\"args\":[\"{}\"]", route)), "{text}");
        }
    }
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(tool)).find(|path| path.is_file())).ok_or(())
}
