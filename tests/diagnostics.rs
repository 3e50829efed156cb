//! Each bad-input fixture under `tests/fixtures/err/` names the code it must
//! produce on its first line (`# expect: E0102`); its rendered diagnostics
//! are snapshot-tested, and the expected code must be among them.

use ragc::diag::Code;
use ragc::input::Input;

fn expected_code(text: &str) -> Option<String> {
    text.lines().find_map(|line| line.strip_prefix("# expect: ")).map(|code| code.trim().to_string())
}

#[test]
fn every_fixture_reports_its_code() {
    insta::glob!("fixtures/err/*.rag", |path| {
        let relative = std::path::Path::new("tests/fixtures/err").join(path.file_name().unwrap());
        let input = match Input::load(&relative) {
            Ok(input) => input,
            Err(error) => {
                insta::with_settings!({ snapshot_path => "../snapshots/diagnostics", prepend_module_to_snapshot => false, omit_expression => true }, {
                    insta::assert_snapshot!(format!("error[E0002]: can't read the stack: {error}"));
                });
                return;
            }
        };
        let compilation = ragc::analyze(&input);
        let rendered = compilation.sources.render(&compilation.diagnostics, false);
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if let Some(code) = expected_code(&text) {
            assert!(
                compilation.diagnostics.iter().any(|d| d.code.as_str() == code),
                "{} should report {code}, got:\n{rendered}",
                path.display()
            );
        }
        insta::with_settings!({ snapshot_path => "../snapshots/diagnostics", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(rendered);
        });
    });
}

/// Codes reached through the disk, the file system or a limit rather than
/// a stack file's content: tests/cli.rs and tests/environment.rs cover them.
const NOT_FROM_A_STACK_FILE: [Code; 9] =
    [Code::E0005, Code::E0404, Code::E0601, Code::E0602, Code::E0603, Code::E0604, Code::E0605, Code::E0606, Code::E0607];

#[test]
fn every_code_has_a_page_and_a_fixture() {
    let fixtures: String = std::fs::read_dir("tests/fixtures/err")
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default())
        .collect();
    for code in Code::ALL {
        // The page is embedded with include_str!, so a missing one fails the build.
        assert!(code.page().starts_with(&format!("# {code}: ")), "{code}'s page starts with its title");
        if !NOT_FROM_A_STACK_FILE.contains(code) {
            assert!(fixtures.contains(&format!("# expect: {code}")), "no fixture in tests/fixtures/err expects {code}");
        }
    }
}
