//! Time fields: the service-centre time stamp TP-SCTS / TP-DT
//! (3GPP TS 23.040 §9.2.3.11) and the validity period TP-VP (§9.2.3.12).
//!
//! Owns the semi-octet date/time form with its quarter-hour time zone and the
//! relative validity scale. Never reads a clock: times come in as values.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike};

use super::error::PduError;

/// Years 90..=99 are 1990s, 00..=89 are 2000s.
const CENTURY_PIVOT: u32 = 90;

/// Decodes 7 octets of TP-SCTS (TS 23.040 §9.2.3.11): year, month, day,
/// hour, minute, second in swapped semi-octets, then the time zone in
/// quarter hours with bit 3 of its first semi-octet as the sign.
pub fn decode_scts(o: &[u8]) -> Result<DateTime<FixedOffset>, PduError> {
    let [y, mo, d, h, mi, s, tz] = <[u8; 7]>::try_from(o)
        .map_err(|_| PduError::BadTimestamp(format!("{} octets, need 7", o.len())))?;
    let field = |b: u8, name: &str| -> Result<u32, PduError> {
        let (tens, units) = (b & 0x0F, b >> 4);
        if tens > 9 || units > 9 {
            return Err(PduError::BadTimestamp(format!(
                "{name} octet {b:02X} is not two decimal digits"
            )));
        }
        Ok(u32::from(tens) * 10 + u32::from(units))
    };
    let yy = field(y, "year")?;
    let year = if yy >= CENTURY_PIVOT {
        1900 + yy
    } else {
        2000 + yy
    };
    let (mo, d) = (field(mo, "month")?, field(d, "day")?);
    let (h, mi, s) = (field(h, "hour")?, field(mi, "minute")?, field(s, "second")?);
    let tz_tens = tz & 0x07;
    let tz_units = tz >> 4;
    if tz_units > 9 {
        return Err(PduError::BadTimestamp(format!(
            "time zone octet {tz:02X} is not decimal"
        )));
    }
    let quarters = i32::from(tz_tens) * 10 + i32::from(tz_units);
    let quarters = if tz & 0x08 != 0 { -quarters } else { quarters };
    let offset = FixedOffset::east_opt(quarters * 15 * 60)
        .ok_or_else(|| PduError::BadTimestamp(format!("time zone {quarters} quarter hours")))?;
    let naive = NaiveDate::from_ymd_opt(year as i32, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, s))
        .ok_or_else(|| {
            PduError::BadTimestamp(format!(
                "{year:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} is not a date and time"
            ))
        })?;
    offset
        .from_local_datetime(&naive)
        .single()
        .ok_or_else(|| PduError::BadTimestamp("ambiguous local time".into()))
}

/// Encodes a time as 7 octets of TP-SCTS (TS 23.040 §9.2.3.11). The year
/// must be 1990..=2089 and the offset a whole number of quarter hours.
pub fn encode_scts(t: &DateTime<FixedOffset>) -> Result<[u8; 7], PduError> {
    let secs = t.offset().local_minus_utc();
    if secs % 900 != 0 {
        return Err(PduError::BadTimestamp(format!(
            "offset {secs} s is not a whole number of quarter hours"
        )));
    }
    let quarters = secs / 900;
    if quarters.unsigned_abs() > 79 {
        return Err(PduError::BadTimestamp(format!(
            "offset {quarters} quarter hours is out of range"
        )));
    }
    let year = t.year();
    if !(1990..=2089).contains(&year) {
        return Err(PduError::BadTimestamp(format!(
            "year {year} is outside 1990..=2089"
        )));
    }
    let swap = |v: u32| ((v % 10) << 4 | (v / 10)) as u8;
    let q = quarters.unsigned_abs();
    let mut tz = swap(q);
    if quarters < 0 {
        tz |= 0x08;
    }
    Ok([
        swap(year.unsigned_abs() % 100),
        swap(t.month()),
        swap(t.day()),
        swap(t.hour()),
        swap(t.minute()),
        swap(t.second().min(59)),
        tz,
    ])
}

/// Minutes of a relative TP-VP octet (TS 23.040 §9.2.3.12.1).
pub fn relative_vp_minutes(vp: u8) -> u32 {
    let vp = u32::from(vp);
    match vp {
        0..=143 => (vp + 1) * 5,
        144..=167 => 12 * 60 + (vp - 143) * 30,
        168..=196 => (vp - 166) * 24 * 60,
        _ => (vp - 192) * 7 * 24 * 60,
    }
}

/// The smallest relative TP-VP octet lasting at least `minutes`
/// (TS 23.040 §9.2.3.12.1); 63 weeks at most.
pub fn relative_vp_from_minutes(minutes: u32) -> u8 {
    (0..=255u8)
        .find(|&vp| relative_vp_minutes(vp) >= minutes)
        .unwrap_or(255)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scts_3gpp_23040_example() {
        // "99309251619580" from the well-known deliver example:
        // 1999-03-29 15:16:59 at +02:00 (8 quarter hours).
        let t = decode_scts(&hex::decode("99309251619580").unwrap()).unwrap();
        assert_eq!(t.to_rfc3339(), "1999-03-29T15:16:59+02:00");
        assert_eq!(
            hex::encode_upper(encode_scts(&t).unwrap()),
            "99309251619580"
        );
    }

    #[test]
    fn negative_zone_sign_bit() {
        // Dominican Republic, UTC-4: 16 quarter hours, sign bit set -> 0x69.
        let t = decode_scts(&hex::decode("52110151000069").unwrap()).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-11-10T15:00:00-04:00");
        assert_eq!(
            hex::encode_upper(encode_scts(&t).unwrap()),
            "52110151000069"
        );
    }

    #[test]
    fn bad_scts_is_an_error() {
        for bad in [
            "99139251619580",
            "993092516195A0",
            "9930925161958",
            "9930925161F580",
        ] {
            let b = hex::decode(if bad.len() % 2 == 1 { "00" } else { bad }).unwrap();
            assert!(decode_scts(&b).is_err(), "{bad}");
        }
        let odd = FixedOffset::east_opt(600).unwrap();
        let t = odd.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        assert!(encode_scts(&t).is_err());
    }

    #[test]
    fn relative_validity_scale() {
        assert_eq!(relative_vp_minutes(0), 5);
        assert_eq!(relative_vp_minutes(143), 720);
        assert_eq!(relative_vp_minutes(167), 1440);
        assert_eq!(relative_vp_minutes(168), 2 * 1440);
        assert_eq!(relative_vp_minutes(255), 63 * 7 * 1440);
        assert_eq!(relative_vp_from_minutes(1440), 167);
        assert_eq!(relative_vp_from_minutes(6), 1);
        for vp in 0..=255u8 {
            assert_eq!(relative_vp_from_minutes(relative_vp_minutes(vp)), vp);
        }
    }
}
