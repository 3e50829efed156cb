//! The operator's scripts run for real: the health check dates each store's
//! last good backup and the certificate's expiry, and the cron line that
//! schedules it runs the script where it really is.

use std::path::Path;
use std::process::{Command, Output};

fn ragc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ragc")).args(args).env("NO_COLOR", "1").output().expect("ragc runs")
}

/// A stack checked out at `root/srv` (its `path`), compiled to `root/srv/deploy`.
fn compile_at(root: &Path) -> std::path::PathBuf {
    let srv = root.join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let stack = std::fs::read_to_string("examples/rag-engine-mini.rag")
        .unwrap()
        .replace("  acme_email = \"ops@example.com\"\n", &format!("  acme_email = \"ops@example.com\"\n  path = \"{}\"\n", srv.display()));
    std::fs::write(srv.join("stack.rag"), stack).unwrap();
    let output = ragc(&["compile", srv.join("stack.rag").to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    srv.join("deploy")
}

/// A `docker` that knows no container, first on PATH: the container checks
/// fail, the checks under test still run.
fn stub_path(root: &Path) -> String {
    format!("{}:/usr/bin:/bin", stub_tools(root, &[("docker", "#!/bin/sh\nexit 0\n")]).display())
}

/// Writes each `(name, script)` as an executable into `root/bin`, which it returns.
fn stub_tools(root: &Path, tools: &[(&str, &str)]) -> std::path::PathBuf {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, text) in tools {
        std::fs::write(bin.join(name), text).unwrap();
        std::fs::set_permissions(bin.join(name), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    bin
}

fn health_check(deploy: &Path, path: &str, backups: &Path, certificate: &Path) -> String {
    let output = Command::new("bash")
        .arg(deploy.join("ops/health-check.sh"))
        .env("PATH", path)
        .env("BACKUP_ROOT", backups)
        .env("CERTIFICATE", certificate)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "the stub engine runs no container: the check fails");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A dated run directory as backup.sh names it, `hours` ago, holding `services`.
fn backup_run(root: &Path, hours: u64, services: &[&str]) {
    let at = std::time::SystemTime::now() - std::time::Duration::from_secs(hours * 3600);
    let stamp = Command::new("date")
        .args(["-u", "-d"])
        .arg(format!("@{}", at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()))
        .arg("+%Y%m%dT%H%M%SZ")
        .output()
        .unwrap();
    let dir = root.join(String::from_utf8(stamp.stdout).unwrap().trim());
    for service in services {
        std::fs::create_dir_all(dir.join(service)).unwrap();
    }
}

fn certificate(dir: &Path, days: u32) -> std::path::PathBuf {
    let cert = dir.join(format!("cert-{days}.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=rag.example.com", "-days", &days.to_string(), "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    cert
}

/// `ops/health-check.sh` never looked at the backups: a dead backup went
/// unnoticed. Now each store's newest good run is dated against its
/// schedule (daily: 24 hours and 2 of slack), and the certificate's expiry
/// is checked 14 days ahead.
#[test]
fn the_health_check_fails_on_a_late_backup_and_an_expiring_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = compile_at(dir.path());
    let path = stub_path(dir.path());
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let (fresh, expiring) = (certificate(dir.path(), 90), certificate(dir.path(), 5));

    let out = health_check(&deploy, &path, &backups, &fresh);
    for service in ["db", "cache", "vectors"] {
        assert!(out.contains(&format!("FAIL  {service}: no backup in")), "{out}");
    }
    assert!(out.contains("ok    certificate valid until"), "{out}");

    // A run 30 hours ago with every store, a newer one without the cache.
    backup_run(&backups, 30, &["db", "cache", "vectors"]);
    backup_run(&backups, 3, &["db", "vectors"]);
    let out = health_check(&deploy, &path, &backups, &expiring);
    assert!(out.contains("ok    db: last good backup") && out.contains("ok    vectors: last good backup"), "{out}");
    assert!(out.contains("FAIL  cache: the last good backup") && out.contains("is 30 hours old; its schedule allows 26"), "{out}");
    assert!(out.contains("FAIL  the certificate expires within 14 days"), "{out}");
    let out = health_check(&deploy, &path, &backups, &dir.path().join("none.pem"));
    assert!(out.contains("FAIL  no certificate at"), "{out}");
}

/// Nothing scheduled the health check; the cron line now runs the script
/// where the checkout really puts it, executed here verbatim the way cron
/// runs it (`SHELL=/bin/bash -c`, cron's own PATH).
#[test]
fn the_health_check_cron_line_runs_the_script_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = compile_at(dir.path());
    let crontab = std::fs::read_to_string(deploy.join("ops/crontab")).unwrap();
    let line = crontab.lines().find(|l| l.contains(" root ")).expect("a schedule");
    let (schedule, command) = line.split_once(" root ").unwrap();
    assert_eq!(schedule, "0 7 * * *");
    assert!(command.starts_with(&format!("{}/ops/health-check.sh ", deploy.display())), "{command}");
    // cron's environment: the file's SHELL and PATH, a log we can read.
    let log = dir.path().join("health.log");
    let command = command.replace("/var/log/rag-engine-health.log", log.to_str().unwrap()).replace("|| logger", "|| true");
    let path = format!("{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", dir.path().join("bin").display());
    stub_path(dir.path());
    let status = Command::new("/bin/bash").arg("-c").arg(&command).env_clear().env("PATH", path).env("HOME", "/root").status().unwrap();
    assert!(status.success(), "the line itself succeeds (logger reports a failing check)");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("=== rag-engine health check"), "the script did not run: {text}");
}

/// A Docker engine stand-in for the operator scripts' logic: `compose build`
/// makes the image of `RAGC_IMAGE_TAG`, `compose up` serves it unless the tag
/// is in `STUB_BROKEN` (its health check fails) or `STUB_BROKEN_UP` (it fails
/// only once in place), a trial container (`compose run -d --name NAME`) of a
/// tag in `STUB_BROKEN` reports `unhealthy`, `image inspect` finds built tags.
/// The live engine stage runs the same scripts against a real engine.
const STUB_DOCKER: &str = r#"#!/bin/bash
printf '%s\n' "RAGC_IMAGE_TAG=${RAGC_IMAGE_TAG:-} $*" >>"$STUB/calls"
broken() {
  local tag
  for tag in $1; do [ "$tag" = "$RAGC_IMAGE_TAG" ] && return 0; done
  return 1
}
case "$*" in
  compose*" build"*) mkdir -p "$STUB/images"; touch "$STUB/images/$RAGC_IMAGE_TAG" ;;
  compose*" up "*)
    broken "$STUB_BROKEN $STUB_BROKEN_UP" && exit 1
    printf '%s\n' "$RAGC_IMAGE_TAG" >"$STUB/serving" ;;
  compose*" run -d "*)
    mkdir -p "$STUB/trials"
    while [ "$1" != --name ]; do shift; done
    printf '%s\n' "$RAGC_IMAGE_TAG" >"$STUB/trials/$2" ;;
  compose*" run "*) ;;
  "inspect --format "*)
    trial="$STUB/trials/${*: -1}"
    [ -e "$trial" ] || exit 1
    RAGC_IMAGE_TAG="$(cat "$trial")"
    if broken "$STUB_BROKEN"; then echo "running unhealthy"; else echo "running healthy"; fi ;;
  "rm -f "*) for name in "${@:3}"; do rm -f "$STUB/trials/$name"; done ;;
  "image inspect "*) [ -e "$STUB/images/${3##*:}" ] ;;
  "tag "*) [ -e "$STUB/images/${2##*:}" ] ;;
esac
"#;

struct Host {
    dir: tempfile::TempDir,
    deploy: std::path::PathBuf,
}

impl Host {
    /// Every required value filled in and compiled again: every secret file written.
    fn new() -> Host {
        let host = Host::unfilled();
        host.fill_in();
        host.compile();
        host
    }

    /// Compiled once, OPENAI_API_KEY not filled in: its secret file is not written.
    fn unfilled() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let deploy = compile_at(dir.path());
        stub_tools(dir.path(), &[("docker", STUB_DOCKER), ("curl", "#!/bin/sh\nexit 0\n")]);
        Host { dir, deploy }
    }

    /// Fills in the required value by hand, as the operator does.
    fn fill_in(&self) {
        let env = self.deploy.join(".env.production");
        let text = std::fs::read_to_string(&env).unwrap() + "OPENAI_API_KEY=sk-test\n";
        std::fs::write(env, text).unwrap();
    }

    /// `ragc compile` in the checkout, as the refusals say.
    fn compile(&self) {
        let stack = self.dir.path().join("srv/stack.rag");
        let output = ragc(&["compile", stack.to_str().unwrap()]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    fn secret(&self, name: &str) -> std::path::PathBuf {
        self.deploy.join("secrets").join(name)
    }

    /// Every secret file as a compile an hour ago left it: no test depends
    /// on the clock ticking between two writes.
    fn age_secret_files(&self) {
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for entry in std::fs::read_dir(self.deploy.join("secrets")).unwrap() {
            let file = std::fs::File::options().write(true).open(entry.unwrap().path()).unwrap();
            file.set_modified(hour_ago).unwrap();
        }
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default()
    }

    fn run(&self, script: &str, args: &[&str], broken: &str) -> (i32, String) {
        self.run_with(script, args, &[("STUB_BROKEN", broken)])
    }

    fn run_with(&self, script: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
        let output = Command::new("bash")
            .arg(self.deploy.join("ops").join(script))
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display()))
            .env("STUB", self.dir.path())
            .envs(env.iter().copied())
            .env("RAGC_STATE_DIR", self.dir.path().join("state"))
            .env("HEALTH_TRIES", "1")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    }

    fn serving(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serving")).unwrap().trim().to_string()
    }
}

/// deploy v1, a v2 whose health check fails (v1 serves again, exit 1), a good
/// v3; rollback refuses to cross a release job unless forced; status says
/// which is deployed.
#[test]
fn deploy_keeps_the_previous_version_and_rollback_respects_migrations() {
    let host = Host::new();
    let (code, out) = host.run("deploy", &["--tag", "v1"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("first deploy: nothing to back up yet") && out.contains("deployed v1"), "{out}");
    assert_eq!(host.serving(), "v1");

    let (code, out) = host.run("deploy", &["--tag", "v2", "--skip-backup"], "v2");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("v2 failed its trial; v1 kept serving, nothing was replaced"), "{out}");
    assert_eq!(host.serving(), "v1");
    let calls = host.calls();
    assert!(
        calls.contains("RAGC_IMAGE_TAG=v2 compose") && calls.contains(" run --rm -T api-release"),
        "the release job ran first:\n{calls}"
    );
    assert!(!calls.lines().any(|l| l.starts_with("RAGC_IMAGE_TAG=v2 ") && l.contains(" up ")), "v2 never replaced v1:\n{calls}");
    assert_eq!(std::fs::read_dir(host.dir.path().join("trials")).unwrap().count(), 0, "the trial containers are removed");

    // One that passes its trial and fails in place: v1 is started again.
    let (code, out) = host.run_with("deploy", &["--tag", "v2b", "--skip-backup"], &[("STUB_BROKEN_UP", "v2b")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("v2b is healthy beside the serving version"), "{out}");
    assert!(out.contains("v2b failed its health checks: starting v1 again") && out.contains("v1 serves again"), "{out}");
    assert_eq!(host.serving(), "v1");

    let (code, out) = host.run("deploy", &["--tag", "v3", "--skip-backup"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deployed v3 (was v1)"), "{out}");
    let calls = std::fs::read_to_string(host.dir.path().join("calls")).unwrap();
    assert_eq!(calls.lines().filter(|l| l.contains(" build")).count(), 4, "one build per deploy:\n{calls}");
    assert!(calls.contains(" tag rag-engine-api:v3 rag-engine-api:deployed"), "{calls}");

    let (code, out) = host.run("rollback", &[], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refusing: the release job ran with v2 v2b v3 since v1 was deployed"), "{out}");
    assert_eq!(host.serving(), "v3");

    let (code, out) = host.run("rollback", &["--force"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rolled back to v1"), "{out}");
    assert_eq!(host.serving(), "v1");
    let builds_after = std::fs::read_to_string(host.dir.path().join("calls")).unwrap().lines().filter(|l| l.contains(" build")).count();
    assert_eq!(builds_after, 4, "a rollback never rebuilds");

    let (code, out) = host.run("status", &[], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deployed  v1 since 20"), "{out}");
    let (code, out) = host.run("deploy", &["--tag", "bad tag"], "");
    assert_eq!(code, 64, "{out}");
}

/// What a refusal over the secret files says to run: `ragc compile` in the
/// checkout, or a copy from where ragc is.
fn says_what_to_run(host: &Host, out: &str) {
    let srv = host.dir.path().join("srv");
    assert!(out.contains(&format!("then run, in the checkout: cd {} && ragc compile stack.rag\n", srv.display())), "{out}");
    assert!(out.contains(&format!("copy its secrets/ to {}/ keeping their times", host.deploy.join("secrets").display())), "{out}");
}

/// Case 1: the required value filled in by hand, `ragc compile` not run
/// again: its secret file doesn't exist, and `compose up` would fail on the
/// bind mount once the old containers are stopped. Deploy refuses first
/// (78, EX_CONFIG), naming the file and the variable it is made from,
/// before it backs up, builds or starts anything; once compiled, it goes on.
#[test]
fn deploy_refuses_a_missing_secret_file_and_names_it() {
    let host = Host::unfilled();
    host.fill_in();
    let (code, out) = host.run("deploy", &["--tag", "v1"], "");
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("refusing: the secret files Compose mounts are not all in place and as new as .env.production:"), "{out}");
    assert!(out.contains("  missing secrets/api.OPENAI_API_KEY (made from OPENAI_API_KEY)\n"), "{out}");
    says_what_to_run(&host, &out);
    assert_eq!(host.calls(), "", "docker is never called");
    assert!(!host.dir.path().join("state").exists(), "nothing is recorded");

    host.compile();
    let (code, out) = host.run("deploy", &["--tag", "v1"], "");
    assert_eq!(code, 0, "{out}");

    // A file lost after a deploy: refused before the backup the next one takes.
    std::fs::remove_file(host.secret("db.password")).unwrap();
    let calls = host.calls();
    let (code, out) = host.run("deploy", &["--tag", "v2"], "");
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("  missing secrets/db.password (made from DB_PASSWORD)\n"), "{out}");
    assert!(!out.contains("backing up"), "{out}");
    assert_eq!(host.calls(), calls, "no backup, build or up");
    assert_eq!(host.serving(), "v1");
}

/// Case 2: a value of `.env.production` changed by hand after the last
/// compile: the secret files still hold the old one. Deploy refuses (78)
/// naming them, touching nothing, and goes on once `ragc compile` has
/// written them again.
#[test]
fn deploy_refuses_a_stale_secret_file() {
    let host = Host::new();
    let (code, out) = host.run("deploy", &["--tag", "v1"], "");
    assert_eq!(code, 0, "{out}");
    host.age_secret_files();
    let env = host.deploy.join(".env.production");
    let text = std::fs::read_to_string(&env).unwrap().replace("OPENAI_API_KEY=sk-test", "OPENAI_API_KEY=sk-rotated");
    std::fs::write(&env, text).unwrap();

    let calls = host.calls();
    let (code, out) = host.run("deploy", &["--tag", "v2", "--skip-backup"], "");
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("  stale secrets/api.OPENAI_API_KEY (older than .env.production)\n"), "{out}");
    says_what_to_run(&host, &out);
    assert_eq!(host.calls(), calls, "no build or up");
    assert_eq!(host.serving(), "v1");

    host.compile();
    assert_eq!(std::fs::read_to_string(host.secret("api.OPENAI_API_KEY")).unwrap(), "sk-rotated");
    let (code, out) = host.run("deploy", &["--tag", "v2", "--skip-backup"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deployed v2 (was v1)"), "{out}");
}

/// An env file saved with no value changed is newer than every secret file:
/// stale to the deploy until a compile, which writes nothing, marks them current.
#[test]
fn an_env_file_saved_unchanged_is_current_after_a_compile() {
    let host = Host::new();
    host.age_secret_files();
    let env = host.deploy.join(".env.production");
    let text = std::fs::read(&env).unwrap();
    std::fs::write(&env, &text).unwrap();
    let (code, out) = host.run("deploy", &["--tag", "v1"], "");
    assert_eq!(code, 78, "{out}");
    let before = std::fs::read(host.secret("db.password")).unwrap();
    host.compile();
    assert_eq!(std::fs::read(host.secret("db.password")).unwrap(), before);
    let (code, out) = host.run("deploy", &["--tag", "v1"], "");
    assert_eq!(code, 0, "{out}");
}

/// Fresh files go on, also those a compile left as they were: a compile
/// rewrites only the files whose values changed, and gives the others the
/// env file's time, so after filling in a value and compiling again none
/// is older than `.env.production`.
#[test]
fn deploy_goes_on_when_the_secret_files_are_fresh() {
    let host = Host::unfilled();
    host.age_secret_files();
    host.fill_in();
    host.compile();
    let env = std::fs::metadata(host.deploy.join(".env.production")).unwrap().modified().unwrap();
    let unchanged = std::fs::metadata(host.secret("db.password")).unwrap().modified().unwrap();
    assert_eq!(unchanged, env, "the compile marked db.password current, its bytes as they were");

    let (code, out) = host.run("deploy", &["--tag", "v1"], "");
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("refusing"), "{out}");
    assert_eq!(host.serving(), "v1");
    let (code, out) = host.run("status", &[], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("secrets   10 files, none missing or older than .env.production\n"), "{out}");
}

/// Returning to an earlier tag mounts the same files: rollback refuses a
/// missing one (78) before it stops anything; `ops/status` reports it, a
/// line per problem, and still exits 0.
#[test]
fn rollback_refuses_a_missing_secret_file() {
    let host = Host::new();
    for tag in ["v1", "v2"] {
        let (code, out) = host.run("deploy", &["--tag", tag, "--skip-backup"], "");
        assert_eq!(code, 0, "{out}");
    }
    std::fs::remove_file(host.secret("api.JWT_SECRET")).unwrap();
    let calls = host.calls();
    let (code, out) = host.run("rollback", &["--force"], "");
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("  missing secrets/api.JWT_SECRET (made from JWT_SECRET)\n"), "{out}");
    says_what_to_run(&host, &out);
    let after = host.calls();
    assert!(!after[calls.len()..].contains(" up "), "only looked at the images:\n{after}");
    assert_eq!(host.serving(), "v2");

    let (code, out) = host.run("status", &[], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("secrets   missing secrets/api.JWT_SECRET (made from JWT_SECRET)\n"), "{out}");
    assert!(out.contains("secrets   fill in every value they are made from in .env.production, then run"), "{out}");

    host.compile();
    let (code, out) = host.run("rollback", &["--force"], "");
    assert_eq!(code, 0, "{out}");
    assert_eq!(host.serving(), "v1");
}

/// The scripts check the very files compose.yaml names, taken from the
/// stack at compile time (never read from the YAML at run time).
#[test]
fn the_checked_secret_files_are_the_ones_compose_names() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = compile_at(dir.path());
    let compose: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(deploy.join("compose.yaml")).unwrap()).unwrap();
    let named: Vec<String> = compose["secrets"]
        .as_mapping()
        .unwrap()
        .values()
        .map(|secret| secret["file"].as_str().unwrap().strip_prefix("./").unwrap().to_string())
        .collect();
    assert!(!named.is_empty());
    for script in ["deploy", "rollback", "status"] {
        let text = std::fs::read_to_string(deploy.join("ops").join(script)).unwrap();
        let line = text.lines().find_map(|line| line.strip_prefix("readonly SECRET_FILES=(")).expect(script);
        let checked: Vec<&str> = line.strip_suffix(')').unwrap().split(' ').collect();
        assert_eq!(checked, named, "{script}");
    }
}

/// Stand-ins for a fresh host's tools, each recording its call in
/// `$STUB/calls`: `nginx -t` records which form the site's enabled link
/// names, certbot needs the webroot and writes the certificate where its
/// `--config-dir` says.
const STUB_INSTALL: &[(&str, &str)] = &[
    ("docker", "#!/bin/sh\n[ \"$*\" = 'compose version --short' ] && echo 2.24.5\nexit 0\n"),
    (
        "nginx",
        "#!/bin/sh\nprintf 'nginx %s enabled=%s\\n' \"$*\" \"$(readlink \"$NGINX_DIR/sites-enabled/rag-engine.conf\")\" >>\"$STUB/calls\"\n",
    ),
    ("systemctl", "#!/bin/sh\nprintf 'systemctl %s\\n' \"$*\" >>\"$STUB/calls\"\n"),
    // The stack has `offsite`: install only looks for the tool, never runs it.
    ("aws", "#!/bin/sh\nexit 1\n"),
    (
        "certbot",
        r#"#!/bin/bash
printf 'certbot %s\n' "$*" >>"$STUB/calls"
[ -d "$WEBROOT" ] || { echo "no webroot" >&2; exit 9; }
while [ $# -gt 0 ]; do
  case "$1" in --config-dir) config="$2"; shift ;; --cert-name) name="$2"; shift ;; esac
  shift
done
mkdir -p "$config/live/$name"
echo certificate >"$config/live/$name/fullchain.pem"
"#,
    ),
];

struct FreshHost {
    dir: tempfile::TempDir,
    deploy: std::path::PathBuf,
}

impl FreshHost {
    fn new() -> FreshHost {
        let dir = tempfile::tempdir().unwrap();
        let deploy = compile_at(dir.path());
        stub_tools(dir.path(), STUB_INSTALL);
        FreshHost { dir, deploy }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn install(&self) -> (i32, String) {
        let output = Command::new("bash")
            .arg(self.deploy.join("ops/install"))
            .env("PATH", format!("{}:/usr/bin:/bin", self.path("bin").display()))
            .env("STUB", self.dir.path())
            .env("NGINX_DIR", self.path("nginx"))
            .env("CRON_DIR", self.path("cron.d"))
            .env("WEBROOT", self.path("www/certbot"))
            .env("LETSENCRYPT_DIR", self.path("letsencrypt"))
            .env("RAGC_STATE_DIR", self.path("state"))
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.path("calls")).unwrap_or_default()
    }

    /// The operator's fill-in: the required value in .env.production.
    fn fill_in(&self) {
        let secrets = self.deploy.join(".env.production");
        let text = std::fs::read_to_string(&secrets).unwrap() + "OPENAI_API_KEY=sk-test\n";
        std::fs::write(&secrets, text).unwrap();
    }

    /// `ragc compile` in the checkout, which writes the secret files.
    fn compile(&self) {
        let stack = self.path("srv/stack.rag");
        let output = ragc(&["compile", stack.to_str().unwrap()]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

/// `ops/install` refuses a secrets file whose required value is unset, and
/// then the secret file made from it until a compile writes it; then it
/// runs the nginx header's steps in its order (bootstrap form, nginx -t,
/// reload, certbot through the webroot, the TLS site, nginx -t, reload),
/// installs both crontabs, and a second run changes nothing.
#[test]
fn install_follows_the_site_header_and_a_second_run_changes_nothing() {
    let host = FreshHost::new();
    let (code, out) = host.install();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("lacks required values: OPENAI_API_KEY"), "{out}");
    assert_eq!(host.calls(), "", "nothing is touched before the secrets are complete");

    host.fill_in();
    let (code, out) = host.install();
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("  missing secrets/api.OPENAI_API_KEY (made from OPENAI_API_KEY)\n"), "{out}");
    assert!(out.contains("then run, in the checkout: cd "), "says what to run:\n{out}");
    assert_eq!(host.calls(), "", "nothing is touched before the secret files are in place");

    host.compile();
    // Debian's default site, enabled as the package enables it.
    std::fs::create_dir_all(host.path("nginx/sites-enabled")).unwrap();
    std::fs::create_dir_all(host.path("nginx/sites-available")).unwrap();
    std::fs::write(host.path("nginx/sites-available/default"), "server { listen 80 default_server; }\n").unwrap();
    std::os::unix::fs::symlink(host.path("nginx/sites-available/default"), host.path("nginx/sites-enabled/default")).unwrap();

    let (code, out) = host.install();
    assert_eq!(code, 0, "{out}");
    let available = host.path("nginx/sites-available");
    let (le, webroot) = (host.path("letsencrypt"), host.path("www/certbot"));
    let expected = [
        format!("nginx -t enabled={}/rag-engine.bootstrap.conf", available.display()),
        "systemctl reload nginx".to_string(),
        format!(
            "certbot certonly --webroot -w {} -d rag.example.com --cert-name rag.example.com --email ops@example.com --agree-tos --no-eff-email --deploy-hook systemctl reload nginx --non-interactive --config-dir {}",
            webroot.display(),
            le.display()
        ),
        format!("nginx -t enabled={}/rag-engine.conf", available.display()),
        "systemctl reload nginx".to_string(),
    ];
    assert_eq!(host.calls().lines().collect::<Vec<_>>(), expected, "{out}");
    assert!(!host.path("nginx/sites-enabled/default").exists(), "Debian's default server is disabled");
    assert!(host.path("nginx/sites-available/default").exists(), "its file stays");
    for (installed, source) in [
        ("nginx/sites-available/ragc-default.conf", "nginx/ragc-default.conf"),
        ("nginx/sites-available/rag-engine.conf", "nginx/rag-engine.conf"),
        ("cron.d/rag-engine-backup", "backup/crontab"),
        ("cron.d/rag-engine-health", "ops/crontab"),
    ] {
        assert_eq!(std::fs::read(host.path(installed)).unwrap(), std::fs::read(host.deploy.join(source)).unwrap(), "{installed}");
    }

    let (code, out) = host.install();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(host.calls().lines().count(), expected.len(), "a second run calls nothing:\n{}", host.calls());
}

/// A host file `ops/install` did not install is replaced only after a
/// `.ragc-old` copy is kept, and said; one it installed is replaced quietly.
#[test]
fn install_keeps_a_host_file_it_did_not_install() {
    let host = FreshHost::new();
    host.fill_in();
    host.compile();
    std::fs::create_dir_all(host.path("cron.d")).unwrap();
    std::fs::write(host.path("cron.d/rag-engine-health"), "0 * * * * root /usr/local/bin/mine\n").unwrap();
    // Another stack's older ragc installed the shared default server.
    std::fs::create_dir_all(host.path("nginx/sites-available")).unwrap();
    std::fs::write(host.path("nginx/sites-available/ragc-default.conf"), "# Generated by ragc from other.rag.\nserver {}\n").unwrap();

    let (code, out) = host.install();
    assert_eq!(code, 0, "{out}");
    assert!(!host.path("nginx/sites-available/ragc-default.conf.ragc-old").exists(), "any ragc's default server is replaced:\n{out}");
    assert_eq!(
        std::fs::read(host.path("nginx/sites-available/ragc-default.conf")).unwrap(),
        std::fs::read(host.deploy.join("nginx/ragc-default.conf")).unwrap()
    );
    let old = host.path("cron.d/rag-engine-health.ragc-old");
    assert!(out.contains(&format!("NOTE: {} was not installed by ragc", host.path("cron.d/rag-engine-health").display())), "{out}");
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "0 * * * * root /usr/local/bin/mine\n");
    assert_eq!(std::fs::read(host.path("cron.d/rag-engine-health")).unwrap(), std::fs::read(host.deploy.join("ops/crontab")).unwrap());

    // Its own file, changed by a recompile, is replaced without a note.
    std::fs::remove_file(&old).unwrap();
    let mut crontab = std::fs::read_to_string(host.deploy.join("ops/crontab")).unwrap();
    crontab.push_str("# recompiled\n");
    std::fs::write(host.deploy.join("ops/crontab"), crontab).unwrap();
    let (code, out) = host.install();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("NOTE"), "{out}");
    assert!(!old.exists());
    assert!(out.contains("installed ") && !out.contains("nothing changed"), "{out}");
}

/// `ops/install` names what a host lacks and the apt command for it.
#[test]
fn install_names_what_the_host_lacks() {
    let host = FreshHost::new();
    // No certbot on this host.
    std::fs::remove_file(host.path("bin/certbot")).unwrap();
    let output = Command::new("bash")
        .arg(host.deploy.join("ops/install"))
        .env("PATH", format!("{}:/bin", host.path("bin").display()))
        .env("RAGC_STATE_DIR", host.path("state"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{out}");
    if !std::path::Path::new("/bin/certbot").exists() {
        assert!(out.contains("this host lacks: certbot") && out.contains("apt-get install certbot"), "{out}");
    }
}

/// A Docker engine stand-in for the restore drill: `config` resolves the
/// project from COMPOSE_PROJECT_NAME, `pg_restore --list` and
/// `pg_restore --file` run the real PostgreSQL 15 tool on the dump, the
/// restore itself and the Redis calls answer as a healthy store does.
const STUB_DRILL: &str = r#"#!/bin/bash
args="$*"
printf '%s\n' "COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-} ${args//$'\n'/ }" >>"$STUB/calls"
case "$*" in
  compose*" config") echo "name: ${COMPOSE_PROJECT_NAME:-rag-engine}" ;;
  *" exec -T db pg_restore --list"*) exec /usr/lib/postgresql/15/bin/pg_restore --list ;;
  *" exec -T db pg_restore --file=/dev/null"*) exec /usr/lib/postgresql/15/bin/pg_restore --file=/dev/null ;;
  *" exec -T db pg_restore "*) cat >/dev/null ;;
  *" exec -T db psql "*) echo "public.documents 1000" ;;
  *" --entrypoint sh cache "*"redis-check-rdb"*) cat >/dev/null; echo "[info] 3 keys read" ;;
  *" run "*) cat >/dev/null ;;
  *"redis-cli ping"*) echo PONG ;;
  *"redis-cli dbsize"*) echo 3 ;;
esac
exit 0
"#;

/// A real custom-format dump of a throwaway PostgreSQL 15 cluster.
fn real_dump(root: &Path) -> Vec<u8> {
    let bin = Path::new("/usr/lib/postgresql/15/bin");
    let pg = root.join("pg");
    std::fs::create_dir_all(pg.join("data")).unwrap();
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let as_postgres = |program: &str, args: &[&str]| {
        let output = Command::new("runuser").args(["-u", "postgres", "--"]).arg(bin.join(program)).args(args).output().unwrap();
        assert!(output.status.success(), "{program}: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout
    };
    Command::new("chown").args(["-R", "postgres"]).arg(&pg).status().unwrap();
    let (data, socket) = (pg.join("data"), pg.to_str().unwrap().to_string());
    as_postgres("initdb", &["-D", data.to_str().unwrap(), "-A", "trust"]);
    // -l: the server's output goes to a file, not to this pipe (which would never close).
    let log = pg.join("log");
    as_postgres(
        "pg_ctl",
        &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &format!("-k {socket} -c listen_addresses=''"), "-w", "start"],
    );
    as_postgres(
        "psql",
        &["-h", &socket, "-d", "postgres", "-c", "CREATE TABLE documents (id int); INSERT INTO documents SELECT generate_series(1, 1000);"],
    );
    let dump = as_postgres("pg_dump", &["-h", &socket, "-d", "postgres", "--format=custom"]);
    as_postgres("pg_ctl", &["-D", data.to_str().unwrap(), "-w", "stop"]);
    dump
}

/// `ops/restore-drill` restores into `rag-engine-drill` and tears it down;
/// it passes on a good dump and fails on a truncated one (whose table of
/// contents still lists: every data block is read).
#[test]
fn the_restore_drill_passes_on_a_good_dump_and_fails_on_a_truncated_one() {
    if !Path::new("/usr/lib/postgresql/15/bin/pg_restore").exists() {
        eprintln!("skipped: no PostgreSQL 15 tools");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let deploy = compile_at(dir.path());
    let bin = stub_tools(dir.path(), &[("docker", STUB_DRILL)]);
    let dump = real_dump(dir.path());
    let backups = dir.path().join("backups");
    let run = backups.join("20261201T030000Z");
    for service in ["db", "cache", "vectors", "api"] {
        std::fs::create_dir_all(run.join(service)).unwrap();
    }
    // The api's uploads volume, a real tar archive.
    let tar =
        Command::new("tar").arg("-cf").arg(run.join("api/uploads.tar")).arg("-C").arg(dir.path()).arg("srv/stack.rag").status().unwrap();
    assert!(tar.success());
    std::fs::write(run.join("db/database.dump"), &dump).unwrap();
    std::fs::write(run.join("cache/dump.rdb"), b"REDIS0011 stand-in").unwrap();
    let drill = || {
        let output = Command::new("bash")
            .arg(deploy.join("ops/restore-drill"))
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("STUB", dir.path())
            .env("BACKUP_ROOT", &backups)
            .output()
            .unwrap();
        (output.status.code(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
    };

    let (code, out) = drill();
    assert_eq!(code, Some(0), "{out}");
    for service in ["db", "cache", "vectors", "api"] {
        assert!(out.contains(&format!("PASS  {service} ({})", run.display())), "{out}");
    }
    assert!(out.contains("db: public.documents has 1000 rows") && out.contains("cache: DBSIZE 3"), "{out}");
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert!(calls.lines().all(|line| line.starts_with("COMPOSE_PROJECT_NAME=rag-engine-drill ")), "only the drill project:\n{calls}");
    assert!(calls.contains(" up -d --wait --no-deps --no-build db cache vectors api"), "{calls}");
    assert!(calls.lines().last().unwrap().ends_with(" down -v --remove-orphans"), "{calls}");

    std::fs::write(run.join("db/database.dump"), &dump[..dump.len() / 2]).unwrap();
    let (code, out) = drill();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL  db") && out.contains("PASS  cache"), "{out}");
    std::fs::write(run.join("api/uploads.tar"), b"not a tar archive").unwrap();
    let (code, out) = drill();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL  api"), "a volume archive that does not list fails:\n{out}");
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert!(calls.lines().last().unwrap().ends_with(" down -v --remove-orphans"), "torn down after a failure too:\n{calls}");
}
