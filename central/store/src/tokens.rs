//! API tokens for the JSON API: created and revoked by `central token`, looked up by hash
//! on every request. The token itself is never stored, only its hash.

use rong_sqlite::query_list;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::admin::{role_col, Role};
use crate::{Store, StoreError};

/// A token as stored (no secret: only its hash is kept, and not shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    /// Id, for `central token revoke`.
    pub id: i64,
    /// What it is for, as its creator wrote.
    pub label: String,
    /// Role.
    pub role: Role,
    /// Branch, for staff and read-only tokens.
    pub branch: Option<String>,
    /// When it was made (ms).
    pub created_at: i64,
    /// When it stops working (ms), if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked (ms).
    pub revoked_at: Option<i64>,
    /// When it was last used (ms, to the minute).
    pub last_used_at: Option<i64>,
}

/// A new token's fields.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// What it is for.
    pub label: &'a str,
    /// The hash of the token (never the token).
    pub token_hash: &'a str,
    /// Role.
    pub role: Role,
    /// Branch, required for staff and read-only tokens.
    pub branch: Option<&'a str>,
    /// When it stops working (ms), if ever.
    pub expires_at: Option<i64>,
}

const COLS: &str =
    "id, label, role, branch, created_at, expires_at, revoked_at, last_used_at FROM api_tokens";

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        label: r.get(1)?,
        role: role_col(r.get(2)?)?,
        branch: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
        last_used_at: r.get(7)?,
    })
}

impl Store {
    /// Stores a new token; returns its id. The branch must exist, and a staff or
    /// read-only token must have one.
    pub fn create_token(&mut self, t: &NewToken<'_>, now_ms: i64) -> Result<i64, StoreError> {
        if t.role != Role::Admin && t.branch.is_none() {
            return Err(StoreError::Conflict(format!(
                "a {} token needs a branch",
                t.role.as_str()
            )));
        }
        let branch = if t.role == Role::Admin {
            None
        } else {
            t.branch
        };
        self.known_branch(branch)?;
        self.conn.execute(
            "INSERT INTO api_tokens (label, token_hash, role, branch, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                t.label,
                t.token_hash,
                t.role.as_str(),
                branch,
                now_ms,
                t.expires_at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Revokes a token; `NotFound` when there is no such token, false when it already was.
    pub fn revoke_token(&mut self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let exists: Option<i64> = self
            .conn
            .query_row("SELECT id FROM api_tokens WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("token {id}")));
        }
        Ok(self.conn.execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now_ms],
        )? == 1)
    }

    /// Records that a token was used at `now_ms`.
    pub fn touch_token(&mut self, id: i64, now_ms: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
            params![id, now_ms],
        )?;
        Ok(())
    }
}

/// The token with this hash if it works at `now_ms`: neither revoked nor expired.
pub fn valid(
    c: &Connection,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<TokenRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} WHERE token_hash = ?1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > ?2)"
    );
    Ok(c.prepare_cached(&sql)?
        .query_row(params![token_hash, now_ms], token_row)
        .optional()?)
}

/// Every token, by id (revoked and expired ones too).
pub fn list(c: &Connection) -> Result<Vec<TokenRow>, StoreError> {
    Ok(query_list(
        c,
        &format!("SELECT {COLS} ORDER BY id"),
        [],
        token_row,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_work_until_revoked_or_expired() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        let new = |hash, role, branch, expires_at| NewToken {
            label: "script",
            token_hash: hash,
            role,
            branch,
            expires_at,
        };
        let admin = s
            .create_token(&new("h1", Role::Admin, None, None), 10)
            .unwrap();
        assert!(matches!(
            s.create_token(&new("h2", Role::Staff, None, None), 10),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.create_token(&new("h2", Role::Readonly, Some("nowhere"), None), 10),
            Err(StoreError::NotFound(_))
        ));
        s.create_token(&new("h3", Role::Admin, None, Some(100)), 10)
            .unwrap();
        let got = valid(s.reader(), "h1", 50).unwrap().unwrap();
        assert_eq!((got.id, got.role), (admin, Role::Admin));
        assert!(valid(s.reader(), "h3", 99).unwrap().is_some());
        assert!(valid(s.reader(), "h3", 100).unwrap().is_none(), "expired");
        assert!(valid(s.reader(), "nope", 50).unwrap().is_none());
        s.touch_token(admin, 60).unwrap();
        assert!(s.revoke_token(admin, 70).unwrap());
        assert!(!s.revoke_token(admin, 71).unwrap(), "revoked once");
        assert!(matches!(
            s.revoke_token(999, 71),
            Err(StoreError::NotFound(_))
        ));
        assert!(valid(s.reader(), "h1", 80).unwrap().is_none(), "revoked");
        let all = list(s.reader()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].last_used_at, all[0].revoked_at),
            (Some(60), Some(70))
        );
    }
}
