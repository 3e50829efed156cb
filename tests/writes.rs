//! The writer through the library: ownership of generated files, all or
//! nothing, atomic files under injected faults and crashes, secrets that
//! persist, environment errors that leave the previous output untouched.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use ragc::emit::EmitOptions;
use ragc::input::Input;
use ragc::plan::disk::{self, Status};
use ragc::plan::secrets;
use ragc::plan::write::{self, Faults, NoFaults, WriteError};
use ragc::plan::{Contents, Plan};

fn flagship() -> String {
    fs::read_to_string("examples/rag-engine-mini.rag").unwrap()
}

/// The flagship with one more built service, whose files a later compile without it removes.
fn with_admin() -> String {
    flagship() + "\nservice admin: python {\n  python  = \"3.11.11\"\n  command = \"gunicorn admin:app --bind 0.0.0.0:9000\"\n  port    = 9000\n}\n"
}

/// Compares `plan` with `out_dir` and writes it, refusing hand edits and
/// foreign files: what `ragc compile` without `--force` does.
fn write_plan(plan: &Plan, out_dir: &Path) -> Result<write::Applied, WriteError> {
    let changes = disk::compare(plan, out_dir).map_err(WriteError::Failed)?;
    write::apply(&changes, false, &mut NoFaults)
}

fn plan_of(text: &str) -> Plan {
    let input = Input::from_text("stack.rag", text);
    let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
    assert!(!compilation.has_errors(), "{}", compilation.sources.render(&compilation.diagnostics, false));
    plan.unwrap()
}

fn text_of(plan: &Plan, path: &str) -> String {
    match &plan.get(path).unwrap().contents {
        Contents::Text(text) => text.clone(),
        Contents::Secrets(_) | Contents::SecretFile(_) => panic!("{path} holds secrets"),
    }
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                let bytes = if kind.is_symlink() { b"<symlink>".to_vec() } else { fs::read(&path).unwrap() };
                out.insert(relative, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The writer's leftovers (not its manifest, which stays).
fn scratch_files(dir: &Path) -> Vec<String> {
    let scratch = |name: &str| name.starts_with(".ragc-") && name != disk::MANIFEST;
    tree(dir).into_keys().filter(|path| scratch(path.rsplit('/').next().unwrap())).collect()
}

fn env_values(dir: &Path) -> indexmap::IndexMap<String, String> {
    secrets::parse_env(&fs::read_to_string(dir.join(".env.production")).unwrap())
}

fn codes(problems: &[ragc::diag::Diagnostic]) -> Vec<&str> {
    problems.iter().map(|p| p.code.as_str()).collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_second_compile_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(&flagship());
    let applied = write_plan(&plan, dir.path()).unwrap();
    // Every artifact, but the secret file of the required key no one filled in yet.
    assert_eq!(applied.created.len(), plan.artifacts.len() - 1);
    assert!(!dir.path().join("secrets/api.OPENAI_API_KEY").exists());
    let before = tree(dir.path());
    let changes = disk::compare(&plan, dir.path()).unwrap();
    assert!(changes.in_sync(), "{:?}", changes.changes.iter().filter(|c| c.status != Status::Unchanged).collect::<Vec<_>>());
    // Compared as it was read, never held: at 10,000 services it is megabytes.
    assert_eq!(changes.get("compose.yaml").unwrap().old, None);
    let again = write_plan(&plan, dir.path()).unwrap();
    assert_eq!((again.created.len(), again.updated.len(), again.unchanged), (0, 0, plan.artifacts.len() - 1));
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_hand_edit_is_refused_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    let edited = dir.path().join("compose.production.yaml");
    let text = fs::read_to_string(&edited).unwrap().replace("max-size: \"10m\"", "max-size: \"50m\"");
    fs::write(&edited, &text).unwrap();
    let before = tree(dir.path());

    // The stack changed too: compose.yaml would be updated, but isn't.
    let next = plan_of(&flagship().replace("concurrency=4", "concurrency=8"));
    let Err(WriteError::Refused(problems)) = write_plan(&next, dir.path()) else { panic!("a hand edit must be refused") };
    assert_eq!(codes(&problems), ["E0601"]);
    assert!(problems[0].message.contains("compose.production.yaml was edited by hand"), "{}", problems[0].message);
    assert!(problems[0].help[0].contains("--force") && problems[0].help[0].contains(".ragc-keep"), "{}", problems[0].help[0]);
    assert_eq!(tree(dir.path()), before, "a refused compile changes nothing");
}

#[test]
fn force_keeps_a_copy_before_replacing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(&flagship());
    write_plan(&plan, dir.path()).unwrap();
    let target = dir.path().join("compose.production.yaml");
    for (round, keep) in ["compose.production.yaml.ragc-keep", "compose.production.yaml.ragc-keep.1"].iter().enumerate() {
        let edit = format!("{}# my edit {round}\n", text_of(&plan, "compose.production.yaml"));
        fs::write(&target, &edit).unwrap();
        let changes = disk::compare(&plan, dir.path()).unwrap();
        assert_eq!(changes.get("compose.production.yaml").unwrap().status, Status::HandEdited);
        let applied = write::apply(&changes, true, &mut NoFaults).unwrap();
        assert_eq!(applied.kept, [keep.to_string()]);
        assert_eq!(fs::read_to_string(dir.path().join(keep)).unwrap(), edit, "the copy is the edited file");
        assert_eq!(fs::read_to_string(&target).unwrap(), text_of(&plan, "compose.production.yaml"));
        #[cfg(unix)]
        assert_eq!(mode(&dir.path().join(keep)), 0o600);
    }
    // Kept copies are the user's: never read as stale, never removed.
    assert!(disk::compare(&plan, dir.path()).unwrap().in_sync());
}

#[test]
fn a_file_ragc_did_not_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("compose.yaml"), "services: {}  # mine\n").unwrap();
    let before = tree(dir.path());
    let plan = plan_of(&flagship());
    let Err(WriteError::Refused(problems)) = write_plan(&plan, dir.path()) else { panic!("a foreign file must be refused") };
    assert_eq!(codes(&problems), ["E0602"]);
    assert!(problems[0].message.ends_with("compose.yaml was not generated by ragc"));
    assert_eq!(tree(dir.path()), before, "all or nothing: not even the other files are created");

    let changes = disk::compare(&plan, dir.path()).unwrap();
    write::apply(&changes, true, &mut NoFaults).unwrap();
    assert_eq!(fs::read_to_string(dir.path().join("compose.yaml.ragc-keep")).unwrap(), "services: {}  # mine\n");
    assert_eq!(fs::read_to_string(dir.path().join("compose.yaml")).unwrap(), text_of(&plan, "compose.yaml"));
}

#[test]
fn a_hand_written_env_file_is_refused_then_adopted_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let mine = "# our secrets\nJWT_SECRET=handmade-0123\nSENTRY_DSN=https://key@sentry.example/1\n";
    fs::write(dir.path().join(".env.production"), mine).unwrap();
    let plan = plan_of(&flagship());
    let Err(WriteError::Refused(problems)) = write_plan(&plan, dir.path()) else { panic!("refused") };
    assert_eq!(codes(&problems), ["E0602"]);
    let changes = disk::compare(&plan, dir.path()).unwrap();
    write::apply(&changes, true, &mut NoFaults).unwrap();
    let values = env_values(dir.path());
    assert_eq!(values["JWT_SECRET"], "handmade-0123", "its values are taken over");
    let text = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    // Kept commented out as it was written, not re-quoted.
    assert!(text.contains("\n# SENTRY_DSN=https://key@sentry.example/1\n"), "unknown variables are kept, commented:\n{text}");
    assert!(text.contains("\n# our secrets\nJWT_SECRET=handmade-0123\n"), "the operator's lines are kept:\n{text}");
    assert_eq!(fs::read_to_string(dir.path().join(".env.production.ragc-keep")).unwrap(), mine);
}

#[test]
fn files_of_a_removed_service_are_removed_only_if_unedited() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&with_admin()), dir.path()).unwrap();
    assert!(dir.path().join("Dockerfile.admin").is_file());
    fs::write(dir.path().join("notes.txt"), "mine\n").unwrap();

    let without = plan_of(&flagship());
    let applied = write_plan(&without, dir.path()).unwrap();
    assert_eq!(applied.removed, ["Dockerfile.admin", "Dockerfile.admin.dockerignore"]);
    assert!(!dir.path().join("Dockerfile.admin").exists());
    assert_eq!(fs::read_to_string(dir.path().join("notes.txt")).unwrap(), "mine\n", "files ragc didn't write are not its to remove");
    assert!(disk::compare(&without, dir.path()).unwrap().in_sync());
}

#[test]
fn an_edited_file_of_a_removed_service_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&with_admin()), dir.path()).unwrap();
    let dockerfile = dir.path().join("Dockerfile.admin");
    let edited = fs::read_to_string(&dockerfile).unwrap() + "RUN echo tuned by hand\n";
    fs::write(&dockerfile, &edited).unwrap();
    let before = tree(dir.path());

    let without = plan_of(&flagship());
    let Err(WriteError::Refused(problems)) = write_plan(&without, dir.path()) else { panic!("refused") };
    assert_eq!(codes(&problems), ["E0601"]);
    assert!(problems[0].message.contains("Dockerfile.admin was edited by hand, and the stack no longer generates it"));
    assert_eq!(tree(dir.path()), before);

    let changes = disk::compare(&without, dir.path()).unwrap();
    assert_eq!(changes.get("Dockerfile.admin").unwrap().status, Status::RemoveEdited);
    assert_eq!(changes.get("Dockerfile.admin.dockerignore").unwrap().status, Status::Remove);
    let applied = write::apply(&changes, true, &mut NoFaults).unwrap();
    assert_eq!(applied.removed, ["Dockerfile.admin", "Dockerfile.admin.dockerignore"]);
    assert_eq!(fs::read_to_string(dir.path().join("Dockerfile.admin.ragc-keep")).unwrap(), edited);
}

#[test]
fn a_directory_emptied_by_removals_goes_too() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    let no_proxy =
        flagship().replace("proxy nginx {\n  tls     = letsencrypt\n  headers = strict\n}\n", "").replace("route          = \"/\"", "");
    let applied = write_plan(&plan_of(&no_proxy), dir.path()).unwrap();
    assert_eq!(applied.removed, ["nginx/rag-engine.bootstrap.conf", "nginx/rag-engine.conf", "nginx/ragc-default.conf"]);
    assert!(!dir.path().join("nginx").exists());
}

#[cfg(unix)]
#[test]
fn a_symlink_at_a_target_path_is_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("compose.yaml")).unwrap();
    let Err(WriteError::Failed(problems)) = write_plan(&plan_of(&flagship()), dir.path()) else { panic!("refused") };
    assert_eq!(codes(&problems), ["E0603"]);
    assert!(problems[0].message.contains("is a symbolic link"), "{}", problems[0].message);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(fs::symlink_metadata(dir.path().join("compose.yaml")).unwrap().file_type().is_symlink());
    assert_eq!(tree(dir.path()).len(), 1, "nothing else was written");

    // A linked directory on the way is refused the same way.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("nginx")).unwrap();
    let Err(WriteError::Failed(problems)) = write_plan(&plan_of(&flagship()), dir.path()) else { panic!("refused") };
    assert!(problems[0].message.contains("nginx is a symbolic link"), "{}", problems[0].message);
    assert_eq!(tree(outside.path()).len(), 1, "nothing was written through the link");
}

#[test]
fn a_file_in_place_of_a_directory_leaves_everything_untouched() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    fs::remove_dir_all(dir.path().join("backup")).unwrap();
    fs::write(dir.path().join("backup"), "not a directory\n").unwrap();
    let before = tree(dir.path());
    let next = plan_of(&flagship().replace("concurrency=4", "concurrency=8"));
    let Err(WriteError::Failed(problems)) = write_plan(&next, dir.path()) else { panic!("must fail") };
    assert!(problems.iter().all(|p| p.code == "E0603"));
    assert!(problems[0].message.contains("backup is a file, but ragc needs a directory there"), "{}", problems[0].message);
    assert_eq!(tree(dir.path()), before);

    // The output directory itself is a file.
    let file = dir.path().join("compose.yaml");
    let Err(WriteError::Failed(problems)) = write_plan(&next, &file) else { panic!("must fail") };
    assert!(problems[0].message.contains("is not a directory"), "{}", problems[0].message);
}

/// Fails every write once `limit` bytes have been written in total: a disk filling up.
struct FullDisk {
    written: usize,
    limit: usize,
}

impl Faults for FullDisk {
    fn before_write(&mut self, _: &Path, _: usize) -> io::Result<()> {
        if self.written >= self.limit {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        self.written += 1024;
        Ok(())
    }
}

/// Counts commit steps.
struct Count(usize);

impl Faults for Count {
    fn before_commit(&mut self, index: usize, _: &Path) -> io::Result<()> {
        self.0 = self.0.max(index + 1);
        Ok(())
    }
}

/// How many commit steps writing `after` over `before` takes, and how many bytes it stages.
fn steps(before: &str, after: &str) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(before), dir.path()).unwrap();
    let changes = disk::compare(&plan_of(after), dir.path()).unwrap();
    let bytes = changes.changes.iter().filter(|c| c.status != Status::Unchanged).filter_map(|c| c.new.as_ref()).map(String::len).sum();
    let mut count = Count(0);
    write::apply(&changes, false, &mut count).unwrap();
    (count.0, bytes)
}

/// Fails the `at`-th commit step: a rename that fails halfway through a compile.
struct FailingRename {
    at: usize,
}

impl Faults for FailingRename {
    fn before_commit(&mut self, index: usize, _: &Path) -> io::Result<()> {
        if index == self.at {
            Err(io::Error::other("injected rename failure"))
        } else {
            Ok(())
        }
    }
}

/// A compile with every kind of operation: files updated, created, removed,
/// and a new secret in the env file.
fn busy_change() -> (String, String) {
    let before = with_admin();
    let after = flagship()
        .replace("concurrency=4", "concurrency=8")
        .replace("secret jwt_secret     = generate(hex, 32)", "secret jwt_secret     = generate(hex, 32)\nsecret extra = generate(hex, 24)")
        .replace("    LOG_LEVEL      = \"info\"", "    LOG_LEVEL      = \"info\"\n    EXTRA          = extra")
        + "\nservice reports: python {\n  python  = \"3.11.11\"\n  command = \"python -m reports\"\n}\n";
    (before, after)
}

#[test]
fn a_full_disk_leaves_the_previous_output_untouched() {
    let (before, after) = busy_change();
    let next = plan_of(&after);
    let (_, total) = steps(&before, &after);
    assert!(total > 10_000, "{total}");
    for limit in [0, 1024, 4096, total / 2, total - 1500] {
        let dir = tempfile::tempdir().unwrap();
        write_plan(&plan_of(&before), dir.path()).unwrap();
        let old = tree(dir.path());
        let changes = disk::compare(&next, dir.path()).unwrap();
        let result = write::apply(&changes, false, &mut FullDisk { written: 0, limit });
        let Err(WriteError::Failed(problems)) = result else { panic!("limit {limit}: the disk should have filled up") };
        assert_eq!(problems[0].code, "E0603");
        assert!(problems[0].message.contains("the disk is full"), "{}", problems[0].message);
        assert_eq!(tree(dir.path()), old, "limit {limit}: every file is as it was, no temporary file is left");
    }
}

#[test]
fn a_failed_rename_puts_every_file_back() {
    let (before, after) = busy_change();
    let next = plan_of(&after);
    let mut at = 0;
    loop {
        let dir = tempfile::tempdir().unwrap();
        write_plan(&plan_of(&before), dir.path()).unwrap();
        let old = tree(dir.path());
        let changes = disk::compare(&next, dir.path()).unwrap();
        match write::apply(&changes, false, &mut FailingRename { at }) {
            Err(WriteError::Failed(problems)) => {
                assert!(problems[0].message.contains("injected rename failure"), "{}", problems[0].message);
                assert_eq!(tree(dir.path()), old, "step {at}: all or nothing");
            }
            Ok(applied) => {
                assert_eq!(at, steps(&before, &after).0, "every step was interrupted once");
                assert!(!applied.created.is_empty() && !applied.updated.is_empty() && !applied.removed.is_empty());
                assert!(scratch_files(dir.path()).is_empty());
                break;
            }
            Err(WriteError::Refused(_)) => unreachable!(),
        }
        at += 1;
    }
}

/// Aborts the process (no destructor, no cleanup) at a commit step: a crash or a `kill -9`.
struct Crash {
    at: usize,
}

impl Faults for Crash {
    fn before_commit(&mut self, index: usize, _: &Path) -> io::Result<()> {
        if index == self.at {
            std::process::abort();
        }
        Ok(())
    }
}

#[test]
fn a_crash_leaves_each_file_wholly_old_or_wholly_new() {
    let (before, after) = busy_change();
    // In the child: write `after` over the directory and die at the given step.
    if let (Ok(dir), Ok(at)) = (std::env::var("RAGC_CRASH_DIR"), std::env::var("RAGC_CRASH_AT")) {
        let changes = disk::compare(&plan_of(&after), Path::new(&dir)).unwrap();
        let _ = write::apply(&changes, false, &mut Crash { at: at.parse().unwrap() });
        return;
    }
    let next = plan_of(&after);
    let mut left_behind = 0;
    for at in 0.. {
        let dir = tempfile::tempdir().unwrap();
        write_plan(&plan_of(&before), dir.path()).unwrap();
        let old = tree(dir.path());
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["a_crash_leaves_each_file_wholly_old_or_wholly_new", "--exact", "--test-threads=1"])
            .env("RAGC_CRASH_DIR", dir.path())
            .env("RAGC_CRASH_AT", at.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        let now = tree(dir.path());
        for (path, bytes) in now.iter().filter(|(path, _)| !scratch_files(dir.path()).contains(path)) {
            let is_old = old.get(path) == Some(bytes);
            let is_new = match next.get(path).map(|a| &a.contents) {
                Some(Contents::Text(text)) => text.as_bytes() == bytes.as_slice(),
                // The new env file has the old values and one more, drawn in the child.
                Some(Contents::Secrets(_)) => {
                    let values = secrets::parse_env(&String::from_utf8_lossy(bytes));
                    let old_values = secrets::parse_env(&String::from_utf8_lossy(&old[path]));
                    old_values.iter().all(|(k, v)| values.get(k) == Some(v)) && values.get("EXTRA").is_some_and(|v| v.len() == 48)
                }
                // A secret file holds the env file's values, as they are now.
                Some(Contents::SecretFile(contents)) => {
                    let values = secrets::parse_env(&String::from_utf8_lossy(&now[".env.production"]));
                    contents.render(str::to_string, |var| values[var].clone()).as_bytes() == bytes.as_slice()
                }
                None => path == disk::MANIFEST && disk::Manifest::of(&next).render().as_bytes() == bytes.as_slice(),
            };
            assert!(is_old || is_new, "step {at}: {path} is neither the old nor the new file");
        }
        left_behind += scratch_files(dir.path()).len();
        // The next compile finishes the job and clears what the crash left.
        write_plan(&next, dir.path()).unwrap();
        assert!(scratch_files(dir.path()).is_empty(), "step {at}: {:?}", scratch_files(dir.path()));
        assert!(disk::compare(&next, dir.path()).unwrap().in_sync());
        if status.success() {
            assert_eq!(at, steps(&before, &after).0, "the child crashed once at every step");
            assert!(left_behind > 0, "the crashes left temporary files for the next compile to clear");
            break;
        }
    }
}

#[test]
fn a_hundred_compiles_with_edits_keep_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let base = flagship();
    write_plan(&plan_of(&base), dir.path()).unwrap();
    let first = env_values(dir.path());
    assert_eq!(first.len(), 4, "four generated secrets; the required one is a placeholder");
    let first_bytes = fs::read(dir.path().join(".env.production")).unwrap();
    for round in 1..=100 {
        let edited = base
            .replace("concurrency=4", &format!("concurrency={}", round % 16 + 1))
            .replace("LOG_LEVEL      = \"info\"", &format!("LOG_LEVEL      = \"level{round}\""))
            .replace("maxmemory   = 512mb", &format!("maxmemory   = {}mb", 256 + round));
        write_plan(&plan_of(&edited), dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join(".env.production")).unwrap(), first_bytes, "round {round}");
    }
    assert_eq!(env_values(dir.path()), first);
}

#[test]
fn adding_a_secret_generates_only_that_one() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    let before = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    let (_, after) = busy_change();
    write_plan(&plan_of(&after), dir.path()).unwrap();
    let now = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    let (old, new) = (secrets::parse_env(&before), secrets::parse_env(&now));
    assert_eq!(new.len(), old.len() + 1);
    for (var, value) in &old {
        assert_eq!(&new[var], value, "{var} changed");
    }
    // generate(hex, 24): 24 bytes of entropy, 48 hex characters.
    assert!(new["EXTRA"].len() == 48 && new["EXTRA"].chars().all(|c| c.is_ascii_hexdigit()));
    // Every line of the old file is still there, in order: only the new entry was added.
    let added: Vec<&str> = similar::TextDiff::from_lines(&before, &now)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| {
            assert_eq!(c.tag(), similar::ChangeTag::Insert, "a line was removed: {}", c.value());
            c.value()
        })
        .collect();
    assert_eq!(added.len(), 3, "a blank line, a comment, the value: {added:?}");
    assert!(added.iter().any(|line| line.starts_with("EXTRA='")), "{added:?}");
}

#[test]
fn removing_a_secret_keeps_it_commented_out_and_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    let salt = env_values(dir.path())["API_KEY_SALT"].clone();
    let without = flagship().replace("secret api_key_salt   = generate(hex, 16)\n", "").replace("    API_KEY_SALT   = api_key_salt\n", "");
    write_plan(&plan_of(&without), dir.path()).unwrap();
    let text = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    assert!(!env_values(dir.path()).contains_key("API_KEY_SALT"));
    assert!(
        text.contains(&format!("# No longer used by the stack; kept so that no secret is ever lost.\n# API_KEY_SALT='{salt}'\n")),
        "{text}"
    );
    // It stays through later compiles, and comes back when the stack declares it again.
    write_plan(&plan_of(&without.replace("concurrency=4", "concurrency=5")), dir.path()).unwrap();
    assert_eq!(fs::read_to_string(dir.path().join(".env.production")).unwrap(), text);
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    assert_eq!(env_values(dir.path())["API_KEY_SALT"], salt);
    assert!(!fs::read_to_string(dir.path().join(".env.production")).unwrap().contains("# API_KEY_SALT="));
}

#[test]
fn rotate_changes_exactly_one_value() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(&flagship());
    write_plan(&plan, dir.path()).unwrap();
    let Contents::Secrets(file) = &plan.get(".env.production").unwrap().contents else { unreachable!() };
    let before = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    let rotated = secrets::rotate(file, &before, "JWT_SECRET").unwrap();
    let after = rotated.text;
    let changed: Vec<(&str, &str)> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1);
    assert!(changed[0].0.starts_with("JWT_SECRET='") && changed[0].1.starts_with("JWT_SECRET='"));
    assert_eq!(before.lines().count(), after.lines().count());
    // generate(hex, 32): 32 bytes of entropy, 64 hex characters.
    assert_eq!(secrets::parse_env(&after)["JWT_SECRET"].len(), 64);
    assert_eq!(secrets::parse_env(&after)["JWT_SECRET"], rotated.new_value);
    assert_eq!(secrets::parse_env(&before)["JWT_SECRET"], rotated.old_value);
    assert!(rotated.previous.starts_with("JWT_SECRET='") && before.contains(&rotated.previous));
    assert!(matches!(secrets::rotate(file, &before, "OPENAI_API_KEY"), Err(secrets::RotateError::Required)));
    assert!(matches!(secrets::rotate(file, &before, "NOPE"), Err(secrets::RotateError::Unknown)));
}

#[test]
fn masking_shows_no_value() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    let (_, after) = busy_change();
    let changes = disk::compare(&plan_of(&after), dir.path()).unwrap();
    let env = changes.get(".env.production").unwrap();
    let new = env.new.as_deref().unwrap();
    let shown = ragc::plan::diff::unified(&changes, false);
    for value in secrets::parse_env(new).values() {
        assert!(!shown.contains(value.as_str()), "{value} shown");
    }
    assert!(shown.contains("+EXTRA=<masked, new>"), "{shown}");
    assert!(shown.contains(" JWT_SECRET=<masked>") || !shown.contains("JWT_SECRET"), "{shown}");
}

#[cfg(unix)]
#[test]
fn the_env_file_is_private_and_wrong_modes_are_fixed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(&flagship());
    write_plan(&plan, dir.path()).unwrap();
    let env = dir.path().join(".env.production");
    assert_eq!(mode(&env), 0o600);
    fs::set_permissions(&env, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(dir.path().join("backup/backup.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    let changes = disk::compare(&plan, dir.path()).unwrap();
    assert_eq!(changes.get(".env.production").unwrap().status, Status::Update);
    assert!(changes.get("backup/backup.sh").unwrap().mode_only());
    let applied = write::apply(&changes, false, &mut NoFaults).unwrap();
    assert_eq!(applied.updated, ["backup/backup.sh", ".env.production"]);
    assert_eq!(mode(&env), 0o600);
    assert_eq!(mode(&dir.path().join("backup/backup.sh")), 0o755);
}

#[test]
fn a_file_changed_during_the_compile_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    let next = plan_of(&flagship().replace("concurrency=4", "concurrency=8"));
    let changes = disk::compare(&next, dir.path()).unwrap();
    // Someone saves the file between the comparison and the write.
    let target = dir.path().join("compose.yaml");
    fs::write(&target, "services: {}  # written meanwhile\n").unwrap();
    let before = tree(dir.path());
    let Err(WriteError::Failed(problems)) = write::apply(&changes, false, &mut NoFaults) else { panic!("must fail") };
    assert!(problems[0].message.contains("changed while ragc was running"), "{}", problems[0].message);
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn temporary_files_never_count_as_stale() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(&flagship());
    write_plan(&plan, dir.path()).unwrap();
    // What a killed compile leaves: a staged file with a ragc header.
    fs::write(dir.path().join(".ragc-tmp-abc123"), text_of(&plan, "compose.yaml")).unwrap();
    assert!(disk::compare(&plan, dir.path()).unwrap().in_sync());
}

#[test]
fn values_filled_in_by_hand_and_comments_are_not_drift_and_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    let env = dir.path().join(".env.production");
    // The operator fills in the required key, unquoted, and leaves a note.
    let text =
        fs::read_to_string(&env).unwrap().replace("# OPENAI_API_KEY=\n", "OPENAI_API_KEY=sk-test-123\n# note: key from the team vault\n");
    fs::write(&env, &text).unwrap();
    let plan = plan_of(&flagship());
    let changes = disk::compare(&plan, dir.path()).unwrap();
    assert_eq!(changes.get(".env.production").unwrap().status, Status::Unchanged);
    // The one change: the key's secret file, made from the value as written.
    let changed: Vec<(&str, Status)> =
        changes.changes.iter().filter(|c| c.status != Status::Unchanged).map(|c| (c.path.as_str(), c.status)).collect();
    assert_eq!(changed, [("secrets/api.OPENAI_API_KEY", Status::Create)]);
    write_plan(&plan, dir.path()).unwrap();
    assert_eq!(fs::read_to_string(&env).unwrap(), text, "left exactly as the operator wrote it");
    assert_eq!(fs::read_to_string(dir.path().join("secrets/api.OPENAI_API_KEY")).unwrap(), "sk-test-123");
    assert_eq!(mode(&dir.path().join("secrets")), 0o700, "the secrets directory is private");

    // A real change rewrites the file around the operator's lines: the
    // value and the note below it stay as written, so no copy is needed.
    let (_, after) = busy_change();
    let applied = write_plan(&plan_of(&after), dir.path()).unwrap();
    assert!(applied.kept.is_empty(), "{:?}", applied.kept);
    let now = fs::read_to_string(&env).unwrap();
    assert!(now.contains("\nOPENAI_API_KEY=sk-test-123\n# note: key from the team vault\n"), "{now}");
    assert_eq!(env_values(dir.path())["OPENAI_API_KEY"], "sk-test-123");
    let applied = write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    assert!(applied.kept.is_empty() && applied.updated.contains(&".env.production".to_string()));
    assert!(fs::read_to_string(&env).unwrap().contains("\nOPENAI_API_KEY=sk-test-123\n# note: key from the team vault\n"));
}

/// Every write is refused, as in a directory the user can't write.
struct ReadOnly;

impl Faults for ReadOnly {
    fn before_write(&mut self, _: &Path, _: usize) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    }
}

#[test]
fn an_unwritable_output_directory_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(&plan_of(&flagship()), dir.path()).unwrap();
    let before = tree(dir.path());
    let changes = disk::compare(&plan_of(&with_admin()), dir.path()).unwrap();
    let Err(WriteError::Failed(problems)) = write::apply(&changes, false, &mut ReadOnly) else { panic!("must fail") };
    assert_eq!(problems[0].code, "E0603");
    assert!(problems[0].help[0].contains("permissions"), "{}", problems[0].help[0]);
    assert_eq!(tree(dir.path()), before);

    // The real thing, where permissions apply (not to root).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
        let writable = fs::write(dir.path().join("probe"), "").is_ok();
        let result = write_plan(&plan_of(&with_admin()), dir.path());
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        if !writable {
            let Err(WriteError::Failed(problems)) = result else { panic!("must fail") };
            assert!(problems[0].message.contains("ermission denied"), "{}", problems[0].message);
            assert_eq!(tree(dir.path()), before);
        }
    }
}
