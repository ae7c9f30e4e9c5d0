-- A parent's own timezone (optional): reminders show the session's date and time in it; without
-- one they use the coach's (README, "Timers and nudges").
ALTER TABLE parents ADD COLUMN timezone text;
