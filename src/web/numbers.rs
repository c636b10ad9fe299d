//! Recipient numbers as the form accepts them (R13): E.164 (`+` and 8–15
//! digits) or a Dominican national number (809/829/849 and 7 more digits,
//! optionally with a leading 1). Separators people type (spaces, dashes,
//! dots, parentheses) are ignored. The page's JavaScript mirrors this.

/// Area codes of the Dominican Republic (NANP).
pub const DR_AREA_CODES: [&str; 3] = ["809", "829", "849"];

/// The E.164 form of `typed`, or `None` when it is not a valid number.
pub fn normalize(typed: &str) -> Option<String> {
    let t = typed.trim();
    let (plus, rest) = match t.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    if plus {
        let ok = (8..=15).contains(&digits.len()) && !digits.starts_with('0');
        return ok.then(|| format!("+{digits}"));
    }
    let national = match digits.len() {
        10 => digits.as_str(),
        11 if digits.starts_with('1') => &digits[1..],
        _ => return None,
    };
    DR_AREA_CODES
        .iter()
        .any(|a| national.starts_with(a))
        .then(|| format!("+1{national}"))
}

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
    fn dr_national_numbers_become_e164() {
        assert_eq!(normalize("8095551234").as_deref(), Some("+18095551234"));
        assert_eq!(normalize("(829) 555-0000").as_deref(), Some("+18295550000"));
        assert_eq!(normalize("1 849 555 0000").as_deref(), Some("+18495550000"));
    }

    #[test]
    fn e164_is_kept() {
        assert_eq!(normalize("+18095551234").as_deref(), Some("+18095551234"));
        assert_eq!(
            normalize("+34 612 345 678").as_deref(),
            Some("+34612345678")
        );
    }

    #[test]
    fn junk_is_refused() {
        for junk in [
            "",
            "hola",
            "7185551234",
            "809555123",
            "+0123456789",
            "+1",
            "80955512345x",
        ] {
            assert_eq!(normalize(junk), None, "{junk}");
        }
    }

    #[test]
    fn fields_split_on_commas_and_lines() {
        let v: Vec<_> = split_field("809 555 1234, +18295550000\n849-555-0000;").collect();
        assert_eq!(v, ["809 555 1234", "+18295550000", "849-555-0000"]);
    }
}
