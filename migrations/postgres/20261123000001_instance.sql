-- One row describing this Sealbox installation. Installation-wide settings (such as the master
-- key check value) hang on it in later migrations.
CREATE TABLE instance (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO instance (id) VALUES (1);
