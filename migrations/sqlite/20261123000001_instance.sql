-- One row describing this Sealbox installation. Installation-wide settings (such as the master
-- key check value) hang on it in later migrations.
CREATE TABLE instance (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

INSERT INTO instance (id) VALUES (1);
