//! Nothing a user names or keeps leaks where it must not: a file name into a
//! generated command, the secrets file into an image's build context.

use std::path::Path;
use std::process::{Command, Output};

fn ragc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ragc")).current_dir(dir).args(args).env("NO_COLOR", "1").output().expect("ragc runs")
}

fn assert_ok(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Every file under `dir`, with its text.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(next) = todo.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push((path.display().to_string(), String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()));
            }
        }
    }
    out
}

const STACK: &str = r#"stack hello {
  domain     = "hello.example.com"
  acme_email = "ops@example.com"
  context    = "app"
}
secret session_key = generate(hex, 32)
service db: postgres {
  version = "16.4"
  backup  = daily(at: "02:00", keep: 7d)
}
service app: python {
  python  = "3.12.8"
  command = "gunicorn app:server --bind 0.0.0.0:8000"
  port    = 8000
  health  = http("/health")
  route   = "/"
  env { DATABASE_URL = db.url, SESSION_KEY = session_key }
}
proxy nginx {}
"#;

/// `ragc compile $'x\ntouch PWNED\nFOO=bar #.rag'` put `touch PWNED` on a
/// line of `backup/backup.sh` (run by root's cron) and `FOO=` into
/// `.env.production`.
#[test]
fn a_hostile_stack_file_name_stays_inside_every_header() {
    let dir = tempfile::tempdir().unwrap();
    let name = "x\ntouch PWNED\nFOO=bar #.rag";
    std::fs::write(dir.path().join(name), STACK).unwrap();
    assert_ok(&ragc(dir.path(), &["compile", name, "-o", "out"]));
    let written = files(&dir.path().join("out"));
    assert!(written.len() >= 10, "{written:?}");
    for (path, text) in &written {
        for line in text.lines() {
            assert!(!line.starts_with("touch PWNED") && !line.starts_with("FOO=bar"), "{path}: {line:?}");
        }
        if path.ends_with("backup.sh") || path.ends_with(".env.production") {
            assert!(text.contains(r"x\u{a}touch PWNED\u{a}FOO=bar #.rag"), "{path} lost the name:\n{text}");
        }
    }
}

fn ignore_file(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("Dockerfile.app.dockerignore")).unwrap();
    text.lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect()
}

/// With the output directory inside the build context (`-o app/deploy`,
/// context `app`), or reached through a symlink, nothing excluded it and
/// `COPY . .` took `.env.production` into the image.
#[test]
fn the_output_directory_is_excluded_from_the_build_context_however_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("proj/app")).unwrap();
    std::fs::write(dir.path().join("proj/stack.rag"), STACK).unwrap();
    std::os::unix::fs::symlink("proj/app", dir.path().join("applink")).unwrap();
    std::os::unix::fs::symlink("proj", dir.path().join("projlink")).unwrap();
    for (stack, out, real_out) in [
        ("proj/stack.rag", "proj/app/deploy", "proj/app/deploy"),
        ("proj/stack.rag", "applink/deploy", "proj/app/deploy2"),
        ("projlink/stack.rag", "proj/app/deploy3", "proj/app/deploy3"),
        ("proj/stack.rag", "ABSOLUTE", "proj/app/deploy4"),
    ] {
        let absolute = dir.path().join("applink/deploy4").display().to_string();
        let out = match out {
            "ABSOLUTE" => absolute.as_str(),
            _ if real_out.ends_with("deploy2") => "applink/deploy2",
            _ => out,
        };
        assert_ok(&ragc(dir.path(), &["compile", stack, "-o", out]));
        let patterns = ignore_file(&dir.path().join(real_out));
        let expected = format!("{}/", Path::new(real_out).file_name().unwrap().to_string_lossy());
        assert!(patterns.contains(&expected), "{stack} -o {out}: {patterns:?}");
        for pattern in ["**/.env", "**/.env.*", "**/*.ragc-keep", "**/.ragc-*"] {
            assert!(patterns.iter().any(|p| p == pattern), "{pattern} missing: {patterns:?}");
        }
        let compose = std::fs::read_to_string(dir.path().join(real_out).join("compose.yaml")).unwrap();
        assert!(compose.contains("context: \"..\"\n"), "{stack} -o {out}: the build context is not the app directory:\n{compose}");
    }
}
