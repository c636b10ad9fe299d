//! Recipient fields as people type them: one field may hold several
//! numbers. Whether a number is valid, and its E.164 form, is the session
//! core's one rule (`crate::session::normalize`, with the configured
//! country); the page's JavaScript mirrors it for DR numbers as a hint.

/// Splits one typed field into numbers: commas, semicolons and whitespace
/// other than single spaces inside a number separate them.
pub fn split_field(field: &str) -> impl Iterator<Item = &str> {
    field
        .split([',', ';', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_on_commas_and_lines() {
        let v: Vec<_> = split_field("809 555 1234, +18295550000\n849-555-0000;").collect();
        assert_eq!(v, ["809 555 1234", "+18295550000", "849-555-0000"]);
    }
}
