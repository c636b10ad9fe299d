//! A bounds-checked cursor over PDU octets.
//!
//! Owns the only place where untrusted octets are indexed; every read that
//! would run past the end becomes [`PduError::Truncated`] naming the octet.
//! Knows nothing of SMS fields.

use super::error::PduError;

/// Reads octets front to back, reporting the offset of a missing octet.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// True when every octet has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, PduError> {
        let b = self
            .buf
            .get(self.pos)
            .copied()
            .ok_or(PduError::Truncated { at: self.pos, what })?;
        self.pos += 1;
        Ok(b)
    }

    /// Everything not read yet.
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        rest
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PduError> {
        let end = self.pos.checked_add(n).ok_or(PduError::Truncated {
            at: self.buf.len(),
            what,
        })?;
        match self.buf.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(PduError::Truncated {
                at: self.buf.len(),
                what,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_missing_octet() {
        let mut r = Reader::new(&[1, 2]);
        assert_eq!(r.u8("a"), Ok(1));
        assert_eq!(
            r.take(2, "b"),
            Err(PduError::Truncated { at: 2, what: "b" })
        );
        assert!(r.take(usize::MAX, "c").is_err());
        assert_eq!(r.u8("d"), Ok(2));
        assert!(r.is_empty());
    }
}
