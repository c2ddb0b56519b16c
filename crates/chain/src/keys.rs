//! Where an account's signing key comes from: a hex private key (from the environment, for
//! dev keys and CI) or an encrypted JSON keystore (Web3 Secret Storage, as geth, foundry and
//! MetaMask write them).

use std::fmt;
use std::path::PathBuf;

use alloy::signers::local::PrivateKeySigner;

/// A signing key's source. Its `Debug` never shows the secret.
#[derive(Clone)]
pub enum KeySource {
    /// 32 bytes of hex, with or without `0x`.
    PrivateKey(String),
    /// A keystore file and its password.
    Keystore { path: PathBuf, password: String },
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PrivateKey(_) => f.write_str("PrivateKey(<redacted>)"),
            Self::Keystore { path, .. } => f
                .debug_struct("Keystore")
                .field("path", path)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// Why a key could not be loaded. Messages never include the key or the password.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the private key is not 32 bytes of hex (or not a valid secp256k1 key)")]
    BadPrivateKey,
    #[error("cannot open keystore {path}: {reason}")]
    Keystore { path: PathBuf, reason: String },
}

impl KeySource {
    /// Loads the signer. A keystore is decrypted here (scrypt: about a second by design).
    pub fn load(&self) -> Result<PrivateKeySigner, KeyError> {
        match self {
            Self::PrivateKey(hex) => hex.trim().parse().map_err(|_| KeyError::BadPrivateKey),
            Self::Keystore { path, password } => PrivateKeySigner::decrypt_keystore(path, password)
                .map_err(|e| KeyError::Keystore {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // anvil's first dev key and its address: public test values.
    const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn hex_keys_load_with_or_without_prefix() {
        let want: alloy::primitives::Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
            .parse()
            .expect("address");
        for key in [DEV_KEY, &DEV_KEY[2..], &format!(" {DEV_KEY}\n")] {
            assert_eq!(
                KeySource::PrivateKey(key.to_string())
                    .load()
                    .expect("loads")
                    .address(),
                want
            );
        }
    }

    #[test]
    fn bad_hex_keys_fail_without_echoing_the_key() {
        for bad in [
            "",
            "0x1234",
            "zz74bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
            &"00".repeat(32),
        ] {
            let err = KeySource::PrivateKey(bad.to_string())
                .load()
                .expect_err("refused");
            assert!(matches!(err, KeyError::BadPrivateKey), "{bad:?}: {err}");
            assert!(bad.is_empty() || !err.to_string().contains(bad));
        }
        let shown = format!("{:?}", KeySource::PrivateKey(DEV_KEY.to_string()));
        assert!(!shown.contains(&DEV_KEY[2..10]), "{shown}");
    }
}
