//! Decode arbitrary bytes as a message of every kind, for several state
//! types: never a panic, never more than the limit; whatever decodes carries
//! a valid state and round-trips.
#![no_main]

use crdt_sync::{Message, Replicated, codec};
use crdt_types::{LwwRegister, MvRegister, OrMap, OrSet, PnCounter, Text};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 16;

fn check<T: Replicated + PartialEq>(bytes: &[u8]) {
    if let Ok(message) = codec::decode::<T>(bytes, LIMIT) {
        if let Message::Delta(p) | Message::CatchUp(p) | Message::State(p) = &message.message {
            assert!(
                p.state.validate().is_ok(),
                "an invalid state passed decoding"
            );
            assert!(p.part < p.parts);
        }
        let again = codec::encode(&message).expect("re-encode");
        let back = codec::decode::<T>(&again, usize::MAX).expect("a re-encoded message decodes");
        assert_eq!(back, message);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    // Most inputs get a valid envelope so the fuzzer spends its time on bodies.
    let mut framed = Vec::with_capacity(rest.len() + 4);
    if which & 0x80 == 0 {
        framed.extend_from_slice(&codec::MAGIC);
        framed.push(codec::VERSION);
    }
    framed.extend_from_slice(rest);
    // Selectors 0 to 3 as before `LwwRegister` joined (old seeds keep
    // their type); 7 carries wall times, such as `u64::MAX`; 3 with bit 6
    // set is `Text` (no older seed has it), whose decoding places its runs
    // and checks only what placing does not.
    match which % 8 {
        0 | 4 => check::<OrSet<u64>>(&framed),
        1 | 5 => check::<MvRegister<u64>>(&framed),
        2 | 6 => check::<OrMap<u8, OrSet<u8>>>(&framed),
        3 if which & 0x40 != 0 => check::<Text>(&framed),
        3 => check::<PnCounter>(&framed),
        _ => check::<LwwRegister<u64>>(&framed),
    }
});
