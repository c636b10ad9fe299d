//! `+CME ERROR: <err>` codes: 3GPP TS 27.007 §9.2.1 (general) and §9.2.2
//! (GPRS-related).
//!
//! Owns: the typed `CmeError` and which codes are worth retrying.
//! May not touch: the digester or commands (they only use the type).

use super::codes::error_codes;

error_codes! {
    /// A mobile equipment error result code (TS 27.007 §9.2).
    CmeError {
        PhoneFailure = 0, "phone failure", true;
        NoConnection = 1, "no connection to phone", true;
        AdaptorLinkReserved = 2, "phone adaptor link reserved", true;
        OperationNotAllowed = 3, "operation not allowed", false;
        OperationNotSupported = 4, "operation not supported", false;
        PhSimPinRequired = 5, "PH-SIM PIN required", false;
        PhFsimPinRequired = 6, "PH-FSIM PIN required", false;
        PhFsimPukRequired = 7, "PH-FSIM PUK required", false;
        SimNotInserted = 10, "SIM not inserted", false;
        SimPinRequired = 11, "SIM PIN required", false;
        SimPukRequired = 12, "SIM PUK required", false;
        SimFailure = 13, "SIM failure", false;
        SimBusy = 14, "SIM busy", true;
        SimWrong = 15, "SIM wrong", false;
        IncorrectPassword = 16, "incorrect password", false;
        SimPin2Required = 17, "SIM PIN2 required", false;
        SimPuk2Required = 18, "SIM PUK2 required", false;
        MemoryFull = 20, "memory full", true;
        InvalidIndex = 21, "invalid index", false;
        NotFound = 22, "not found", false;
        MemoryFailure = 23, "memory failure", true;
        TextTooLong = 24, "text string too long", false;
        InvalidCharactersInText = 25, "invalid characters in text string", false;
        DialStringTooLong = 26, "dial string too long", false;
        InvalidCharactersInDialString = 27, "invalid characters in dial string", false;
        NoNetworkService = 30, "no network service", true;
        NetworkTimeout = 31, "network timeout", true;
        EmergencyCallsOnly = 32, "network not allowed - emergency calls only", true;
        NetworkPersonalisationPin = 40, "network personalization PIN required", false;
        NetworkPersonalisationPuk = 41, "network personalization PUK required", false;
        Unknown = 100, "unknown", true;
        IllegalMs = 103, "Illegal MS", false;
        IllegalMe = 106, "Illegal ME", false;
        GprsNotAllowed = 107, "GPRS services not allowed", false;
        PlmnNotAllowed = 111, "PLMN not allowed", false;
        LocationAreaNotAllowed = 112, "Location area not allowed", false;
        RoamingNotAllowed = 113, "Roaming not allowed in this location area", false;
        UnspecifiedGprsError = 148, "unspecified GPRS error", true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_verbose_forms() {
        assert_eq!(CmeError::parse("10"), CmeError::SimNotInserted);
        assert_eq!(
            CmeError::parse("SIM not inserted"),
            CmeError::SimNotInserted
        );
        assert_eq!(CmeError::parse("sim BUSY"), CmeError::SimBusy);
        assert_eq!(CmeError::parse("999"), CmeError::Other(999));
        assert_eq!(
            CmeError::parse("Invalid input value"),
            CmeError::Text("Invalid input value".into())
        );
    }

    #[test]
    fn sim_busy_retries_sim_missing_does_not() {
        assert!(CmeError::SimBusy.is_retryable());
        assert!(!CmeError::SimNotInserted.is_retryable());
        assert_eq!(CmeError::SimNotInserted.to_string(), "SIM not inserted");
    }
}
