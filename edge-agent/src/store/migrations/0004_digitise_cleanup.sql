-- Edge-agent schema 4: when a job became safe at central, and when its page files were
-- removed from the station afterwards (`[digitise] keep_safe_hours`). The job row, its
-- pages and uploads stay as the record of what was sent.
ALTER TABLE dig_jobs ADD COLUMN safe_at INTEGER;     -- ms, the verdict `safe`
ALTER TABLE dig_jobs ADD COLUMN cleaned_at INTEGER;  -- ms, page files and bag payload removed
