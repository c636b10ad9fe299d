//! Property tests of the session core (filled in below).
