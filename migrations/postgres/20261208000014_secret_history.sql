-- A secret's history: what each version changed and its description then. `change` is what the
-- write did: 'created', 'value', 'description', 'value+description', 'rolled_back' (then
-- `restored_from` is the version whose value and description it restored) or 'copied' (from
-- another environment). Versions written before this have NULL in all three: their history tells
-- what their fingerprints tell (a new value or not), and a rollback to one keeps the current
-- description.
ALTER TABLE secret_versions ADD COLUMN description TEXT;
ALTER TABLE secret_versions ADD COLUMN change TEXT
    CHECK (change IN ('created', 'value', 'description', 'value+description', 'rolled_back', 'copied'));
ALTER TABLE secret_versions ADD COLUMN restored_from BIGINT;
