//! `TsaServer`: a **test double** of an RFC 3161 timestamp authority, which
//! cannot run here (the public ones must never be contacted by tests).
//!
//! It answers `POST /api/v1/timestamp` (Sigstore's path) with a full
//! `TimeStampResp` (status granted) whose token is a CMS SignedData over a
//! `TSTInfo` echoing the request's message imprint and nonce, signed with a
//! P-256 leaf (critical EKU timeStamping only) of its own root, with the
//! signed attributes (content type, message digest, signing-certificate-v2)
//! in DER order, as both verifiers require
//! (docs/measurements/rekor-v2-tsa/README.md, section 1). It emits the
//! `timestampAuthorities` entry of a `trusted_root.json`.

use std::{
    io::{BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{atomic::AtomicU64, Arc},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use cms::{
    cert::{CertificateChoices, IssuerAndSerialNumber},
    content_info::{CmsVersion, ContentInfo},
    signed_data::{
        CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo,
        SignerInfos,
    },
};
use const_oid::{
    db::{
        rfc5911::{
            ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA,
        },
        rfc5912::{ID_KP_TIME_STAMPING, ID_SHA_256},
    },
    ObjectIdentifier,
};
use der::{
    asn1::{GeneralizedTime, Int, OctetString, SetOfVec},
    Any, Decode, Encode, Sequence,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstore_crypto::KeyPair;
use x509_cert::{
    attr::{Attribute, AttributeValue},
    ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages},
    spki::AlgorithmIdentifierOwned,
    Certificate, TbsCertificate, Version,
};

use crate::{
    fulcio::{
        ca_extensions, ca_name, ca_validity, ecdsa_sha256, extension, key_identifier, serial,
        sign_certificate, spki,
    },
    http::{read_request, serve_in_background},
};

/// `id-ct-TSTInfo` (RFC 3161, 2.4.2).
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// The TSA's policy (Sigstore's arc; no verifier checks it).
const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");

/// `MessageImprint ::= SEQUENCE { hashAlgorithm, hashedMessage }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161, 2.4.1), the fields clients send.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(default = "Default::default")]
    cert_req: bool,
}

/// `TSTInfo` (RFC 3161, 2.4.2), without the optional fields it leaves out.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: GeneralizedTime,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
}

/// `PKIStatusInfo` with status only.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PkiStatusInfo {
    status: u8,
}

/// `TimeStampResp ::= SEQUENCE { status, timeStampToken }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    time_stamp_token: ContentInfo,
}

/// `ESSCertIDv2` with the default hash algorithm (SHA-256) left out.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// The authority: a root and the leaf that stamps.
struct Tsa {
    root: Certificate,
    leaf: Certificate,
    leaf_key: KeyPair,
    serials: AtomicU64,
}

/// The TSA double, served on a loopback port for the rest of the test process.
pub struct TsaServer {
    addr: SocketAddr,
    tsa: Arc<Tsa>,
}

impl TsaServer {
    /// Starts a TSA with fresh P-256 keys on a free loopback port.
    pub fn start() -> std::io::Result<Self> {
        let tsa = Arc::new(Tsa::new().map_err(std::io::Error::other)?);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        serve_in_background(listener, tsa.clone(), serve);
        Ok(Self { addr, tsa })
    }

    /// The URL clients post requests to.
    pub fn url(&self) -> String {
        format!("http://{}/api/v1/timestamp", self.addr)
    }

    /// The `timestampAuthorities` entry naming this TSA (leaf, then root).
    pub fn authority(&self) -> Value {
        let der = |certificate: &Certificate| {
            STANDARD.encode(certificate.to_der().expect("a DER certificate"))
        };
        json!({
            "subject": { "organization": "seed-eth test", "commonName": "tsa double" },
            "uri": self.url(),
            "certChain": { "certificates": [
                { "rawBytes": der(&self.tsa.leaf) },
                { "rawBytes": der(&self.tsa.root) },
            ]},
            "validFor": { "start": "2020-01-01T00:00:00Z" }
        })
    }

    /// Adds this TSA to a `trusted_root.json`.
    pub fn add_to(&self, trusted_root: &mut Value) {
        match trusted_root["timestampAuthorities"].as_array_mut() {
            Some(authorities) => authorities.push(self.authority()),
            None => trusted_root["timestampAuthorities"] = json!([self.authority()]),
        }
    }
}

impl Tsa {
    fn new() -> Result<Self, String> {
        let serials = AtomicU64::new(1);
        let root_key = KeyPair::generate_ecdsa_p256().map_err(|e| e.to_string())?;
        let root_spki = spki(&root_key)?;
        let root_name = ca_name("tsa double root");
        let root = sign_certificate(
            &root_key,
            TbsCertificate {
                version: Version::V3,
                serial_number: serial(&serials, &root_spki),
                signature: ecdsa_sha256(),
                issuer: root_name.clone(),
                validity: ca_validity(),
                subject: root_name.clone(),
                extensions: Some(ca_extensions(&root_spki, None, None)?),
                subject_public_key_info: root_spki.clone(),
                issuer_unique_id: None,
                subject_unique_id: None,
            },
        )
        .map_err(|e| e.to_string())?;
        let leaf_key = KeyPair::generate_ecdsa_p256().map_err(|e| e.to_string())?;
        let leaf_spki = spki(&leaf_key)?;
        let leaf_extensions = vec![
            extension(&ExtendedKeyUsage(vec![ID_KP_TIME_STAMPING]), true),
            extension(&KeyUsage(KeyUsages::DigitalSignature.into()), true),
            extension(&key_identifier(&leaf_spki)?, false),
        ]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
        let leaf = sign_certificate(
            &root_key,
            TbsCertificate {
                version: Version::V3,
                serial_number: serial(&serials, &leaf_spki),
                signature: ecdsa_sha256(),
                issuer: root_name,
                validity: ca_validity(),
                subject: ca_name("tsa double"),
                extensions: Some(leaf_extensions),
                subject_public_key_info: leaf_spki,
                issuer_unique_id: None,
                subject_unique_id: None,
            },
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            root,
            leaf,
            leaf_key,
            serials,
        })
    }

    /// The `TimeStampResp` for a DER `TimeStampReq`.
    fn stamp(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        let request = TimeStampReq::from_der(request).map_err(|e| e.to_string())?;
        if request.message_imprint.hash_algorithm.oid != ID_SHA_256 {
            return Err("this double stamps SHA-256 imprints only".to_owned());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let leaf_spki = &self.leaf.tbs_certificate.subject_public_key_info;
        let tst_info = TstInfo {
            version: 1,
            policy: POLICY,
            message_imprint: request.message_imprint,
            serial_number: Int::new(serial(&self.serials, leaf_spki).as_bytes())
                .map_err(|e| e.to_string())?,
            gen_time: GeneralizedTime::from_unix_duration(Duration::from_secs(now))
                .map_err(|e| e.to_string())?,
            nonce: request.nonce,
        }
        .to_der()
        .map_err(|e| e.to_string())?;
        let leaf_der = self.leaf.to_der().map_err(|e| e.to_string())?;
        let attribute = |oid, value: Any| -> Result<Attribute, String> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value]).map_err(|e| e.to_string())?,
            })
        };

        // A SetOfVec keeps its elements sorted: the DER order both verifiers agree on.
        let signed_attributes = SetOfVec::try_from(vec![
            attribute(ID_CONTENT_TYPE, any(&ID_CT_TST_INFO)?)?,
            attribute(
                ID_MESSAGE_DIGEST,
                any(&OctetString::new(Sha256::digest(&tst_info).to_vec())
                    .map_err(|e| e.to_string())?)?,
            )?,
            attribute(
                ID_AA_SIGNING_CERTIFICATE_V_2,
                any(&SigningCertificateV2 {
                    certs: vec![EssCertIdV2 {
                        cert_hash: OctetString::new(Sha256::digest(&leaf_der).to_vec())
                            .map_err(|e| e.to_string())?,
                    }],
                })?,
            )?,
        ])
        .map_err(|e| e.to_string())?;
        // Signed as a SET (RFC 5652, 5.4), which is how a SetOfVec encodes.
        let signature = self
            .leaf_key
            .sign(&signed_attributes.to_der().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: self.leaf.tbs_certificate.issuer.clone(),
                serial_number: self.leaf.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: sha256(),
            signed_attrs: Some(signed_attributes),
            signature_algorithm: ecdsa_sha256(),
            signature: OctetString::new(signature.as_bytes()).map_err(|e| e.to_string())?,
            unsigned_attrs: None,
        };
        let signed_data = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256()]).map_err(|e| e.to_string())?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(
                    Any::from_der(
                        &OctetString::new(tst_info)
                            .map_err(|e| e.to_string())?
                            .to_der()
                            .map_err(|e| e.to_string())?,
                    )
                    .map_err(|e| e.to_string())?,
                ),
            },
            certificates: Some(CertificateSet(
                SetOfVec::try_from(vec![CertificateChoices::Certificate(self.leaf.clone())])
                    .map_err(|e| e.to_string())?,
            )),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer]).map_err(|e| e.to_string())?),
        };
        TimeStampResp {
            status: PkiStatusInfo { status: 0 },
            time_stamp_token: ContentInfo {
                content_type: ID_SIGNED_DATA,
                content: Any::from_der(&signed_data.to_der().map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?,
            },
        }
        .to_der()
        .map_err(|e| e.to_string())
    }
}

fn sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA_256,
        parameters: None,
    }
}

/// Serves one connection: each request is a timestamp request.
fn serve(stream: TcpStream, tsa: &Tsa) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        let (status, content_type, body) = match (request.method.as_str(), request.target.as_str())
        {
            ("POST", "/api/v1/timestamp") => match tsa.stamp(&request.body) {
                Ok(response) => (200, "application/timestamp-reply", response),
                Err(message) => (400, "text/plain", message.into_bytes()),
            },
            _ => (404, "text/plain", b"not served by this double".to_vec()),
        };
        write!(
            writer,
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        writer.write_all(&body)?;
        writer.flush()?;
    }
    Ok(())
}

/// `value` as an attribute value.
fn any(value: &impl Encode) -> Result<AttributeValue, String> {
    Any::from_der(&value.to_der().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}
