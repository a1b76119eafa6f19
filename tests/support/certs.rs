//! TLS material for the tests, made with the `openssl` CLI: a CA, server
//! and client certificates signed by it, and a Redis server that speaks
//! TLS with them.

use super::redis::free_port;
use super::RedisServer;
use std::{
    path::{Path, PathBuf},
    process::Command,
};

const HOW_TO_GET_OPENSSL: &str =
    "the TLS tests need the `openssl` CLI on PATH (Debian/Ubuntu: `apt-get install openssl`)";

/// A CA, a server certificate for 127.0.0.1 signed by it, a client
/// certificate signed by it, and a second CA that signed nothing here.
pub struct Certs {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("could not run openssl: {e}; {HOW_TO_GET_OPENSSL}"));
    assert!(status.success(), "openssl {args:?} failed");
}

impl Certs {
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("a directory for certificates");
        let d = dir.path();
        for ca in ["ca", "other-ca"] {
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-subj",
                    &format!("/CN={ca}"),
                ],
            );
        }
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
            openssl(
                d,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "1",
                    "-out",
                    &format!("{name}.crt"),
                    "-extfile",
                    ext,
                ],
            );
        }
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn pem(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// A server with a plain port (for the harness's PING), a TLS port,
    /// client certificates `auth_clients` (`no`, `optional`, `yes`), and
    /// the ACL user `alice` with password `s3cret-pw`.
    pub fn server(&self, auth_clients: &str) -> (RedisServer, u16) {
        let tls_port = free_port();
        let arg = |s: &str| s.to_owned();
        let server = RedisServer::start_with(vec![
            arg("--tls-port"),
            tls_port.to_string(),
            arg("--tls-cert-file"),
            self.path("server.crt").display().to_string(),
            arg("--tls-key-file"),
            self.path("server.key").display().to_string(),
            arg("--tls-ca-cert-file"),
            self.path("ca.crt").display().to_string(),
            arg("--tls-auth-clients"),
            arg(auth_clients),
            // `--user` takes its rules as separate arguments.
            arg("--user"),
            arg("alice"),
            arg("on"),
            arg(">s3cret-pw"),
            arg("~*"),
            arg("&*"),
            arg("+@all"),
        ]);
        (server, tls_port)
    }
}
