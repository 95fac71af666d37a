//! A development certificate authority and the node certificates it issues.
//!
//! Every node (the coordinator and each signer) holds a certificate issued by one deployment
//! CA; nodes authenticate each other with it (see [`crate::tls`]). Production deployments
//! bring their own CA; [`DevCa`] and [`write_dev_pki`] make one for development and tests.
//!
//! Keys are ECDSA P-256 (`ecdsa_secp256r1_sha256`): ring signs and verifies it, rustls offers
//! it for both server and client authentication in TLS 1.3, and every TLS tool in common use
//! understands it.
//!
//! What zeroization covers: the PEM text of private keys returned here is held in
//! [`Zeroizing`] and wiped on drop. Not covered: the key pair held inside rcgen and ring while
//! a [`DevCa`] lives, and the DER copies those libraries make while encoding.

mod files;

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::NetError;

pub use files::write_dev_pki;

/// How long a development CA certificate is valid.
const CA_VALIDITY: Duration = Duration::days(20 * 365);
/// How long a development node certificate is valid.
const NODE_VALIDITY: Duration = Duration::days(10 * 365);
/// Certificates start this long before their creation, to tolerate clock skew between nodes.
const BACKDATE: Duration = Duration::hours(1);
/// A node name is one DNS label: at most 63 characters.
const MAX_NODE_NAME: usize = 63;

/// A development certificate authority: its certificate and its signing key.
pub struct DevCa {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for DevCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCa")
            .field("cert_pem", &self.cert_pem)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl DevCa {
    /// Generates a new self-signed CA whose subject common name is `common_name`.
    pub fn generate(common_name: &str) -> Result<DevCa, NetError> {
        if common_name.trim().is_empty() {
            return Err(NetError::config("the ca common name is empty"));
        }
        let key = new_key()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name_only(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        (params.not_before, params.not_after) = validity(CA_VALIDITY)?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| NetError::pki(format!("could not sign the ca certificate: {e}")))?;
        Ok(DevCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA from its PEM certificate and PEM (PKCS#8) private key. Fails unless the
    /// certificate is a CA certificate and the key is its key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<DevCa, NetError> {
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| NetError::pki(format!("could not parse the ca private key: {e}")))?;
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| NetError::pki(format!("could not parse the ca certificate: {e}")))?;
        let (_, x509) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| NetError::pki(format!("could not parse the ca certificate: {e}")))?;
        if !x509.is_ca() {
            return Err(NetError::pki("the ca certificate is not a ca certificate"));
        }
        let cert_key: &[u8] = x509.public_key().subject_public_key.data.as_ref();
        if cert_key != rcgen::PublicKeyData::der_bytes(&key) {
            return Err(NetError::pki(
                "the ca private key does not match the ca certificate",
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&der, key)
            .map_err(|e| NetError::pki(format!("could not use the ca certificate: {e}")))?;
        Ok(DevCa {
            cert_pem: cert_pem.to_owned(),
            issuer,
        })
    }

    /// The CA certificate, PEM encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM encoded (PKCS#8).
    pub fn key_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.issuer.key().serialize_pem())
    }

    /// Issues a certificate for the node `node_name`: subject common name `node_name`, DNS
    /// names `node_name` and `localhost`, IP addresses 127.0.0.1 and ::1, usable for both
    /// TLS server and client authentication, with a fresh ECDSA P-256 key.
    pub fn issue(&self, node_name: &str) -> Result<NodeCert, NetError> {
        validate_node_name(node_name)?;
        let key = new_key()?;
        let sans = vec![
            node_name.to_owned(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let mut params = CertificateParams::new(sans)
            .map_err(|e| NetError::pki(format!("invalid names for node `{node_name}`: {e}")))?;
        params.distinguished_name = common_name_only(node_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        (params.not_before, params.not_after) = validity(NODE_VALIDITY)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(|e| {
            NetError::pki(format!(
                "could not sign the certificate of `{node_name}`: {e}"
            ))
        })?;
        Ok(NodeCert {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
        })
    }
}

/// A node's certificate and private key, both PEM encoded.
pub struct NodeCert {
    /// The certificate, PEM encoded.
    pub cert_pem: String,
    /// The private key, PEM encoded (PKCS#8), wiped on drop.
    pub key_pem: Zeroizing<String>,
}

impl fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Checks that `name` can name a node: 1 to 63 characters among lowercase ASCII letters,
/// digits and `-`, neither starting nor ending with `-` (a valid DNS label, so that it can
/// be a certificate's DNS name and a TLS server name).
pub fn validate_node_name(name: &str) -> Result<(), NetError> {
    let charset_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty()
        || name.len() > MAX_NODE_NAME
        || !charset_ok
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Err(NetError::config(format!(
            "invalid node name `{name}`: use 1 to 63 lowercase letters, digits and `-`, not at either end"
        )));
    }
    Ok(())
}

fn new_key() -> Result<KeyPair, NetError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| NetError::pki(format!("could not generate a key pair: {e}")))
}

fn common_name_only(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// `(not_before, not_after)` for a certificate valid for `lifetime` from now.
fn validity(lifetime: Duration) -> Result<(OffsetDateTime, OffsetDateTime), NetError> {
    let now = OffsetDateTime::now_utc();
    let out_of_range = || NetError::pki("certificate validity is out of range");
    let not_before = now.checked_sub(BACKDATE).ok_or_else(out_of_range)?;
    let not_after = now.checked_add(lifetime).ok_or_else(out_of_range)?;
    Ok((not_before, not_after))
}

#[cfg(test)]
mod tests;
