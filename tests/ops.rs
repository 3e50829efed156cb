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
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("docker"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(bin.join("docker"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("{}:/usr/bin:/bin", bin.display())
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
/// is in `STUB_BROKEN` (its health check fails), `image inspect` finds built
/// tags. The live engine stage runs the same scripts against a real engine.
const STUB_DOCKER: &str = r#"#!/bin/bash
printf '%s\n' "RAGC_IMAGE_TAG=${RAGC_IMAGE_TAG:-} $*" >>"$STUB/calls"
case "$*" in
  compose*" build"*) mkdir -p "$STUB/images"; touch "$STUB/images/$RAGC_IMAGE_TAG" ;;
  compose*" up "*)
    for broken in $STUB_BROKEN; do [ "$broken" = "$RAGC_IMAGE_TAG" ] && exit 1; done
    printf '%s\n' "$RAGC_IMAGE_TAG" >"$STUB/serving" ;;
  "image inspect "*) [ -e "$STUB/images/${3##*:}" ] ;;
  "tag "*) [ -e "$STUB/images/${2##*:}" ] ;;
esac
"#;

struct Host {
    dir: tempfile::TempDir,
    deploy: std::path::PathBuf,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let deploy = compile_at(dir.path());
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for (name, text) in [("docker", STUB_DOCKER), ("curl", "#!/bin/sh\nexit 0\n")] {
            std::fs::write(bin.join(name), text).unwrap();
            std::fs::set_permissions(bin.join(name), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        Host { dir, deploy }
    }

    fn run(&self, script: &str, args: &[&str], broken: &str) -> (i32, String) {
        let output = Command::new("bash")
            .arg(self.deploy.join("ops").join(script))
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display()))
            .env("STUB", self.dir.path())
            .env("STUB_BROKEN", broken)
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
    assert!(out.contains("v2 failed its health checks: starting v1 again") && out.contains("v1 serves again"), "{out}");
    assert_eq!(host.serving(), "v1");

    let (code, out) = host.run("deploy", &["--tag", "v3", "--skip-backup"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deployed v3 (was v1)"), "{out}");
    let calls = std::fs::read_to_string(host.dir.path().join("calls")).unwrap();
    assert_eq!(calls.lines().filter(|l| l.contains(" build")).count(), 3, "one build per deploy:\n{calls}");
    assert!(calls.contains(" tag rag-engine-api:v3 rag-engine-api:deployed"), "{calls}");

    let (code, out) = host.run("rollback", &[], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refusing: the release job ran with v2 v3 since v1 was deployed"), "{out}");
    assert_eq!(host.serving(), "v3");

    let (code, out) = host.run("rollback", &["--force"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rolled back to v1"), "{out}");
    assert_eq!(host.serving(), "v1");
    let builds_after = std::fs::read_to_string(host.dir.path().join("calls")).unwrap().lines().filter(|l| l.contains(" build")).count();
    assert_eq!(builds_after, 3, "a rollback never rebuilds");

    let (code, out) = host.run("status", &[], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deployed  v1 since 20"), "{out}");
    let (code, out) = host.run("deploy", &["--tag", "bad tag"], "");
    assert_eq!(code, 64, "{out}");
}
