-- Staff accounts kept in the dashboard: a disabled account can neither log in nor keep a
-- session, and each account's last login is shown.
ALTER TABLE admin_users ADD COLUMN disabled_at INTEGER;
ALTER TABLE admin_users ADD COLUMN last_login_at INTEGER;
