//! `APP_ADDR` and `APP_SECRET`, read the same way by every example so that tokens are
//! interchangeable between them.

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
