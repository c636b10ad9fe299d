//! SMSC delivery receipts (SMPP 3.4 Appendix B, and the
//! receipted_message_id / message_state TLVs of §5.3.2.12 and §5.3.2.35)
//! and the SMPP time format of validity_period (§7.1.1).
//!
//! Pure: values and `now` in, text and times out.

use chrono::{DateTime, Duration, FixedOffset, Months, NaiveDate, TimeZone, Utc};

/// The final state of a submitted message, as a receipt reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalState {
    Delivered,
    /// The validity period ran out before delivery.
    Expired,
    /// The network does not know the number.
    Undeliverable,
}

impl FinalState {
    /// The `stat:` word of Appendix B.
    pub fn stat(self) -> &'static str {
        match self {
            FinalState::Delivered => "DELIVRD",
            FinalState::Expired => "EXPIRED",
            FinalState::Undeliverable => "UNDELIV",
        }
    }

    /// The message_state TLV value (§5.2.28): 2 DELIVERED, 3 EXPIRED,
    /// 5 UNDELIVERABLE.
    pub fn message_state(self) -> u8 {
        match self {
            FinalState::Delivered => 2,
            FinalState::Expired => 3,
            FinalState::Undeliverable => 5,
        }
    }

    /// The `err:` code: 000, or the GSM MAP error the network saw
    /// (1 unknown subscriber; TS 29.002 §17.6.6).
    pub fn err(self) -> &'static str {
        match self {
            FinalState::Delivered | FinalState::Expired => "000",
            FinalState::Undeliverable => "001",
        }
    }
}

/// The short_message text of a receipt, Appendix B's format:
/// `id:… sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
/// stat:DELIVRD err:000 text:…`, `text` being the first 20 characters of
/// the original message. `dlvrd` counts delivered messages (0 or 1).
pub fn receipt_text(
    message_id: &str,
    state: FinalState,
    submitted: DateTime<FixedOffset>,
    done: DateTime<FixedOffset>,
    original: &str,
) -> String {
    let dlvrd = u8::from(state == FinalState::Delivered);
    let text: String = original.chars().take(20).collect();
    format!(
        "id:{message_id} sub:001 dlvrd:{dlvrd:03} submit date:{} done date:{} stat:{} err:{} text:{text}",
        submitted.format("%y%m%d%H%M"),
        done.format("%y%m%d%H%M"),
        state.stat(),
        state.err(),
    )
}

/// A validity_period (or schedule_delivery_time) that is not SMPP time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an SMPP time (YYMMDDhhmmsstnnp)")]
pub struct BadTime(pub String);

/// When a message with this validity_period expires: `None` for an empty
/// field (the SMSC's default validity). SMPP 3.4 §7.1.1: 16 characters
/// `YYMMDDhhmmsstnnp`; `p` is `+`/`-` for an absolute time `nn` quarter
/// hours ahead of/behind UTC, or `R` for a time relative to `now` (years,
/// months, days, hours, minutes, seconds; t and nn unused).
pub fn expiry(
    field: &str,
    now: DateTime<FixedOffset>,
) -> Result<Option<DateTime<FixedOffset>>, BadTime> {
    if field.is_empty() {
        return Ok(None);
    }
    let bad = || BadTime(field.to_string());
    let b = field.as_bytes();
    if b.len() != 16 || !b[..15].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    let (yy, mo, dd, hh, mi, ss) = (n(0), n(2), n(4), n(6), n(8), n(10));
    let tenths = u32::from(b[12] - b'0');
    let quarters = n(13);
    match b[15] {
        b'R' => {
            let later = now
                .checked_add_months(Months::new(yy * 12 + mo))
                .ok_or_else(bad)?;
            let span = Duration::days(i64::from(dd))
                + Duration::hours(i64::from(hh))
                + Duration::minutes(i64::from(mi))
                + Duration::seconds(i64::from(ss));
            Ok(Some(later + span))
        }
        sign @ (b'+' | b'-') => {
            if quarters > 48 {
                return Err(bad());
            }
            let offset_s = quarters as i32 * 900;
            let offset = if sign == b'+' {
                FixedOffset::east_opt(offset_s)
            } else {
                FixedOffset::west_opt(offset_s)
            }
            .ok_or_else(bad)?;
            let local = NaiveDate::from_ymd_opt(2000 + yy as i32, mo, dd)
                .and_then(|d| d.and_hms_milli_opt(hh, mi, ss, tenths * 100))
                .ok_or_else(bad)?;
            let t = offset
                .from_local_datetime(&local)
                .single()
                .ok_or_else(bad)?;
            Ok(Some(t.with_timezone(&Utc).fixed_offset()))
        }
        _ => Err(bad()),
    }
}
