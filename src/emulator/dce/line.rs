//! Splitting one AT command line into its commands (ITU-T V.250 §5.2):
//! `ATE0V1+CMEE=1;+CMGF=0` is `E0`, `V1`, `+CMEE=1`, `+CMGF=0`.
//!
//! Pure text handling; knows nothing of what the commands mean.

/// One command of a command line, split into its name and form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// Upper-cased name: `E`, `&F`, `+CMGS`, `^CURC`, `S7`.
    pub name: String,
    pub form: Form,
}

impl Cmd {
    /// The command as typed after `AT` (name upper-cased): `^CURC=0`,
    /// `+CPMS?`, `+CNMI=?`, `+CGMR`.
    pub fn typed(&self) -> String {
        match &self.form {
            Form::Action => self.name.clone(),
            Form::Read => format!("{}?", self.name),
            Form::Test => format!("{}=?", self.name),
            Form::Set(v) if self.name.starts_with(['+', '^', '$', '%', '*', '#']) => {
                format!("{}={v}", self.name)
            }
            Form::Set(v) => format!("{}{v}", self.name),
        }
    }
}

/// The syntactic form of a command (V.250 §5.3 and §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `AT+CMGF` or `ATE` (no argument).
    Action,
    /// `AT+CMGF?`
    Read,
    /// `AT+CMGF=?`
    Test,
    /// `AT+CMGF=0`, or the number of a basic command (`ATE0` → "0").
    Set(String),
}

/// Splits the text after `AT`. Returns `None` for a line that cannot be
/// split (an unterminated string, an unknown basic command letter).
pub fn split(body: &str) -> Option<Vec<Cmd>> {
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == ';' || c == ' ' {
            i += 1;
            continue;
        }
        if matches!(c, '+' | '^' | '$' | '%' | '*' | '#') {
            // Extended command: a name, then up to the next `;` outside quotes.
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i]
                .iter()
                .collect::<String>()
                .to_ascii_uppercase();
            let rest_start = i;
            let mut quoted = false;
            while i < chars.len() && (quoted || chars[i] != ';') {
                if chars[i] == '"' {
                    quoted = !quoted;
                }
                i += 1;
            }
            if quoted {
                return None;
            }
            let rest: String = chars[rest_start..i].iter().collect();
            out.push(Cmd {
                name,
                form: extended_form(rest.trim()),
            });
            continue;
        }
        // Basic command: [&]letter, then digits, or S-register forms.
        let mut name = String::new();
        if c == '&' {
            name.push('&');
            i += 1;
        }
        let letter = *chars.get(i)?;
        if !letter.is_ascii_alphabetic() {
            return None;
        }
        name.push(letter.to_ascii_uppercase());
        i += 1;
        if letter.eq_ignore_ascii_case(&'S') && name == "S" {
            // S-register: Sn?, Sn=v
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            name.extend(chars[start..i].iter());
            let form = match chars.get(i) {
                Some('?') => {
                    i += 1;
                    Form::Read
                }
                Some('=') => {
                    i += 1;
                    let s = i;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    Form::Set(chars[s..i].iter().collect())
                }
                _ => Form::Action,
            };
            out.push(Cmd { name, form });
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let digits: String = chars[start..i].iter().collect();
        let form = if digits.is_empty() {
            Form::Action
        } else {
            Form::Set(digits)
        };
        out.push(Cmd { name, form });
    }
    Some(out)
}

fn extended_form(rest: &str) -> Form {
    if rest.is_empty() {
        Form::Action
    } else if rest == "?" {
        Form::Read
    } else if rest == "=?" {
        Form::Test
    } else if let Some(v) = rest.strip_prefix('=') {
        Form::Set(v.to_string())
    } else {
        Form::Set(rest.to_string())
    }
}

/// Splits `a,"b,c",d` into its parameters, unquoting strings.
pub fn params(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<(String, Form)> {
        split(body)
            .unwrap()
            .into_iter()
            .map(|c| (c.name, c.form))
            .collect()
    }

    #[test]
    fn basic_commands_concatenate_without_separator() {
        assert_eq!(
            names("E0V1&FZ"),
            vec![
                ("E".into(), Form::Set("0".into())),
                ("V".into(), Form::Set("1".into())),
                ("&F".into(), Form::Action),
                ("Z".into(), Form::Action),
            ]
        );
    }

    #[test]
    fn extended_commands_split_on_semicolons_outside_quotes() {
        assert_eq!(
            names("+CMEE=1;+CPMS=\"SM;x\",\"SM\";+CMGF?;+CNMI=?"),
            vec![
                ("+CMEE".into(), Form::Set("1".into())),
                ("+CPMS".into(), Form::Set("\"SM;x\",\"SM\"".into())),
                ("+CMGF".into(), Form::Read),
                ("+CNMI".into(), Form::Test),
            ]
        );
    }

    #[test]
    fn s_registers_and_lower_case() {
        assert_eq!(
            names("s7=60e1+cgmi"),
            vec![
                ("S7".into(), Form::Set("60".into())),
                ("E".into(), Form::Set("1".into())),
                ("+CGMI".into(), Form::Action),
            ]
        );
    }

    #[test]
    fn unterminated_string_and_stray_symbols_are_refused() {
        assert_eq!(split("+CMGS=\"+1809"), None);
        assert_eq!(split("E0!"), None);
    }

    #[test]
    fn params_unquote() {
        assert_eq!(params("\"SM\",3, \"a,b\""), vec!["SM", "3", "a,b"]);
    }
}
