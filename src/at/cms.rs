//! `+CMS ERROR: <err>` codes: 3GPP TS 27.005 §3.2.5 (0..=127 are the RP
//! causes of TS 24.011 §E.2, 128..=255 the TP-FCS values of TS 23.040
//! §9.2.3.22, 300..=500 the ME/TA errors of §3.2.5 itself).
//!
//! Owns: the typed `CmsError` and which codes are worth retrying.
//! May not touch: the digester or commands (they only use the type).

use super::codes::error_codes;

error_codes! {
    /// A message service failure result code (TS 27.005 §3.2.5).
    CmsError {
        UnassignedNumber = 1, "Unassigned (unallocated) number", false;
        OperatorDeterminedBarring = 8, "Operator determined barring", false;
        CallBarred = 10, "Call barred", false;
        TransferRejected = 21, "Short message transfer rejected", false;
        DestinationOutOfService = 27, "Destination out of service", true;
        UnidentifiedSubscriber = 28, "Unidentified subscriber", false;
        FacilityRejected = 29, "Facility rejected", false;
        UnknownSubscriber = 30, "Unknown subscriber", false;
        NetworkOutOfOrder = 38, "Network out of order", true;
        TemporaryFailure = 41, "Temporary failure", true;
        Congestion = 42, "Congestion", true;
        ResourcesUnavailable = 47, "Resources unavailable, unspecified", true;
        FacilityNotSubscribed = 50, "Requested facility not subscribed", false;
        FacilityNotImplemented = 69, "Requested facility not implemented", false;
        InvalidReference = 81, "Invalid short message transfer reference value", false;
        InvalidMessage = 95, "Invalid message, unspecified", false;
        InvalidMandatoryInformation = 96, "Invalid mandatory information", false;
        MessageTypeNonExistent = 97, "Message type non-existent or not implemented", false;
        MessageNotCompatible = 98, "Message not compatible with short message protocol state", false;
        InformationElementNonExistent = 99, "Information element non-existent or not implemented", false;
        ProtocolError = 111, "Protocol error, unspecified", false;
        InterworkingUnspecified = 127, "Interworking, unspecified", true;
        TelematicNotSupported = 128, "Telematic interworking not supported", false;
        Type0NotSupported = 129, "Short message Type 0 not supported", false;
        CannotReplace = 130, "Cannot replace short message", false;
        TpPidError = 143, "Unspecified TP-PID error", false;
        DcsNotSupported = 144, "Data coding scheme (alphabet) not supported", false;
        ClassNotSupported = 145, "Message class not supported", false;
        TpDcsError = 159, "Unspecified TP-DCS error", false;
        CommandCannotBeActioned = 160, "Command cannot be actioned", false;
        CommandUnsupported = 161, "Command unsupported", false;
        TpCommandError = 175, "Unspecified TP-Command error", false;
        TpduNotSupported = 176, "TPDU not supported", false;
        ScBusy = 192, "SC busy", true;
        NoScSubscription = 193, "No SC subscription", false;
        ScSystemFailure = 194, "SC system failure", true;
        InvalidSmeAddress = 195, "Invalid SME address", false;
        DestinationSmeBarred = 196, "Destination SME barred", false;
        DuplicateRejected = 197, "SM Rejected-Duplicate SM", false;
        VpfNotSupported = 198, "TP-VPF not supported", false;
        VpNotSupported = 199, "TP-VP not supported", false;
        SimStorageFull = 208, "(U)SIM SMS storage full", true;
        NoSimStorage = 209, "No SMS storage capability in (U)SIM", false;
        ErrorInMs = 210, "Error in MS", true;
        MemoryCapacityExceeded = 211, "Memory Capacity Exceeded", true;
        SatBusy = 212, "(U)SIM Application Toolkit Busy", true;
        SimDataDownloadError = 213, "(U)SIM data download error", true;
        UnspecifiedErrorCause = 255, "Unspecified error cause", true;
        MeFailure = 300, "ME failure", true;
        SmsServiceReserved = 301, "SMS service of ME reserved", true;
        OperationNotAllowed = 302, "operation not allowed", false;
        OperationNotSupported = 303, "operation not supported", false;
        InvalidPduModeParameter = 304, "invalid PDU mode parameter", false;
        InvalidTextModeParameter = 305, "invalid text mode parameter", false;
        SimNotInserted = 310, "(U)SIM not inserted", false;
        SimPinRequired = 311, "(U)SIM PIN required", false;
        PhSimPinRequired = 312, "PH-(U)SIM PIN required", false;
        SimFailure = 313, "(U)SIM failure", false;
        SimBusy = 314, "(U)SIM busy", true;
        SimWrong = 315, "(U)SIM wrong", false;
        SimPukRequired = 316, "(U)SIM PUK required", false;
        SimPin2Required = 317, "(U)SIM PIN2 required", false;
        SimPuk2Required = 318, "(U)SIM PUK2 required", false;
        MemoryFailure = 320, "memory failure", true;
        InvalidMemoryIndex = 321, "invalid memory index", false;
        MemoryFull = 322, "memory full", true;
        SmscAddressUnknown = 330, "SMSC address unknown", false;
        NoNetworkService = 331, "no network service", true;
        NetworkTimeout = 332, "network timeout", true;
        NoCnmaExpected = 340, "no +CNMA acknowledgement expected", false;
        UnknownError = 500, "unknown error", true;
        /// Manufacturer-specific (SIMCom, Quectel): the ME is busy with
        /// another SMS operation.
        DeviceBusy = 515, "device busy", true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_codes_map_to_variants() {
        assert_eq!(CmsError::parse("331"), CmsError::NoNetworkService);
        assert_eq!(CmsError::parse(" 304"), CmsError::InvalidPduModeParameter);
        assert_eq!(CmsError::parse("777"), CmsError::Other(777));
        assert_eq!(CmsError::Other(777).code(), Some(777));
    }

    #[test]
    fn verbose_text_form_simcom_cmee2() {
        assert_eq!(
            CmsError::parse("SIM busy"),
            CmsError::Text("SIM busy".into())
        );
        assert_eq!(CmsError::parse("(U)SIM busy"), CmsError::SimBusy);
        assert_eq!(CmsError::parse("Unknown Error"), CmsError::UnknownError);
    }

    #[test]
    fn retryable_versus_permanent() {
        for code in [331, 332, 500, 515, 42, 314] {
            assert!(CmsError::from_code(code).is_retryable(), "{code}");
        }
        for code in [21, 28, 29, 304, 310, 330] {
            assert!(!CmsError::from_code(code).is_retryable(), "{code}");
        }
    }

    #[test]
    fn display_is_the_standard_text() {
        assert_eq!(CmsError::NetworkTimeout.to_string(), "network timeout");
        assert_eq!(CmsError::Other(600).to_string(), "error 600");
    }
}
