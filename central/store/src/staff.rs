//! Staff accounts as the dashboard keeps them: the list with each account's last login and
//! state, disabling (which ends the account's sessions at once) and enabling, and setting a
//! password (an administrator's reset, or the user's own change).

use rusqlite::{params, Connection};

use crate::admin::Role;
use crate::{Store, StoreError};

/// One account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Branch, for branch staff and read-only users.
    pub branch: Option<String>,
    /// When it was made (ms).
    pub created_at: i64,
    /// When it was disabled, if it is.
    pub disabled_at: Option<i64>,
    /// Its last login, if any.
    pub last_login_at: Option<i64>,
}

/// Every account, of one branch or all, by name.
pub fn accounts(c: &Connection, branch: Option<&str>) -> Result<Vec<StaffRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT name, role, branch, created_at, disabled_at, last_login_at FROM admin_users \
         WHERE ?1 IS NULL OR branch = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map([branch], |r| {
        let role: String = r.get(1)?;
        Ok(StaffRow {
            name: r.get(0)?,
            role: Role::parse(&role).unwrap_or(Role::Readonly),
            branch: r.get(2)?,
            created_at: r.get(3)?,
            disabled_at: r.get(4)?,
            last_login_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The password hash of an account that may log in.
pub fn password_hash(c: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(crate::admin::user(c, name)?.map(|u| u.password_hash))
}

fn known(c: &Connection, name: &str) -> Result<(), StoreError> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM admin_users WHERE name = ?1",
        [name],
        |r| r.get(0),
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {name}")));
    }
    Ok(())
}

impl Store {
    /// Disables (`true`) or enables an account. Disabling ends its sessions at once, and
    /// the last administrator who may log in cannot be disabled (a conflict).
    pub fn set_disabled(
        &mut self,
        name: &str,
        disabled: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        known(&tx, name)?;
        if disabled {
            let other_admins: i64 = tx.query_row(
                "SELECT count(*) FROM admin_users WHERE role = 'admin' AND disabled_at IS NULL \
                 AND name != ?1",
                [name],
                |r| r.get(0),
            )?;
            let is_admin: i64 = tx.query_row(
                "SELECT count(*) FROM admin_users WHERE name = ?1 AND role = 'admin'",
                [name],
                |r| r.get(0),
            )?;
            if is_admin > 0 && other_admins == 0 {
                return Err(StoreError::Conflict(
                    "the last administrator cannot be disabled".into(),
                ));
            }
            tx.execute(
                "UPDATE admin_users SET disabled_at = coalesce(disabled_at, ?2) WHERE name = ?1",
                params![name, now_ms],
            )?;
            tx.execute("DELETE FROM admin_sessions WHERE user = ?1", [name])?;
        } else {
            tx.execute(
                "UPDATE admin_users SET disabled_at = NULL WHERE name = ?1",
                [name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets an account's password hash and ends its sessions, but for `keep` (the hash of
    /// the session of a user changing their own password).
    pub fn set_password(
        &mut self,
        name: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        known(&tx, name)?;
        tx.execute(
            "UPDATE admin_users SET password_hash = ?2 WHERE name = ?1",
            params![name, password_hash],
        )?;
        tx.execute(
            "DELETE FROM admin_sessions WHERE user = ?1 AND token_hash IS NOT ?2",
            params![name, keep],
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(s: &mut Store, user: &str, token: &str) {
        s.create_session(token, user, "csrf", 1_000, i64::MAX)
            .unwrap();
    }

    fn sessions(s: &Store, user: &str) -> i64 {
        s.conn
            .query_row(
                "SELECT count(*) FROM admin_sessions WHERE user = ?1",
                [user],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn accounts_are_listed_disabled_enabled_and_given_new_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        s.create_user("ana", "h-ana", Role::Admin, None, 1).unwrap();
        s.put_ops(&[rong_protocol::delta::Op::PutBranch(
            rong_tests::fixtures::branch("dakto"),
        )])
        .unwrap();
        s.create_user("bo", "h-bo", Role::Staff, Some("dakto"), 2)
            .unwrap();
        session(&mut s, "bo", "t1");
        session(&mut s, "bo", "t2");
        let all = accounts(&s.conn, None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].last_login_at, Some(1_000), "a session is a login");
        assert_eq!(accounts(&s.conn, Some("dakto")).unwrap().len(), 1);

        s.set_disabled("bo", true, 5).unwrap();
        assert_eq!(sessions(&s, "bo"), 0, "its sessions end at once");
        assert!(
            crate::admin::user(&s.conn, "bo").unwrap().is_none(),
            "no login"
        );
        assert_eq!(accounts(&s.conn, None).unwrap()[1].disabled_at, Some(5));
        s.set_disabled("bo", false, 6).unwrap();
        assert!(crate::admin::user(&s.conn, "bo").unwrap().is_some());
        assert!(matches!(
            s.set_disabled("ana", true, 7),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.set_disabled("nobody", true, 7),
            Err(StoreError::NotFound(_))
        ));

        session(&mut s, "bo", "t3");
        session(&mut s, "bo", "t4");
        s.set_password("bo", "h-new", Some("t4")).unwrap();
        assert_eq!(
            password_hash(&s.conn, "bo").unwrap().as_deref(),
            Some("h-new")
        );
        assert_eq!(
            sessions(&s, "bo"),
            1,
            "only the session that changed it stays"
        );
        s.set_password("bo", "h-reset", None).unwrap();
        assert_eq!(sessions(&s, "bo"), 0);
    }
}
