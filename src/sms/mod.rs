//! Pure SMS codec (3GPP TS 23.040 / 23.038). No I/O, no clock.
