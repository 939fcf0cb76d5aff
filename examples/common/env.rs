//! `APP_ADDR`, `APP_SECRET` and the key settings, read the same way by every example so
//! that tokens are interchangeable between them.

/// `APP_ADDR`, or the example's default.
pub fn addr(default: &str) -> String {
    std::env::var("APP_ADDR").unwrap_or_else(|_| default.to_owned())
}

/// `APP_SECRET`, or a random secret with a warning (tokens then die with the process).
pub fn secret() -> Result<Vec<u8>, getrandom::Error> {
    if let Ok(secret) = std::env::var("APP_SECRET") {
        return Ok(secret.into_bytes());
    }
    eprintln!(
        "warning: APP_SECRET is not set; using a random secret, so tokens die with this process \
         and no other process accepts them"
    );
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    Ok(secret
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into_bytes())
}

/// Stops with a readable message (a secret under 32 bytes, say) instead of a panic.
pub fn or_exit<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|err| {
        eprintln!("error: {err}");
        std::process::exit(2);
    })
}

/// The signing keys: `APP_ALG` (`HS256`, the default, with `APP_SECRET`; or `RS256`,
/// `ES256`, `EdDSA` with `APP_KEY_FILE`, a PEM private key whose thumbprint is its `kid`),
/// plus `APP_RETIRED_KEY_FILES` (comma-separated PEM files, public or private, of keys still
/// accepted for verification).
#[allow(dead_code)] // each example includes this file; not all of them sign with other keys
pub fn keys() -> Result<tower_jwt_sessions::Keys, String> {
    use tower_jwt_sessions::{Algorithm, Keys};
    let alg = std::env::var("APP_ALG").unwrap_or_else(|_| "HS256".to_owned());
    let algorithm: Algorithm = alg
        .parse()
        .map_err(|_| format!("APP_ALG={alg} is not one of HS256, RS256, ES256, EdDSA"))?;
    let keys = match algorithm {
        Algorithm::HS256 => {
            Keys::hs256(secret().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?
        }
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA => {
            let file = std::env::var("APP_KEY_FILE")
                .map_err(|_| format!("APP_ALG={alg} needs APP_KEY_FILE, a PEM private key"))?;
            let pem = std::fs::read(&file).map_err(|e| format!("APP_KEY_FILE={file}: {e}"))?;
            Keys::from_private_pem(algorithm, &pem)
                .map_err(|e| format!("APP_KEY_FILE={file}: {e}"))?
        }
        _ => {
            return Err(format!(
                "APP_ALG={alg} is not one of HS256, RS256, ES256, EdDSA"
            ));
        }
    };
    let retired = std::env::var("APP_RETIRED_KEY_FILES").unwrap_or_default();
    let mut keys = keys;
    for file in retired.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let pem = std::fs::read(file).map_err(|e| format!("APP_RETIRED_KEY_FILES: {file}: {e}"))?;
        keys = keys
            .verifying(retired_key(&pem).ok_or_else(|| {
                format!("APP_RETIRED_KEY_FILES: {file} is no RSA, P-256 or Ed25519 PEM key")
            })?)
            .map_err(|e| format!("APP_RETIRED_KEY_FILES: {file}: {e}"))?;
    }
    Ok(keys)
}

/// A retired key from a PEM file, public or private, of whichever family it is.
#[allow(dead_code)]
fn retired_key(pem: &[u8]) -> Option<tower_jwt_sessions::Keys> {
    use tower_jwt_sessions::{Algorithm, Keys};
    Keys::rsa_public_pem(Algorithm::RS256, pem)
        .or_else(|_| Keys::ec_public_pem(Algorithm::ES256, pem))
        .or_else(|_| Keys::ed_public_pem(pem))
        .or_else(|_| Keys::from_private_pem(Algorithm::RS256, pem))
        .or_else(|_| Keys::from_private_pem(Algorithm::ES256, pem))
        .or_else(|_| Keys::from_private_pem(Algorithm::EdDSA, pem))
        .ok()
}

/// `PUBLIC_URL` from `var`: the origin clients reach the server at (`https://api.example`),
/// default `http://` + `addr`. A proof's `htu` must name it, whatever `Host` a client sends.
#[allow(dead_code)] // each example includes this file; not all of them serve clients directly
pub fn public_url(var: &impl Fn(&str) -> Option<String>, addr: &str) -> Result<String, String> {
    match var("PUBLIC_URL").filter(|url| !url.is_empty()) {
        Some(url) => origin(&url).ok_or_else(|| {
            format!("PUBLIC_URL={url} is not an origin such as https://api.example:8443")
        }),
        None => Ok(format!("http://{addr}")),
    }
}

/// `DPOP` from `var`: `off` (the default), `allowed` or `required` (RFC 9449), with proofs
/// naming `public_url` as their origin; `DPOP_NONCE_SECRET` turns on server nonces (§8).
/// Anything else is an error.
#[allow(dead_code)] // each example includes this file; not all of them take DPoP
pub fn dpop(
    var: &impl Fn(&str) -> Option<String>,
    public_url: &str,
) -> Result<Option<tower_jwt_sessions::Dpop>, String> {
    use tower_jwt_sessions::Dpop;
    let dpop = match var("DPOP").as_deref() {
        None | Some("off") => None,
        Some("allowed") => Some(Dpop::allowed()),
        Some("required") => Some(Dpop::required()),
        Some(other) => {
            return Err(format!("DPOP={other} is not one of off, allowed, required"));
        }
    };
    let secret = var("DPOP_NONCE_SECRET").filter(|secret| !secret.is_empty());
    match (dpop, secret) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err("DPOP_NONCE_SECRET needs DPOP=allowed or DPOP=required".into()),
        (Some(dpop), secret) => {
            let dpop = dpop.origins([public_url]);
            Ok(Some(match secret {
                Some(secret) => dpop.nonces(secret),
                None => dpop,
            }))
        }
    }
}

/// Reads one variable of the process environment.
#[allow(dead_code)]
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// An origin as browsers write it in `Origin` and DPoP clients in `htu`:
/// `scheme://host[:port]`, lowercase, without the default port; `None` for anything else.
#[allow(dead_code)]
pub fn origin(value: &str) -> Option<String> {
    let uri: http::Uri = value.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = uri.authority()?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if authority.as_str().contains('@') || authority.host().is_empty() || path != "/" {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    Some(match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}
