//! `smsgate doctor [--json] [--config FILE]`: check this box for the usual
//! field faults and say what to do about each ([`crate::doctor`]).
//!
//! Owns printing the report (one line per check, the fix indented under
//! it; or one JSON object) and the exit code: 0 all ok or skipped, 1 a
//! warning, 2 an error.

use std::path::Path;

use crate::doctor::{self, Env, Report, Status};

/// Runs every check, prints the report on stdout and returns the exit code.
pub fn run(json: bool, config: Option<&Path>) -> i32 {
    let env = Env::from_process(config.map(Path::to_path_buf));
    let report = doctor::run(&env);
    if json {
        println!("{}", render_json(&report));
    } else {
        print!("{}", render_text(&report));
    }
    report.exit_code()
}

/// `{"checks": [{"id", "status", "message", "fix"}]}` on one line.
pub fn render_json(report: &Report) -> String {
    serde_json::to_string(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// One line per check: status, id, message; the fix on the next line,
/// indented, when the check is not ok.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for c in &report.checks {
        let status = match c.status {
            Status::Ok => "ok",
            Status::Skipped => "skip",
            Status::Warn => "WARN",
            Status::Error => "ERROR",
        };
        out.push_str(&format!("{status:<6} {:<13} {}\n", c.id, c.message));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{:<21}fix: {fix}\n", ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Check;

    #[test]
    fn text_has_one_line_per_check_and_the_fix_under_it() {
        let report = Report {
            checks: vec![
                Check::ok("config", "defaults: valid"),
                Check::error("power", "under-voltage now", "a proper supply"),
            ],
        };
        assert_eq!(
            render_text(&report),
            "ok     config        defaults: valid\n\
             ERROR  power         under-voltage now\n                     \
             fix: a proper supply\n"
        );
        let v: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
        assert_eq!(v["checks"][1]["status"], "error");
        assert_eq!(v["checks"][0]["fix"], serde_json::Value::Null);
    }
}
