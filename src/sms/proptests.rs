//! Property tests over the whole codec: text round trips through split,
//! encode and decode; the decoder never panics on any bytes. Test-only.

use proptest::prelude::*;

use super::*;

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        // Arbitrary Unicode, control characters (Ctrl-Z, ESC) included.
        prop::collection::vec(any::<char>(), 0..200).prop_map(String::from_iter),
        // GSM 7-bit with plenty of extension characters, long enough to split.
        "[a-zA-Z0-9 @£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!#¤%&'()*+,./:;<=>?¡ÄÖÑÜ§¿äöñüà€\\[\\]{}~|^\\\\\n\r\u{0C}-]{0,500}",
        // Spanish and emoji: UCS-2 with surrogate pairs near part limits.
        "[a-záéíóúñ¿¡😀🇩🇴 ]{0,300}",
    ]
}

proptest! {
    #[test]
    fn split_encode_decode_returns_the_text(text in text_strategy(), reference: u8) {
        let opts = SubmitOptions::default();
        let pdus = encode_submit("+18095551234", &text, &opts, reference).unwrap();
        let info = measure(&text);
        prop_assert_eq!(pdus.len(), info.parts);
        let mut joined = String::new();
        for (i, p) in pdus.iter().enumerate() {
            prop_assert!(p.hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
            let (smsc, pdu) = decode_hex(&p.hex, true).unwrap();
            prop_assert_eq!(smsc, None);
            prop_assert_eq!(p.tpdu_length, p.hex.len() / 2 - 1);
            let Pdu::Submit(s) = pdu else { panic!("not a submit") };
            prop_assert_eq!(s.encoding(), info.encoding);
            if pdus.len() > 1 {
                let c = s.user_data.udh.as_ref().and_then(|u| u.concat).unwrap();
                prop_assert_eq!(usize::from(c.seq), i + 1);
                prop_assert_eq!(usize::from(c.total), pdus.len());
                prop_assert_eq!(c.reference, u16::from(reference));
            }
            joined.push_str(s.user_data.text.as_deref().unwrap());
        }
        prop_assert_eq!(joined, text);
    }

    #[test]
    fn parts_respect_limits(text in text_strategy()) {
        let parts = split(&text);
        let (single, multi) = match measure(&text).encoding {
            Encoding::Gsm7 => (SINGLE_SEPTETS, MULTI_SEPTETS),
            _ => (SINGLE_UCS2_UNITS, MULTI_UCS2_UNITS),
        };
        let limit = if parts.len() == 1 { single } else { multi };
        for p in &parts {
            prop_assert!(p.units <= limit);
        }
        prop_assert_eq!(parts.iter().map(|p| p.text.as_str()).collect::<String>(), text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100_000))]

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..48),
        with_smsc: bool,
    ) {
        let _ = decode_pdu(&bytes, with_smsc);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000_000))]

    /// The dedicated hostile-input run: `cargo test --release -- --ignored`.
    #[test]
    #[ignore = "dedicated run: cargo test --release -- --ignored"]
    fn decoder_never_panics_on_a_million_inputs(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        with_smsc: bool,
    ) {
        let _ = decode_pdu(&bytes, with_smsc);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Mutating real PDUs reaches the deep fields random bytes rarely do.
    #[test]
    fn decoder_never_panics_on_mutated_real_pdus(
        which in 0usize..4,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let real = [
            "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
            "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E06",
            "07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701",
            "0006D60B911326880736F4111011719551401110117195714000",
        ];
        let mut bytes = hex::decode(real[which]).unwrap();
        for (i, v) in &edits {
            let at = i.index(bytes.len());
            bytes[at] = *v;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = decode_pdu(&bytes, true);
    }
}
