//! Generated stacks: syntactically valid, mostly well-typed stacks built from
//! the stdlib kinds' schemas, with hostile strings in string fields. These
//! reach the emitters far more often than mutated bytes do.

use crate::mutate::{escape, hostile_string};
use crate::rng::Rng;

/// (kind, [(field, value generator)]).
type FieldGen = fn(&mut Rng) -> String;

thread_local! {
    /// In a clean stack every value is valid but the one hostile string:
    /// those reach the emitters, where the escaping filters are tested.
    static CLEAN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Whether the clean stack's one hostile string was spent.
    static SPENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn clean() -> bool {
    CLEAN.with(std::cell::Cell::get)
}

fn s(rng: &mut Rng) -> String {
    if clean() {
        if !SPENT.with(std::cell::Cell::get) && rng.chance(6) {
            SPENT.with(|spent| spent.set(true));
            return format!("\"{}\"", escape(&hostile_string(rng)));
        }
        return format!("\"{}\"", rng.pick(&["16.4", "3.12.8", "app", "7", "1.2.3", "requirements.txt"]));
    }
    if rng.chance(10) {
        format!("\"{}\"", escape(&hostile_string(rng)))
    } else {
        format!(
            "\"{}\"",
            rng.pick(&["16.4", "3.12.8", "22.12.0", "app", "/health", "/", "/api/", "gunicorn app:app --bind 0.0.0.0:8000", "7"])
        )
    }
}

fn port(rng: &mut Rng) -> String {
    if clean() {
        return rng.pick(&["8000", "3000", "8080", "9000"]).to_string();
    }
    rng.pick(&["80", "443", "8000", "8000", "3000", "5432", "0", "65535", "65536", "-1"]).to_string()
}

fn schedule(rng: &mut Rng) -> String {
    if clean() {
        return rng
            .pick(&[
                "daily()",
                "daily(at: \"03:00\", keep: 14d)",
                "weekly(on: sun)",
                "hourly(minute: 5, keep: 2d)",
                "cron(\"*/15 2 * * 1-5\")",
            ])
            .to_string();
    }
    match rng.below(5) {
        0 => format!("daily(at: {}, keep: {})", rng.pick(&["\"02:00\"", "\"24:00\"", "\"2:00\"", "\"23:59\""]), keep(rng)),
        1 => format!("weekly(on: {}, at: \"03:00\", keep: {})", rng.pick(&["sun", "sat", "monday"]), keep(rng)),
        2 => format!("hourly(minute: {}, keep: {})", rng.pick(&["0", "59", "60", "-1"]), keep(rng)),
        3 => format!("cron({}, keep: {})", s_cron(rng), keep(rng)),
        _ => format!("daily(keep: {})", keep(rng)),
    }
}

fn keep(rng: &mut Rng) -> String {
    rng.pick(&["7d", "1d", "2w", "0d", "36h", "18446744073709551615s", "9999999999999d"]).to_string()
}

fn s_cron(rng: &mut Rng) -> String {
    format!(
        "\"{}\"",
        rng.pick(&[
            "30 2 * * *",
            "*/5 * * * *",
            "0 0 1 1 7",
            "0 0 31 2 *",
            "1-5/2 * * * *",
            "60 * * * *",
            "* * * *",
            "@daily",
            "0 0 * * * rm"
        ])
    )
}

fn health(rng: &mut Rng) -> String {
    if clean() {
        return match rng.below(4) {
            0 => "http(\"/health\")".to_string(),
            1 => format!("cmd([\"check\", {}])", s(rng)),
            2 => format!("shell({})", s(rng)),
            _ => "none()".to_string(),
        };
    }
    match rng.below(5) {
        0 => format!("http({})", s(rng)),
        1 => format!("cmd([{}, {}])", s(rng), s(rng)),
        2 => format!("shell({}, interval: {}, retries: {})", s(rng), rng.pick(&["10s", "0s", "1d"]), rng.pick(&["1", "100", "101", "0"])),
        3 => "none()".to_string(),
        _ => "http(\"/health\", timeout: 3s)".to_string(),
    }
}

fn list(rng: &mut Rng) -> String {
    let items: Vec<String> = (0..rng.below(4)).map(|_| s(rng)).collect();
    format!("[{}]", items.join(", "))
}

fn size(rng: &mut Rng) -> String {
    rng.pick(&["512mb", "1gb", "5mb", "16383tb", "100b"]).to_string()
}

fn boolean(rng: &mut Rng) -> String {
    rng.pick(&["true", "false"]).to_string()
}

const KINDS: &[(&str, &[(&str, FieldGen)])] = &[
    ("postgres", &[("version", s), ("database", s), ("user", s), ("backup", schedule), ("wal_senders", port)]),
    ("redis", &[("version", s), ("maxmemory", size), ("backup", schedule)]),
    ("qdrant", &[("version", s), ("backup", schedule)]),
    (
        "python",
        &[
            ("command", s),
            ("python", s),
            ("requirements", s),
            ("port", port),
            ("health", health),
            ("route", s),
            ("release", s),
            ("build_packages", list),
            ("runtime_packages", list),
            ("publish", port),
        ],
    ),
    (
        "node",
        &[
            ("command", s),
            ("node", s),
            ("build_script", s),
            ("port", port),
            ("health", health),
            ("route", s),
            ("release", s),
            ("publish", port),
        ],
    ),
    (
        "image",
        &[
            ("image", s),
            ("command", s),
            ("port", port),
            ("health", health),
            ("route", s),
            ("run_as", s),
            ("tmpfs", list),
            ("stateful", boolean),
            ("read_only", boolean),
            ("publish", port),
        ],
    ),
];

const NAMES: &[&str] = &["db", "api", "web", "cache", "vectors", "app", "api-1", "api_1", "Api", "x", "db-net", "api-release", "default"];

/// One generated stack file: half of them valid but for one hostile string.
pub fn stack(rng: &mut Rng) -> Vec<u8> {
    let clean = rng.chance(2);
    CLEAN.with(|flag| flag.set(clean));
    SPENT.with(|spent| spent.set(false));
    if clean {
        return clean_stack(rng);
    }
    let mut out = String::new();
    out.push_str(&format!("stack {} {{\n", rng.pick(&["demo", "a", "my-app", "Demo", "x-y-z"])));
    for (setting, values) in [
        ("domain", &["\"app.example.com\"", "\"example\"", "\"a..b\"", "\"xn--d1a.example\""][..]),
        ("acme_email", &["\"ops@example.com\"", "\"o p@x.y\""][..]),
        ("offsite", &["\"s3://bucket/prefix\"", "\"s3://b/$(id)\""][..]),
        ("path", &["\"/opt/demo\"", "\"/opt/de mo\"", "\"/opt/`id`\"", "\"/opt/a}b\"", "\"/opt/%d\""][..]),
        ("backup_root", &["\"/var/backups/demo\"", "\"/var/b`id`\"", "\"/var/b}x\"", "\"/var/b\\tx\""][..]),
        ("context", &["\".\"", "\"app\"", "\"../x\"", "\"/abs\""][..]),
    ] {
        if rng.chance(2) {
            let value = if rng.chance(4) { s(rng) } else { rng.pick(values).to_string() };
            out.push_str(&format!("  {setting} = {value}\n"));
        }
    }
    out.push_str("}\n");
    let secrets = rng.below(3);
    for i in 0..secrets {
        let source = if rng.chance(2) {
            format!("generate({}, {})", rng.pick(&["hex", "alnum", "base64url"]), rng.pick(&["16", "32", "256", "15"]))
        } else {
            format!("required({})", s(rng))
        };
        out.push_str(&format!("secret s{i} = {source}\n"));
    }
    let count = 1 + rng.below(5);
    let mut names = Vec::new();
    for _ in 0..count {
        let (kind, fields) = *rng.pick(KINDS);
        let name = rng.pick(NAMES).to_string();
        out.push_str(&format!("service {name}: {kind} {{\n"));
        for (field, value) in fields.iter() {
            if rng.chance(2) || (matches!(kind, "python" | "node") && *field == "command") || (kind == "image" && *field == "image") {
                out.push_str(&format!("  {field} = {}\n", value(rng)));
            }
        }
        if rng.chance(3) {
            out.push_str(&format!("  volume {} = {}\n", rng.pick(&["data", "uploads", "up-loads", "Up"]), s(rng)));
        }
        if rng.chance(2) {
            out.push_str("  env {\n");
            for i in 0..rng.below(4) {
                let value = match rng.below(4) {
                    0 if !names.is_empty() => format!("{}.{}", rng.pick(&names), rng.pick(&["url", "host", "port", "password"])),
                    1 if secrets > 0 => format!("s{}", rng.below(secrets)),
                    _ => s(rng),
                };
                out.push_str(&format!("    {} = {value}\n", rng.pick(&["A", "LOG_LEVEL", "X_1", "a-b"]).to_string() + &i.to_string()));
            }
            out.push_str("  }\n");
        }
        if rng.chance(4) {
            out.push_str(&format!("  limits {{ cpus = {}, memory = {} }}\n", rng.pick(&["0.5", "2", "0", "1025"]), size(rng)));
        }
        if rng.chance(4) {
            out.push_str(&format!("  dev {{ command = {}, env {{ DEBUG = {} }} }}\n", s(rng), s(rng)));
        }
        out.push_str("}\n");
        names.push(name);
    }
    if rng.chance(4) && !names.is_empty() {
        out.push_str(&format!("service w: worker {{ from = {}, command = {} }}\n", rng.pick(&names), s(rng)));
    }
    if rng.chance(6) {
        out.push_str(&format!(
            "kind k {{\n  field f : string = {}\n  image = {}\n  workdir = {}\n  build = \"python\"\n  volume data = {}\n  export url = {}\n  command = {}\n}}\nservice kk: k {{ f = {} }}\n",
            s(rng),
            s(rng),
            s(rng),
            s(rng),
            s(rng),
            s(rng),
            s(rng)
        ));
    }
    if rng.chance(2) {
        out.push_str(&format!(
            "proxy nginx {{ tls = {}, version = {}, max_body = {}, timeout = {} }}\n",
            rng.pick(&["letsencrypt", "manual"]),
            s(rng),
            size(rng),
            rng.pick(&["60s", "1h", "0s"])
        ));
    }
    out.into_bytes()
}

/// A stack that compiles unless its one hostile string is refused.
fn clean_stack(rng: &mut Rng) -> Vec<u8> {
    let mut out = String::from("stack demo {\n  domain = \"app.example.com\"\n  acme_email = \"ops@example.com\"\n");
    if rng.chance(2) {
        let root = if rng.chance(3) { format!("/{}", hostile_string(rng)) } else { "/var/backups/demo".to_string() };
        out.push_str(&format!("  backup_root = \"{}\"\n", escape(&root)));
    }
    out.push_str("}\nsecret key = generate(hex, 32)\n");
    if rng.chance(2) {
        out.push_str(&format!("secret token = required({})\n", s(rng)));
    }
    let names = ["db", "api", "web", "cache", "vectors", "app"];
    let count = 1 + rng.below(names.len());
    let mut routed = false;
    for (index, name) in names.iter().take(count).enumerate() {
        let (kind, fields) = KINDS[index % KINDS.len()];
        out.push_str(&format!("service {name}: {kind} {{\n"));
        for (field, value) in fields.iter() {
            let required = matches!((kind, *field), ("python" | "node", "command") | ("image", "image"));
            if *field == "route" {
                if !routed && rng.chance(2) && fields.iter().any(|(f, _)| *f == "port") {
                    routed = true;
                    out.push_str(&format!("  port = {}\n  route = \"/\"\n", 8000 + index));
                }
                continue;
            }
            if matches!(*field, "port" | "publish" | "health" | "maxmemory" | "wal_senders") {
                continue;
            }
            if required || rng.chance(3) {
                let value = if kind == "image" && *field == "image" { "\"nginx:1.27\"".to_string() } else { value(rng) };
                out.push_str(&format!("  {field} = {value}\n"));
            }
        }
        if kind == "image" && !out.ends_with("port = 8080\n") && rng.chance(2) {
            out.push_str(&format!("  health = {}\n", health(rng)));
        }
        out.push_str(&format!("  env {{\n    LOG_LEVEL = {}\n    KEY = key\n  }}\n", s(rng)));
        out.push_str("}\n");
    }
    if routed {
        out.push_str("proxy nginx {}\n");
    }
    out.into_bytes()
}
