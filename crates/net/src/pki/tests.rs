use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::extensions::GeneralName;

use super::{DevCa, validate_node_name};
use crate::NetErrorKind;

fn parse(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[test]
fn node_names() {
    for ok in ["signer-1", "coordinator", "a", "0", &"x".repeat(63)] {
        validate_node_name(ok).unwrap();
    }
    for bad in [
        "",
        "Signer-1",
        "signer_1",
        "signer.1",
        "-signer",
        "signer-",
        "sïgner",
        "signer 1",
        &"x".repeat(64),
    ] {
        let e = validate_node_name(bad).unwrap_err();
        assert_eq!(e.kind, NetErrorKind::Config, "{bad}");
    }
}

#[test]
fn issued_certificate_has_names_and_usages() {
    let ca = DevCa::generate("tessera dev ca").unwrap();
    let node = ca.issue("signer-1").unwrap();
    let der = parse(&node.cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();

    let cn: Vec<&str> = cert
        .subject()
        .iter_common_name()
        .map(|cn| cn.as_str().unwrap())
        .collect();
    assert_eq!(cn, ["signer-1"]);
    assert!(!cert.is_ca());

    let san = cert.subject_alternative_name().unwrap().unwrap();
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => format!("dns:{d}"),
            GeneralName::IPAddress(ip) => format!("ip:{}", ip.len()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["dns:signer-1", "dns:localhost", "ip:4", "ip:16"]);

    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);

    let ca_der = parse(ca.cert_pem());
    let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    assert!(ca_cert.is_ca());
    assert_eq!(cert.issuer(), ca_cert.subject());
    cert.verify_signature(Some(ca_cert.public_key())).unwrap();

    let lifetime = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
    assert!(lifetime > 9 * 365 * 24 * 3600, "{lifetime}");
}

#[test]
fn ca_round_trips_through_pem() {
    let ca = DevCa::generate("tessera dev ca").unwrap();
    let loaded = DevCa::from_pem(ca.cert_pem(), &ca.key_pem()).unwrap();
    assert_eq!(loaded.cert_pem(), ca.cert_pem());
    let node = loaded.issue("signer-2").unwrap();
    let der = parse(&node.cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let ca_der = parse(ca.cert_pem());
    let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    cert.verify_signature(Some(ca_cert.public_key())).unwrap();
}

#[test]
fn ca_from_pem_refuses_wrong_key_and_leaf() {
    let ca = DevCa::generate("one").unwrap();
    let other = DevCa::generate("two").unwrap();
    let e = DevCa::from_pem(ca.cert_pem(), &other.key_pem()).unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Pki);

    let node = ca.issue("signer-1").unwrap();
    let e = DevCa::from_pem(&node.cert_pem, &node.key_pem).unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Pki);

    let e = DevCa::from_pem("garbage", &ca.key_pem()).unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Pki);
}

#[test]
fn debug_redacts_keys() {
    let ca = DevCa::generate("tessera dev ca").unwrap();
    let node = ca.issue("signer-1").unwrap();
    for text in [format!("{ca:?}"), format!("{node:?}")] {
        assert!(text.contains("<redacted>"));
        assert!(!text.contains("PRIVATE KEY"));
    }
}

#[test]
fn issue_refuses_bad_node_name() {
    let ca = DevCa::generate("tessera dev ca").unwrap();
    assert_eq!(ca.issue("Signer").unwrap_err().kind, NetErrorKind::Config);
    assert_eq!(DevCa::generate(" ").unwrap_err().kind, NetErrorKind::Config);
}
