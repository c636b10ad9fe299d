//! External tools (chromium, gammu, the Python venvs, cargo-deb...): one
//! decision for every test that needs one. A test finds its tool its own
//! way and hands the result to [`require_tool`]: when it is missing, the
//! test fails under CI and is skipped with a note elsewhere.

/// `found` when it is `Some`. When it is `None` (`what` is missing), panics
/// if the environment variable `CI` is truthy (see [`ci_is_truthy`]), and
/// otherwise prints a note with `how_to_install` and returns `None`, so the
/// test returns early:
///
/// ```ignore
/// let Some(st) = require_tool("schemathesis", st(), "scripts/test makes target/st-venv") else {
///     return;
/// };
/// ```
#[track_caller]
pub fn require_tool<T>(what: &str, found: Option<T>, how_to_install: &str) -> Option<T> {
    if found.is_none() {
        let ci = std::env::var("CI").ok();
        assert!(
            !ci_is_truthy(ci.as_deref()),
            "CI={} and the test needs {what}, not found: {how_to_install}",
            ci.unwrap_or_default()
        );
        eprintln!("note: test skipped, it needs {what}, not found ({how_to_install})");
    }
    found
}

/// Whether a value of `CI` means "running under CI": `true`, `1` or `yes`
/// in any case, spaces around ignored. Unset, empty, `false`, `0` and
/// anything else do not.
pub fn ci_is_truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        ["true", "1", "yes"]
            .iter()
            .any(|t| v.eq_ignore_ascii_case(t))
    })
}

#[cfg(test)]
mod tests {
    // Paths, not imports: benches and hil-tests build this module with
    // `cfg(test)` but without the test harness, so without these tests.
    #[test]
    fn ci_truthiness() {
        for yes in ["true", "TRUE", "True", "1", "yes", "YES", " true\n"] {
            assert!(super::ci_is_truthy(Some(yes)), "{yes:?}");
        }
        for no in ["false", "FALSE", "0", "no", "", "  ", "maybe"] {
            assert!(!super::ci_is_truthy(Some(no)), "{no:?}");
        }
        assert!(!super::ci_is_truthy(None));
    }

    #[test]
    fn a_found_tool_is_handed_back() {
        assert_eq!(
            super::require_tool("sh", Some(7), "it is always there"),
            Some(7)
        );
    }
}
