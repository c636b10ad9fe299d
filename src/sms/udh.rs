//! User data header TP-UDH (3GPP TS 23.040 §9.2.3.24) and its
//! concatenation elements (§9.2.3.24.1 8-bit reference, §9.2.3.24.8 16-bit).
//!
//! Owns the header's octets. Does not know the alphabet of the text behind
//! it; fill bits are the user data module's business.

use serde::{Deserialize, Serialize};

use super::error::PduError;

/// IEI of a concatenated short message with an 8-bit reference.
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of a concatenated short message with a 16-bit reference.
pub const IEI_CONCAT_16: u8 = 0x08;

/// Where a part sits in a concatenated message (TS 23.040 §9.2.3.24.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Concat {
    /// Same for every part of one message, from one sender.
    pub reference: u16,
    /// Number of parts, 1..=255.
    pub total: u8,
    /// This part's number, 1..=total.
    pub seq: u8,
}

/// One information element that is not concatenation, kept as octets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformationElement {
    pub iei: u8,
    pub data: Vec<u8>,
}

/// A decoded user data header.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Udh {
    pub concat: Option<Concat>,
    /// Every other element, in order.
    pub others: Vec<InformationElement>,
}

impl Udh {
    /// A header that only says "part `seq` of `total`".
    pub fn concat(reference: u16, total: u8, seq: u8) -> Self {
        Udh {
            concat: Some(Concat {
                reference,
                total,
                seq,
            }),
            others: Vec::new(),
        }
    }

    /// The header octets, starting with UDHL. A reference above 255 uses the
    /// 16-bit element (IEI 0x08), otherwise the 8-bit one (IEI 0x00).
    pub fn to_bytes(&self) -> Result<Vec<u8>, PduError> {
        let mut body = Vec::new();
        if let Some(c) = self.concat {
            if c.total == 0 || c.seq == 0 || c.seq > c.total {
                return Err(PduError::BadUdh(format!(
                    "part {} of {} is not a valid concatenation",
                    c.seq, c.total
                )));
            }
            let [hi, lo] = c.reference.to_be_bytes();
            if hi == 0 {
                body.extend([IEI_CONCAT_8, 3, lo, c.total, c.seq]);
            } else {
                body.extend([IEI_CONCAT_16, 4, hi, lo, c.total, c.seq]);
            }
        }
        for ie in &self.others {
            let len = u8::try_from(ie.data.len())
                .map_err(|_| PduError::BadUdh(format!("element {:#04x} too long", ie.iei)))?;
            body.push(ie.iei);
            body.push(len);
            body.extend(&ie.data);
        }
        let udhl = u8::try_from(body.len())
            .ok()
            .filter(|&l| l <= 139)
            .ok_or_else(|| PduError::BadUdh(format!("{} octets is too long", body.len())))?;
        let mut out = Vec::with_capacity(body.len() + 1);
        out.push(udhl);
        out.extend(body);
        Ok(out)
    }

    /// Parses the header body (the octets after UDHL). A concatenation
    /// element with part 0 or a part beyond the total is kept as an
    /// ordinary element, as TS 23.040 §9.2.3.24.1 says to ignore it.
    pub fn parse(body: &[u8]) -> Result<Self, PduError> {
        let mut udh = Udh::default();
        let mut rest = body;
        while let [iei, len, tail @ ..] = rest {
            let len = usize::from(*len);
            let (data, next) = match (tail.get(..len), tail.get(len..)) {
                (Some(d), Some(n)) => (d, n),
                _ => {
                    return Err(PduError::BadUdh(format!(
                        "element {iei:#04x} claims {len} octets, {} left",
                        tail.len()
                    )))
                }
            };
            let concat = match (*iei, data) {
                (IEI_CONCAT_8, &[r, total, seq]) => Some((u16::from(r), total, seq)),
                (IEI_CONCAT_16, &[hi, lo, total, seq]) => {
                    Some((u16::from_be_bytes([hi, lo]), total, seq))
                }
                _ => None,
            };
            match concat {
                Some((reference, total, seq))
                    if udh.concat.is_none() && total > 0 && seq > 0 && seq <= total =>
                {
                    udh.concat = Some(Concat {
                        reference,
                        total,
                        seq,
                    })
                }
                _ => udh.others.push(InformationElement {
                    iei: *iei,
                    data: data.to_vec(),
                }),
            }
            rest = next;
        }
        if !rest.is_empty() {
            return Err(PduError::BadUdh(
                "a lone octet after the last element".into(),
            ));
        }
        Ok(udh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_8bit_3gpp_23040_example() {
        // 05 00 03 RR TT SS: the 6-octet header every phone sends.
        let udh = Udh::concat(0x42, 3, 1);
        let bytes = udh.to_bytes().unwrap();
        assert_eq!(bytes, vec![5, 0, 3, 0x42, 3, 1]);
        assert_eq!(Udh::parse(&bytes[1..]).unwrap(), udh);
    }

    #[test]
    fn concat_16bit_reference() {
        let body = [0x08, 4, 0x12, 0x34, 2, 2];
        let udh = Udh::parse(&body).unwrap();
        assert_eq!(
            udh.concat,
            Some(Concat {
                reference: 0x1234,
                total: 2,
                seq: 2
            })
        );
        assert_eq!(&udh.to_bytes().unwrap()[1..], &body);
    }

    #[test]
    fn invalid_concat_is_ignored_and_bad_lengths_are_errors() {
        let udh = Udh::parse(&[0x00, 3, 1, 2, 3]).unwrap();
        assert_eq!(udh.concat, None);
        assert_eq!(udh.others.len(), 1);
        assert!(Udh::parse(&[0x00, 5, 1]).is_err());
        assert!(Udh::parse(&[0x00]).is_err());
        assert!(Udh::concat(1, 2, 3).to_bytes().is_err());
    }
}
