//! Field-level parsing of one information-text line (V.250 §5.7.2,
//! 3GPP TS 27.007 §4.1): `+NAME: a,"b",,c` split into parameters.
//!
//! Owns: prefix stripping, comma splitting that respects quoted strings,
//! unquoting, and integer/hex conversion with errors naming the line.
//! May not touch: framing of lines (that is the digester's job) or any I/O.

use super::error::AtError;

/// Strips `prefix` followed by `:` and optional spaces from `line`
/// (case-insensitive, as V.250 §5.4.1 treats command names).
pub(crate) fn strip_prefix<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = line.get(prefix.len()..)?.strip_prefix(':')?;
    Some(rest.trim_start())
}

/// Splits parameters on commas outside double quotes. Each item is trimmed
/// but keeps its quotes, so callers can tell `"12"` from `12`.
pub(crate) fn split_params(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quote = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            ',' if !in_quote => {
                out.push(s.get(start..i).unwrap_or("").trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or("").trim());
    out
}

/// Whether a raw parameter was a quoted string.
pub(crate) fn is_quoted(raw: &str) -> bool {
    raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"')
}

/// Removes surrounding double quotes, if any.
pub(crate) fn unquote(raw: &str) -> &str {
    if is_quoted(raw) {
        raw.get(1..raw.len() - 1).unwrap_or("")
    } else {
        raw
    }
}

/// A parse error naming the whole line it came from.
pub(crate) fn parse_err(line: &str, reason: &'static str) -> AtError {
    AtError::Parse {
        line: line.to_owned(),
        reason,
    }
}

/// Parameter `i` as a decimal integer.
pub(crate) fn int<T: std::str::FromStr>(
    params: &[&str],
    i: usize,
    line: &str,
) -> Result<T, AtError> {
    let raw = params
        .get(i)
        .ok_or_else(|| parse_err(line, "missing parameter"))?;
    unquote(raw)
        .trim()
        .parse()
        .map_err(|_| parse_err(line, "not a decimal integer"))
}

/// Parameter `i` as a decimal integer, `None` when absent or empty.
pub(crate) fn opt_int<T: std::str::FromStr>(
    params: &[&str],
    i: usize,
    line: &str,
) -> Result<Option<T>, AtError> {
    match params.get(i).map(|raw| unquote(raw).trim()) {
        None | Some("") => Ok(None),
        Some(_) => int(params, i, line).map(Some),
    }
}

/// Parameter `i` as a hexadecimal number (LAC/CI, TS 27.007 §7.2), `None`
/// when absent or empty.
pub(crate) fn opt_hex(params: &[&str], i: usize, line: &str) -> Result<Option<u32>, AtError> {
    match params.get(i).map(|raw| unquote(raw).trim()) {
        None | Some("") => Ok(None),
        Some(text) => u32::from_str_radix(text, 16)
            .map(Some)
            .map_err(|_| parse_err(line, "not a hexadecimal number")),
    }
}

/// Parameter `i` unquoted, `None` when absent or empty.
pub(crate) fn opt_string(params: &[&str], i: usize) -> Option<String> {
    params
        .get(i)
        .map(|raw| unquote(raw))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Whether a line is a non-empty run of hex digits: the shape of a PDU line
/// (TS 27.005 §3.1, `<pdu>`).
pub(crate) fn is_hex_line(line: &str) -> bool {
    !line.is_empty() && line.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes() {
        assert_eq!(
            split_params(r#"1,"REC, UNREAD","+1809",,"26/01/01""#),
            vec!["1", r#""REC, UNREAD""#, r#""+1809""#, "", r#""26/01/01""#]
        );
    }

    #[test]
    fn strip_prefix_is_case_insensitive_and_eats_spaces() {
        assert_eq!(strip_prefix("+csq:  21,99", "+CSQ"), Some("21,99"));
        assert_eq!(strip_prefix("+CSQX: 1", "+CSQ"), None);
        assert_eq!(strip_prefix("+C", "+CSQ"), None);
    }

    #[test]
    fn numbers_and_strings() {
        let line = r#"+CREG: 2,1,"00C3","1A2B""#;
        let p = split_params(strip_prefix(line, "+CREG").unwrap_or_default());
        assert_eq!(int::<u8>(&p, 1, line).ok(), Some(1));
        assert_eq!(opt_hex(&p, 2, line).ok(), Some(Some(0xC3)));
        assert!(int::<u8>(&p, 9, line).is_err());
        assert_eq!(opt_string(&p, 3).as_deref(), Some("1A2B"));
        assert!(is_quoted(p[2]) && !is_quoted(p[0]));
    }

    #[test]
    fn unquote_does_not_panic_on_a_lone_quote() {
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote("\"\""), "");
    }
}
