//! Runtime defects that only a real engine showed (issue #12; tests/live/run
//! boots the stacks): each test pins the generated Compose that fixes one.

use ragc::emit::EmitOptions;
use ragc::input::Input;
use serde_yaml_ng::Value;

/// The merged view of one service: compose.yaml's entry.
fn compose(stack: &str) -> Value {
    let input = Input::from_text("s.rag", stack);
    let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
    assert!(!compilation.has_errors(), "{}", compilation.sources.render(&compilation.diagnostics, false));
    let plan = plan.expect("no errors, so a plan");
    let ragc::plan::Contents::Text(text) = &plan.get("compose.yaml").expect("compose.yaml").contents else {
        panic!("compose.yaml is text")
    };
    serde_yaml_ng::from_str(text).expect("compose.yaml parses")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    &compose["services"][name]
}

const HEADER: &str = "stack s {\n  domain = \"s.example.com\"\n  acme_email = \"ops@example.com\"\n}\n";

const API_AND_WORKER: &str = r#"
service db: postgres { version = "15" }
service api: python {
  python  = "3.11.11"
  command = "uvicorn main:app --host 0.0.0.0 --port 8000"
  port    = 8000
  health  = http("/health")
  route   = "/"
  release = "alembic upgrade head"
  env { DATABASE_URL = db.url }
}
service worker: worker {
  from    = api
  command = "celery -A tasks worker"
  env { DATABASE_URL = db.url }
}
proxy nginx {}
"#;

/// Bug 9: `up --wait` fails on a container whose healthcheck is disabled
/// ("has no healthcheck configured"); a worker sharing the api's image had one.
#[test]
fn a_worker_without_health_gets_a_liveness_check_not_a_disabled_one() {
    let compose = compose(&format!("{HEADER}{API_AND_WORKER}"));
    let health = &service(&compose, "worker")["healthcheck"];
    assert!(health["disable"].is_null(), "worker healthcheck is disabled: {health:?}");
    let test: Vec<&str> = health["test"].as_sequence().expect("a test").iter().map(|v| v.as_str().unwrap()).collect();
    // Through the image's loader, as every check of a service with secret files.
    assert_eq!(test, ["CMD", "/usr/local/bin/ragc-env", "sh", "-c", "kill -0 1"], "{health:?}");
}

/// Bug 12: a service built from the same image as a service with `release`
/// must not start before that release has run (the worker raced the migration).
#[test]
fn a_service_sharing_an_image_with_a_release_waits_for_it() {
    let compose = compose(&format!("{HEADER}{API_AND_WORKER}"));
    let depends = &service(&compose, "worker")["depends_on"];
    assert_eq!(depends["api-release"]["condition"].as_str(), Some("service_completed_successfully"), "{depends:?}");
    // The release job itself does not wait for itself.
    assert!(service(&compose, "api-release")["depends_on"]["api-release"].is_null());
}

/// Bug 14: started as root with every capability dropped but SETUID/SETGID,
/// the redis entrypoint's `find . \! -user redis -exec chown` cannot enter
/// the append-only directory (0700, redis's) and the cache never starts again.
/// Run as redis's own user (uid 999, gid 1000 in the alpine image): the
/// entrypoint skips its root step and no capability is needed.
#[test]
fn redis_runs_as_its_own_user_with_no_capabilities() {
    let compose = compose(&format!("{HEADER}service cache: redis {{ persistence = aof }}\n"));
    let cache = service(&compose, "cache");
    assert_eq!(cache["user"].as_str(), Some("999:1000"), "{cache:?}");
    assert!(cache["cap_add"].is_null(), "no capability is needed: {:?}", cache["cap_add"]);
}

/// Bug 15: Qdrant writes its init marker to /qdrant/.qdrant-initialized,
/// on the read-only root; it belongs on the storage volume.
#[test]
fn qdrant_writes_its_init_file_on_the_storage_volume() {
    let compose = compose(&format!("{HEADER}service vectors: qdrant {{}}\n"));
    let vectors = service(&compose, "vectors");
    assert_eq!(vectors["environment"]["QDRANT_INIT_FILE_PATH"].as_str(), Some("/qdrant/storage/.qdrant-initialized"));
    let targets: Vec<&str> = vectors["volumes"].as_sequence().unwrap().iter().map(|v| v["target"].as_str().unwrap()).collect();
    assert!(targets.contains(&"/qdrant/storage"), "{targets:?}");
}

/// Bug 1: a stateful service with a `route` (or `publish`), like a
/// self-hosted Gitea run as an `image`, was put only on its internal network:
/// Docker publishes no port there (nginx answered 502) and it had no egress.
#[test]
fn a_stateful_service_with_a_route_is_also_on_the_default_network() {
    let stack = r#"
service git: image {
  image       = "gitea/gitea:1.22.3"
  port        = 3000
  route       = "/"
  stateful    = true
  volume data = "/data"
}
service db: postgres { version = "15" }
proxy nginx {}
"#;
    let compose = compose(&format!("{HEADER}{stack}"));
    let networks = |name: &str| -> Vec<String> {
        service(&compose, name)["networks"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(networks("git"), ["default", "git-net"]);
    assert_eq!(service(&compose, "git")["ports"][0].as_str(), Some("127.0.0.1:3000:3000"));
    // A store with no route stays on its internal network only.
    assert_eq!(networks("db"), ["db-net"]);
}
