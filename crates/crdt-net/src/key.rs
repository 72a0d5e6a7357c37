//! Membership key tooling: the cluster's shared HMAC key, generated,
//! written and read back as a file.

use std::io;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};

/// The usual file name of a node's membership key, next to its
/// certificates ([`crate::CA_FILE`], [`crate::CERT_FILE`],
/// [`crate::KEY_FILE`]) in its data directory.
pub const MEMBERSHIP_KEY_FILE: &str = "membership.key";

/// The length of a membership key in bytes.
const LEN: usize = 32;

/// The cluster's membership key: the 32 bytes every membership datagram is
/// authenticated with (HMAC-SHA256, [`Membership::key`](crate::Membership::key)).
/// Every member needs the same key; whoever holds it can make a peer id
/// look alive or down for a while (see the design note of
/// [`Membership`](crate::Membership)), so distribute it like the node keys:
/// [`MembershipKey::write_file`] writes it readable by its owner only.
///
/// On disk a key is 64 hexadecimal digits and a newline, so it can be
/// copied by hand. [`MembershipKey::read_file`] accepts the digits in
/// either case with surrounding whitespace, and refuses anything else with
/// an [`io::ErrorKind::InvalidData`] error that says what is wrong (never
/// a panic, whatever the file holds).
///
/// The key's [`Debug`] form does not show it.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use crdt_net::{MEMBERSHIP_KEY_FILE, Membership, MembershipKey};
///
/// // Where the cluster is provisioned: one key for every member.
/// let key = MembershipKey::generate()?;
/// let dir = std::env::temp_dir().join(format!("crdt-net-key-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// key.write_file(dir.join(MEMBERSHIP_KEY_FILE))?;
///
/// // On the node: read it back and use it.
/// let read = MembershipKey::read_file(dir.join(MEMBERSHIP_KEY_FILE))?;
/// assert_eq!(read, key);
/// let membership = Membership::new(Vec::new(), read.to_bytes());
/// assert_eq!(membership.key, key.to_bytes());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct MembershipKey([u8; LEN]);

impl MembershipKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> io::Result<Self> {
        let mut bytes = [0u8; LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| io::Error::other("the system's random generator failed"))?;
        Ok(Self(bytes))
    }

    /// A key made of `bytes` (for a key kept elsewhere, or a test's).
    #[must_use]
    pub fn from_bytes(bytes: [u8; LEN]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, for [`Membership::new`](crate::Membership::new).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; LEN] {
        self.0
    }

    /// Writes the key to `path` as 64 hexadecimal digits and a newline,
    /// replacing the file if it exists. On Unix the file is readable and
    /// writable by its owner only (mode 0600), also when it existed with a
    /// wider mode. The folder must exist.
    pub fn write_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        let mut text = String::with_capacity(2 * LEN + 1);
        for b in self.0 {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        text.push('\n');
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| context(e, "write", path))?;
        // `mode` applies only to a file it creates; narrow an existing one
        // before the key is in it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| context(e, "restrict", path))?;
        }
        io::Write::write_all(&mut file, text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| context(e, "write", path))
    }

    /// Reads a key written by [`MembershipKey::write_file`] (or by hand:
    /// 64 hexadecimal digits, any case, whitespace around them ignored).
    ///
    /// Errors name the file: the error of the file system if it cannot be
    /// read (missing, a folder, no permission), and
    /// [`io::ErrorKind::InvalidData`] if it is not a key (too short, too
    /// long, not hexadecimal). A file larger than a key plus some
    /// whitespace is refused without being read whole.
    pub fn read_file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| context(e, "read", path))?;
        // Room for the digits, a CRLF and some stray whitespace; anything
        // longer is not a key file, whatever its size.
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::Read::take(file, LIMIT + 1), &mut bytes)
            .map_err(|e| context(e, "read", path))?;
        if bytes.len() as u64 > LIMIT {
            return Err(invalid(path, &format!("longer than {LIMIT} bytes")));
        }
        Self::parse(&bytes).map_err(|why| invalid(path, &why))
    }

    /// The key in `text`: 64 hexadecimal digits, whitespace around them.
    fn parse(text: &[u8]) -> Result<Self, String> {
        let digits = text.trim_ascii();
        if digits.len() != 2 * LEN {
            return Err(format!(
                "expected {} hexadecimal digits ({LEN} bytes), found {} characters",
                2 * LEN,
                digits.len()
            ));
        }
        let mut key = [0u8; LEN];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
                return Err(format!(
                    "not a hexadecimal digit at character {}",
                    2 * i + usize::from(nibble(pair[0]).is_some()) + 1
                ));
            };
            key[i] = hi << 4 | lo;
        }
        Ok(Self(key))
    }
}

impl std::fmt::Debug for MembershipKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MembershipKey(..)")
    }
}

/// The most bytes a key file may hold.
const LIMIT: u64 = 2 * LEN as u64 + 64;

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nibble(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn context(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot {what} membership key {}: {e}", path.display()),
    )
}

fn invalid(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is not a membership key: {why}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_hex_in_any_case_with_whitespace() {
        let text = format!("  {}\r\n", "aB".repeat(32));
        assert_eq!(
            MembershipKey::parse(text.as_bytes()).map(|k| k.to_bytes()),
            Ok([0xab; 32])
        );
    }

    #[test]
    fn parse_names_what_is_wrong() {
        let short = MembershipKey::parse("ab".repeat(31).as_bytes()).unwrap_err();
        assert!(short.contains("found 62 characters"), "{short}");
        let long = MembershipKey::parse("ab".repeat(33).as_bytes()).unwrap_err();
        assert!(long.contains("found 66 characters"), "{long}");
        let mut bad = "ab".repeat(32).into_bytes();
        bad[5] = b'g';
        let e = MembershipKey::parse(&bad).unwrap_err();
        assert!(e.contains("at character 6"), "{e}");
        bad[5] = 0xff; // not even UTF-8
        assert!(MembershipKey::parse(&bad).is_err());
        assert!(MembershipKey::parse(b"").is_err());
    }

    #[test]
    fn two_generated_keys_differ_and_debug_hides_them() {
        let (a, b) = (
            MembershipKey::generate().unwrap(),
            MembershipKey::generate().unwrap(),
        );
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "MembershipKey(..)");
    }
}
