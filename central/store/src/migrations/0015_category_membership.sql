-- How long a membership of each reader category lasts, in months: central's, for new and
-- renewed cards; the devices read only the card's expiry.
ALTER TABLE categories ADD COLUMN membership_months INTEGER NOT NULL DEFAULT 12;
