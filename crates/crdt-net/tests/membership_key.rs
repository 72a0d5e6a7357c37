//! The membership key's files: written readable by the owner only, read
//! back equal, and every kind of bad file refused with an error that names
//! the file and what is wrong, never a panic.

use std::io::ErrorKind;
use std::path::PathBuf;

use crdt_net::{MEMBERSHIP_KEY_FILE, MembershipKey};

/// A fresh folder for one test, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "crdt-net-membership-key-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join(MEMBERSHIP_KEY_FILE)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads `contents` written to a key file; the error, which must be
/// `InvalidData` and name the file.
fn refused(dir: &Folder, contents: &[u8]) -> String {
    std::fs::write(dir.file(), contents).unwrap();
    let e = MembershipKey::read_file(dir.file()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    let text = e.to_string();
    assert!(text.contains(MEMBERSHIP_KEY_FILE), "{text}");
    text
}

#[test]
fn a_written_key_reads_back_equal() {
    let dir = Folder::new("round-trip");
    let key = MembershipKey::generate().unwrap();
    key.write_file(dir.file()).unwrap();
    assert_eq!(MembershipKey::read_file(dir.file()).unwrap(), key);
    let text = std::fs::read_to_string(dir.file()).unwrap();
    assert_eq!(text.len(), 65);
    assert!(text.ends_with('\n'));
    // Written again (another key): replaced, not appended.
    let other = MembershipKey::from_bytes([0x5a; 32]);
    other.write_file(dir.file()).unwrap();
    assert_eq!(MembershipKey::read_file(dir.file()).unwrap(), other);
    assert_eq!(
        std::fs::read_to_string(dir.file()).unwrap(),
        format!("{}\n", "5a".repeat(32))
    );
}

#[cfg(unix)]
#[test]
fn the_key_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Folder::new("mode");
    let mode = |f: &Folder| std::fs::metadata(f.file()).unwrap().permissions().mode() & 0o777;
    MembershipKey::generate()
        .unwrap()
        .write_file(dir.file())
        .unwrap();
    assert_eq!(mode(&dir), 0o600);
    // An existing file readable by everyone is narrowed when rewritten.
    std::fs::set_permissions(dir.file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    MembershipKey::generate()
        .unwrap()
        .write_file(dir.file())
        .unwrap();
    assert_eq!(mode(&dir), 0o600);
}

#[test]
fn a_key_of_the_wrong_length_is_refused() {
    let dir = Folder::new("length");
    let empty = refused(&dir, b"");
    assert!(empty.contains("found 0 characters"), "{empty}");
    let short = refused(&dir, "ab".repeat(31).as_bytes());
    assert!(short.contains("expected 64 hexadecimal digits"), "{short}");
    assert!(short.contains("found 62 characters"), "{short}");
    let odd = refused(&dir, format!("{}a\n", "ab".repeat(32)).as_bytes());
    assert!(odd.contains("found 65 characters"), "{odd}");
    // The raw 32 bytes instead of their digits.
    let raw = refused(&dir, &[0x11; 32]);
    assert!(raw.contains("found 32 characters"), "{raw}");
}

#[test]
fn a_file_that_is_not_a_key_is_refused() {
    let dir = Folder::new("content");
    let mut digits = "0f".repeat(32).into_bytes();
    digits[10] = b'x';
    let e = refused(&dir, &digits);
    assert!(e.contains("not a hexadecimal digit at character 11"), "{e}");
    digits[10] = 0xff; // not UTF-8
    refused(&dir, &digits);
    // Two keys in one file, or a key inside other text.
    refused(&dir, format!("{0}\n{0}\n", "0f".repeat(32)).as_bytes());
    refused(&dir, format!("key = {}", "0f".repeat(32)).as_bytes());
    // A large file is refused from its size.
    let big = refused(&dir, &vec![b'0'; 10 << 20]);
    assert!(big.contains("longer than"), "{big}");
}

#[test]
fn an_unreadable_key_file_is_an_error_naming_it() {
    let dir = Folder::new("unreadable");
    let missing = MembershipKey::read_file(dir.file()).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert!(
        missing.to_string().contains(MEMBERSHIP_KEY_FILE),
        "{missing}"
    );
    // A folder where the file should be.
    std::fs::create_dir_all(dir.file()).unwrap();
    let folder = MembershipKey::read_file(dir.file()).unwrap_err();
    assert!(folder.to_string().contains(MEMBERSHIP_KEY_FILE), "{folder}");
    // Writing into a folder that does not exist fails too, naming the file.
    let nowhere = dir.0.join("missing").join(MEMBERSHIP_KEY_FILE);
    let e = MembershipKey::generate()
        .unwrap()
        .write_file(&nowhere)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("missing"), "{e}");
}
