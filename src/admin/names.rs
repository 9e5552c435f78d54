//! Checks on queue, consumer and database names, run by the argument parser
//! before any SQL is sent.
//!
//! The rules: not empty, at most 63 bytes (PostgreSQL's identifier length,
//! which every name here may end up in), and no control characters. NUL
//! cannot travel in a text value at all, and a newline or tab would break
//! the line-per-name output of the listings.

/// The longest name accepted, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 63;

/// Checks a name of `kind` ("queue", "consumer", "database").
fn check(kind: &str, name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err(format!("{kind} name must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{kind} name is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{kind} name contains the control character U+{:04X}",
            u32::from(c)
        ));
    }
    Ok(name.to_owned())
}

/// Argument parser for a queue name.
pub(crate) fn queue(name: &str) -> Result<String, String> {
    check("queue", name)
}

/// Argument parser for a consumer name.
pub(crate) fn consumer(name: &str) -> Result<String, String> {
    check("consumer", name)
}

/// Argument parser for a database name.
pub(crate) fn database(name: &str) -> Result<String, String> {
    check("database", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass_unchanged() {
        assert_eq!(queue("orders").unwrap(), "orders");
        assert_eq!(
            consumer("Billing Service.v2").unwrap(),
            "Billing Service.v2"
        );
        assert_eq!(database("app-prod").unwrap(), "app-prod");
        assert_eq!(queue("ä".repeat(31).as_str()).unwrap().len(), 62);
    }

    #[test]
    fn empty_long_and_control_names_are_refused() {
        assert_eq!(queue("").unwrap_err(), "queue name must not be empty");
        assert!(queue(&"q".repeat(63)).is_ok());
        assert_eq!(
            consumer(&"c".repeat(64)).unwrap_err(),
            "consumer name is 64 bytes long; at most 63 are allowed"
        );
        // 32 two-byte characters: 64 bytes, though only 32 characters.
        assert!(queue(&"ä".repeat(32)).is_err());
        assert_eq!(
            queue("a\nb").unwrap_err(),
            "queue name contains the control character U+000A"
        );
        assert!(database("a\0b").is_err());
        assert!(consumer("tab\there").is_err());
    }
}
