//! Decode arbitrary bytes as every state type: never a panic, never an
//! allocation past the limit, and whatever decodes is valid and survives a
//! round trip. (Bytes are not required to be canonical: bincode accepts a
//! varint written longer than needed, so only values, not bytes, round-trip.)
//! Some types are also decoded through `codec::decode_state`, behind the
//! bare-state header (what `crdt-store` reads back from disk).
#![no_main]

use crdt_core::{CausalContext, DvvSet, VersionVector};
use crdt_sync::{Replicated, codec};
use crdt_types::{
    CausalCounter, DwFlag, EwFlag, GCounter, GSet, LwwRegister, MvRegister, OrMap, OrSet, PnCounter,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The most bytes a decode may read or allocate for.
const LIMIT: usize = 1 << 16;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<LIMIT>()
}

fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    valid: impl Fn(&T) -> bool,
) {
    if let Ok((value, _)) = bincode::serde::decode_from_slice::<T, _>(bytes, config()) {
        assert!(valid(&value), "a decoded state failed validation");
        let again = bincode::serde::encode_to_vec(&value, config()).expect("re-encode");
        let (back, _) = bincode::serde::decode_from_slice::<T, _>(&again, config())
            .expect("a re-encoded state decodes");
        assert_eq!(back, value, "a state does not survive a round trip");
    }
}

/// `bytes` behind the bare-state header, through `codec::decode_state`:
/// whatever decodes is valid and survives a round trip.
/// Both state versions are read: the current one and format 1 (the
/// store encoding before packing, still read for stores on disk).
fn check_framed<T: Replicated + PartialEq>(bytes: &[u8]) {
    for version in [codec::STATE_VERSION, 1] {
        check_framed_as::<T>(version, bytes);
    }
}

fn check_framed_as<T: Replicated + PartialEq>(version: u8, bytes: &[u8]) {
    let mut framed = vec![0xCD, 0x7A, codec::STATE_MARK, version];
    framed.extend_from_slice(bytes);
    if let Ok(state) = codec::decode_state::<T>(&framed, LIMIT) {
        assert!(
            state.validate().is_ok(),
            "an invalid state passed decode_state"
        );
        let again = codec::encode_state(&state).expect("re-encode");
        let back =
            codec::decode_state::<T>(&again, usize::MAX).expect("a re-encoded state decodes");
        assert_eq!(back, state, "a state does not survive a round trip");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 13 {
        0 => {
            check::<OrSet<u64>>(bytes, |s| s.validate().is_ok());
            check_framed::<OrSet<u64>>(bytes);
        }
        1 => check::<MvRegister<u64>>(bytes, |s| s.validate().is_ok()),
        2 => {
            check::<OrMap<u8, OrSet<u8>>>(bytes, |s| s.validate().is_ok());
            check_framed::<OrMap<u8, OrSet<u8>>>(bytes);
        }
        3 => check::<OrMap<u8, MvRegister<u8>>>(bytes, |s| s.validate().is_ok()),
        4 => check::<PnCounter>(bytes, |s| s.validate().is_ok()),
        5 => {
            check::<GCounter>(bytes, |s| s.validate().is_ok());
            check_framed::<GCounter>(bytes);
        }
        6 => check::<CausalCounter>(bytes, |s| s.validate().is_ok()),
        7 => check::<EwFlag>(bytes, |s| s.validate().is_ok()),
        8 => check::<DwFlag>(bytes, |s| s.validate().is_ok()),
        9 => check::<GSet<u64>>(bytes, |s| s.validate().is_ok()),
        10 => check::<LwwRegister<u64>>(bytes, |s| s.validate().is_ok()),
        11 => check::<CausalContext>(bytes, |_| true),
        12 => {
            check::<DvvSet<u64>>(bytes, |s| s.validate().is_ok());
            check::<VersionVector>(bytes, |_| true);
        }
        _ => unreachable!(),
    }
});
