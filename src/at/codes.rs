//! The table macro behind [`super::CmsError`] and [`super::CmeError`].
//!
//! Owns: turning a table of (variant, numeric code, standard text,
//! retryable) rows into an enum with `from_code`, `from_text`, `code`,
//! `is_retryable` and `Display`. May not touch: anything else.

/// Declares an error-code enum from a table of
/// `Variant = code, "standard text", retryable;` rows. Adds
/// `Other(u16)` (a numeric code not in the table) and `Text(String)` (a
/// verbose form not in the table, as printed under `+CMEE=2`).
macro_rules! error_codes {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, $text:literal, $retry:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = $text] $variant, )*
            /// A numeric code that is not in the table (manufacturer-specific
            /// or from a newer release). Treated as retryable: the driver's
            /// attempt budget bounds the cost of being wrong.
            Other(u16),
            /// A verbose error text that is not in the table.
            Text(String),
        }

        impl $name {
            /// The enum for a numeric code.
            pub fn from_code(code: u16) -> Self {
                match code {
                    $( $code => Self::$variant, )*
                    other => Self::Other(other),
                }
            }

            /// Parses what follows `ERROR:` — a number (`+CMEE=1`) or the
            /// verbose text (`+CMEE=2`), matched case-insensitively.
            pub fn parse(text: &str) -> Self {
                let text = text.trim();
                if let Ok(code) = text.parse::<u16>() {
                    return Self::from_code(code);
                }
                $( if text.eq_ignore_ascii_case($text) { return Self::$variant; } )*
                Self::Text(text.to_owned())
            }

            /// The numeric code, if known.
            pub fn code(&self) -> Option<u16> {
                match self {
                    $( Self::$variant => Some($code), )*
                    Self::Other(code) => Some(*code),
                    Self::Text(_) => None,
                }
            }

            /// Whether sending the same command again later may succeed.
            pub fn is_retryable(&self) -> bool {
                match self {
                    $( Self::$variant => $retry, )*
                    Self::Other(_) | Self::Text(_) => true,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $( Self::$variant => f.write_str($text), )*
                    Self::Other(code) => write!(f, "error {code}"),
                    Self::Text(text) => f.write_str(text),
                }
            }
        }
    };
}

pub(crate) use error_codes;
