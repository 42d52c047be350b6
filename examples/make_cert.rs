//! Makes a certificate to try the TLS examples with: a small certificate
//! authority of your own and a server certificate it signed.
//!
//! ```text
//! cargo run --example make_cert                      # writes certs/ca.pem, cert.pem, key.pem
//! cargo run --release --example echo_server -- --tls-cert certs/cert.pem --tls-key certs/key.pem
//! openssl s_client -connect 127.0.0.1:8888 -CAfile certs/ca.pem -quiet
//! ```
//!
//! `--dir DIR` is where the files go (default `certs`), `--name NAME` a
//! name the server certificate is valid for (repeat it; default
//! `localhost` and `127.0.0.1`). Clients trust `ca.pem` (`curl --cacert`,
//! `redis-cli --cacert`, `openssl s_client -CAfile`, Python's
//! `ssl.create_default_context(cafile=...)`); servers use `cert.pem` (the
//! server certificate followed by the CA's, a full chain) and `key.pem`.
//! The keys are ECDSA P-256; the certificates never expire in practice
//! (rcgen's default validity, to the year 4096). They are for
//! trying things on your own machine: anyone with `key.pem` can pose as
//! the server, so never use them for anything real.
//!
//! The same thing with the openssl command line, for comparison:
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
//!     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
//!     -keyout key.pem -out cert.pem     # a self-signed certificate: trust cert.pem itself
//! ```

use std::fs;
use std::path::PathBuf;

use clap::Parser;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use sockloop_examples::server::OrFail;

#[derive(Parser)]
#[command(about = "Make a test CA and a server certificate for the TLS examples")]
struct Args {
    /// Directory to write ca.pem, cert.pem and key.pem into (made if missing).
    #[arg(long, default_value = "certs")]
    dir: PathBuf,
    /// A host name or IP address the server certificate is valid for (repeatable).
    #[arg(long = "name", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
    names: Vec<String>,
}

fn main() {
    let args = Args::parse();
    let ca_key = KeyPair::generate().or_fail("making the CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).or_fail("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "sockloop test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca
        .self_signed(&ca_key)
        .or_fail("signing the CA certificate");

    let key = KeyPair::generate().or_fail("making the server key");
    let mut server = CertificateParams::new(args.names.clone()).or_fail("server names");
    server
        .distinguished_name
        .push(DnType::CommonName, args.names[0].as_str());
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = server
        .signed_by(&key, &ca_cert, &ca_key)
        .or_fail("signing the server certificate");

    fs::create_dir_all(&args.dir).or_fail(&format!("making {}", args.dir.display()));
    let write = |name: &str, text: String| {
        let path = args.dir.join(name);
        fs::write(&path, text).or_fail(&format!("writing {}", path.display()));
        println!("wrote {}", path.display());
    };
    write("ca.pem", ca_cert.pem());
    write("cert.pem", format!("{}{}", cert.pem(), ca_cert.pem()));
    write("key.pem", key.serialize_pem());
}
