//! Pure AT protocol core (3GPP TS 27.005 / 27.007). No I/O, no clock.
